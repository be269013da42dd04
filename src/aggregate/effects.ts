// Effects: what `decide` concludes and `evolve` applies. Each carries absolute new values
// (not deltas), so applying one is trivial and its inverse is "set the old value back" —
// which is how an event whose derived figures overflow is rolled back (see engine).
import type { MarginMode } from "../events/types.js";
import type { Asset, InstrumentParams } from "./state.js";

export type { InstrumentParams };

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
  /** The idempotency id `${idType}:${id}` (kept apart: no key string built per event). */
  | { readonly t: "id"; readonly idType: string; readonly id: string; readonly seen: boolean }
  | { readonly t: "latch.cross"; readonly account: string; readonly on: boolean }
  | { readonly t: "latch.isolated"; readonly account: string; readonly symbol: string; readonly on: boolean }
  /** A note, no state change: @insurance covered a negative isolated margin at a fill's close. */
  | { readonly t: "cover"; readonly account: string; readonly symbol: string; readonly amountMinor: bigint };
