// The fast book. Layout (per side):
//   keys[0..n)   ascending sort keys (bid: price, ask: -price), so the best level is LAST:
//                the touch is removed/added at the end and inserts near it shift few slots;
//   levels[0..n) the level objects, parallel to keys; found by binary search;
//   each level holds an intrusive doubly-linked FIFO of orders (head = oldest).
// Steady state allocates nothing but trade id strings and new ids' index entries: orders
// and levels come from free lists, events are pooled objects, and no array ever shrinks
// (V8 trims a shrinking array's store and re-allocates it on the next push), so sides,
// pools and the output keep explicit counts. Order ids resolve through
// account → (id → resting order | null); null marks an id that was used and no longer
// rests (ids are unique per account forever, so entries are only ever added).
// Observable behaviour is defined by NaiveOrderBook; the differential tests hold them equal.
import type { ErrorCode, Rejection } from "../events/errors.js";
import {
  BookTxLog, checkDump, resolveBookOptions,
  type BookDump, type BookOptions, type BookTxPrimitives, type OrderBook, type RiskHooks,
} from "./book.js";
import type {
  BookEvent,
  CancelReason,
  Level,
  OrderRequest,
  OrderType,
  ReplaceRequest,
  RestingOrderView,
  Side,
  StpMode,
  TimeInForce,
} from "./types.js";
import {
  checkPositionLots,
  crosses,
  reduceCapacityLots,
  rejections,
  validateOrderKey,
  validateOrderRequest,
  validateReplaceRequest,
} from "./validate.js";

class AccountRec {
  /** Every id this account used in an accepted order → the resting (or in-flight) order, or null. */
  readonly ids = new Map<string, FOrder | null>();
  /** The account's resting orders: an intrusive doubly-linked list (aprev/anext), any order. */
  head: FOrder | null = null;
  constructor(readonly name: string) {}
}

class FOrder {
  id = "";
  account = "";
  acct: AccountRec | null = null;
  side: Side = "buy";
  /** Ticks (0 while a market order is in flight). */
  price = 0;
  /** Remaining lots. */
  qty = 0;
  seq = 0;
  reduceOnly = false;
  postOnly = false;
  stp: StpMode = "cancel-taker";
  prev: FOrder | null = null;
  next: FOrder | null = null;
  level: FLevel | null = null;
  /** Links in the account's list of resting orders. */
  aprev: FOrder | null = null;
  anext: FOrder | null = null;
  /** checkInvariants' visit stamp. */
  visit = 0;
}

class FLevel {
  price = 0;
  totalQty = 0;
  count = 0;
  head: FOrder | null = null;
  tail: FOrder | null = null;
}

class FSide {
  /** Ascending sort keys in [0, n): bid → price, ask → -price. Best level at n - 1. */
  readonly keys: number[] = [];
  readonly levels: FLevel[] = [];
  /** Levels in use; slots at and beyond n are stale (arrays never shrink). */
  n = 0;
  constructor(readonly side: Side) {}
  best(): FLevel | null {
    return this.n === 0 ? null : this.levels[this.n - 1]!;
  }
  key(price: number): number {
    return this.side === "buy" ? price : -price;
  }
}

// ---- pooled, mutable event objects (field order = the naive book's literals)

class TradeEv {
  readonly type = "trade" as const;
  id = "";
  symbol: string;
  price = 0;
  qty = 0;
  buyer = "";
  seller = "";
  taker: "buyer" | "seller" = "buyer";
  makerOrderId = "";
  takerOrderId = "";
  constructor(symbol: string) {
    this.symbol = symbol;
  }
}

class AcceptedEv {
  readonly type = "order.accepted" as const;
  symbol: string;
  orderId = "";
  account = "";
  side: Side = "buy";
  orderType: OrderType = "limit";
  price: number | null = null;
  qty = 0;
  tif: TimeInForce = "GTC";
  reduceOnly = false;
  stp: StpMode = "cancel-taker";
  constructor(symbol: string) {
    this.symbol = symbol;
  }
}

class CancelledEv {
  readonly type = "order.cancelled" as const;
  symbol: string;
  orderId = "";
  account = "";
  side: Side = "buy";
  price: number | null = null;
  qty = 0;
  reason: CancelReason = "user";
  constructor(symbol: string) {
    this.symbol = symbol;
  }
}

class RejectedEv {
  readonly type = "order.rejected" as const;
  symbol: string;
  request: "new" | "cancel" | "replace" = "new";
  orderId = "";
  account = "";
  code: ErrorCode = "E_ORDER";
  message = "";
  constructor(symbol: string) {
    this.symbol = symbol;
  }
}

