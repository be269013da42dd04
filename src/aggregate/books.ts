// The aggregate's order books: a MatchingEngine (one book per instrument) whose RiskHooks
// read the aggregate — positions for reduce-only, and the pre-trade margin check, which the
// Core installs (it needs the margin kernel's figures). The books are mutable; the pipeline
// runs every book operation inside the event's transaction (MatchingEngine.beginTx), so a
// rejected or rolled-back event leaves them exactly as they were.
import type { Rejection } from "../events/errors.js";
import { MatchingEngine } from "../matching/engine.js";
import type { RiskHooks } from "../matching/book.js";
import { MAX_BOOKS_PER_ENGINE, MAX_QTY_LOTS, type OrderRequest } from "../matching/types.js";
import type { State } from "./state.js";

export type BookKind = "fast" | "naive";

export type PreTradeCheck = (order: Readonly<OrderRequest>, symbol: string, kind: "new" | "replace") => Rejection | null;

const LOTS_MAX = BigInt(MAX_QTY_LOTS);

/** A position as the book's hooks see it: signed lots, clamped to ±(2^53−1). */
export function positionLotsOf(state: State, account: string, symbol: string): number {
  const q = state.accounts.get(account)?.positions.get(symbol)?.qtyLots ?? 0n;
  // Beyond 2^53 lots the clamp only ever caps a reduce-only order below its own qty.
  return Number(q > LOTS_MAX ? LOTS_MAX : q < -LOTS_MAX ? -LOTS_MAX : q);
}

export class Books {
  readonly engine: MatchingEngine;
  /** The pre-trade check (installed by the Core); null lets every order through. */
  preTrade: PreTradeCheck | null = null;

  constructor(state: State, kind: BookKind = "fast") {
    const hooks: RiskHooks = {
      positionLots: (account, symbol) => positionLotsOf(state, account, symbol),
      preTradeCheck: (order, symbol, k) => (this.preTrade === null ? null : this.preTrade(order, symbol, k)),
    };
    this.engine = new MatchingEngine({ book: kind, hooks, maxBooks: MAX_BOOKS_PER_ENGINE });
  }
}
