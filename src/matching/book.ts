// The order-book contract. Two implementations share it and one test suite:
//   - NaiveOrderBook (naive-book.ts): one array of orders, linear scans; the oracle.
//   - FastOrderBook (fast-book.ts): sorted level arrays + intrusive FIFO lists + pooled
//     objects; the one the engine uses.
// Both must produce identical events and identical snapshots for the same input stream.
import type { Rejection } from "../events/errors.js";
import type {
  BookEvent,
  CancelReason,
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
 * not call the book's mutating methods (read-only ones — sweepPrice, accountOrders, order,
 * levels — are fine: they run before the operation changes anything), and must not retain
 * the `order` object they are given (the fast book reuses it).
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
 * A book's whole state in canonical order (snapshots; restoring it rebuilds an identical
 * book: same FIFO order, same arrival numbers, same used ids, same next trade id).
 */
export interface BookDump {
  /** The last arrival sequence number handed out. */
  readonly seq: number;
  /** Trades so far: the next trade id is `${symbol}:${trades + 1}`. */
  readonly trades: number;
  /** Resting orders: bids best price first (FIFO within a level), then asks likewise. */
  readonly orders: readonly RestingOrderView[];
  /** Every order id each account ever used in an accepted order; accounts and ids in code-unit order. */
  readonly ids: readonly (readonly [account: string, ids: readonly string[]])[];
}

/**
 * One symbol's price-time priority book. Every mutating call returns the events it caused,
 * in order. The returned array and its event objects are valid until the next call on the
 * same book (the fast book reuses them): copy what you keep.
 */
export interface OrderBook {
  readonly symbol: string;
  place(order: OrderRequest): readonly BookEvent[];
  /** Cancels a resting order; `reason` defaults to "user" (the pipeline uses "liquidation"). */
  cancel(account: string, id: string, reason?: CancelReason): readonly BookEvent[];
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

  // ---- reads for the risk side (pure; safe to call from RiskHooks)

  /**
   * The worst price a market order of `qty` lots on `side` by `account` could trade at now:
   * walking the opposite side best first, counting resting orders of other accounts that
   * are not reduce-only, the price at which `qty` is covered; the deepest level's price when
   * it is not covered; null when the opposite side is empty. Conservative: own orders
   * (skipped or stopping the taker under STP) and reduce-only makers (capped) only ever make
   * the real sweep stop earlier.
   */
  sweepPrice(side: Side, qty: number, account: string): number | null;
  /** Calls `visit` with a copy of every resting order of `account` (in no particular order). */
  accountOrders(account: string, visit: (o: RestingOrderView) => void): void;
  /** Trades emitted so far. */
  tradeCount(): number;

  // ---- persistence

  dump(): BookDump;
  /** Loads a dump into this book, which must be fresh (no order or id ever seen). */
  load(d: BookDump): void;
  /** True while the book has never accepted an order (it can be dropped without a trace). */
  pristine(): boolean;

  // ---- transactions (the pipeline's all-or-nothing events)

  /**
   * Starts recording: every operation until commitTx/rollbackTx can be undone. Not nested.
   * The undo log holds the pre-image of each pre-existing order the operations touch and
   * the ids they use for the first time, so its size is that of the changes.
   */
  beginTx(): void;
  commitTx(): void;
  /** Undoes every operation since beginTx: the book is then identical to what it was. */
  rollbackTx(): void;
}

export type BookFactory = (symbol: string, opts?: BookOptions) => OrderBook;

// ---- transactions: shared undo log

const KEY_SEP = "\u0000"; // never in an account name (SPEC §1), so (account, id) keys are unique

/**
 * What a rollback needs: the counters at beginTx, the pre-image of every order that rested
 * before the transaction and was touched in it (first touch wins), and the ids used for the
 * first time in it. Books call `touch` before they change or remove a resting order and
 * `created` when an order is accepted.
 */
export class BookTxLog {
  private readonly createdKeys = new Map<string, readonly [string, string]>();
  private readonly pre = new Map<string, RestingOrderView>();

  constructor(
    readonly seq: number,
    readonly trades: number,
  ) {}

  created(account: string, id: string): void {
    this.createdKeys.set(account + KEY_SEP + id, [account, id]);
  }

  /** `view` is called only on the first touch of a pre-existing order. */
  touch(account: string, id: string, view: () => RestingOrderView): void {
    const key = account + KEY_SEP + id;
    if (this.createdKeys.has(key) || this.pre.has(key)) return;
    this.pre.set(key, view());
  }

  /** Applies the undo through the book's primitives. */
  rollback(book: BookTxPrimitives): void {
    for (const [account, id] of this.createdKeys.values()) book.removeResting(account, id);
    for (const v of this.pre.values()) book.removeResting(v.account, v.id);
    for (const [account, id] of this.createdKeys.values()) book.forgetId(account, id);
    for (const v of this.pre.values()) book.insertResting(v);
    book.setCounters(this.seq, this.trades);
  }
}

/** The structural primitives a rollback (and a load) uses; no events, no checks. */
export interface BookTxPrimitives {
  /** Takes the order out of the book if it rests (its id stays used). */
  removeResting(account: string, id: string): void;
  /** Marks the id unused again (it must not rest). */
  forgetId(account: string, id: string): void;
  /** Puts the order back at its place: its level, in FIFO order of `seq`; marks its id used. */
  insertResting(o: RestingOrderView): void;
  setCounters(seq: number, trades: number): void;
}

/** Checks a dump against the limits and shapes a book relies on (a snapshot is input too). */
export function checkDump(symbol: string, d: BookDump): void {
  const bad = (what: string): never => {
    throw new Error(`book ${symbol}: bad dump: ${what}`);
  };
  if (!Number.isSafeInteger(d.seq) || d.seq < 0 || !Number.isSafeInteger(d.trades) || d.trades < 0) bad("counters");
  const used = new Map<string, Set<string>>();
  for (const [account, ids] of d.ids) used.set(account, new Set(ids));
  const seqs = new Set<number>();
  for (const o of d.orders) {
    if (!Number.isSafeInteger(o.price) || o.price < 1 || !Number.isSafeInteger(o.qty) || o.qty < 1) bad(`order ${o.id}`);
    if (!Number.isSafeInteger(o.seq) || o.seq < 1 || o.seq > d.seq || seqs.has(o.seq)) bad(`order ${o.id} arrival seq`);
    if (used.get(o.account)?.has(o.id) !== true) bad(`order ${o.id} of ${o.account} not among the used ids`);
    seqs.add(o.seq);
  }
}
