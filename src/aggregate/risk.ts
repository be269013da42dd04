// Pre-trade risk (docs/matching.md "Pre-trade risk"): whether an order may enter the book,
// from the kernel's figures and the account's open orders. Pure reads; exact BigInt.
//
// Per symbol s of the account (position q lots, leverage L, contract size k, mark M ticks),
// each open order o (side, price P ticks, qty lots) is charged
//
//   charge(o) = ceil(c_o·P·k / L)  +  k·qty_o·max(0, dir_o·(P − M))        dir: buy +1, sell −1
//
// where c_o is the part of o that does not reduce q: the lots that reduce q (|q| for the
// side opposite to the position, 0 for the other) are given to the side's orders in fill
// priority (best price first, then arrival), and what they cover needs no initial margin.
// The second term is the open loss: a fill at P worse than the mark loses that much against
// the mark at once (it would otherwise let two accounts move value to each other at prices
// far from the mark, with the insurance fund paying the bill). No mark yet: no open loss.
//
//   OC_s   = Σ charge(o) over the account's orders in s
//   need_s = OC_s                                       s cross
//          = max(0, OC_s − max(0, E_s − IM_s))          s isolated (its excess equity first)
//   Free   = E_cross − IM_cross − Σ_s need_s
//
// An order is accepted iff it adds nothing (OC_s with it ≤ OC_s without it: a pure reduction
// at or better than the mark, or a size decrease), or, with it counted, Free ≥ 0 and — for an
// isolated symbol — Σ over isolated symbols need_s ≤ max(0, B) (auto-margin can only move
// the settlement balance B). A market order is priced at the worst level it could reach
// (OrderBook.sweepPrice); one that can reach nothing adds nothing.
// Independently, an order that would take the position, with every same-side order of the
// account filled, beyond the last tier's maxNotional (valued at the highest of those prices
// and the mark) is rejected E_ORDER, and one whose own notional overflows is E_OVERFLOW.
import { reject, type Rejection } from "../events/errors.js";
import { formatScaled } from "../numbers/decimal.js";
import { abs, divCeil, I64_MAX, max, min } from "../numbers/int.js";
import type { OrderRequest, Side } from "../matching/types.js";
import { defaultLeverage } from "./decide.js";
import type { Instrument, State } from "./state.js";

/** The kernel's figures of one account, computed fresh. */
export interface AccountFigures {
  /** Some figure of the account does not fit the kernel's 64-bit representation. */
  readonly overflowed?: boolean;
  readonly crossEquityMinor: bigint;
  readonly crossImMinor: bigint;
  /** An isolated position's equity (m + U) and IM (zeros without a position). */
  isolated(symbol: string): { equityMinor: bigint; imMinor: bigint };
}

export interface RiskContext {
  readonly state: State;
  figures(account: string): AccountFigures;
}

export interface OpenOrder {
  readonly side: Side;
  readonly priceTicks: bigint;
  readonly qtyLots: bigint;
  /** Arrival order (FIFO key); a candidate that would join the back of its level: +∞. */
  readonly seq: number;
  readonly id: string;
}

interface SymbolParams {
  readonly inst: Instrument;
  readonly qLots: bigint;
  readonly leverage: bigint;
  readonly isolated: boolean;
}

function params(state: State, account: string, inst: Instrument): SymbolParams {
  const pos = state.accounts.get(account)?.positions.get(inst.symbol);
  return {
    inst,
    qLots: pos?.qtyLots ?? 0n,
    leverage: BigInt(pos?.leverage ?? defaultLeverage(inst)),
    isolated: pos?.mode === "isolated",
  };
}

/** The account's resting orders, by symbol (code-unit order). */
export function openOrdersOf(state: State, account: string): Map<string, OpenOrder[]> {
  const out = new Map<string, OpenOrder[]>();
  const engine = state.books.engine;
  for (const symbol of engine.symbols()) {
    const list: OpenOrder[] = [];
    engine.book(symbol)!.accountOrders(account, (o) => {
      list.push({ side: o.side, priceTicks: BigInt(o.price), qtyLots: BigInt(o.qty), seq: o.seq, id: o.id });
    });
    if (list.length > 0) out.set(symbol, list);
  }
  return out;
}

/** Fill priority within a side: best price first, then arrival. */
const BY_PRIORITY: Readonly<Record<Side, (a: OpenOrder, b: OpenOrder) => number>> = {
  buy: (a, b) => (a.priceTicks !== b.priceTicks ? (a.priceTicks > b.priceTicks ? -1 : 1) : a.seq - b.seq),
  sell: (a, b) => (a.priceTicks !== b.priceTicks ? (a.priceTicks < b.priceTicks ? -1 : 1) : a.seq - b.seq),
};

const SIDES = ["buy", "sell"] as const;

/** OC_s: Σ charge(o) over a symbol's orders (see the header). */
export function orderCharges(p: SymbolParams, orders: readonly OpenOrder[]): bigint {
  const { inst, qLots, leverage } = p;
  const k = inst.kMinor;
  const M = inst.markTicks;
  let total = 0n;
  for (const side of SIDES) {
    let reducible = side === "buy" ? (qLots < 0n ? -qLots : 0n) : qLots > 0n ? qLots : 0n;
    // Only the side that reduces the position needs its orders in fill priority.
    const list = reducible > 0n ? orders.filter((o) => o.side === side).sort(BY_PRIORITY[side]) : orders;
    for (const o of list) {
      if (o.side !== side) continue;
      const reduces = min(o.qtyLots, reducible);
      reducible -= reduces;
      const c = o.qtyLots - reduces;
      if (c > 0n) total += divCeil(c * o.priceTicks * k, leverage);
      if (M > 0n) {
        const worse = side === "buy" ? o.priceTicks - M : M - o.priceTicks;
        if (worse > 0n) total += k * o.qtyLots * worse;
      }
    }
  }
  return total;
}

