// Effects: what `decide` concludes and `evolve` applies. Each carries absolute new values
// (not deltas), so applying one is trivial and its inverse is "set the old value back" —
// which is how an event whose derived figures overflow is rolled back (see engine).
import type { MarginMode } from "../events/types.js";
import type { Asset, Tier } from "./state.js";
import type { Decimal } from "../numbers/decimal.js";

export interface InstrumentParams {
  readonly symbol: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  readonly kMinor: bigint;
  readonly tiers: readonly Tier[];
  readonly makerFeeE8: bigint;
  readonly takerFeeE8: bigint;
  readonly liquidationFeeE8: bigint;
  readonly insuranceShareE8: bigint;
}

export interface PositionValues {
  readonly qtyLots: bigint;
  readonly costLotTicks: bigint;
  readonly isolatedMarginMinor: bigint;
  readonly mode: MarginMode;
  readonly leverage: number;
}

export type Effect =
  | { readonly t: "asset"; readonly asset: Omit<Asset, "priceE8"> }
  | { readonly t: "asset.remove"; readonly name: string }
  | { readonly t: "instrument"; readonly params: InstrumentParams }
  | { readonly t: "instrument.remove"; readonly symbol: string }
  | { readonly t: "account.open"; readonly account: string }
  | { readonly t: "account.remove"; readonly account: string }
  | { readonly t: "balance"; readonly account: string; readonly asset: string; readonly valueMinor: bigint }
  | { readonly t: "position"; readonly account: string; readonly symbol: string; readonly values: PositionValues }
  | { readonly t: "position.remove"; readonly account: string; readonly symbol: string }
  | { readonly t: "mark"; readonly symbol: string; readonly ticks: bigint }
  | { readonly t: "collateral.price"; readonly asset: string; readonly priceE8: bigint }
  | { readonly t: "id"; readonly key: string; readonly seen: boolean }
  | { readonly t: "latch.cross"; readonly account: string; readonly on: boolean }
  | { readonly t: "latch.isolated"; readonly account: string; readonly symbol: string; readonly on: boolean }
  /** A note, no state change: @insurance covered a negative isolated margin at a fill's close. */
  | { readonly t: "cover"; readonly account: string; readonly symbol: string; readonly amountMinor: bigint };
