// Where the book lives in linear memory. kernel.ts lays the arrays out (src/margin/book.ts,
// KERNEL_FIELDS) and writes a table at tablePtr():
//   u32[0] position capacity, u32[1] account capacity, u32[2] instrument capacity,
//   u32[3] field count, u32[4 + f] byte offset of field f.
// The F_* indices below mirror the order of KERNEL_FIELDS; kernel.ts checks FIELD_COUNT at load.

export const F_POS_QTY = 0;
export const F_POS_COST = 1;
export const F_POS_MARGIN = 2;
export const F_POS_INST = 3;
export const F_POS_ACCT = 4;
export const F_POS_LEV = 5;
export const F_POS_MODE = 6;
export const F_INST_MARK = 7;
export const F_INST_K = 8;
export const F_INST_TIER_COUNT = 9;
export const F_TIER_MAX = 10;
export const F_TIER_MMR = 11;
export const F_TIER_CUM = 12;
export const F_ACCT_BASE = 13;
export const F_POS_N = 14;
export const F_POS_U = 15;
export const F_POS_MM = 16;
export const F_POS_IM = 17;
export const F_POS_E = 18;
export const F_POS_TIER = 19;
export const F_POS_STATUS = 20;
export const F_ACCT_E = 21;
export const F_ACCT_MM = 22;
export const F_ACCT_IM = 23;
export const F_ACCT_STATUS = 24;
/** 64 bytes per account: see ACC_* below. */
export const F_ACCT_ACC = 25;
export const F_LIST = 26;
export const FIELD_COUNT = 27;

// Account accumulator record (one cache line): exact 128-bit sums as (lo: i64, hi: i64).
export const ACC_E_LO: usize = 0;
export const ACC_E_HI: usize = 8;
export const ACC_MM_LO: usize = 16;
export const ACC_MM_HI: usize = 24;
export const ACC_IM_LO: usize = 32;
export const ACC_IM_HI: usize = 40;
export const ACC_FLAGS: usize = 48;
export const ACC_SHIFT: usize = 6;

/** Bytes reserved for the table; the arrays start after it. */
export const TABLE_BYTES: usize = 256;

export const MAX_TIERS = 8;

// The kernel never allocates (runtime "stub", no `new`), so everything from the heap base
// up belongs to the book.
@inline
export function tablePtr(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

@inline
export function fieldPtr(f: i32): usize {
  return <usize>load<u32>(tablePtr() + 16 + (<usize>f << 2));
}

@inline
export function posCapacity(): i32 {
  return load<i32>(tablePtr());
}

@inline
export function acctCapacity(): i32 {
  return load<i32>(tablePtr() + 4);
}

@inline
export function instCapacity(): i32 {
  return load<i32>(tablePtr() + 8);
}