interface Needs {
  /** Σ need_s over every symbol. */
  readonly total: bigint;
  /** Σ need_s over isolated symbols (what auto-margin must move from B). */
  readonly isolated: bigint;
}

/** `known`: OC_s of one symbol, already computed by the caller from the same orders. */
function needs(ctx: RiskContext, account: string, orders: Map<string, OpenOrder[]>, figs: AccountFigures, known?: { symbol: string; oc: bigint }): Needs {
  let total = 0n;
  let isolated = 0n;
  for (const [symbol, list] of orders) {
    const p = params(ctx.state, account, ctx.state.instruments.get(symbol)!);
    const oc = symbol === known?.symbol ? known.oc : orderCharges(p, list);
    if (p.isolated) {
      const iso = figs.isolated(symbol);
      const need = max(0n, oc - max(0n, iso.equityMinor - iso.imMinor));
      isolated += need;
      total += need;
    } else {
      total += oc;
    }
  }
  return { total, isolated };
}

/** What the account's open orders need from its cross wallet: Σ_s need_s (0 without orders). */
export function openOrderMargin(ctx: RiskContext, account: string): bigint {
  const orders = openOrdersOf(ctx.state, account);
  if (orders.size === 0) return 0n;
  return needs(ctx, account, orders, ctx.figures(account)).total;
}

/** RiskHooks.preTradeCheck for the aggregate (see the header for the rule). */
export function preTradeCheck(ctx: RiskContext, order: Readonly<OrderRequest>, symbol: string, kind: "new" | "replace"): Rejection | null {
  const state = ctx.state;
  const inst = state.instruments.get(symbol);
  if (inst === undefined) return reject("E_UNKNOWN", "symbol", `unknown symbol ${symbol}`);
  const account = order.account;
  let priceTicks: number | null = order.orderType === "market" ? null : (order.price ?? null);
  if (priceTicks === null) {
    priceTicks = state.books.engine.book(symbol)!.sweepPrice(order.side, order.qty, account);
    if (priceTicks === null) return null; // nothing it could trade with: it adds nothing
  }
  const price = BigInt(priceTicks);
  const qty = BigInt(order.qty);
  const k = inst.kMinor;
  if (qty * price * k > I64_MAX) return reject("E_OVERFLOW", "qty", "the order's notional overflows the 64-bit representation");

  const orders = openOrdersOf(state, account);
  const before = orders.get(symbol) ?? [];
  const old = kind === "replace" ? before.find((o) => o.id === order.id) : undefined;
  const kept = old !== undefined && old.priceTicks === price && qty <= old.qtyLots;
  const candidate: OpenOrder = { side: order.side, priceTicks: price, qtyLots: qty, seq: kept ? old.seq : Number.POSITIVE_INFINITY, id: order.id };
  const after = [...before.filter((o) => o !== old), candidate];
  const p = params(state, account, inst);

  // Position limit: every same-side order filled must stay within the last tier.
  const dir = order.side === "buy" ? 1n : -1n;
  let sameSide = 0n;
  let worstPrice = inst.markTicks;
  for (const o of after) {
    if (o.side !== order.side) continue;
    sameSide += o.qtyLots;
    worstPrice = max(worstPrice, o.priceTicks);
  }
  const qAfter = p.qLots + dir * sameSide;
  if (abs(qAfter) > abs(p.qLots)) {
    const last = inst.tiers[inst.tiers.length - 1]!;
    if (abs(qAfter) * worstPrice * k > last.maxNotionalMinor) {
      return reject("E_ORDER", "qty", `the position could reach a notional beyond the last tier's maxNotional (${formatMoney(state, last.maxNotionalMinor)})`);
    }
  }

  // Margin: only an order that adds a charge is checked.
  const ocAfter = orderCharges(p, after);
  if (ocAfter <= orderCharges(p, before)) return null;
  orders.set(symbol, after);
  const figs = ctx.figures(account);
  if (figs.overflowed === true) return reject("E_OVERFLOW", "account", `${account}'s margin figures overflow the 64-bit representation`);
  const n = needs(ctx, account, orders, figs, { symbol, oc: ocAfter });
  const free = figs.crossEquityMinor - figs.crossImMinor - n.total;
  if (free < 0n) {
    return reject(
      "E_MARGIN", "qty",
      `insufficient margin: equity ${formatMoney(state, figs.crossEquityMinor)} < initial margin ${formatMoney(state, figs.crossImMinor)} + open orders ${formatMoney(state, n.total)}`,
    );
  }
  if (p.isolated) {
    const b = state.accounts.get(account)?.balances.get(state.settlementAsset ?? "") ?? 0n;
    if (n.isolated > max(0n, b)) {
      return reject("E_MARGIN", "qty", `insufficient balance for isolated margin: ${formatMoney(state, n.isolated)} needed, balance ${formatMoney(state, b)}`);
    }
  }
  return null;
}

function formatMoney(state: State, minor: bigint): string {
  const s = state.settlementAsset;
  return formatScaled(minor, s === null ? 0 : state.assets.get(s)!.decimals);
}
