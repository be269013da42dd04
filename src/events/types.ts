// Input events (SPEC §8) after schema validation: shapes are right, decimals are parsed
// exactly, but nothing is checked against state yet (symbols may be unknown, prices may
// be off the tick grid). `decide` does those checks.
import type { Decimal } from "../numbers/decimal.js";

export interface EventBase {
  /** Integer ms since epoch; absent means "the previous event's ts holds". */
  readonly ts?: number;
}

export interface AssetEvent extends EventBase {
  readonly type: "asset";
  readonly asset: string;
  readonly decimals: number;
  readonly haircut: Decimal;
  readonly settlement: boolean;
}

export interface TierDef {
  readonly maxNotional: Decimal;
  readonly mmr: Decimal;
  readonly maxLeverage: number;
}

export interface InstrumentEvent extends EventBase {
  readonly type: "instrument";
  readonly symbol: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  readonly tiers: readonly TierDef[];
  readonly makerFee: Decimal;
  readonly takerFee: Decimal;
  readonly liquidationFee: Decimal;
  readonly insuranceShare: Decimal;
}

export interface DepositEvent extends EventBase {
  readonly type: "deposit";
  readonly id: string;
  readonly account: string;
  readonly asset: string;
  readonly amount: Decimal;
}

export interface WithdrawEvent extends EventBase {
  readonly type: "withdraw";
  readonly id: string;
  readonly account: string;
  readonly asset: string;
  readonly amount: Decimal;
}

export interface LeverageEvent extends EventBase {
  readonly type: "leverage";
  readonly account: string;
  readonly symbol: string;
  readonly leverage: number;
}

export type MarginMode = "cross" | "isolated";

export interface MarginModeEvent extends EventBase {
  readonly type: "margin.mode";
  readonly account: string;
  readonly symbol: string;
  readonly mode: MarginMode;
}

export interface MarginTransferEvent extends EventBase {
  readonly type: "margin.transfer";
  readonly account: string;
  readonly symbol: string;
  /** Positive: into the isolated margin; negative: out of it. */
  readonly amount: Decimal;
}

export interface TradeEvent extends EventBase {
  readonly type: "trade";
  readonly id: string;
  readonly symbol: string;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly buyer: string;
  readonly seller: string;
  readonly taker: "buyer" | "seller";
}

export interface MarkEvent extends EventBase {
  readonly type: "mark";
  readonly symbol: string;
  readonly price: Decimal;
}

export interface CollateralPriceEvent extends EventBase {
  readonly type: "collateral.price";
  readonly asset: string;
  readonly price: Decimal;
}

export interface FundingEvent extends EventBase {
  readonly type: "funding";
  readonly symbol: string;
  readonly rate: Decimal;
}

// ---- order flow (docs/matching.md "Pipeline integration"). Prices and quantities are
// decimals on the instrument's grid, converted to ticks/lots by `decide`. Order ids are
// scoped to (account, symbol) and deduplicated by the book (E_DUPLICATE), not by the SPEC
// `type:id` idempotency set.

export type OrderSide = "buy" | "sell";
export type OrderKind = "limit" | "market";
export type OrderTimeInForce = "GTC" | "IOC" | "FOK" | "POST_ONLY";
export type OrderStp = "cancel-taker" | "cancel-maker" | "cancel-both";

export interface OrderNewEvent extends EventBase {
  readonly type: "order.new";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
  readonly side: OrderSide;
  /** Default "limit". */
  readonly orderType: OrderKind;
  /** Required for limit orders, absent for market orders (checked by the book: E_SCHEMA). */
  readonly price?: Decimal;
  readonly qty: Decimal;
  /** Default "GTC". */
  readonly tif: OrderTimeInForce;
  /** Default false. */
  readonly reduceOnly: boolean;
  /** Default "cancel-taker". */
  readonly stp: OrderStp;
}

export interface OrderCancelEvent extends EventBase {
  readonly type: "order.cancel";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
}

export interface OrderReplaceEvent extends EventBase {
  readonly type: "order.replace";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
  /** New limit price; absent keeps it. */
  readonly price?: Decimal;
  /** New remaining quantity; absent keeps it. */
  readonly qty?: Decimal;
}

export type OrderEvent = OrderNewEvent | OrderCancelEvent | OrderReplaceEvent;

export type InputEvent =
  | AssetEvent
  | InstrumentEvent
  | DepositEvent
  | WithdrawEvent
  | LeverageEvent
  | MarginModeEvent
  | MarginTransferEvent
  | TradeEvent
  | MarkEvent
  | CollateralPriceEvent
  | FundingEvent
  | OrderNewEvent
  | OrderCancelEvent
  | OrderReplaceEvent;

export type InputEventType = InputEvent["type"];

export const INPUT_EVENT_TYPES: readonly InputEventType[] = [
  "asset",
  "instrument",
  "deposit",
  "withdraw",
  "leverage",
  "margin.mode",
  "margin.transfer",
  "trade",
  "mark",
  "collateral.price",
  "funding",
  "order.new",
  "order.cancel",
  "order.replace",
];

export function isOrderEvent(e: InputEvent): e is OrderEvent {
  return e.type === "order.new" || e.type === "order.cancel" || e.type === "order.replace";
}

/**
 * What the log holds at one seq: a well-formed event, or the raw input that failed
 * JSON/schema validation (kept so the log is complete; replay rejects it again).
 */
export type LogEntry =
  | { readonly kind: "event"; readonly event: InputEvent }
  | { readonly kind: "raw"; readonly raw: string };
