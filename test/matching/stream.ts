// Random order streams for the differential tests: a seeded generator with the mix of the
// brief (~45% new limits near the touch, ~35% cancels, ~15% replaces, ~5% market/IOC/FOK,
// random STP, a few accounts, some reduce-only, duplicates and invalid inputs), and a
// lock-step runner that drives both books and checks them against each other.
import { reject, type Rejection } from "../../src/events/errors.js";
import type { OrderBook } from "../../src/matching/book.js";
import { TradePositionHooks } from "../../src/matching/engine.js";
import { createFastBook } from "../../src/matching/fast-book.js";
import { createNaiveBook } from "../../src/matching/naive-book.js";
import type { BookEvent, Level, OrderRequest, ReplaceRequest, Side, StpMode, TimeInForce } from "../../src/matching/types.js";
import { Prng } from "../../src/util/prng.js";

export type Op =
  | { readonly kind: "place"; readonly order: OrderRequest }
  | { readonly kind: "cancel"; readonly account: string; readonly id: string }
  | { readonly kind: "replace"; readonly account: string; readonly id: string; readonly change: ReplaceRequest };

export function applyOp(book: OrderBook, op: Op): readonly BookEvent[] {
  if (op.kind === "place") return book.place(op.order);
  if (op.kind === "cancel") return book.cancel(op.account, op.id);
  return book.replace(op.account, op.id, op.change);
}

/** Positions from the book's own trades (so reduce-only means something), and a pure risk rule. */
export class DiffHooks extends TradePositionHooks {
  override preTradeCheck(order: Readonly<OrderRequest>): Rejection | null {
    return order.qty % 37 === 0 ? reject("E_MARGIN", "qty", "insufficient margin (test rule: qty % 37 == 0)") : null;
  }
}

const ACCOUNTS = ["a", "b", "c", "d"];
const STPS: StpMode[] = ["cancel-taker", "cancel-maker", "cancel-both"];

export interface StreamOptions {
  /** Above this many resting orders, new orders turn into cancels (keeps the book near ~1k-like sizes but cheap). */
  readonly maxResting: number;
  /** Share of cancels (default 0.35); lower values grow deeper books. */
  readonly cancelShare?: number;
}

export class StreamGenerator {
  private readonly rng: Prng;
  private nextId = 0;
  /** Resting orders as [account, id], with index for O(1) removal. */
  private readonly live: [string, string][] = [];
  private readonly liveIndex = new Map<string, number>();
  private readonly used: [string, string][] = [];

  constructor(seed: number, private readonly opts: StreamOptions) {
    this.rng = new Prng(seed);
  }

  next(book: OrderBook): Op {
    const r = this.rng;
    const x = r.float();
    const pNew = 0.45;
    const pCancel = this.opts.cancelShare ?? 0.35;
    const pReplace = (1 - pNew - pCancel) * 0.75; // the rest: market / IOC / FOK
    if (this.live.length > this.opts.maxResting || (x >= pNew && x < pNew + pCancel)) return this.cancelOp();
    if (x < pNew) return { kind: "place", order: this.limitOrder(book) };
    if (x < pNew + pCancel + pReplace) return this.replaceOp(book);
    return { kind: "place", order: this.aggressiveOrder(book) };
  }

  /** Updates the live set from what the operation did (the reference book is the truth). */
  observe(book: OrderBook, events: readonly BookEvent[]): void {
    for (const e of events) {
      if (e.type === "trade") {
        this.refresh(book, e.buyer, e.type === "trade" && e.taker === "buyer" ? e.takerOrderId : e.makerOrderId);
        this.refresh(book, e.seller, e.taker === "seller" ? e.takerOrderId : e.makerOrderId);
      } else if (e.type !== "order.rejected") {
        if (e.type === "order.accepted") this.used.push([e.account, e.orderId]);
        this.refresh(book, e.account, e.orderId);
      }
    }
  }

  private refresh(book: OrderBook, account: string, id: string): void {
    const key = `${account}\u0000${id}`;
    const resting = book.order(account, id) !== undefined;
    const i = this.liveIndex.get(key);
    if (resting && i === undefined) {
      this.liveIndex.set(key, this.live.length);
      this.live.push([account, id]);
    } else if (!resting && i !== undefined) {
      const last = this.live.pop()!;
      if (i < this.live.length) {
        this.live[i] = last;
        this.liveIndex.set(`${last[0]}\u0000${last[1]}`, i);
      }
      this.liveIndex.delete(key);
    }
  }

