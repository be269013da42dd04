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
export const F_POS_LATCH = 14; // u8
export const F_ACCT_LATCH = 15; // u8
export const F_POS_N = 16;
export const F_POS_U = 17;
export const F_POS_MM = 18;
export const F_POS_IM = 19;
export const F_POS_E = 20;
export const F_POS_TIER = 21;
export const F_POS_STATUS = 22;
export const F_ACCT_E = 23;
export const F_ACCT_MM = 24;
export const F_ACCT_IM = 25;
export const F_ACCT_STATUS = 26;
export const F_SUMMARY = 27;
export const F_LIQ_POS = 28;
export const F_LIQ_ACCT = 29;
export const F_ZONE_POS = 30;
export const F_ZONE_ACCT = 31;
/** 64 bytes per account: see ACC_* below. */
export const F_ACCT_ACC = 32;
export const F_LIST = 33;
/** u32 per position: the call epoch that last listed it (computeList duplicate check). */
export const F_POS_STAMP = 34;
/** 64 bytes per instrument: see IC_* below. */
export const F_INST_CACHE = 35;
/** 64 bytes per instrument: the tier maxima padded for the branch-free search (i64 × 8). */
export const F_INST_TIERS = 36;
/** i32 per account: accounts reached by computeList, in order of first appearance. */
export const F_ACCT_TOUCHED = 37;
export const FIELD_COUNT = 38;

// Account accumulator record (one cache line). Each exact sum is kept as two i64 parts,
// Σ (d & 0xffffffff) and Σ (d >> 32), which cannot overflow for fewer than 2^31 terms (so no
// carry logic per term); finalizeAccount rebuilds the 128-bit value. CNT counts, per account,
// cross positions with q != 0 (low 32 bits) and overflowed cross positions (high 32 bits).
export const ACC_E_LO: usize = 0;
export const ACC_E_HI: usize = 8;
export const ACC_MM_LO: usize = 16;
export const ACC_MM_HI: usize = 24;
export const ACC_IM_LO: usize = 32;
export const ACC_IM_HI: usize = 40;
export const ACC_CNT: usize = 48;
export const ACC_STAMP: usize = 56; // u32: the epoch of the call that reset it
export const ACC_SHIFT: usize = 6;

// Instrument cache record (one cache line), derived from the instrument's inputs once per call.
export const IC_STAMP: usize = 0; // u32 epoch of the call that derived it
export const IC_ERR: usize = 4; // i32: 0, or the input error its positions report (ERR_K, ERR_MARK, ERR_TIER_COUNT)
export const IC_FAST: usize = 8; // i32: 1 when its positions may take the fast path
export const IC_MARK: usize = 16; // i64
export const IC_K: usize = 24; // i64
export const IC_QMAX: usize = 32; // u64: fast path needs |q| <= QMAX
export const IC_CMAX: usize = 40; // u64: fast path needs |C| <= CMAX
export const IC_SHIFT: usize = 6;

/** Summary slots (src/margin/engine.ts SUM_*). */
export const SUM_POSITIONS = 0;
export const SUM_ACCOUNTS = 1;
export const SUM_LIQ_POSITIONS = 2;
export const SUM_LIQ_ACCOUNTS = 3;
export const SUM_OVERFLOW_POSITIONS = 4;
export const SUM_OVERFLOW_ACCOUNTS = 5;
export const SUM_ZONE_POSITIONS = 6;
export const SUM_ZONE_ACCOUNTS = 7;
export const SUMMARY_LENGTH = 16;

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
