// The aggregate's state: assets, instruments, accounts, positions, marks, seen ids.
// Plain objects with BigInt money fields (exact); slot indexes tie positions, accounts and
// instruments to the margin book (structure-of-arrays) that the WASM kernel reads.
// Nothing observable may depend on Map iteration order or slot numbers: wherever order
// matters (reports, hashing, liquidation order) the code sorts explicitly.
import type { Decimal } from "../numbers/decimal.js";
import type { MarginMode } from "../events/types.js";
import { Books, type BookKind } from "./books.js";
import { SmallMap } from "./small-map.js";
import { SeenIds } from "./seen-ids.js";

export { SmallMap, SeenIds };

export const INSURANCE = "@insurance";
export const FEES = "@fees";
export const SYSTEM_ACCOUNTS: readonly string[] = [INSURANCE, FEES];
export const DEFAULT_LEVERAGE = 10;

export interface Asset {
  readonly name: string;
  readonly decimals: number;
  readonly haircutE8: bigint;
  readonly settlement: boolean;
  /** Price in 1e-8 settlement-asset units per whole unit; 0n until the first collateral.price. */
  priceE8: bigint;
}

export interface Tier {
  readonly maxNotionalMinor: bigint;
  readonly mmrE8: bigint;
  readonly maxLeverage: number;
  /** Maintenance amount (SPEC §3, floor). */
  readonly cumMinor: bigint;
}

/** An instrument's definition: what an `instrument` event sets. */
export interface InstrumentParams {
  readonly symbol: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  /** Minor units per lot·tick (SPEC §2). */
  readonly kMinor: bigint;
  readonly tiers: readonly Tier[];
  readonly makerFeeE8: bigint;
  readonly takerFeeE8: bigint;
  readonly liquidationFeeE8: bigint;
  readonly insuranceShareE8: bigint;
}

export interface Instrument extends InstrumentParams {
  readonly slot: number;
  /** Mark in ticks; 0n = no mark yet (the first trade sets it, see docs/semantics.md). */
  markTicks: bigint;
  /** Every position ever opened or configured in this instrument (index by instrument). */
  readonly positions: Position[];
}

export interface Position {
  readonly account: string;
  readonly symbol: string;
  readonly slot: number;
  qtyLots: bigint;
  costLotTicks: bigint;
  isolatedMarginMinor: bigint;
  mode: MarginMode;
  leverage: number;
  /** Isolated margin-call latch (re-armed once out of the call zone). */
  callLatched: boolean;
}

export interface Account {
  readonly name: string;
  readonly slot: number;
  /** Minor units of each asset; the settlement balance B may be negative. (Map semantics; one entry inline.) */
  readonly balances: SmallMap<bigint>;
  readonly positions: SmallMap<Position>;
  /** Margin-call latch: true while in the call zone (re-armed once out of it). Cross. */
  crossCallLatched: boolean;
  /** How many of its positions are in isolated mode (lets hot loops skip the rest). */
  isolatedCount: number;
}

export interface State {
  seq: number;
  ts: number;
  settlementAsset: string | null;
  readonly assets: Map<string, Asset>;
  readonly instruments: Map<string, Instrument>;
  readonly accounts: Map<string, Account>;
  /** Slot → position / account / instrument, for the margin book. */
  readonly positionsBySlot: Position[];
  readonly accountsBySlot: Account[];
  readonly instrumentsBySlot: Instrument[];
  /** Idempotency: `${type}:${id}` of applied events with an id (a compact set per type). */
  readonly seenIds: SeenIds;
  /** The order books, one per instrument (docs/matching.md "Pipeline integration"). */
  readonly books: Books;
}

export function emptyState(book: BookKind = "fast"): State {
  const state: Omit<State, "books"> & { books: Books | null } = {
    seq: 0,
    ts: 0,
    settlementAsset: null,
    assets: new Map(),
    instruments: new Map(),
    accounts: new Map(),
    positionsBySlot: [],
    accountsBySlot: [],
    instrumentsBySlot: [],
    seenIds: new SeenIds(),
    books: null,
  };
  state.books = new Books(state as State, book);
  return state as State;
}

export function settlement(state: State): Asset | null {
  return state.settlementAsset === null ? null : state.assets.get(state.settlementAsset) ?? null;
}

export function balanceOf(account: Account | undefined, asset: string): bigint {
  return account?.balances.get(asset) ?? 0n;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