  private touch(book: OrderBook): number {
    const bid = book.bestBid();
    const ask = book.bestAsk();
    if (bid !== null && ask !== null) return Math.round((bid + ask) / 2);
    return bid ?? ask ?? 1000;
  }

  private common(side: Side): { id: string; account: string; stp: StpMode; reduceOnly: boolean } {
    const r = this.rng;
    let account = r.pick(ACCOUNTS);
    let id = `o${++this.nextId}`;
    if (this.used.length > 0 && r.chance(0.005)) [account, id] = r.pick(this.used); // duplicate id
    void side;
    return { id, account, stp: r.pick(STPS), reduceOnly: r.chance(0.08) };
  }

  private qty(): number {
    const r = this.rng;
    if (r.chance(0.003)) return 0; // invalid
    return r.chance(0.8) ? r.int(1, 10) : r.int(1, 60);
  }

  private limitOrder(book: OrderBook): OrderRequest {
    const r = this.rng;
    const side: Side = r.chance(0.5) ? "buy" : "sell";
    const ref = this.touch(book);
    // Mostly passive, sometimes crossing by a tick or two.
    const offset = side === "buy" ? r.int(-8, 2) : r.int(-2, 8);
    const tif: TimeInForce = r.chance(0.1) ? "POST_ONLY" : "GTC";
    return { ...this.common(side), side, orderType: "limit", price: Math.max(1, ref + offset), qty: this.qty(), tif };
  }

  private aggressiveOrder(book: OrderBook): OrderRequest {
    const r = this.rng;
    const side: Side = r.chance(0.5) ? "buy" : "sell";
    const kind = r.int(0, 3);
    const qty = r.chance(0.5) ? r.int(1, 30) : r.int(1, 120);
    if (kind === 0) return { ...this.common(side), side, orderType: "market", qty, tif: r.chance(0.5) ? "IOC" : "GTC" };
    if (kind === 1) return { ...this.common(side), side, orderType: "market", qty, tif: "FOK" };
    const ref = this.touch(book);
    const price = Math.max(1, ref + (side === "buy" ? r.int(-1, 5) : r.int(-5, 1)));
    return { ...this.common(side), side, orderType: "limit", price, qty, tif: kind === 2 ? "IOC" : "FOK" };
  }

  private target(): [string, string] {
    const r = this.rng;
    if (this.live.length > 0 && r.chance(0.9)) return r.pick(this.live);
    if (this.used.length > 0 && r.chance(0.7)) return r.pick(this.used); // likely gone: E_UNKNOWN
    return [r.pick(ACCOUNTS), `nope${r.int(1, 5)}`];
  }

  private cancelOp(): Op {
    const [account, id] = this.target();
    return { kind: "cancel", account, id };
  }

  private replaceOp(book: OrderBook): Op {
    const r = this.rng;
    const [account, id] = this.target();
    const cur = book.order(account, id);
    const price = Math.max(1, (cur?.price ?? this.touch(book)) + r.int(-3, 3));
    const qty = r.chance(0.01) ? -1 : Math.max(1, (cur?.qty ?? 5) + r.int(-4, 4));
    const y = r.float();
    const change: ReplaceRequest = y < 0.5 ? { price } : y < 0.8 ? { qty } : y < 0.99 ? { price, qty } : {};
    return { kind: "replace", account, id, change };
  }
}

export interface StreamStats {
  ops: number;
  newOrders: number;
  trades: number;
  rejected: number;
  cancelled: number;
  replaced: number;
  maxResting: number;
  /** How often each outcome occurred: "rejected:E_ORDER", "cancelled:stp", "accepted:limit:FOK", … */
  outcomes: Record<string, number>;
}

/** Lots in and out of one book: placed = 2·traded + cancelled + resting must always hold. */
class Tally {
  placed = 0;
  traded = 0;
  cancelled = 0;
  add(events: readonly BookEvent[]): void {
    for (const e of events) {
      if (e.type === "order.accepted") this.placed += e.qty;
      else if (e.type === "order.replaced") this.placed += e.qty - e.oldQty;
      else if (e.type === "trade") this.traded += e.qty;
      else if (e.type === "order.cancelled") this.cancelled += e.qty;
    }
  }
  check(levels: Level[][], where: string): void {
    let resting = 0;
    for (const side of levels) for (const [, q] of side) resting += q;
    if (this.placed !== 2 * this.traded + this.cancelled + resting) {
      throw new Error(
        `${where}: lots not conserved: placed ${this.placed} != 2·${this.traded} traded + ${this.cancelled} cancelled + ${resting} resting`,
      );
    }
  }
}

