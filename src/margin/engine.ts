// The margin engine contract (SPEC §3). Two implementations share it and one test suite:
//   - KernelMarginEngine (kernel.ts): the AssemblyScript/WASM kernel over structure-of-arrays
//     in linear memory. The engine uses this one.
//   - ReferenceMarginEngine (reference.ts): plain BigInt TypeScript, written for clarity;
//     the oracle of the differential tests.
//
// Inputs are written by the aggregate into a MarginBook (SoA views); `compute*` fills the
// outputs. All values are integers: ticks, lots, minor units, rates in 1e-8.

/** Per-position status bits (out.pos_status). */
export const POS_LIQUIDATABLE = 1; // isolated, q != 0 and E < MM
export const POS_OVERFLOW = 2; // some figure of this position does not fit in i64
export const POS_CALL_ZONE = 4; // isolated, q != 0 and E <= 1.25·MM (margin-call zone)

/** Per-account status bits (out.acct_status): cross figures only. */
export const ACCT_LIQUIDATABLE = 1; // has a cross position with q != 0 and E < MM
export const ACCT_OVERFLOW = 2;
export const ACCT_CALL_ZONE = 4; // has a cross position with q != 0 and E <= 1.25·MM
export const ACCT_HAS_CROSS = 8; // at least one cross position with q != 0

export const MODE_CROSS = 0;
export const MODE_ISOLATED = 1;

export const MAX_TIERS = 8;

/**
 * What a compute* call writes (its optional last argument).
 * - OUTPUTS_FULL (the default): every output below.
 * - OUTPUTS_FLAGS: statuses (pos_status, acct_status), `summary` and the four result lists
 *   only. The figures (pos_notional/upnl/mm/im/equity/tier, acct_equity/mm/im) of the
 *   entities computed are left unspecified (stale); liquidationPrice of a cross position
 *   needs a FULL compute of its account first. Statuses are exactly those of a FULL compute.
 */
export const OUTPUTS_FULL = 0;
export const OUTPUTS_FLAGS = 1;
export type Outputs = typeof OUTPUTS_FULL | typeof OUTPUTS_FLAGS;

/**
 * Slots of `book.summary` (an Int32Array of SUMMARY_LENGTH), rewritten by every successful
 * compute* call; counts over the entities that call computed (computeAll: positions
 * [0, nPositions) and accounts [0, nAccounts); computeList: the listed positions and their
 * accounts). After a call that throws, the summary and the lists are unspecified.
 */
export const SUM_POSITIONS = 0; // positions computed
export const SUM_ACCOUNTS = 1; // accounts computed
export const SUM_LIQ_POSITIONS = 2; // positions with POS_LIQUIDATABLE
export const SUM_LIQ_ACCOUNTS = 3; // accounts with ACCT_LIQUIDATABLE
export const SUM_OVERFLOW_POSITIONS = 4; // positions with POS_OVERFLOW
export const SUM_OVERFLOW_ACCOUNTS = 5; // accounts with ACCT_OVERFLOW
/** Positions whose zone bit (pos_status & POS_CALL_ZONE) differs from pos_call_latch != 0. */
export const SUM_ZONE_POSITIONS = 6;
/** Accounts whose zone bit (acct_status & ACCT_CALL_ZONE) differs from acct_call_latch != 0. */
export const SUM_ZONE_ACCOUNTS = 7;
export const SUMMARY_LENGTH = 16; // slots 8..15 are reserved (0)

/** The summary as an object (convenience; hot paths read book.summary directly). */
export interface ComputeSummary {
  readonly positions: number;
  readonly accounts: number;
  readonly liquidatablePositions: number;
  readonly liquidatableAccounts: number;
  readonly overflowPositions: number;
  readonly overflowAccounts: number;
  readonly zoneChangedPositions: number;
  readonly zoneChangedAccounts: number;
}

export function readSummary(book: MarginBook): ComputeSummary {
  const s = book.summary;
  return {
    positions: s[SUM_POSITIONS]!,
    accounts: s[SUM_ACCOUNTS]!,
    liquidatablePositions: s[SUM_LIQ_POSITIONS]!,
    liquidatableAccounts: s[SUM_LIQ_ACCOUNTS]!,
    overflowPositions: s[SUM_OVERFLOW_POSITIONS]!,
    overflowAccounts: s[SUM_OVERFLOW_ACCOUNTS]!,
    zoneChangedPositions: s[SUM_ZONE_POSITIONS]!,
    zoneChangedAccounts: s[SUM_ZONE_ACCOUNTS]!,
  };
}

/** Sizes of the arrays the book was laid out for. */
export interface BookCapacity {
  readonly positions: number;
  readonly accounts: number;
  readonly instruments: number;
}

