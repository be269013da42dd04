// Layout of the margin book: one field list shared by both engines, so the reference (plain
// JS memory) and the kernel (WASM linear memory) expose identical views. The kernel reads
// the same offsets from a layout table that kernel.ts writes into linear memory; the field
// order below is mirrored by the F_* indices in assembly/layout.ts (checked at load time).
import {
  MAX_TIERS,
  OUTPUTS_FLAGS,
  OUTPUTS_FULL,
  SUMMARY_LENGTH,
  SUM_LIQ_ACCOUNTS,
  SUM_LIQ_POSITIONS,
  SUM_ZONE_ACCOUNTS,
  SUM_ZONE_POSITIONS,
  type BookCapacity,
  type MarginBook,
  type Outputs,
} from "./engine.js";

export type BookArrayName = Exclude<keyof MarginBook, "capacity">;
/** "line": one 64-byte record per element (kernel scratch, one cache line per account). */
export type FieldKind = "i64" | "i32" | "u8" | "line";
/** "summary": a fixed SUMMARY_LENGTH elements. */
export type FieldDim = "positions" | "accounts" | "instruments" | "tiers" | "summary";

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly dim: FieldDim;
}

/** The public book fields, in layout order (inputs, then outputs). */
export const BOOK_FIELDS: readonly (FieldSpec & { readonly name: BookArrayName })[] = [
  // position inputs
  { name: "pos_qty_lots", kind: "i64", dim: "positions" },
  { name: "pos_cost_lot_ticks", kind: "i64", dim: "positions" },
  { name: "pos_isolated_margin_minor", kind: "i64", dim: "positions" },
  { name: "pos_instrument", kind: "i32", dim: "positions" },
  { name: "pos_account", kind: "i32", dim: "positions" },
  { name: "pos_leverage", kind: "i32", dim: "positions" },
  { name: "pos_mode", kind: "i32", dim: "positions" },
  // instrument inputs
  { name: "inst_mark_ticks", kind: "i64", dim: "instruments" },
  { name: "inst_k_minor", kind: "i64", dim: "instruments" },
  { name: "inst_tier_count", kind: "i32", dim: "instruments" },
  { name: "tier_max_notional_minor", kind: "i64", dim: "tiers" },
  { name: "tier_mmr_e8", kind: "i64", dim: "tiers" },
  { name: "tier_cum_minor", kind: "i64", dim: "tiers" },
  // account inputs
  { name: "acct_base_minor", kind: "i64", dim: "accounts" },
  // margin-call latches (inputs)
  { name: "pos_call_latch", kind: "u8", dim: "positions" },
  { name: "acct_call_latch", kind: "u8", dim: "accounts" },
  // position outputs
  { name: "pos_notional_minor", kind: "i64", dim: "positions" },
  { name: "pos_upnl_minor", kind: "i64", dim: "positions" },
  { name: "pos_mm_minor", kind: "i64", dim: "positions" },
  { name: "pos_im_minor", kind: "i64", dim: "positions" },
  { name: "pos_equity_minor", kind: "i64", dim: "positions" },
  { name: "pos_tier", kind: "i32", dim: "positions" },
  { name: "pos_status", kind: "i32", dim: "positions" },
  // account outputs
  { name: "acct_equity_minor", kind: "i64", dim: "accounts" },
  { name: "acct_mm_minor", kind: "i64", dim: "accounts" },
  { name: "acct_im_minor", kind: "i64", dim: "accounts" },
  { name: "acct_status", kind: "i32", dim: "accounts" },
  // compact results
  { name: "summary", kind: "i32", dim: "summary" },
  { name: "list_liq_positions", kind: "i32", dim: "positions" },
  { name: "list_liq_accounts", kind: "i32", dim: "accounts" },
  { name: "list_zone_positions", kind: "i32", dim: "positions" },
  { name: "list_zone_accounts", kind: "i32", dim: "accounts" },
];

/** Inputs are the fields before the first output; ensureCapacity must keep them. */
export const BOOK_INPUT_FIELD_COUNT = 16;

