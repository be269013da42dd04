// The order-book contract. Two implementations share it and one test suite:
//   - NaiveOrderBook (naive-book.ts): one array of orders, linear scans; the oracle.
//   - FastOrderBook (fast-book.ts): sorted level arrays + intrusive FIFO lists + pooled
//     objects; the one the engine uses.
// Both must produce identical events and identical snapshots for the same input stream.
import type { Rejection } from "../events/errors.js";
import type {
  BookEvent,
  Level,
  OrderRequest,
  ReplaceRequest,
  RestingOrderView,
  Side,
} from "./types.js";
import { MAX_LEVELS_PER_SIDE, MAX_RESTING_ORDERS_PER_BOOK } from "./types.js";

/**
 * What the book asks of the risk side (implemented by the margin core).
 *
 * Contract: `positionLots` reflects every trade this book emitted in earlier operations
 * (the caller applies an operation's trades before the next operation); the book itself
 * accounts for fills made during the current operation. Hooks must be pure reads, must
 * not call back into the book, and must not retain the `order` object they are given
 * (the fast book reuses it).
 */
export interface RiskHooks {
  /** Signed position in lots (long > 0) of `account` in `symbol`. */
  positionLots(account: string, symbol: string): number;
  /**
   * Pre-trade (initial margin) check, called after the book's own checks and just before
   * the order is accepted (kind "new") or a replace is applied (kind "replace", `order` is
   * the order as it would be after the replace). `order.qty` is the quantity the book will
   * work with (a reduce-only order's capped qty). Return a rejection to refuse it.
   */
  preTradeCheck(order: Readonly<OrderRequest>, symbol: string, kind: "new" | "replace"): Rejection | null;
}

/** Default hooks: every position is flat, every order passes the risk check. */
export const ALLOW_ALL_RISK_HOOKS: RiskHooks = Object.freeze({
  positionLots: (): number => 0,
  preTradeCheck: (): Rejection | null => null,
});

export interface BookOptions {
  readonly hooks?: RiskHooks;
  /** Defaults to MAX_RESTING_ORDERS_PER_BOOK. */
  readonly maxRestingOrders?: number;
  /** Defaults to MAX_LEVELS_PER_SIDE. */
  readonly maxLevelsPerSide?: number;
}

export interface ResolvedBookOptions {
  readonly hooks: RiskHooks;
  readonly maxRestingOrders: number;
  readonly maxLevelsPerSide: number;
}

export function resolveBookOptions(symbol: string, opts: BookOptions | undefined): ResolvedBookOptions {
  if (typeof symbol !== "string" || symbol.length === 0) throw new TypeError("book: symbol must be a non-empty string");
  const maxRestingOrders = opts?.maxRestingOrders ?? MAX_RESTING_ORDERS_PER_BOOK;
  const maxLevelsPerSide = opts?.maxLevelsPerSide ?? MAX_LEVELS_PER_SIDE;
  if (!Number.isSafeInteger(maxRestingOrders) || maxRestingOrders < 1) {
    throw new RangeError("book: maxRestingOrders must be a positive safe integer");
  }
  if (!Number.isSafeInteger(maxLevelsPerSide) || maxLevelsPerSide < 1) {
    throw new RangeError("book: maxLevelsPerSide must be a positive safe integer");
  }
  const hooks = opts?.hooks ?? ALLOW_ALL_RISK_HOOKS;
  if (typeof hooks.positionLots !== "function" || typeof hooks.preTradeCheck !== "function") {
    throw new TypeError("book: hooks must implement positionLots and preTradeCheck");
  }
  return { hooks, maxRestingOrders, maxLevelsPerSide };
}

/**
 * One symbol's price-time priority book. Every mutating call returns the events it caused,
 * in order. The returned array and its event objects are valid until the next call on the
 * same book (the fast book reuses them): copy what you keep.
 */
export interface OrderBook {
  readonly symbol: string;
  place(order: OrderRequest): readonly BookEvent[];
  cancel(account: string, id: string): readonly BookEvent[];
  replace(account: string, id: string, change: ReplaceRequest): readonly BookEvent[];
  /** Aggregated levels of one side, best price first. A fresh array. */
  levels(side: Side): Level[];
  /** The resting orders at one price, in FIFO order (copies). */
  levelOrders(side: Side, price: number): RestingOrderView[];
  /** The resting order (copy), or undefined. */
  order(account: string, id: string): RestingOrderView | undefined;
  bestBid(): number | null;
  bestAsk(): number | null;
  restingCount(): number;
  /** Throws an Error describing the first broken structural invariant. */
  checkInvariants(): void;
}

export type BookFactory = (symbol: string, opts?: BookOptions) => OrderBook;