/**
 * Structure-of-arrays views. Inputs are written by the aggregate; outputs by compute*.
 * Index spaces: positions [0, positions), accounts [0, accounts), instruments [0, instruments);
 * tier arrays are instrument-major: tier t of instrument i at i*MAX_TIERS + t.
 */
export interface MarginBook {
  readonly capacity: BookCapacity;
  // ---- position inputs
  readonly pos_qty_lots: BigInt64Array;
  readonly pos_cost_lot_ticks: BigInt64Array;
  readonly pos_isolated_margin_minor: BigInt64Array;
  readonly pos_instrument: Int32Array;
  readonly pos_account: Int32Array;
  readonly pos_leverage: Int32Array;
  readonly pos_mode: Int32Array; // MODE_CROSS | MODE_ISOLATED
  // ---- instrument inputs
  readonly inst_mark_ticks: BigInt64Array;
  readonly inst_k_minor: BigInt64Array; // minor units per lot·tick
  readonly inst_tier_count: Int32Array;
  readonly tier_max_notional_minor: BigInt64Array;
  readonly tier_mmr_e8: BigInt64Array;
  readonly tier_cum_minor: BigInt64Array; // maintenance amount, SPEC §3 (floor)
  // ---- account inputs
  /** Cross base equity: settlement balance B + Σ haircut collateral value (floor). */
  readonly acct_base_minor: BigInt64Array;
  // ---- margin-call latches (inputs; nonzero = latched, i.e. a call was sent and not re-armed)
  /** Per position: the isolated margin-call latch. Compared with pos_status & POS_CALL_ZONE. */
  readonly pos_call_latch: Uint8Array;
  /** Per account: the cross margin-call latch. Compared with acct_status & ACCT_CALL_ZONE. */
  readonly acct_call_latch: Uint8Array;
  // ---- position outputs
  readonly pos_notional_minor: BigInt64Array;
  readonly pos_upnl_minor: BigInt64Array;
  readonly pos_mm_minor: BigInt64Array;
  readonly pos_im_minor: BigInt64Array;
  /** Isolated: m + U. Cross: U (the position's contribution to account equity). */
  readonly pos_equity_minor: BigInt64Array;
  readonly pos_tier: Int32Array;
  readonly pos_status: Int32Array;
  // ---- account outputs (cross figures)
  readonly acct_equity_minor: BigInt64Array;
  readonly acct_mm_minor: BigInt64Array;
  readonly acct_im_minor: BigInt64Array;
  readonly acct_status: Int32Array;
  // ---- compact results of the last compute* call (see SUM_*)
  /** SUMMARY_LENGTH counters, indexed by SUM_*. */
  readonly summary: Int32Array;
  /**
   * Result lists, each filled from index 0 to its summary count, in computation order
   * (computeAll: ascending index; computeList: list order for positions, order of first
   * appearance of the account in the list for accounts). Each is as long as its index space,
   * so it can never overflow.
   */
  readonly list_liq_positions: Int32Array; // SUM_LIQ_POSITIONS entries
  readonly list_liq_accounts: Int32Array; // SUM_LIQ_ACCOUNTS entries
  readonly list_zone_positions: Int32Array; // SUM_ZONE_POSITIONS entries
  readonly list_zone_accounts: Int32Array; // SUM_ZONE_ACCOUNTS entries
}

export interface MarginEngine {
  readonly name: "kernel" | "reference";
  readonly book: MarginBook;
  /**
   * Makes room for at least these counts, keeping every input value (outputs may be lost).
   * Views of the book are replaced: re-read `book` after calling.
   */
  ensureCapacity(cap: BookCapacity): void;
  /**
   * Recomputes every position in [0, nPositions) and every account in [0, nAccounts).
   * Returns the number of liquidatable entities (isolated positions + accounts); writes
   * statuses, `summary`, the result lists and (OUTPUTS_FULL, the default) every figure.
   */
  computeAll(nPositions: number, nAccounts: number, outputs?: Outputs): number;
  /**
   * Recomputes the listed positions, and the cross figures of their accounts. The caller
   * passes every position of each account it wants figures for (account sums are rebuilt
   * from the listed positions only). Returns the number of liquidatable entities
   * (isolated positions + accounts) among those computed. Outputs as for computeAll.
   */
  computeList(positions: Int32Array, count: number, outputs?: Outputs): number;
  /**
   * SPEC §3 liquidation price in ticks of position p (isolated: the position; cross: its
   * account, other positions held fixed), or null. Requires p's account figures to be current.
   */
  liquidationPrice(p: number): bigint | null;
  /** SPEC §3 bankruptcy price in ticks of isolated position p, or null. */
  bankruptcyPrice(p: number): bigint | null;
}