/** The output fields holding result lists, with the summary slot that counts their entries. */
export const RESULT_LISTS: readonly { readonly name: BookArrayName; readonly countSlot: number }[] = [
  { name: "list_liq_positions", countSlot: SUM_LIQ_POSITIONS },
  { name: "list_liq_accounts", countSlot: SUM_LIQ_ACCOUNTS },
  { name: "list_zone_positions", countSlot: SUM_ZONE_POSITIONS },
  { name: "list_zone_accounts", countSlot: SUM_ZONE_ACCOUNTS },
];

/**
 * Kernel-private scratch after the book fields (assembly/layout.ts documents each record):
 * - acct_accumulators: per account, one cache line holding the exact (128-bit) sums, flags
 *   and a call stamp while positions are added (positions hit accounts in random order, so
 *   one line per account instead of seven arrays);
 * - list_positions: the region computeList copies its list into (a list of distinct
 *   positions never exceeds the position capacity, so it never needs its own growth);
 * - pos_stamps: per position, the call that last listed it (duplicate detection);
 * - inst_cache, inst_tiers: per instrument, the constants of the fast path, derived once per
 *   call from the instrument's inputs (mark, k, tiers) when first needed;
 * - acct_touched: the accounts a computeList call reached, in order of first appearance.
 */
export const KERNEL_SCRATCH_FIELDS: readonly FieldSpec[] = [
  { name: "acct_accumulators", kind: "line", dim: "accounts" },
  { name: "list_positions", kind: "i32", dim: "positions" },
  { name: "pos_stamps", kind: "i32", dim: "positions" },
  { name: "inst_cache", kind: "line", dim: "instruments" },
  { name: "inst_tiers", kind: "line", dim: "instruments" },
  { name: "acct_touched", kind: "i32", dim: "accounts" },
];

export const KERNEL_FIELDS: readonly FieldSpec[] = [...BOOK_FIELDS, ...KERNEL_SCRATCH_FIELDS];

/** Alignment of every array (a cache line; also satisfies the 8-byte alignment of i64). */
export const FIELD_ALIGN_BYTES = 64;

/** Upper bound per dimension: keeps every offset well inside a 32-bit address space. */
export const MAX_CAPACITY = 1 << 26;

export const DEFAULT_CAPACITY: BookCapacity = { positions: 1024, accounts: 256, instruments: 16 };

export function checkCapacity(cap: BookCapacity, what: string): BookCapacity {
  for (const dim of ["positions", "accounts", "instruments"] as const) {
    const n = cap[dim];
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CAPACITY) {
      throw new RangeError(`${what}: capacity.${dim} must be an integer in [1, ${MAX_CAPACITY}], got ${n}`);
    }
  }
  return { positions: cap.positions, accounts: cap.accounts, instruments: cap.instruments };
}

/**
 * The capacity to grow to for a request: never shrinks, and grows by at least half so that
 * callers asking for one more slot at a time stay amortized O(1).
 */
export function grownCapacity(current: BookCapacity, requested: BookCapacity): BookCapacity {
  checkCapacity(requested, "ensureCapacity");
  const grow = (cur: number, req: number): number =>
    req <= cur ? cur : Math.min(MAX_CAPACITY, Math.max(req, cur + (cur >> 1)));
  return {
    positions: grow(current.positions, requested.positions),
    accounts: grow(current.accounts, requested.accounts),
    instruments: grow(current.instruments, requested.instruments),
  };
}

export function sameCapacity(a: BookCapacity, b: BookCapacity): boolean {
  return a.positions === b.positions && a.accounts === b.accounts && a.instruments === b.instruments;
}

export function fieldLength(f: FieldSpec, cap: BookCapacity): number {
  switch (f.dim) {
    case "positions":
      return cap.positions;
    case "accounts":
      return cap.accounts;
    case "instruments":
      return cap.instruments;
    case "tiers":
      return cap.instruments * MAX_TIERS;
    case "summary":
      return SUMMARY_LENGTH;
  }
}

export function elementBytes(kind: FieldKind): number {
  return kind === "line" ? 64 : kind === "i64" ? 8 : kind === "i32" ? 4 : 1;
}

export function fieldBytes(f: FieldSpec, cap: BookCapacity): number {
  return fieldLength(f, cap) * elementBytes(f.kind);
}

