// Matching types shared by both books, the engine and the tests. Units: every price is an
// integer number of ticks, every quantity an integer number of lots (JS numbers that must
// be safe positive integers). Field names follow the product contract (`price`, `qty`);
// the unit is stated on each field.
import type { ErrorCode } from "../events/errors.js";

export type Side = "buy" | "sell";
export type OrderType = "limit" | "market";
export type TimeInForce = "GTC" | "IOC" | "FOK" | "POST_ONLY";
/** Self-trade prevention, applied when the taker meets a resting order of its own account. */
export type StpMode = "cancel-taker" | "cancel-maker" | "cancel-both";

export const SIDES: readonly Side[] = ["buy", "sell"];
export const ORDER_TYPES: readonly OrderType[] = ["limit", "market"];
export const TIMES_IN_FORCE: readonly TimeInForce[] = ["GTC", "IOC", "FOK", "POST_ONLY"];
export const STP_MODES: readonly StpMode[] = ["cancel-taker", "cancel-maker", "cancel-both"];
export const DEFAULT_STP: StpMode = "cancel-taker";

/** A new order as the book receives it. */
export interface OrderRequest {
  readonly id: string;
  readonly account: string;
  readonly side: Side;
  readonly orderType: OrderType;
  /** Limit price in ticks; required for limit orders, absent for market orders. */
  readonly price?: number;
  /** Quantity in lots. */
  readonly qty: number;
  readonly tif: TimeInForce;
  /** Default false. */
  readonly reduceOnly?: boolean;
  /** Default "cancel-taker". */
  readonly stp?: StpMode;
}

/** `replace` changes: the new limit price (ticks) and/or the new remaining quantity (lots). */
export interface ReplaceRequest {
  readonly price?: number;
  readonly qty?: number;
}

/**
 * Why an order left the book without trading:
 * - user: `cancel` call;
 * - unfilled: IOC / market / FOK-less remainder that may not rest;
 * - no-liquidity: a market order met an empty opposite side (no trades at all);
 * - stp: self-trade prevention cancelled it (taker or maker);
 * - reduce-only: a resting reduce-only order could no longer reduce the position;
 * - liquidation: the pipeline cancelled it because its account (or isolated position) was
 *   liquidated.
 */
export type CancelReason = "user" | "unfilled" | "no-liquidity" | "stp" | "reduce-only" | "liquidation";

export interface BookTrade {
  readonly type: "trade";
  /** Deterministic `${symbol}:${n}`, n = 1, 2, … per book. */
  readonly id: string;
  readonly symbol: string;
  /** The maker's (resting) price, ticks. */
  readonly price: number;
  /** Lots. */
  readonly qty: number;
  readonly buyer: string;
  readonly seller: string;
  readonly taker: "buyer" | "seller";
  readonly makerOrderId: string;
  readonly takerOrderId: string;
}

export interface OrderAccepted {
  readonly type: "order.accepted";
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: Side;
  readonly orderType: OrderType;
  /** Ticks; null for market orders. */
  readonly price: number | null;
  /** Lots the book works with: the request's qty, capped for reduce-only orders. */
  readonly qty: number;
  readonly tif: TimeInForce;
  readonly reduceOnly: boolean;
  readonly stp: StpMode;
}

export interface OrderCancelled {
  readonly type: "order.cancelled";
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: Side;
  /** Ticks; null for market orders. */
  readonly price: number | null;
  /** Lots cancelled (the order's remaining quantity at that moment). */
  readonly qty: number;
  readonly reason: CancelReason;
}

export interface OrderRejected {
  readonly type: "order.rejected";
  readonly symbol: string;
  /** Which operation was rejected. */
  readonly request: "new" | "cancel" | "replace";
  /** As given (empty string when the input had no usable id / account). */
  readonly orderId: string;
  readonly account: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface OrderReplaced {
  readonly type: "order.replaced";
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: Side;
  readonly oldPrice: number;
  readonly oldQty: number;
  readonly price: number;
  /** New remaining quantity, lots (after a reduce-only cap). */
  readonly qty: number;
  /** True when the order kept its place in the FIFO (same price, qty not increased). */
  readonly priorityKept: boolean;
}

export type BookEvent = BookTrade | OrderAccepted | OrderCancelled | OrderRejected | OrderReplaced;

/** A resting order as seen from outside (a copy). */
export interface RestingOrderView {
  readonly id: string;
  readonly account: string;
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
  readonly reduceOnly: boolean;
  readonly postOnly: boolean;
  readonly stp: StpMode;
  /** Arrival sequence (FIFO key within a level); renewed when priority is lost. */
  readonly seq: number;
}

/** [price ticks, total qty lots], best price first. */
export type Level = [priceTicks: number, qtyLots: number];

// ---- limits (per book unless stated); exceeding one is a rejection, never a crash.

/** Resting orders per book. A restable order arriving at a full book is rejected (E_ORDER). */
export const MAX_RESTING_ORDERS_PER_BOOK = 1_000_000;
/**
 * Price levels per side. Bounds the sorted level array of the fast book (inserts far from
 * the touch shift elements). A restable order that would open a level beyond it: E_ORDER.
 */
export const MAX_LEVELS_PER_SIDE = 100_000;
/** Largest price (ticks) and quantity (lots): exact in a double. */
export const MAX_PRICE_TICKS = Number.MAX_SAFE_INTEGER;
export const MAX_QTY_LOTS = Number.MAX_SAFE_INTEGER;
/** Order ids and account names: length limits (the wire schema checks the alphabet). */
export const ORDER_ID_MAX_CHARS = 128;
export const ACCOUNT_MAX_CHARS = 64;
/** Symbols per MatchingEngine. */
export const MAX_BOOKS_PER_ENGINE = 10_000;