function sameLevels(a: readonly Level[], b: readonly Level[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
  return true;
}

/** Same events: same count, and per event the same keys in the same order with equal values. */
export function sameEvents(a: readonly BookEvent[], b: readonly BookEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as unknown as Record<string, unknown>;
    const y = b[i] as unknown as Record<string, unknown>;
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return false;
    for (let j = 0; j < kx.length; j++) {
      const k = kx[j]!;
      if (k !== ky[j] || !Object.is(x[k], y[k])) return false;
    }
  }
  return true;
}

/**
 * The naive and the fast book in lock step: identical events every step (keys, key order, values), invariants on
 * both after every step, identical levels and conserved quantities every `levelsEvery`
 * steps and at `finish`. Throws on the first difference.
 */
export class LockStep {
  readonly naiveHooks = new DiffHooks();
  readonly fastHooks = new DiffHooks();
  readonly naive = createNaiveBook("SYM", { hooks: this.naiveHooks });
  readonly fast = createFastBook("SYM", { hooks: this.fastHooks });
  readonly stats: StreamStats = {
    ops: 0, newOrders: 0, trades: 0, rejected: 0, cancelled: 0, replaced: 0, maxResting: 0, outcomes: {},
  };
  private readonly tallyN = new Tally();
  private readonly tallyF = new Tally();

  constructor(private readonly label: string, private readonly levelsEvery = 1) {}

  /** Applies `op` to both books; returns the (reference) events. */
  step(op: Op): readonly BookEvent[] {
    const { naive, fast, stats } = this;
    const n = ++stats.ops;
    const en = applyOp(naive, op);
    const ef = applyOp(fast, op);
    if (!sameEvents(en, ef)) {
      const detail = `naive: ${JSON.stringify(en)}\nfast:  ${JSON.stringify(ef)}`;
      throw new Error(`${this.label} step ${n}: outputs differ for ${JSON.stringify(op)}\n${detail}`);
    }
    for (const e of en) {
      if (e.type === "trade") {
        this.naiveHooks.applyTrade(e);
        this.fastHooks.applyTrade(e);
        stats.trades += 1;
      } else if (e.type === "order.rejected") {
        stats.rejected += 1;
        this.count(`rejected:${e.code}`);
      } else if (e.type === "order.cancelled") {
        stats.cancelled += 1;
        this.count(`cancelled:${e.reason}`);
      } else if (e.type === "order.replaced") {
        stats.replaced += 1;
        this.count(e.priorityKept ? "replaced:kept" : "replaced:lost");
      } else {
        this.count(`accepted:${e.orderType}:${e.tif}${e.reduceOnly ? ":reduceOnly" : ""}`);
      }
    }
    if (op.kind === "place") stats.newOrders += 1;
    this.tallyN.add(en);
    this.tallyF.add(en);
    naive.checkInvariants();
    fast.checkInvariants();
    if (n % this.levelsEvery === 0) this.compareLevels();
    stats.maxResting = Math.max(stats.maxResting, naive.restingCount());
    if (naive.restingCount() !== fast.restingCount()) throw new Error(`${this.label} step ${n}: resting counts differ`);
    return en;
  }

  private count(outcome: string): void {
    this.stats.outcomes[outcome] = (this.stats.outcomes[outcome] ?? 0) + 1;
  }

  finish(): StreamStats {
    this.compareLevels();
    return this.stats;
  }

  private compareLevels(): void {
    const where = `${this.label} step ${this.stats.ops}`;
    const ln = [this.naive.levels("buy"), this.naive.levels("sell")];
    const lf = [this.fast.levels("buy"), this.fast.levels("sell")];
    if (!sameLevels(ln[0]!, lf[0]!) || !sameLevels(ln[1]!, lf[1]!)) {
      throw new Error(`${where}: levels differ\nnaive: ${JSON.stringify(ln)}\nfast:  ${JSON.stringify(lf)}`);
    }
    this.tallyN.check(ln, `${where} naive`);
    this.tallyF.check(lf, `${where} fast`);
  }
}

/** A generated stream of `ops` operations through LockStep. */
export function runDifferential(seed: number, ops: number, opts: StreamOptions & { levelsEvery?: number }): StreamStats {
  const lock = new LockStep(`seed ${seed}`, opts.levelsEvery ?? 1);
  const gen = new StreamGenerator(seed, opts);
  // The generator looks at the fast book (cheap lookups); the lock step keeps it equal to the naive one.
  for (let i = 0; i < ops; i++) gen.observe(lock.fast, lock.step(gen.next(lock.fast)));
  return lock.finish();
}