class ReplacedEv {
  readonly type = "order.replaced" as const;
  symbol: string;
  orderId = "";
  account = "";
  side: Side = "buy";
  oldPrice = 0;
  oldQty = 0;
  price = 0;
  qty = 0;
  priorityKept = false;
  constructor(symbol: string) {
    this.symbol = symbol;
  }
}

/** The order handed to RiskHooks.preTradeCheck; reused, hooks must not keep it. */
class ScratchOrder implements OrderRequest {
  id = "";
  account = "";
  side: Side = "buy";
  orderType: OrderType = "limit";
  price: number | undefined = undefined;
  qty = 0;
  tif: TimeInForce = "GTC";
  reduceOnly = false;
  stp: StpMode = "cancel-taker";
}

/** Output arrays up to this many events are cached per length; longer sweeps get a fresh one. */
const OUT_CACHE_MAX_EVENTS = 64;

/** Index of `key` in ascending `keys[0, n)`, or -(insertion point) - 1. */
function search(keys: readonly number[], n: number, key: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

export class FastOrderBook implements OrderBook {
  private readonly hooks: RiskHooks;
  private readonly maxRestingOrders: number;
  private readonly maxLevelsPerSide: number;
  private readonly bids = new FSide("buy");
  private readonly asks = new FSide("sell");
  private readonly accounts = new Map<string, AccountRec>();
  private resting = 0;
  private seq = 0;
  private trades = 0;
  /** Non-null entries of all accounts' id maps (kept by indexSet; checked against the levels). */
  private indexedOrders = 0;
  private readonly orderPool: FOrder[] = [];
  private orderPoolN = 0;
  private readonly levelPool: FLevel[] = [];
  private levelPoolN = 0;
  // output: events are written to a scratch array, then copied into a cached array of the
  // exact length (one per small length), which is what the caller gets.
  private readonly scratchOut: BookEvent[] = [];
  private outN = 0;
  private readonly outBySize: (BookEvent[] | undefined)[] = [];
  private readonly tradePool: TradeEv[] = [];
  private tradesUsed = 0;
  private readonly cancelPool: CancelledEv[] = [];
  private cancelsUsed = 0;
  private readonly acceptedEv: AcceptedEv;
  private readonly rejectedEv: RejectedEv;
  private readonly replacedEv: ReplacedEv;
  private readonly scratch = new ScratchOrder();
  // maker fills of the current operation (signed lots by account), for reduce-only makers
  private readonly deltaAcct: (AccountRec | null)[] = [];
  private readonly deltaLots: number[] = [];
  private deltaCount = 0;
  private stoppedBySTP = false;
  private visitEpoch = 0;
  /** Open transaction's undo log (null: not recording). */
  private tx: BookTxLog | null = null;

  constructor(
    readonly symbol: string,
    opts?: BookOptions,
  ) {
    const o = resolveBookOptions(symbol, opts);
    this.hooks = o.hooks;
    this.maxRestingOrders = o.maxRestingOrders;
    this.maxLevelsPerSide = o.maxLevelsPerSide;
    this.acceptedEv = new AcceptedEv(symbol);
    this.rejectedEv = new RejectedEv(symbol);
    this.replacedEv = new ReplacedEv(symbol);
  }

  // ---- operations

  place(order: OrderRequest): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderRequest(order);
    if (bad !== null) return this.rejectNew(order, bad);
    const id = order.id;
    const account = order.account;
    const side = order.side;
    const tif = order.tif;
    const isMarket = order.orderType === "market";
    const price = isMarket ? 0 : order.price!;
    const stp = order.stp ?? "cancel-taker";
    const reduceOnly = order.reduceOnly ?? false;
    let qty = order.qty;

    let acct = this.accounts.get(account);
    if (acct !== undefined && acct.ids.has(id)) return this.reject("new", account, id, rejections.duplicate(account, id));
    if (reduceOnly) {
      const pos = checkPositionLots(this.hooks.positionLots(account, this.symbol));
      const cap = reduceCapacityLots(side, pos);
      if (cap === 0) return this.reject("new", account, id, rejections.reduceOnly(side, pos));
      if (cap < qty) qty = cap;
    }
    if (!isMarket && (tif === "GTC" || tif === "POST_ONLY")) {
      const limitBad = this.restLimitCheck(side, price, qty, null);
      if (limitBad !== null) return this.reject("new", account, id, limitBad);
    }
    const opp = side === "buy" ? this.asks : this.bids;
    const oppEmpty = opp.n === 0;
    if (tif === "POST_ONLY" && !oppEmpty) {
      const bestOpp = opp.best()!.price;
      if (crosses(side, price, bestOpp)) return this.reject("new", account, id, rejections.postOnlyCross(side, price, bestOpp));
    }
    if (tif === "FOK") {
      const fillable = this.fillableLots(side, isMarket, price, qty, acct ?? null, stp);
      if (fillable < qty) return this.reject("new", account, id, rejections.fokUnfillable(fillable, qty));
    }
    const s = this.scratch;
    s.id = id;
    s.account = account;
    s.side = side;
    s.orderType = order.orderType;
    s.price = isMarket ? undefined : price;
    s.qty = qty;
    s.tif = tif;
    s.reduceOnly = reduceOnly;
    s.stp = stp;
    const riskBad = this.hooks.preTradeCheck(s, this.symbol, "new");
    if (riskBad !== null) return this.reject("new", account, id, riskBad);

    // Accepted: the id is used for good.
    if (acct === undefined) {
      acct = new AccountRec(account);
      this.accounts.set(account, acct);
    }
    const t = this.allocOrder();
    t.id = id;
    t.account = account;
    t.acct = acct;
    t.side = side;
    t.price = price;
    t.qty = qty;
    t.reduceOnly = reduceOnly;
    t.postOnly = tif === "POST_ONLY";
    t.stp = stp;
    this.indexSet(acct, id, t);
    if (this.tx !== null) this.tx.created(account, id);
    const a = this.acceptedEv;
    a.orderId = id;
    a.account = account;
    a.side = side;
    a.orderType = order.orderType;
    a.price = isMarket ? null : price;
    a.qty = qty;
    a.tif = tif;
    a.reduceOnly = reduceOnly;
    a.stp = stp;
    this.emit(a);

    this.match(t, isMarket);
    if (t.qty === 0) {
      this.retire(t);
    } else if (this.stoppedBySTP) {
      this.emitCancelled(id, account, side, isMarket ? null : price, t.qty, "stp");
      this.retire(t);
    } else if (isMarket) {
      this.emitCancelled(id, account, side, null, t.qty, oppEmpty ? "no-liquidity" : "unfilled");
      this.retire(t);
    } else if (tif === "IOC" || tif === "FOK") {
      this.emitCancelled(id, account, side, price, t.qty, "unfilled");
      this.retire(t);
    } else {
      this.rest(t);
    }
    return this.result();
  }

  cancel(account: string, id: string, reason: CancelReason = "user"): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderKey(account, id);
    if (bad !== null) return this.reject("cancel", account, id, bad);
    const o = this.accounts.get(account)?.ids.get(id);
    if (o === undefined || o === null) return this.reject("cancel", account, id, rejections.unknown(account, id));
    if (this.tx !== null) this.touch(o);
    this.emitCancelled(o.id, o.account, o.side, o.price, o.qty, reason);
    this.unlink(o);
    this.retire(o);
    return this.result();
  }

  replace(account: string, id: string, change: ReplaceRequest): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderKey(account, id) ?? validateReplaceRequest(change);
    if (bad !== null) return this.reject("replace", account, id, bad);
    const o = this.accounts.get(account)?.ids.get(id);
    if (o === undefined || o === null) return this.reject("replace", account, id, rejections.unknown(account, id));
    const side = o.side;
    const price = change.price ?? o.price;
    let qty = change.qty ?? o.qty;
    if (o.reduceOnly) {
      const pos = checkPositionLots(this.hooks.positionLots(account, this.symbol));
      const cap = reduceCapacityLots(side, pos);
      if (cap === 0) return this.reject("replace", account, id, rejections.reduceOnly(side, pos));
      if (cap < qty) qty = cap;
    }
    const priceChanged = price !== o.price;
    const limitBad = this.restLimitCheck(side, price, qty, o);
    if (limitBad !== null) return this.reject("replace", account, id, limitBad);
    if (o.postOnly) {
      const oppBest = (side === "buy" ? this.asks : this.bids).best();
      if (oppBest !== null) {
        const bestOpp = oppBest.price;
        if (crosses(side, price, bestOpp)) return this.reject("replace", account, id, rejections.postOnlyCross(side, price, bestOpp));
      }
    }
    const s = this.scratch;
    s.id = id;
    s.account = account;
    s.side = side;
    s.orderType = "limit";
    s.price = price;
    s.qty = qty;
    s.tif = o.postOnly ? "POST_ONLY" : "GTC";
    s.reduceOnly = o.reduceOnly;
    s.stp = o.stp;
    const riskBad = this.hooks.preTradeCheck(s, this.symbol, "replace");
    if (riskBad !== null) return this.reject("replace", account, id, riskBad);

    if (this.tx !== null) this.touch(o);
    const keep = !priceChanged && qty <= o.qty;
    const r = this.replacedEv;
    r.orderId = id;
    r.account = account;
    r.side = side;
    r.oldPrice = o.price;
    r.oldQty = o.qty;
    r.price = price;
    r.qty = qty;
    r.priorityKept = keep;
    this.emit(r);
    if (keep) {
      // Size decrease in place: the FIFO position stands.
      o.level!.totalQty -= o.qty - qty;
      o.qty = qty;
      return this.result();
    }
    this.unlink(o);
    o.price = price;
    o.qty = qty;
    this.match(o, false);
    if (o.qty === 0) {
      this.retire(o);
    } else if (this.stoppedBySTP) {
      this.emitCancelled(id, account, side, price, o.qty, "stp");
      this.retire(o);
    } else {
      this.rest(o);
    }
    return this.result();
  }

  // ---- snapshots

  levels(side: Side): Level[] {
    const s = side === "buy" ? this.bids : this.asks;
    const res: Level[] = [];
    for (let i = s.n - 1; i >= 0; i--) {
      const l = s.levels[i]!;
      res.push([l.price, l.totalQty]);
    }
    return res;
  }

  levelOrders(side: Side, price: number): RestingOrderView[] {
    const s = side === "buy" ? this.bids : this.asks;
    const i = search(s.keys, s.n, s.key(price));
    const res: RestingOrderView[] = [];
    if (i < 0) return res;
    for (let o = s.levels[i]!.head; o !== null; o = o.next) res.push(view(o));
    return res;
  }

  order(account: string, id: string): RestingOrderView | undefined {
    const o = this.accounts.get(account)?.ids.get(id);
    return o === undefined || o === null ? undefined : view(o);
  }

  bestBid(): number | null {
    return this.bids.best()?.price ?? null;
  }

  bestAsk(): number | null {
    return this.asks.best()?.price ?? null;
  }

  restingCount(): number {
    return this.resting;
  }

  checkInvariants(): void {
    const epoch = ++this.visitEpoch;
    let orders = 0;
    for (const s of [this.bids, this.asks]) {
      const { keys, levels, n } = s;
      if (n > keys.length || n > levels.length) throw new Error(`fast: ${s.side} level count beyond its arrays`);
      if (n > this.maxLevelsPerSide) throw new Error(`fast: ${s.side} side has too many levels`);
      for (let i = 0; i < n; i++) {
        const l = levels[i]!;
        if (keys[i] !== s.key(l.price)) throw new Error(`fast: ${s.side} level ${l.price} has a wrong key`);
        if (i > 0 && !(keys[i - 1]! < keys[i]!)) throw new Error(`fast: ${s.side} levels not strictly sorted at ${l.price}`);
        if (l.count === 0 || l.head === null || l.tail === null) throw new Error(`fast: empty level ${l.price} left behind`);
        let count = 0;
        let total = 0;
        let prev: FOrder | null = null;
        for (let o: FOrder | null = l.head; o !== null; o = o.next) {
          if (o.prev !== prev) throw new Error(`fast: broken prev link at order ${o.id}`);
          if (o.level !== l || o.price !== l.price || o.side !== s.side) {
            throw new Error(`fast: order ${o.id} disagrees with its level ${l.price}`);
          }
          if (!Number.isSafeInteger(o.qty) || o.qty <= 0) throw new Error(`fast: order ${o.id} has qty ${o.qty}`);
          if (prev !== null && !(prev.seq < o.seq)) throw new Error(`fast: FIFO violated at level ${l.price} (order ${o.id})`);
          if (o.acct === null || o.acct.ids.get(o.id) !== o) throw new Error(`fast: order ${o.id} missing from the id index`);
          if (o.visit === epoch) throw new Error(`fast: order ${o.id} linked twice`);
          o.visit = epoch;
          count += 1;
          total += o.qty;
          prev = o;
        }
        if (l.tail !== prev) throw new Error(`fast: level ${l.price} tail is not its last order`);
        if (count !== l.count) throw new Error(`fast: level ${l.price} count ${l.count} != ${count} orders`);
        if (total !== l.totalQty) throw new Error(`fast: level ${l.price} total ${l.totalQty} != sum of orders ${total}`);
        if (total > Number.MAX_SAFE_INTEGER) throw new Error(`fast: level ${l.price} total exceeds 2^53-1`);
        orders += count;
      }
    }
    if (orders !== this.resting) throw new Error(`fast: resting count ${this.resting} != ${orders} orders in levels`);
    if (orders > this.maxRestingOrders) throw new Error("fast: more resting orders than the limit");
    // Every resting order is indexed to itself (above); with as many non-null index entries
    // as resting orders, the index holds nothing else. (A full scan would be O(ids ever used).)
    if (this.indexedOrders !== orders) throw new Error(`fast: id index holds ${this.indexedOrders} orders, levels ${orders}`);
    // Account lists: every listed order rests (visited above, this epoch) under its account.
    let listed = 0;
    for (const acct of this.accounts.values()) {
      let prev: FOrder | null = null;
      for (let o = acct.head; o !== null; o = o.anext) {
        if (o.aprev !== prev) throw new Error(`fast: broken account link at order ${o.id}`);
        if (o.acct !== acct || o.visit !== epoch) throw new Error(`fast: account list of ${acct.name} holds a stray order ${o.id}`);
        listed += 1;
        if (listed > orders) throw new Error(`fast: account lists longer than the book`);
        prev = o;
      }
    }
    if (listed !== orders) throw new Error(`fast: account lists hold ${listed} orders, levels ${orders}`);
    const bid = this.bestBid();
    const ask = this.bestAsk();
    if (bid !== null && ask !== null && bid >= ask) throw new Error(`fast: crossed book, bid ${bid} >= ask ${ask}`);
  }

  // ---- reads for the risk side

  sweepPrice(side: Side, qty: number, account: string): number | null {
    const opp = side === "buy" ? this.asks : this.bids;
    if (opp.n === 0) return null;
    let need = qty;
    for (let i = opp.n - 1; i >= 0; i--) {
      const lvl = opp.levels[i]!;
      for (let m = lvl.head; m !== null; m = m.next) {
        if (m.reduceOnly || m.account === account) continue;
        need -= m.qty;
        if (need <= 0) return lvl.price;
      }
    }
    return opp.levels[0]!.price;
  }

  accountOrders(account: string, visit: (o: RestingOrderView) => void): void {
    const acct = this.accounts.get(account);
    if (acct === undefined) return;
    for (let o = acct.head; o !== null; o = o.anext) visit(view(o));
  }

  tradeCount(): number {
    return this.trades;
  }

  // ---- persistence

  dump(): BookDump {
    const orders: RestingOrderView[] = [];
    for (const s of [this.bids, this.asks]) {
      for (let i = s.n - 1; i >= 0; i--) for (let o = s.levels[i]!.head; o !== null; o = o.next) orders.push(view(o));
    }
    const ids: [string, string[]][] = [];
    for (const acct of this.accounts.values()) {
      if (acct.ids.size > 0) ids.push([acct.name, [...acct.ids.keys()].sort(compareCodeUnits)]);
    }
    ids.sort((a, b) => compareCodeUnits(a[0], b[0]));
    return { seq: this.seq, trades: this.trades, orders, ids };
  }

  load(d: BookDump): void {
    if (!this.pristine() || this.seq !== 0 || this.trades !== 0) throw new Error(`fast: load into a used book ${this.symbol}`);
    checkDump(this.symbol, d);
    for (const [account, ids] of d.ids) {
      const acct = new AccountRec(account);
      this.accounts.set(account, acct);
      for (const id of ids) this.indexSet(acct, id, null);
    }
    for (const o of d.orders) this.prim.insertResting(o);
    this.seq = d.seq;
    this.trades = d.trades;
    this.checkInvariants();
  }

  pristine(): boolean {
    return this.accounts.size === 0 && this.trades === 0;
  }

  // ---- transactions

  beginTx(): void {
    if (this.tx !== null) throw new Error(`fast: nested transaction on ${this.symbol}`);
    this.tx = new BookTxLog(this.seq, this.trades);
  }

  commitTx(): void {
    this.tx = null;
  }

  rollbackTx(): void {
    const tx = this.tx;
    if (tx === null) throw new Error(`fast: no transaction to roll back on ${this.symbol}`);
    this.tx = null;
    tx.rollback(this.prim);
  }

  private touch(o: FOrder): void {
    this.tx!.touch(o.account, o.id, () => view(o));
  }

  /** Structural primitives for rollbacks and loads (no events, no checks). */
  private readonly prim: BookTxPrimitives = {
    removeResting: (account, id) => {
      const o = this.accounts.get(account)?.ids.get(id);
      if (o === undefined || o === null) return;
      this.unlink(o);
      this.retire(o);
    },
    forgetId: (account, id) => {
      const acct = this.accounts.get(account);
      if (acct === undefined) return;
      if (acct.ids.get(id) != null) throw new Error(`fast: forgetting the id of a resting order ${id}`);
      acct.ids.delete(id);
      if (acct.ids.size === 0) this.accounts.delete(account);
    },
    insertResting: (v) => {
      let acct = this.accounts.get(v.account);
      if (acct === undefined) {
        acct = new AccountRec(v.account);
        this.accounts.set(v.account, acct);
      }
      const o = this.allocOrder();
      o.id = v.id;
      o.account = v.account;
      o.acct = acct;
      o.side = v.side;
      o.price = v.price;
      o.qty = v.qty;
      o.seq = v.seq;
      o.reduceOnly = v.reduceOnly;
      o.postOnly = v.postOnly;
      o.stp = v.stp;
      const lvl = this.levelFor(v.side === "buy" ? this.bids : this.asks, v.price);
      // FIFO by arrival: after the last order that arrived earlier.
      let after = lvl.tail;
      while (after !== null && after.seq > v.seq) after = after.prev;
      o.level = lvl;
      o.prev = after;
      o.next = after === null ? lvl.head : after.next;
      if (o.prev === null) lvl.head = o;
      else o.prev.next = o;
      if (o.next === null) lvl.tail = o;
      else o.next.prev = o;
      lvl.count += 1;
      lvl.totalQty += o.qty;
      this.resting += 1;
      this.linkAccount(o);
      this.indexSet(acct, v.id, o);
    },
    setCounters: (seq, trades) => {
      this.seq = seq;
      this.trades = trades;
    },
  };

  // ---- matching

  /** Takes liquidity for `t` (t.qty is its remaining lots); sets stoppedBySTP. */
  private match(t: FOrder, isMarket: boolean): void {
    const takerBuys = t.side === "buy";
    const opp = takerBuys ? this.asks : this.bids;
    const levels = opp.levels;
    const limit = t.price;
    while (t.qty > 0) {
      const n = opp.n;
      if (n === 0) return;
      const lvl = levels[n - 1]!;
      if (!isMarket && (takerBuys ? limit < lvl.price : limit > lvl.price)) return;
      const m = lvl.head!;
      if (m.acct === t.acct && t.stp === "cancel-taker") {
        this.stoppedBySTP = true;
        return;
      }
      if (this.tx !== null) this.touch(m); // m changes or leaves in every path below
      if (m.acct === t.acct) {
        this.emitCancelled(m.id, m.account, m.side, m.price, m.qty, "stp");
        this.unlink(m);
        this.retire(m);
        if (t.stp === "cancel-both") {
          this.stoppedBySTP = true;
          return;
        }
        continue;
      }
      let fill = t.qty < m.qty ? t.qty : m.qty;
      if (m.reduceOnly) {
        const cap = this.makerCapacityLots(m);
        if (cap === 0) {
          this.emitCancelled(m.id, m.account, m.side, m.price, m.qty, "reduce-only");
          this.unlink(m);
          this.retire(m);
          continue;
        }
        if (cap < fill) fill = cap;
      }
      const tr = this.nextTrade();
      this.trades += 1;
      tr.id = `${this.symbol}:${this.trades}`;
      tr.price = lvl.price;
      tr.qty = fill;
      tr.buyer = takerBuys ? t.account : m.account;
      tr.seller = takerBuys ? m.account : t.account;
      tr.taker = takerBuys ? "buyer" : "seller";
      tr.makerOrderId = m.id;
      tr.takerOrderId = t.id;
      this.emit(tr);
      t.qty -= fill;
      m.qty -= fill;
      lvl.totalQty -= fill;
      this.recordDelta(m.acct, takerBuys ? -fill : fill);
      if (m.qty === 0) {
        this.unlink(m);
        this.retire(m);
      }
    }
  }

  /**
   * Lots a taker would fill now, without touching the book: the matching loop's walk
   * (same STP and reduce-only rules) over the crossing levels, stopping at `qty`.
   */
  private fillableLots(side: Side, isMarket: boolean, limit: number, qty: number, acct: AccountRec | null, stp: StpMode): number {
    const takerBuys = side === "buy";
    const opp = takerBuys ? this.asks : this.bids;
    const levels = opp.levels;
    let need = qty;
    this.deltaCount = 0;
    walk: for (let i = opp.n - 1; i >= 0; i--) {
      const lvl = levels[i]!;
      if (!isMarket && (takerBuys ? limit < lvl.price : limit > lvl.price)) break;
      for (let m = lvl.head; m !== null; m = m.next) {
        if (m.acct === acct) {
          if (stp === "cancel-maker") continue; // would be cancelled; not liquidity
          break walk; // the taker would be cancelled here
        }
        let avail = m.qty;
        if (m.reduceOnly) {
          const cap = this.makerCapacityLots(m);
          if (cap === 0) continue;
          if (cap < avail) avail = cap;
        }
        const take = need < avail ? need : avail;
        need -= take;
        if (need === 0) break walk;
        this.recordDelta(m.acct, takerBuys ? -take : take);
      }
    }
    this.deltaCount = 0;
    return qty - need;
  }

  // ---- structure

  /** Book limits for an order that may rest at `price` with `qty` (`self`: a replaced order). */
  private restLimitCheck(side: Side, price: number, qty: number, self: FOrder | null): Rejection | null {
    if (self === null && this.resting >= this.maxRestingOrders) {
      return rejections.bookFull(this.symbol, this.maxRestingOrders);
    }
    const s = side === "buy" ? this.bids : this.asks;
    const i = search(s.keys, s.n, s.key(price));
    const lvl = i >= 0 ? s.levels[i]! : null;
    const selfAlone = self !== null && self.level!.count === 1;
    const othersAtPrice = lvl === null ? 0 : lvl.count - (self !== null && self.level === lvl ? 1 : 0);
    if (othersAtPrice === 0) {
      const otherLevels = s.n - (selfAlone ? 1 : 0);
      if (otherLevels >= this.maxLevelsPerSide) return rejections.levelsFull(side, this.symbol, this.maxLevelsPerSide);
    }
    const total = lvl === null ? 0 : lvl.totalQty - (self !== null && self.level === lvl ? self.qty : 0);
    if (total + qty > Number.MAX_SAFE_INTEGER) return rejections.levelTotal(price);
    return null;
  }

  /** Appends `o` (price/qty set) to the back of its level, creating the level if needed. */
  private rest(o: FOrder): void {
    const lvl = this.levelFor(o.side === "buy" ? this.bids : this.asks, o.price);
    this.seq += 1;
    o.seq = this.seq;
    o.level = lvl;
    o.next = null;
    o.prev = lvl.tail;
    if (lvl.tail === null) lvl.head = o;
    else lvl.tail.next = o;
    lvl.tail = o;
    lvl.count += 1;
    lvl.totalQty += o.qty;
    this.resting += 1;
    this.linkAccount(o);
  }

  /** The level at `price` on side `s`, created (and inserted in key order) when missing. */
  private levelFor(s: FSide, price: number): FLevel {
    const key = s.key(price);
    const keys = s.keys;
    const levels = s.levels;
    const n = s.n;
    // Fast path: the order joins the touch.
    if (n > 0 && keys[n - 1] === key) return levels[n - 1]!;
    const i = search(keys, n, key);
    if (i >= 0) return levels[i]!;
    const lvl = this.allocLevel(price);
    const at = -i - 1;
    if (n === keys.length) {
      keys.push(key);
      levels.push(lvl);
    }
    for (let j = n; j > at; j--) {
      keys[j] = keys[j - 1]!;
      levels[j] = levels[j - 1]!;
    }
    keys[at] = key;
    levels[at] = lvl;
    s.n = n + 1;
    return lvl;
  }

  private linkAccount(o: FOrder): void {
    const acct = o.acct!;
    o.aprev = null;
    o.anext = acct.head;
    if (acct.head !== null) acct.head.aprev = o;
    acct.head = o;
  }

  private unlinkAccount(o: FOrder): void {
    const acct = o.acct!;
    if (o.aprev === null) acct.head = o.anext;
    else o.aprev.anext = o.anext;
    if (o.anext !== null) o.anext.aprev = o.aprev;
    o.aprev = null;
    o.anext = null;
  }

  /** Takes a resting order out of its level (and the level out of its side when empty). */
  private unlink(o: FOrder): void {
    const lvl = o.level!;
    if (o.prev === null) lvl.head = o.next;
    else o.prev.next = o.next;
    if (o.next === null) lvl.tail = o.prev;
    else o.next.prev = o.prev;
    o.prev = null;
    o.next = null;
    o.level = null;
    lvl.count -= 1;
    lvl.totalQty -= o.qty;
    this.resting -= 1;
    this.unlinkAccount(o);
    if (lvl.count === 0) this.removeLevel(o.side === "buy" ? this.bids : this.asks, lvl);
  }

  private removeLevel(s: FSide, lvl: FLevel): void {
    const keys = s.keys;
    const levels = s.levels;
    const last = s.n - 1;
    // The touch empties most often: drop it without a search.
    const i = levels[last] === lvl ? last : search(keys, s.n, s.key(lvl.price));
    if (i < 0 || levels[i] !== lvl) throw new Error(`fast: level ${lvl.price} not found on the ${s.side} side`);
    for (let j = i; j < last; j++) {
      keys[j] = keys[j + 1]!;
      levels[j] = levels[j + 1]!;
    }
    s.n = last;
    lvl.head = null;
    lvl.tail = null;
    lvl.totalQty = 0;
    if (this.levelPoolN === this.levelPool.length) this.levelPool.push(lvl);
    else this.levelPool[this.levelPoolN] = lvl;
    this.levelPoolN += 1;
  }

  /** The order leaves the book for good: its id stays used, the object is recycled. */
  private retire(o: FOrder): void {
    this.indexSet(o.acct!, o.id, null);
    o.id = "";
    o.account = "";
    o.acct = null;
    if (this.orderPoolN === this.orderPool.length) this.orderPool.push(o);
    else this.orderPool[this.orderPoolN] = o;
    this.orderPoolN += 1;
  }

  /** The only writer of the id index: keeps indexedOrders equal to its non-null entries. */
  private indexSet(acct: AccountRec, id: string, o: FOrder | null): void {
    const prev = acct.ids.get(id);
    if (prev !== undefined && prev !== null) this.indexedOrders -= 1;
    if (o !== null) this.indexedOrders += 1;
    acct.ids.set(id, o);
  }

  private allocOrder(): FOrder {
    if (this.orderPoolN === 0) return new FOrder();
    this.orderPoolN -= 1;
    return this.orderPool[this.orderPoolN]!;
  }

  private allocLevel(price: number): FLevel {
    let l: FLevel;
    if (this.levelPoolN === 0) {
      l = new FLevel();
    } else {
      this.levelPoolN -= 1;
      l = this.levelPool[this.levelPoolN]!;
    }
    l.price = price;
    l.totalQty = 0;
    l.count = 0;
    return l;
  }

  /** What a resting reduce-only order may still trade: its position now, this op's fills included. */
  private makerCapacityLots(m: FOrder): number {
    return reduceCapacityLots(m.side, checkPositionLots(this.hooks.positionLots(m.account, this.symbol)) + this.opDeltaLots(m.acct));
  }

  private recordDelta(acct: AccountRec | null, lots: number): void {
    const i = this.deltaCount++;
    if (i < this.deltaAcct.length) {
      this.deltaAcct[i] = acct;
      this.deltaLots[i] = lots;
    } else {
      this.deltaAcct.push(acct);
      this.deltaLots.push(lots);
    }
  }

  private opDeltaLots(acct: AccountRec | null): number {
    let sum = 0;
    for (let i = 0; i < this.deltaCount; i++) if (this.deltaAcct[i] === acct) sum += this.deltaLots[i]!;
    return sum;
  }

  // ---- output

  private begin(): void {
    this.outN = 0;
    this.tradesUsed = 0;
    this.cancelsUsed = 0;
    this.deltaCount = 0;
    this.stoppedBySTP = false;
  }

  private nextTrade(): TradeEv {
    if (this.tradesUsed < this.tradePool.length) return this.tradePool[this.tradesUsed++]!;
    const t = new TradeEv(this.symbol);
    this.tradePool.push(t);
    this.tradesUsed += 1;
    return t;
  }

  private emitCancelled(
    orderId: string, account: string, side: Side, price: number | null, qty: number, reason: CancelReason,
  ): void {
    let c: CancelledEv;
    if (this.cancelsUsed < this.cancelPool.length) {
      c = this.cancelPool[this.cancelsUsed]!;
    } else {
      c = new CancelledEv(this.symbol);
      this.cancelPool.push(c);
    }
    this.cancelsUsed += 1;
    c.orderId = orderId;
    c.account = account;
    c.side = side;
    c.price = price;
    c.qty = qty;
    c.reason = reason;
    this.emit(c);
  }

  private rejectNew(order: unknown, r: Rejection): readonly BookEvent[] {
    const o = (typeof order === "object" && order !== null ? order : {}) as { id?: unknown; account?: unknown };
    return this.reject("new", o.account, o.id, r);
  }

  private reject(request: "new" | "cancel" | "replace", account: unknown, id: unknown, r: Rejection): readonly BookEvent[] {
    const e = this.rejectedEv;
    e.request = request;
    e.orderId = typeof id === "string" ? id : "";
    e.account = typeof account === "string" ? account : "";
    e.code = r.code;
    e.message = r.message;
    this.emit(e);
    return this.result();
  }

  private emit(e: BookEvent): void {
    const n = this.outN;
    if (n === this.scratchOut.length) this.scratchOut.push(e);
    else this.scratchOut[n] = e;
    this.outN = n + 1;
  }

  /** The operation's events as an array of exactly their number (cached per small size). */
  private result(): readonly BookEvent[] {
    const n = this.outN;
    const scratch = this.scratchOut;
    let out = n <= OUT_CACHE_MAX_EVENTS ? this.outBySize[n] : undefined;
    if (out === undefined) {
      out = scratch.slice(0, n);
      if (n <= OUT_CACHE_MAX_EVENTS) {
        while (this.outBySize.length < n) this.outBySize.push(undefined);
        this.outBySize[n] = out;
      }
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = scratch[i]!;
    return out;
  }
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function view(o: FOrder): RestingOrderView {
  return {
    id: o.id, account: o.account, side: o.side, price: o.price, qty: o.qty,
    reduceOnly: o.reduceOnly, postOnly: o.postOnly, stp: o.stp, seq: o.seq,
  };
}

export const createFastBook = (symbol: string, opts?: BookOptions): OrderBook => new FastOrderBook(symbol, opts);
