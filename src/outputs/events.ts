// Output (derived) events: what the engine concludes beyond the input's own effects.
// Journaled as derived records and published on NATS; listed in the report.
import type { MatchTradeJson } from "../matching/engine.js";

export interface LiquidationOutput {
  readonly type: "liquidation";
  readonly seq: number;
  readonly account: string;
  readonly mode: "cross" | "isolated";
  readonly symbols: string[];
  /** Signed quantity moved and mark: strings for one symbol, arrays aligned with `symbols` for several. */
  readonly qty: string | string[];
  readonly mark: string | string[];
  /** Per symbol, aligned with `symbols`: the signed quantity moved and the mark (decimal strings). */
  readonly legs: { symbol: string; qty: string; mark: string; notional: string }[];
  /** The liquidation fee charged (capped at remaining equity) and its split. */
  readonly fee: string;
  readonly feeToInsurance: string;
  readonly feeToFees: string;
  /** Negative equity covered by @insurance. */
  readonly deficit: string;
}

export interface AdlOutput {
  readonly type: "adl";
  readonly seq: number;
  readonly symbol: string;
  /** The counterparty whose position was reduced against @insurance. */
  readonly account: string;
  /** Signed change of the counterparty's position (decimal string, lots → qty). */
  readonly qty: string;
  readonly mark: string;
}

export interface MarginCallOutput {
  readonly type: "margin.call";
  readonly seq: number;
  readonly account: string;
  /** "" for the cross account, else the isolated position's symbol. */
  readonly symbol: string;
  readonly equity: string;
  readonly maintenanceMargin: string;
}

/** @insurance brought a negative isolated margin to 0 when a fill closed the position (SPEC §4). */
export interface InsuranceCoverOutput {
  readonly type: "insurance.cover";
  readonly seq: number;
  readonly account: string;
  readonly symbol: string;
  readonly amount: string;
}

export interface RejectedOutput {
  readonly type: "rejected";
  readonly seq: number;
  readonly code: string;
  readonly message: string;
}

// ---- order flow (docs/matching.md "Pipeline integration"). Prices and quantities are decimal
// strings on the instrument's grid; `seq` is the input event that caused them.

/** A fill made by the book (`${symbol}:${n}` ids, n per book); applied to both accounts like a `trade` event. */
export interface TradeOutput extends MatchTradeJson {
  readonly type: "trade";
  readonly seq: number;
}

export interface OrderAcceptedOutput {
  readonly type: "order.accepted";
  readonly seq: number;
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: "buy" | "sell";
  readonly orderType: "limit" | "market";
  /** null for market orders. */
  readonly price: string | null;
  /** After a reduce-only cap. */
  readonly qty: string;
  readonly tif: "GTC" | "IOC" | "FOK" | "POST_ONLY";
  readonly reduceOnly: boolean;
  readonly stp: "cancel-taker" | "cancel-maker" | "cancel-both";
}

export interface OrderCancelledOutput {
  readonly type: "order.cancelled";
  readonly seq: number;
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: "buy" | "sell";
  readonly price: string | null;
  /** The quantity cancelled (what was left). */
  readonly qty: string;
  readonly reason: "user" | "unfilled" | "no-liquidity" | "stp" | "reduce-only" | "liquidation";
}

export interface OrderReplacedOutput {
  readonly type: "order.replaced";
  readonly seq: number;
  readonly symbol: string;
  readonly orderId: string;
  readonly account: string;
  readonly side: "buy" | "sell";
  readonly oldPrice: string;
  readonly oldQty: string;
  readonly price: string;
  readonly qty: string;
  readonly priorityKept: boolean;
}

/**
 * An order operation refused. For an input order event it follows the event's `rejected`
 * output (same code and message); for an @insurance liquidation order it stands alone.
 */
export interface OrderRejectedOutput {
  readonly type: "order.rejected";
  readonly seq: number;
  readonly symbol: string;
  readonly request: "new" | "cancel" | "replace";
  readonly orderId: string;
  readonly account: string;
  readonly code: string;
  readonly message: string;
}

export type OrderOutput = TradeOutput | OrderAcceptedOutput | OrderCancelledOutput | OrderReplacedOutput | OrderRejectedOutput;

export type OutputEvent = LiquidationOutput | AdlOutput | MarginCallOutput | InsuranceCoverOutput | RejectedOutput | OrderOutput;
