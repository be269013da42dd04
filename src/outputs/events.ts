// Output (derived) events: what the engine concludes beyond the input's own effects.
// Journaled as derived records and published on NATS; listed in the report.
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

export type OutputEvent = LiquidationOutput | AdlOutput | MarginCallOutput | InsuranceCoverOutput | RejectedOutput;
