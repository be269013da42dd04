// The reference book: one array of resting orders, linear scans, fresh objects everywhere.
// Written to be obviously right, not fast; it is the oracle of the differential tests.
// FOK is decided by running the order as IOC on a deep copy of the book and checking it
// filled completely — the definition itself, with no separate liquidity arithmetic.
import type { Rejection } from "../events/errors.js";
import {
  BookTxLog, checkDump, resolveBookOptions,
  type BookDump, type BookOptions, type BookTxPrimitives, type OrderBook, type ResolvedBookOptions,
} from "./book.js";
import type {
  BookEvent,
  CancelReason,
  Level,
  OrderRequest,
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
  resolveStp,
  validateOrderKey,
  validateOrderRequest,
  validateReplaceRequest,
} from "./validate.js";

interface NaiveOrder {
  id: string;
  account: string;
  side: Side;
  price: number;
  qty: number;
  seq: number;
  reduceOnly: boolean;
  postOnly: boolean;
  stp: StpMode;
}

/** An order while it takes liquidity (a new order, or a resting one re-priced by replace). */
interface Taker {
  id: string;
  account: string;
  side: Side;
  /** null: market. */
  price: number | null;
  qty: number;
  stp: StpMode;
}

export class NaiveOrderBook implements OrderBook {
  private readonly opts: ResolvedBookOptions;
  private orders: NaiveOrder[] = [];
  private readonly seenIds = new Map<string, Set<string>>();
  private seq = 0;
  private tradeCount_ = 0;
  /** Fills made by makers in the current operation, by account (signed lots). */
  private opDeltaLots = new Map<string, number>();
  private out: BookEvent[] = [];
  private tx: BookTxLog | null = null;

  constructor(
    readonly symbol: string,
    opts?: BookOptions,
  ) {
    this.opts = resolveBookOptions(symbol, opts);
  }

  // ---- operations

  place(order: OrderRequest): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderRequest(order);
    if (bad !== null) return this.rejected("new", order, bad);
    const { id, account, side, orderType, tif } = order;
    const stp = resolveStp(order.stp);
    const reduceOnly = order.reduceOnly ?? false;
    const price = orderType === "limit" ? order.price! : null;
    let qty = order.qty;

    if (this.seenIds.get(account)?.has(id) === true) return this.rejected("new", order, rejections.duplicate(account, id));
    if (reduceOnly) {
      const pos = checkPositionLots(this.opts.hooks.positionLots(account, this.symbol));
      const cap = reduceCapacityLots(side, pos);
      if (cap === 0) return this.rejected("new", order, rejections.reduceOnly(side, pos));
      qty = Math.min(qty, cap);
    }
    if (price !== null && (tif === "GTC" || tif === "POST_ONLY")) {
      const limitBad = this.restLimitCheck(side, price, qty, null);
      if (limitBad !== null) return this.rejected("new", order, limitBad);
    }
    const opposite = this.best(other(side));
    if (tif === "POST_ONLY" && opposite !== undefined && crosses(side, price!, opposite.price)) {
      return this.rejected("new", order, rejections.postOnlyCross(side, price!, opposite.price));
    }
    const taker: Taker = { id, account, side, price, qty, stp };
    if (tif === "FOK") {
      const fillable = this.fillableLots(taker);
      if (fillable < qty) return this.rejected("new", order, rejections.fokUnfillable(fillable, qty));
    }
    const riskBad = this.opts.hooks.preTradeCheck(
      { id, account, side, orderType, price: price ?? undefined, qty, tif, reduceOnly, stp },
      this.symbol,
      "new",
    );
    if (riskBad !== null) return this.rejected("new", order, riskBad);