export interface Layout {
  readonly capacity: BookCapacity;
  /** Byte offset of each field, same order as the field list. */
  readonly offsets: readonly number[];
  /** First byte after the last field. */
  readonly endBytes: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function layoutFields(fields: readonly FieldSpec[], cap: BookCapacity, baseBytes: number): Layout {
  let at = alignUp(baseBytes, FIELD_ALIGN_BYTES);
  const offsets: number[] = [];
  for (const f of fields) {
    offsets.push(at);
    at = alignUp(at + fieldBytes(f, cap), FIELD_ALIGN_BYTES);
  }
  return { capacity: cap, offsets, endBytes: at };
}

/** Typed-array views of the book fields over `buffer` (the first BOOK_FIELDS.length of the layout). */
export function bookViews(buffer: ArrayBuffer, layout: Layout): MarginBook {
  const views: Record<string, BigInt64Array | Int32Array | Uint8Array> = {};
  BOOK_FIELDS.forEach((f, j) => {
    const off = layout.offsets[j]!;
    const len = fieldLength(f, layout.capacity);
    views[f.name] =
      f.kind === "i64" ? new BigInt64Array(buffer, off, len) : f.kind === "u8" ? new Uint8Array(buffer, off, len) : new Int32Array(buffer, off, len);
  });
  return { capacity: layout.capacity, ...views } as unknown as MarginBook;
}

/** A book in plain JS memory (the reference engine's). All values start at zero. */
export function createBook(cap: BookCapacity = DEFAULT_CAPACITY): MarginBook {
  const c = checkCapacity(cap, "createBook");
  const layout = layoutFields(BOOK_FIELDS, c, 0);
  return bookViews(new ArrayBuffer(layout.endBytes), layout);
}

/** Copies every input field of `from` into `to` (which must be at least as large). */
export function copyInputs(from: MarginBook, to: MarginBook): void {
  for (let j = 0; j < BOOK_INPUT_FIELD_COUNT; j++) {
    const name = BOOK_FIELDS[j]!.name;
    const src = from[name];
    const dst = to[name];
    if (src instanceof BigInt64Array && dst instanceof BigInt64Array) dst.set(src);
    else if (src instanceof Int32Array && dst instanceof Int32Array) dst.set(src);
    else if (src instanceof Uint8Array && dst instanceof Uint8Array) dst.set(src);
  }
}

// ---- input validation shared by both engines (same codes, same order, same messages)

export const ERR_INSTRUMENT_INDEX = 1;
export const ERR_ACCOUNT_INDEX = 2;
export const ERR_MODE = 3;
export const ERR_LEVERAGE = 4;
export const ERR_K = 5;
export const ERR_MARK = 6;
export const ERR_TIER_COUNT = 7;
export const ERR_MMR = 8;
export const ERR_LIST_INDEX = 9;
export const ERR_LIST_DUPLICATE = 10;

/** Validates a compute* `outputs` argument (both engines). */
export function checkOutputs(o: Outputs): Outputs {
  if (o !== OUTPUTS_FULL && o !== OUTPUTS_FLAGS) throw new RangeError(`outputs must be OUTPUTS_FULL or OUTPUTS_FLAGS, got ${String(o)}`);
  return o;
}

/** The RangeError message for an input error `code` found at position (or list entry) `index`. */
export function inputErrorMessage(code: number, index: number): string {
  switch (code) {
    case ERR_INSTRUMENT_INDEX:
      return `position ${index}: pos_instrument out of range`;
    case ERR_ACCOUNT_INDEX:
      return `position ${index}: pos_account out of range`;
    case ERR_MODE:
      return `position ${index}: pos_mode must be MODE_CROSS or MODE_ISOLATED`;
    case ERR_LEVERAGE:
      return `position ${index}: pos_leverage must be >= 1`;
    case ERR_K:
      return `position ${index}: inst_k_minor of its instrument must be >= 1`;
    case ERR_MARK:
      return `position ${index}: inst_mark_ticks of its instrument must be >= 0`;
    case ERR_TIER_COUNT:
      return `position ${index}: inst_tier_count of its instrument must be in [1, ${MAX_TIERS}]`;
    case ERR_MMR:
      return `position ${index}: tier_mmr_e8 of its tier must be in [0, 1e8]`;
    case ERR_LIST_INDEX:
      return `list entry ${index}: position index out of range`;
    case ERR_LIST_DUPLICATE:
      return `list entry ${index}: duplicate position`;
    default:
      return `position ${index}: invalid input (code ${code})`;
  }
}