    // Accepted: the id is now used for good.
    let ids = this.seenIds.get(account);
    if (ids === undefined) this.seenIds.set(account, (ids = new Set()));
    ids.add(id);
    this.tx?.created(account, id);
    this.out.push({
      type: "order.accepted", symbol: this.symbol, orderId: id, account, side, orderType,
      price, qty, tif, reduceOnly, stp,
    });
    const { remaining, stoppedBySTP } = this.match(taker);
    if (remaining === 0) return this.out;
    if (stoppedBySTP) {
      this.cancelled(id, account, side, price, remaining, "stp");
    } else if (price === null) {
      this.cancelled(id, account, side, price, remaining, opposite === undefined ? "no-liquidity" : "unfilled");
    } else if (tif === "IOC" || tif === "FOK") {
      this.cancelled(id, account, side, price, remaining, "unfilled");
    } else {
      this.rest({ id, account, side, price, qty: remaining, seq: 0, reduceOnly, postOnly: tif === "POST_ONLY", stp });
    }
    return this.out;
  }

  cancel(account: string, id: string, reason: CancelReason = "user"): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderKey(account, id);
    if (bad !== null) return this.rejectedKey("cancel", account, id, bad);
    const o = this.find(account, id);
    if (o === undefined) return this.rejectedKey("cancel", account, id, rejections.unknown(account, id));
    this.touch(o);
    this.remove(o);
    this.cancelled(o.id, o.account, o.side, o.price, o.qty, reason);
    return this.out;
  }

  replace(account: string, id: string, change: ReplaceRequest): readonly BookEvent[] {
    this.begin();
    const bad = validateOrderKey(account, id) ?? validateReplaceRequest(change);
    if (bad !== null) return this.rejectedKey("replace", account, id, bad);
    const o = this.find(account, id);
    if (o === undefined) return this.rejectedKey("replace", account, id, rejections.unknown(account, id));
    const price = change.price ?? o.price;
    let qty = change.qty ?? o.qty;
    if (o.reduceOnly) {
      const pos = checkPositionLots(this.opts.hooks.positionLots(account, this.symbol));
      const cap = reduceCapacityLots(o.side, pos);
      if (cap === 0) return this.rejectedKey("replace", account, id, rejections.reduceOnly(o.side, pos));
      qty = Math.min(qty, cap);
    }
    const priceChanged = price !== o.price;
    const limitBad = this.restLimitCheck(o.side, price, qty, o);
    if (limitBad !== null) return this.rejectedKey("replace", account, id, limitBad);
    const opposite = this.best(other(o.side));
    if (o.postOnly && opposite !== undefined && crosses(o.side, price, opposite.price)) {
      return this.rejectedKey("replace", account, id, rejections.postOnlyCross(o.side, price, opposite.price));
    }
    const tif: TimeInForce = o.postOnly ? "POST_ONLY" : "GTC";
    const riskBad = this.opts.hooks.preTradeCheck(
      { id, account, side: o.side, orderType: "limit", price, qty, tif, reduceOnly: o.reduceOnly, stp: o.stp },
      this.symbol,
      "replace",
    );
    if (riskBad !== null) return this.rejectedKey("replace", account, id, riskBad);

    this.touch(o);
    const keep = !priceChanged && qty <= o.qty;
    this.out.push({
      type: "order.replaced", symbol: this.symbol, orderId: id, account, side: o.side,
      oldPrice: o.price, oldQty: o.qty, price, qty, priorityKept: keep,
    });
    if (keep) {
      o.qty = qty;
      return this.out;
    }
    this.remove(o);
    const { remaining, stoppedBySTP } = this.match({ id, account, side: o.side, price, qty, stp: o.stp });
    if (remaining === 0) return this.out;
    if (stoppedBySTP) {
      this.cancelled(id, account, o.side, price, remaining, "stp");
    } else {
      this.rest({ ...o, price, qty: remaining });
    }
    return this.out;
  }

  // ---- snapshots

  levels(side: Side): Level[] {
    const totals = new Map<number, number>();
    for (const o of this.orders) if (o.side === side) totals.set(o.price, (totals.get(o.price) ?? 0) + o.qty);
    const levels: Level[] = [...totals.entries()];
    levels.sort((a, b) => (side === "buy" ? b[0] - a[0] : a[0] - b[0]));
    return levels;
  }

  levelOrders(side: Side, price: number): RestingOrderView[] {
    return this.orders
      .filter((o) => o.side === side && o.price === price)
      .sort((a, b) => a.seq - b.seq)
      .map(view);
  }

  order(account: string, id: string): RestingOrderView | undefined {
    const o = this.find(account, id);
    return o === undefined ? undefined : view(o);
  }

  bestBid(): number | null {
    return this.best("buy")?.price ?? null;
  }

  bestAsk(): number | null {
    return this.best("sell")?.price ?? null;
  }

  restingCount(): number {
    return this.orders.length;
  }

  checkInvariants(): void {
    const ids = new Map<string, Set<string>>();
    const seqs = new Set<number>();
    let bid = 0;
    let ask = Number.POSITIVE_INFINITY;
    for (const o of this.orders) {
      if (!Number.isSafeInteger(o.qty) || o.qty <= 0) throw new Error(`naive: order ${o.id} has qty ${o.qty}`);
      if (!Number.isSafeInteger(o.price) || o.price <= 0) throw new Error(`naive: order ${o.id} has price ${o.price}`);
      let own = ids.get(o.account);
      if (own === undefined) ids.set(o.account, (own = new Set()));
      if (own.has(o.id)) throw new Error(`naive: order ${o.id} of ${o.account} rests twice`);
      own.add(o.id);
      if (seqs.has(o.seq) || o.seq < 1 || o.seq > this.seq) throw new Error(`naive: order ${o.id} has a bad arrival seq ${o.seq}`);
      seqs.add(o.seq);
      if (this.seenIds.get(o.account)?.has(o.id) !== true) throw new Error(`naive: resting order ${o.id} not in the id index`);
      if (o.side === "buy") bid = Math.max(bid, o.price);
      else ask = Math.min(ask, o.price);
    }
    if (bid >= ask) throw new Error(`naive: crossed book, bid ${bid} >= ask ${ask}`);
    if (this.orders.length > this.opts.maxRestingOrders) throw new Error("naive: more resting orders than the limit");
  }

  // ---- reads for the risk side

  sweepPrice(side: Side, qty: number, account: string): number | null {
    const opp = this.orders.filter((o) => o.side === other(side)).sort((a, b) => priority(other(side), a, b));
    if (opp.length === 0) return null;
    let need = qty;
    for (const m of opp) {
      if (m.reduceOnly || m.account === account) continue;
      need -= m.qty;
      if (need <= 0) return m.price;
    }
    return opp[opp.length - 1]!.price;
  }

  accountOrders(account: string, visit: (o: RestingOrderView) => void): void {
    for (const o of this.orders.filter((x) => x.account === account)) visit(view(o));
  }

  tradeCount(): number {
    return this.tradeCount_;
  }

  // ---- persistence

  dump(): BookDump {
    const side = (s: Side): RestingOrderView[] => this.orders.filter((o) => o.side === s).sort((a, b) => priority(s, a, b)).map(view);
    const ids = [...this.seenIds.entries()]
      .filter(([, set]) => set.size > 0)
      .map(([account, set]): [string, string[]] => [account, [...set].sort(compare)])
      .sort((a, b) => compare(a[0], b[0]));
    return { seq: this.seq, trades: this.tradeCount_, orders: [...side("buy"), ...side("sell")], ids };
  }

  load(d: BookDump): void {
    if (!this.pristine() || this.seq !== 0) throw new Error(`naive: load into a used book ${this.symbol}`);
    checkDump(this.symbol, d);
    for (const [account, ids] of d.ids) this.seenIds.set(account, new Set(ids));
    for (const o of d.orders) this.prim.insertResting(o);
    this.prim.setCounters(d.seq, d.trades);
    this.checkInvariants();
  }

  pristine(): boolean {
    return this.seenIds.size === 0 && this.tradeCount_ === 0;
  }

  // ---- transactions

  beginTx(): void {
    if (this.tx !== null) throw new Error(`naive: nested transaction on ${this.symbol}`);
    this.tx = new BookTxLog(this.seq, this.tradeCount_);
  }

  commitTx(): void {
    this.tx = null;
  }

  rollbackTx(): void {
    const tx = this.tx;
    if (tx === null) throw new Error(`naive: no transaction to roll back on ${this.symbol}`);
    this.tx = null;
    tx.rollback(this.prim);
  }

  private touch(o: NaiveOrder): void {
    this.tx?.touch(o.account, o.id, () => view(o));
  }

  private readonly prim: BookTxPrimitives = {
    removeResting: (account, id) => {
      const o = this.find(account, id);
      if (o !== undefined) this.remove(o);
    },
    forgetId: (account, id) => {
      const ids = this.seenIds.get(account);
      if (ids === undefined) return;
      ids.delete(id);
      if (ids.size === 0) this.seenIds.delete(account);
    },
    insertResting: (v) => {
      let ids = this.seenIds.get(v.account);
      if (ids === undefined) this.seenIds.set(v.account, (ids = new Set()));
      ids.add(v.id);
      this.orders.push({
        id: v.id, account: v.account, side: v.side, price: v.price, qty: v.qty, seq: v.seq,
        reduceOnly: v.reduceOnly, postOnly: v.postOnly, stp: v.stp,
      });
    },
    setCounters: (seq, trades) => {
      this.seq = seq;
      this.tradeCount_ = trades;
    },
  };

  // ---- matching

  /** Takes liquidity for `t`; returns what is left and whether STP stopped it. */
  private match(t: Taker): { remaining: number; stoppedBySTP: boolean } {
    let remaining = t.qty;
    while (remaining > 0) {
      const m = this.best(other(t.side));
      if (m === undefined) break;
      if (t.price !== null && !crosses(t.side, t.price, m.price)) break;
      if (m.account === t.account && t.stp === "cancel-taker") return { remaining, stoppedBySTP: true };
      this.touch(m); // m changes or leaves in every path below
      if (m.account === t.account) {
        this.remove(m);
        this.cancelled(m.id, m.account, m.side, m.price, m.qty, "stp");
        if (t.stp === "cancel-both") return { remaining, stoppedBySTP: true };
        continue;
      }
      let fill = Math.min(remaining, m.qty);
      if (m.reduceOnly) {
        const pos = checkPositionLots(this.opts.hooks.positionLots(m.account, this.symbol)) + (this.opDeltaLots.get(m.account) ?? 0);
        const cap = reduceCapacityLots(m.side, pos);
        if (cap === 0) {
          this.remove(m);
          this.cancelled(m.id, m.account, m.side, m.price, m.qty, "reduce-only");
          continue;
        }
        fill = Math.min(fill, cap);
      }
      this.tradeCount_ += 1;
      const takerBuys = t.side === "buy";
      this.out.push({
        type: "trade",
        id: `${this.symbol}:${this.tradeCount_}`,
        symbol: this.symbol,
        price: m.price,
        qty: fill,
        buyer: takerBuys ? t.account : m.account,
        seller: takerBuys ? m.account : t.account,
        taker: takerBuys ? "buyer" : "seller",
        makerOrderId: m.id,
        takerOrderId: t.id,
      });
      remaining -= fill;
      m.qty -= fill;
      this.opDeltaLots.set(m.account, (this.opDeltaLots.get(m.account) ?? 0) + (m.side === "buy" ? fill : -fill));
      if (m.qty === 0) this.remove(m);
    }
    return { remaining, stoppedBySTP: false };
  }

  /** Lots `t` would fill right now: run it on a deep copy of the book and look. */
  private fillableLots(t: Taker): number {
    const copy = new NaiveOrderBook(this.symbol, this.opts);
    copy.orders = this.orders.map((o) => ({ ...o }));
    copy.opDeltaLots = new Map(this.opDeltaLots);
    copy.seq = this.seq;
    copy.tradeCount_ = this.tradeCount_;
    return t.qty - copy.match(t).remaining;
  }

  // ---- helpers

  /** Book limits for an order that may rest at `price` with `qty` (`self`: a replaced order). */
  private restLimitCheck(side: Side, price: number, qty: number, self: NaiveOrder | null): Rejection | null {
    if (self === null && this.orders.length >= this.opts.maxRestingOrders) {
      return rejections.bookFull(this.symbol, this.opts.maxRestingOrders);
    }
    // The other orders of this side (a replaced order no longer counts where it was).
    const prices = new Set<number>();
    let totalAtPrice = 0;
    let ordersAtPrice = 0;
    for (const o of this.orders) {
      if (o.side !== side || o === self) continue;
      prices.add(o.price);
      if (o.price === price) {
        ordersAtPrice += 1;
        totalAtPrice += o.qty;
      }
    }
    if (ordersAtPrice === 0 && prices.size >= this.opts.maxLevelsPerSide) {
      return rejections.levelsFull(side, this.symbol, this.opts.maxLevelsPerSide);
    }
    if (totalAtPrice + qty > Number.MAX_SAFE_INTEGER) return rejections.levelTotal(price);
    return null;
  }

  /** Best order of a side: best price, then earliest arrival. */
  private best(side: Side): NaiveOrder | undefined {
    let best: NaiveOrder | undefined;
    for (const o of this.orders) {
      if (o.side !== side) continue;
      if (
        best === undefined ||
        (side === "buy" ? o.price > best.price : o.price < best.price) ||
        (o.price === best.price && o.seq < best.seq)
      ) {
        best = o;
      }
    }
    return best;
  }

  private find(account: string, id: string): NaiveOrder | undefined {
    return this.orders.find((o) => o.account === account && o.id === id);
  }

  private rest(o: NaiveOrder): void {
    this.seq += 1;
    this.orders.push({ ...o, seq: this.seq });
  }

  private remove(o: NaiveOrder): void {
    const i = this.orders.indexOf(o);
    if (i < 0) throw new Error(`naive: order ${o.id} is not resting`);
    this.orders.splice(i, 1);
  }

  private begin(): void {
    this.out = [];
    this.opDeltaLots = new Map();
  }

  private cancelled(
    orderId: string, account: string, side: Side, price: number | null, qty: number, reason: CancelReason,
  ): void {
    this.out.push({ type: "order.cancelled", symbol: this.symbol, orderId, account, side, price, qty, reason });
  }

  private rejected(request: "new", order: unknown, r: Rejection): readonly BookEvent[] {
    const o = (typeof order === "object" && order !== null ? order : {}) as { id?: unknown; account?: unknown };
    return this.rejectedKey(request, o.account, o.id, r);
  }

  private rejectedKey(request: "new" | "cancel" | "replace", account: unknown, id: unknown, r: Rejection): readonly BookEvent[] {
    this.out.push({
      type: "order.rejected",
      symbol: this.symbol,
      request,
      orderId: typeof id === "string" ? id : "",
      account: typeof account === "string" ? account : "",
      code: r.code,
      message: r.message,
    });
    return this.out;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Fill priority on `side`: best price first, then earliest arrival. */
function priority(side: Side, a: NaiveOrder, b: NaiveOrder): number {
  if (a.price !== b.price) return side === "buy" ? b.price - a.price : a.price - b.price;
  return a.seq - b.seq;
}

function other(side: Side): Side {
  return side === "buy" ? "sell" : "buy";
}

function view(o: NaiveOrder): RestingOrderView {
  return {
    id: o.id, account: o.account, side: o.side, price: o.price, qty: o.qty,
    reduceOnly: o.reduceOnly, postOnly: o.postOnly, stp: o.stp, seq: o.seq,
  };
}

export const createNaiveBook = (symbol: string, opts?: BookOptions): OrderBook => new NaiveOrderBook(symbol, opts);
