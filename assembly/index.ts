// The margin kernel (SPEC §3) over the structure-of-arrays book in linear memory. Semantics
// are those of src/margin/reference.ts, bit for bit: every figure is exact i64 or flagged as
// overflow, never wrapped. Inputs are validated as they are read; a bad input makes the call
// return -code with the offending index in errorIndex() (kernel.ts turns it into a RangeError).
//
// One pass over the positions does everything a position needs (validation, figures, status,
// summary, its account's sums), so each position's cache lines are touched once; a short pass
// over the accounts then finalizes them. Each position takes one of two exact paths:
//   - the fast path, when its magnitudes are inside bounds derived per instrument (see
//     deriveInstrument) under which no figure can overflow: plain i64 arithmetic, a
//     branch-free tier search, no overflow checks;
//   - the checked path (checkedPosition) otherwise: every product and sum overflow-checked.
// Both compute the same exact integers; the fast path is only a proof that the checks of the
// checked path would all pass. docs/kernel.md has the derivation and the measurements.
import {
  ACC_CNT,
  ACC_E_HI,
  ACC_E_LO,
  ACC_IM_HI,
  ACC_IM_LO,
  ACC_MM_HI,
  ACC_MM_LO,
  ACC_SHIFT,
  ACC_STAMP,
  F_ACCT_ACC,
  F_ACCT_BASE,
  F_ACCT_E,
  F_ACCT_IM,
  F_ACCT_LATCH,
  F_ACCT_MM,
  F_ACCT_STATUS,
  F_ACCT_TOUCHED,
  F_INST_CACHE,
  F_INST_K,
  F_INST_MARK,
  F_INST_TIER_COUNT,
  F_INST_TIERS,
  F_LIQ_ACCT,
  F_LIQ_POS,
  F_LIST,
  F_POS_ACCT,
  F_POS_COST,
  F_POS_E,
  F_POS_IM,
  F_POS_INST,
  F_POS_LATCH,
  F_POS_LEV,
  F_POS_MARGIN,
  F_POS_MM,
  F_POS_MODE,
  F_POS_N,
  F_POS_QTY,
  F_POS_STAMP,
  F_POS_STATUS,
  F_POS_TIER,
  F_POS_U,
  F_SUMMARY,
  F_TIER_CUM,
  F_TIER_MAX,
  F_TIER_MMR,
  F_ZONE_ACCT,
  F_ZONE_POS,
  FIELD_COUNT,
  IC_CMAX,
  IC_ERR,
  IC_FAST,
  IC_K,
  IC_MARK,
  IC_QMAX,
  IC_SHIFT,
  IC_STAMP,
  MAX_TIERS,
  SUMMARY_LENGTH,
  SUM_ACCOUNTS,
  SUM_LIQ_ACCOUNTS,
  SUM_LIQ_POSITIONS,
  SUM_OVERFLOW_ACCOUNTS,
  SUM_OVERFLOW_POSITIONS,
  SUM_POSITIONS,
  SUM_ZONE_ACCOUNTS,
  SUM_ZONE_POSITIONS,
  acctCapacity,
  fieldPtr,
  instCapacity,
  posCapacity,
  tablePtr,
} from "./layout";
import { addOverflows, fourLeFive, mulOverflows, subOverflows } from "./i128";
import {
  ERR_ACCOUNT_INDEX,
  ERR_COUNT,
  ERR_INSTRUMENT_INDEX,
  ERR_K,
  ERR_LEVERAGE,
  ERR_LIST_DUPLICATE,
  ERR_LIST_INDEX,
  ERR_MARK,
  ERR_MMR,
  ERR_MODE,
  ERR_TIER_COUNT,
  RATE_SCALE,
  errorIndex,
  fail,
} from "./errors";

export { errorIndex } from "./errors";
export { liquidationPrice, bankruptcyPrice, resultHi, resultLo } from "./liqprice";

const POS_OVERFLOW = 2;
const ACCT_OVERFLOW = 2;
const ACCT_HAS_CROSS = 8;
const MODE_ISOLATED = 1;
const I64_MAX: i64 = 0x7fffffffffffffff;

/** compute* `outputs` argument (src/margin/engine.ts OUTPUTS_*). */
const OUTPUTS_FULL = 0;
const OUTPUTS_FLAGS = 1;

/**
 * Magnitude bound of the fast path: 2^58. See deriveInstrument for why every figure then fits,
 * with room for the 4·E <= 5·MM comparison in plain i64.
 */
const FAST_LIMIT: i64 = 1 << 58;

export function layoutTablePtr(): usize {
  return tablePtr();
}

export function layoutFieldCount(): i32 {
  return FIELD_COUNT;
}

export function maxTiers(): i32 {
  return MAX_TIERS;
}

// ---------------------------------------------------------------- per-call state

/**
 * The current call's number. Scratch records (accounts, instruments, listed positions) carry
 * the epoch of the call that last wrote them, so nothing needs clearing between calls. On
 * wrap-around (after 2^32 − 2 calls) every stamp is cleared once.
 */
let epoch: u32 = 0;

function beginCall(): void {
  epoch++;
  if (epoch != 0xffffffff) return;
  const acc = fieldPtr(F_ACCT_ACC);
  for (let a = 0, n = acctCapacity(); a < n; a++) store<u32>(acc + (<usize>a << ACC_SHIFT) + ACC_STAMP, 0);
  const ic = fieldPtr(F_INST_CACHE);
  for (let i = 0, n = instCapacity(); i < n; i++) store<u32>(ic + (<usize>i << IC_SHIFT) + IC_STAMP, 0);
  memory.fill(fieldPtr(F_POS_STAMP), 0, <usize>posCapacity() << 2);
  epoch = 1;
}

/** Epochs in use (tests). */
export function currentEpoch(): u32 {
  return epoch;
}

/** Test support: the next call will wrap the epoch (exercises the stamp clearing). */
export function setEpochForTest(e: u32): void {
  epoch = e;
}

// Summary counters of the current call (written to F_SUMMARY at its end).
let nLiqPos: i32 = 0;
let nLiqAcct: i32 = 0;
let nOvfPos: i32 = 0;
let nOvfAcct: i32 = 0;
let nZonePos: i32 = 0;
let nZoneAcct: i32 = 0;
let nAcctDone: i32 = 0;
/** Accounts reached by the current computeList (F_ACCT_TOUCHED[0, nTouched)). */
let nTouched: i32 = 0;
/** Positions of the last call that took the checked path (diagnostics). */
let nChecked: i32 = 0;

function resetCounters(): void {
  nLiqPos = 0;
  nLiqAcct = 0;
  nOvfPos = 0;
  nOvfAcct = 0;
  nZonePos = 0;
  nZoneAcct = 0;
  nAcctDone = 0;
  nTouched = 0;
  nChecked = 0;
}

function writeSummary(positions: i32): i32 {
  const s = fieldPtr(F_SUMMARY);
  memory.fill(s, 0, SUMMARY_LENGTH << 2);
  store<i32>(s + (SUM_POSITIONS << 2), positions);
  store<i32>(s + (SUM_ACCOUNTS << 2), nAcctDone);
  store<i32>(s + (SUM_LIQ_POSITIONS << 2), nLiqPos);
  store<i32>(s + (SUM_LIQ_ACCOUNTS << 2), nLiqAcct);
  store<i32>(s + (SUM_OVERFLOW_POSITIONS << 2), nOvfPos);
  store<i32>(s + (SUM_OVERFLOW_ACCOUNTS << 2), nOvfAcct);
  store<i32>(s + (SUM_ZONE_POSITIONS << 2), nZonePos);
  store<i32>(s + (SUM_ZONE_ACCOUNTS << 2), nZoneAcct);
  return nLiqPos + nLiqAcct;
}

/** Positions of the last call that took the checked (slow) path. */
export function checkedPositions(): i32 {
  return nChecked;
}

// ---------------------------------------------------------------- instruments

/**
 * Derives instrument i's cache record from its inputs (once per call, on first use):
 * - ERR: the input error its positions report (the reference's order: k, mark, tier count);
 * - FAST, QMAX, CMAX and the padded tier maxima, the fast path's preconditions.
 *
 * Fast-path bound (L = FAST_LIMIT = 2^58). FAST requires M·k <= L, every selectable tier with
 * 0 <= mmr <= 1e8 and |cum| <= L, and the maxima of tiers 0..last−1 non-decreasing. A position
 * takes the fast path when also |q| <= QMAX = floor(L/(M·k)) (any q but i64 min when M = 0),
 * |C| <= CMAX = floor(L/k) and, if isolated, |m| <= L. Then, exactly:
 *   |q·M| <= N = |q|·M·k <= L;  |k·C| <= L;  |U| = |k·q·M − k·C| <= 2L;  |q·M − C| <= |U|;
 *   |E| <= |m| + |U| <= 3L < 2^60;  0 <= ceil(N·mmr/1e8) <= N, so |MM| <= 2L;  0 <= IM <= N;
 * so no figure overflows i64 (the checked path would find no overflow), and 4·E, 5·MM fit in
 * i64 (|4E| <= 12L < 2^62), so the margin-call test needs no 128-bit compare. With sorted
 * maxima, "the first tier with N <= max" is the number of maxima below N: counted branch-free
 * (SIMD compares) against the maxima padded with i64 max beyond the last tier (INST_TIERS).
 */
function deriveInstrument(i: usize): void {
  const rec = fieldPtr(F_INST_CACHE) + (i << IC_SHIFT);
  const mark = load<i64>(fieldPtr(F_INST_MARK) + (i << 3));
  const k = load<i64>(fieldPtr(F_INST_K) + (i << 3));
  const tc = load<i32>(fieldPtr(F_INST_TIER_COUNT) + (i << 2));
  let err = 0;
  if (k < 1) err = ERR_K;
  else if (mark < 0) err = ERR_MARK;
  else if (<u32>(tc - 1) >= <u32>MAX_TIERS) err = ERR_TIER_COUNT;
  let fast = err == 0;
  let qmax: i64 = 0;
  let cmax: i64 = 0;
  if (fast) {
    cmax = FAST_LIMIT / k;
    if (mark == 0) qmax = I64_MAX;
    else if (mark > FAST_LIMIT / k) fast = false;
    else qmax = FAST_LIMIT / (mark * k);
    const last = tc - 1;
    const base = i * MAX_TIERS;
    const tMax = fieldPtr(F_TIER_MAX);
    const tMmr = fieldPtr(F_TIER_MMR);
    const tCum = fieldPtr(F_TIER_CUM);
    const pad = fieldPtr(F_INST_TIERS) + (i << 6);
    let prev: i64 = i64.MIN_VALUE;
    for (let t = 0; t < MAX_TIERS; t++) {
      const t8 = (base + <usize>t) << 3;
      let m = I64_MAX;
      if (t <= last) {
        const mmr = load<i64>(tMmr + t8);
        const cum = load<i64>(tCum + t8);
        if (<u64>mmr > <u64>RATE_SCALE || cum > FAST_LIMIT || cum < -FAST_LIMIT) fast = false;
        if (t < last) {
          m = load<i64>(tMax + t8);
          if (m < prev) fast = false;
          prev = m;
        }
      }
      store<i64>(pad + (<usize>t << 3), m);
    }
  }
  store<i32>(rec + IC_ERR, err);
  store<i32>(rec + IC_FAST, <i32>fast);
  store<i64>(rec + IC_MARK, mark);
  store<i64>(rec + IC_K, k);
  store<i64>(rec + IC_QMAX, qmax);
  store<i64>(rec + IC_CMAX, cmax);
  store<u32>(rec + IC_STAMP, epoch);
}

// ---------------------------------------------------------------- the checked path

// Figures of the last checkedPosition call.
let cN: i64 = 0;
let cU: i64 = 0;
let cMM: i64 = 0;
let cIM: i64 = 0;
let cE: i64 = 0;
let cTier: i32 = 0;

/**
 * Position p with every overflow checked. Sets c* and returns its status, or -code: the
 * instrument's input error (deriveInstrument), or ERR_MMR for an invalid selected rate.
 */
function checkedPosition(p: usize, inst: usize, lev: i32, isolated: bool): i32 {
  nChecked++;
  const instErr = load<i32>(fieldPtr(F_INST_CACHE) + (inst << IC_SHIFT) + IC_ERR);
  if (instErr != 0) return -instErr;
  const p8 = p << 3;
  const q = load<i64>(fieldPtr(F_POS_QTY) + p8);
  const cost = load<i64>(fieldPtr(F_POS_COST) + p8);
  const mark = load<i64>(fieldPtr(F_INST_MARK) + (inst << 3));
  const k = load<i64>(fieldPtr(F_INST_K) + (inst << 3));
  const tc = load<i32>(fieldPtr(F_INST_TIER_COUNT) + (inst << 2));

  // N = |q·M|·k (M >= 0, k >= 1); U = k·(q·M − C). Overflow flags accumulate in `ovf`.
  const qm = q * mark;
  let ovf = mulOverflows(q, mark);
  const absQm = select<i64>(-qm, qm, qm < 0);
  ovf |= <i32>(absQm < 0); // |i64 min|
  const notional = absQm * k;
  ovf |= mulOverflows(absQm, k);
  const diff = qm - cost;
  ovf |= subOverflows(qm, cost, diff);
  const upnl = k * diff;
  ovf |= mulOverflows(k, diff);

  // Tier: the first with N <= maxNotional, else the last.
  const tMax = fieldPtr(F_TIER_MAX);
  const tierBase = inst * MAX_TIERS;
  const last = tc - 1;
  let t = 0;
  while (t < last && notional > load<i64>(tMax + ((tierBase + <usize>t) << 3))) t++;
  const t8 = (tierBase + <usize>t) << 3;
  const mmr = load<i64>(fieldPtr(F_TIER_MMR) + t8);
  const cum = load<i64>(fieldPtr(F_TIER_CUM) + t8);
  // The selected tier's rate must be valid; when N or U already overflowed, the tier choice
  // is moot (and the reference, with exact N, might choose another), so it is not checked.
  if (<u64>mmr > <u64>RATE_SCALE && ovf == 0) return -ERR_MMR;

  // ceil(N·mmr/1e8) without 128-bit math: N = a·1e8 + b, so it is a·mmr + ceil(b·mmr/1e8);
  // neither product can overflow when N fits and mmr <= 1e8.
  const nHi = <u64>notional / <u64>RATE_SCALE;
  const nLo = <u64>notional - nHi * <u64>RATE_SCALE;
  const mmRaw = <i64>(nHi * <u64>mmr + (nLo * <u64>mmr + <u64>(RATE_SCALE - 1)) / <u64>RATE_SCALE);
  const mm = mmRaw - cum;
  ovf |= subOverflows(mmRaw, cum, mm);
  // IM = ceil(N/L): unsigned, since N < 2^63 and L − 1 < 2^31 cannot carry out.
  const im = <i64>((<u64>notional + <u64>(lev - 1)) / <u64>lev);

  const margin = load<i64>(fieldPtr(F_POS_MARGIN) + p8);
  const eIso = margin + upnl;
  ovf |= <i32>isolated & addOverflows(margin, upnl, eIso);
  const equity = select<i64>(eIso, upnl, isolated);

  if (ovf != 0) {
    cN = 0;
    cU = 0;
    cMM = 0;
    cIM = 0;
    cE = 0;
    cTier = 0;
    return POS_OVERFLOW;
  }
  cN = notional;
  cU = upnl;
  cMM = mm;
  cIM = im;
  cE = equity;
  cTier = t;
  const active = isolated && q != 0;
  return <i32>(active && equity < mm) | (<i32>(active && fourLeFive(equity, mm)) << 2);
}

// ---------------------------------------------------------------- accounts

/** Starts account line `acc` (account a): E = base, MM = IM = 0, no counts (layout.ts ACC_*). */
@inline
function resetAccount(acc: usize, a: usize): void {
  const base = load<i64>(fieldPtr(F_ACCT_BASE) + (a << 3));
  store<i64>(acc + ACC_E_LO, base & 0xffffffff);
  store<i64>(acc + ACC_E_HI, base >> 32);
  store<i64>(acc + ACC_MM_LO, 0);
  store<i64>(acc + ACC_MM_HI, 0);
  store<i64>(acc + ACC_IM_LO, 0);
  store<i64>(acc + ACC_IM_HI, 0);
  store<i64>(acc + ACC_CNT, 0);
  store<u32>(acc + ACC_STAMP, epoch);
}

/** Adds d to the split sum at `at` (layout.ts: low halves at +0, high halves at +8). */
@inline
function addSplit(at: usize, d: i64): void {
  store<i64>(at, load<i64>(at) + (d & 0xffffffff));
  store<i64>(at + 8, load<i64>(at + 8) + (d >> 32));
}

// The value of the last splitValue call, and whether it fits in i64.
let sumValue: i64 = 0;
let sumFits: i32 = 0;

/** Σ lo + 2^32·Σ hi exactly; sets sumValue (its low 64 bits) and sumFits. */
@inline
function splitValue(at: usize): void {
  const lo = <u64>load<i64>(at);
  const hi = load<i64>(at + 8);
  const l = (<u64>hi << 32) + lo;
  const h = (hi >> 32) + <i64>(l < lo);
  sumValue = <i64>l;
  sumFits = <i32>(h == <i64>l >> 63);
}

/**
 * Turns the sums of accounts into their status (and, FULL, their figures) and counts them:
 * accounts [0, count) (listed = false), or the F_ACCT_TOUCHED[0, count) ones.
 */
@inline
function finalizeAccounts(count: i32, listed: bool, full: bool): void {
  const accBase = fieldPtr(F_ACCT_ACC);
  const touched = fieldPtr(F_ACCT_TOUCHED);
  const oE = fieldPtr(F_ACCT_E);
  const oMM = fieldPtr(F_ACCT_MM);
  const oIM = fieldPtr(F_ACCT_IM);
  const oStatus = fieldPtr(F_ACCT_STATUS);
  const liqList = fieldPtr(F_LIQ_ACCT);
  const zoneList = fieldPtr(F_ZONE_ACCT);
  const latch = fieldPtr(F_ACCT_LATCH);
  let liqN = 0;
  let ovfN = 0;
  let zoneN = 0;
  for (let j = 0; j < count; j++) {
    const a: usize = listed ? <usize>load<i32>(touched + (<usize>j << 2)) : <usize>j;
    const acc = accBase + (a << ACC_SHIFT);
    splitValue(acc + ACC_E_LO);
    const e = sumValue;
    let fits = sumFits;
    splitValue(acc + ACC_MM_LO);
    const mm = sumValue;
    fits &= sumFits;
    splitValue(acc + ACC_IM_LO);
    const im = sumValue;
    fits &= sumFits;
    const cnt = load<i64>(acc + ACC_CNT);
    const ovf = <i32>(cnt >>> 32 != 0) | (fits ^ 1);
    const hasBit = <i32>(<u32>cnt != 0);
    const ok = hasBit & (ovf ^ 1);
    const liq = ok & <i32>(e < mm);
    // 4·E <= 5·MM exactly: plain i64 when |E|, |MM| < 2^60 (the usual case), else 66-bit.
    const small = <u64>(e + (1 << 60)) < <u64>(1 << 61) && <u64>(mm + (1 << 60)) < <u64>(1 << 61);
    const zone = ok & <i32>(small ? e * 4 <= mm * 5 : fourLeFive(e, mm));
    const a8 = a << 3;
    if (full) {
      const keep: i64 = <i64>ovf - 1; // all ones unless overflowed
      store<i64>(oE + a8, e & keep);
      store<i64>(oMM + a8, mm & keep);
      store<i64>(oIM + a8, im & keep);
    }
    store<i32>(oStatus + (a << 2), (hasBit << 3) | (ovf << 1) | liq | (zone << 2));
    const ai = <i32>a;
    store<i32>(liqList + (<usize>liqN << 2), ai);
    liqN += liq;
    ovfN += ovf;
    store<i32>(zoneList + (<usize>zoneN << 2), ai);
    zoneN += zone ^ <i32>(load<u8>(latch + a) != 0);
  }
  nLiqAcct = liqN;
  nOvfAcct = ovfN;
  nZoneAcct = zoneN;
  nAcctDone = count;
}

// ---------------------------------------------------------------- validation

/**
 * computeAll's checks of every position's indices, mode and leverage, four at a time.
 * Returns true when all pass.
 */
function positionsValid(count: i32, acctLimit: i32): bool {
  const pInst = fieldPtr(F_POS_INST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const pLev = fieldPtr(F_POS_LEV);
  const pMode = fieldPtr(F_POS_MODE);
  const instLimit = i32x4.splat(instCapacity() - 1);
  const acctMax = i32x4.splat(acctLimit - 1);
  const one = i32x4.splat(1);
  const zero = i32x4.splat(0);
  let bad = i32x4.splat(0);
  const vecEnd = count & ~3;
  let j = 0;
  for (; j < vecEnd; j += 4) {
    const o = <usize>j << 2;
    // (u32) inst > instCap − 1, (u32) acct > acctLimit − 1 (acctLimit 0: every index is bad),
    // (u32) mode > 1, lev < 1.
    bad = v128.or(bad, i32x4.gt_u(v128.load(pInst + o), instLimit));
    bad = v128.or(bad, i32x4.gt_u(v128.load(pAcct + o), acctMax));
    bad = v128.or(bad, i32x4.gt_u(v128.load(pMode + o), one));
    bad = v128.or(bad, i32x4.le_s(v128.load(pLev + o), zero));
  }
  if (acctLimit == 0 && count > 0) return false;
  if (v128.any_true(bad)) return false;
  for (; j < count; j++) {
    const o = <usize>j << 2;
    if (
      <u32>load<i32>(pInst + o) >= <u32>instCapacity() ||
      <u32>load<i32>(pAcct + o) >= <u32>acctLimit ||
      <u32>load<i32>(pMode + o) > 1 ||
      load<i32>(pLev + o) < 1
    ) {
      return false;
    }
  }
  return true;
}

/**
 * While a list is strictly ascending it cannot hold a duplicate, so computeList skips the
 * per-position stamps: `ascendingUpTo` is the number of leading entries known ascending (and
 * unstamped), `lastListed` the last of them. At the first entry that is not above its
 * predecessor, those entries are stamped (stampRange) and checking goes on with stamps.
 */
let ascendingUpTo: i32 = 0;
let lastListed: i32 = -1;

function stampRange(from: i32, to: i32): void {
  const list = fieldPtr(F_LIST);
  const pStamp = fieldPtr(F_POS_STAMP);
  for (let j = from; j < to; j++) store<u32>(pStamp + (<usize>load<i32>(list + (<usize>j << 2)) << 2), epoch);
}

/**
 * computeList's checks of list entries [from, to), in the reference's order for list errors:
 * entry index range, duplicates, account range (returned as -code). Also notes whether a
 * listed position has a bad instrument index, mode or leverage (returns 1: the caller then
 * looks for list errors in the rest of the list, and else for the first position error),
 * derives the instruments, and touches the lines the figures will use (touchListed).
 */
function checkChunk(from: i32, to: i32, full: bool): i32 {
  const list = fieldPtr(F_LIST);
  const pStamp = fieldPtr(F_POS_STAMP);
  const pInst = fieldPtr(F_POS_INST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const pLev = fieldPtr(F_POS_LEV);
  const pMode = fieldPtr(F_POS_MODE);
  const iCache = fieldPtr(F_INST_CACHE);
  const posCap = posCapacity();
  const acctCap = acctCapacity();
  const instCap = instCapacity();
  const ep = epoch;
  let bad = 0;
  for (let j = from; j < to; j++) {
    const p = load<i32>(list + (<usize>j << 2));
    if (<u32>p >= <u32>posCap) return fail(ERR_LIST_INDEX, j);
    if (ascendingUpTo == j && p > lastListed) {
      ascendingUpTo = j + 1;
      lastListed = p;
    } else {
      if (ascendingUpTo == j) {
        stampRange(0, j);
        ascendingUpTo = -1;
      }
      const st = pStamp + (<usize>p << 2);
      if (load<u32>(st) == ep) return fail(ERR_LIST_DUPLICATE, j);
      store<u32>(st, ep);
    }
    const p4 = <usize>p << 2;
    if (<u32>load<i32>(pAcct + p4) >= <u32>acctCap) return fail(ERR_ACCOUNT_INDEX, p);
    const inst = load<i32>(pInst + p4);
    bad |= <i32>(<u32>load<i32>(pMode + p4) > 1) | <i32>(load<i32>(pLev + p4) < 1);
    if (<u32>inst >= <u32>instCap) {
      bad = 1;
    } else if (load<u32>(iCache + (<usize>inst << IC_SHIFT) + IC_STAMP) != ep) {
      deriveInstrument(<usize>inst);
    }
  }
  if (bad == 0) {
    // A dense ascending chunk is a sequential scan the hardware prefetcher follows: only its
    // accounts need touching.
    const first = load<i32>(list + (<usize>from << 2));
    const last = load<i32>(list + (<usize>(to - 1) << 2));
    if (ascendingUpTo == to && last - first < (to - from) * 2) touchAccountsListed(from, to);
    else touchListed(from, to, full);
  }
  return bad;
}

/** List errors in entries [from, to) (after entries before `from` were checked), or 0. */
function listErrors(from: i32, to: i32): i32 {
  if (ascendingUpTo >= 0) {
    stampRange(0, from);
    ascendingUpTo = -1;
  }
  const list = fieldPtr(F_LIST);
  const pStamp = fieldPtr(F_POS_STAMP);
  const pAcct = fieldPtr(F_POS_ACCT);
  const posCap = posCapacity();
  const acctCap = acctCapacity();
  for (let j = from; j < to; j++) {
    const p = load<i32>(list + (<usize>j << 2));
    if (<u32>p >= <u32>posCap) return fail(ERR_LIST_INDEX, j);
    const st = pStamp + (<usize>p << 2);
    if (load<u32>(st) == epoch) return fail(ERR_LIST_DUPLICATE, j);
    store<u32>(st, epoch);
    if (<u32>load<i32>(pAcct + (<usize>p << 2)) >= <u32>acctCap) return fail(ERR_ACCOUNT_INDEX, p);
  }
  return 0;
}

/**
 * A position error was found in the chunk [from, chunkEnd) (entries before it are fine): the
 * reference reports a list error anywhere in the rest of the list first, else the first
 * position error from `from` on.
 */
function positionErrorAfter(from: i32, chunkEnd: i32, count: i32): i32 {
  const e = listErrors(chunkEnd, count);
  if (e < 0) return e;
  return firstPositionError(from, count, acctCapacity(), true);
}

/** figures() failed with `error` (errorIndex() set) before entry chunkEnd: a later list error wins. */
function listErrorOr(chunkEnd: i32, count: i32, error: i32): i32 {
  const index = errorIndex();
  const e = listErrors(chunkEnd, count);
  if (e < 0) return e;
  return fail(-error, index);
}

/**
 * The reference's first position error over positions [from, count) or those list entries,
 * in order (the instruments they use are derived). Only called when one is known to exist.
 */
function firstPositionError(from: i32, count: i32, acctLimit: i32, listed: bool): i32 {
  const list = fieldPtr(F_LIST);
  const instCap = instCapacity();
  for (let j = from; j < count; j++) {
    const p: i32 = listed ? load<i32>(list + (<usize>j << 2)) : j;
    const p4 = <usize>p << 2;
    const inst = load<i32>(fieldPtr(F_POS_INST) + p4);
    const acct = load<i32>(fieldPtr(F_POS_ACCT) + p4);
    const mode = load<i32>(fieldPtr(F_POS_MODE) + p4);
    const lev = load<i32>(fieldPtr(F_POS_LEV) + p4);
    if (<u32>inst >= <u32>instCap) return fail(ERR_INSTRUMENT_INDEX, p);
    if (<u32>acct >= <u32>acctLimit) return fail(ERR_ACCOUNT_INDEX, p);
    if (<u32>mode > 1) return fail(ERR_MODE, p);
    if (lev < 1) return fail(ERR_LEVERAGE, p);
    if (load<u32>(fieldPtr(F_INST_CACHE) + (<usize>inst << IC_SHIFT) + IC_STAMP) != epoch) deriveInstrument(<usize>inst);
    const status = checkedPosition(<usize>p, <usize>inst, lev, mode == MODE_ISOLATED);
    if (status < 0) return fail(-status, p);
  }
  return fail(ERR_COUNT, 0); // not reached: the caller saw an error
}

// ---------------------------------------------------------------- the position pass

/**
 * Positions per chunk: the touch loop runs ahead over a chunk, then the pass computes it. The
 * lines touched for a chunk (up to ~16 per listed position) stay well inside L2.
 */
const CHUNK = 128;

/** Sink of the touch loads (written so that they are not optimized away). */
let touchSink: i64 = 0;

/**
 * Loads one word of every account line positions [from, to) will update. WebAssembly has no
 * prefetch instruction; a short loop of independent loads is the portable substitute: it keeps
 * many cache misses in flight, where the long figures loop would wait for them one by one.
 * (computeAll's positions themselves are sequential: the hardware prefetcher follows them.)
 */
@inline
function touchAccounts(from: i32, to: i32): void {
  const pAcct = fieldPtr(F_POS_ACCT);
  const accBase = fieldPtr(F_ACCT_ACC);
  let sink: i64 = 0;
  for (let j = from; j < to; j++) sink ^= load<i64>(accBase + (<usize>load<i32>(pAcct + (<usize>j << 2)) << ACC_SHIFT));
  touchSink ^= sink;
}

/** touchAccounts for list entries [from, to). */
function touchAccountsListed(from: i32, to: i32): void {
  const list = fieldPtr(F_LIST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const accBase = fieldPtr(F_ACCT_ACC);
  let sink: i64 = 0;
  for (let j = from; j < to; j++) {
    sink ^= load<i64>(accBase + (<usize>load<i32>(pAcct + (<usize>load<i32>(list + (<usize>j << 2)) << 2)) << ACC_SHIFT));
  }
  touchSink ^= sink;
}

/** touchAccounts for list entries [from, to): their positions' input and output lines too. */
function touchListed(from: i32, to: i32, full: bool): void {
  const list = fieldPtr(F_LIST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const accBase = fieldPtr(F_ACCT_ACC);
  const pQty = fieldPtr(F_POS_QTY);
  const pCost = fieldPtr(F_POS_COST);
  const pMargin = fieldPtr(F_POS_MARGIN);
  const pLatch = fieldPtr(F_POS_LATCH);
  const oStatus = fieldPtr(F_POS_STATUS);
  const base = fieldPtr(F_ACCT_BASE);
  let sink: i64 = 0;
  for (let j = from; j < to; j++) {
    const p = <usize>load<i32>(list + (<usize>j << 2));
    const p8 = p << 3;
    const a = <usize>load<i32>(pAcct + (p << 2));
    sink ^=
      load<i64>(pQty + p8) ^
      load<i64>(pCost + p8) ^
      load<i64>(pMargin + p8) ^
      load<i64>(accBase + (a << ACC_SHIFT)) ^
      load<i64>(base + (a << 3)) ^
      <i64>(load<i32>(oStatus + (p << 2)) ^ load<u8>(pLatch + p));
  }
  if (full) {
    const oN = fieldPtr(F_POS_N);
    const oU = fieldPtr(F_POS_U);
    const oMM = fieldPtr(F_POS_MM);
    const oIM = fieldPtr(F_POS_IM);
    const oE = fieldPtr(F_POS_E);
    const oTier = fieldPtr(F_POS_TIER);
    for (let j = from; j < to; j++) {
      const p = <usize>load<i32>(list + (<usize>j << 2));
      const p8 = p << 3;
      sink ^=
        load<i64>(oN + p8) ^ load<i64>(oU + p8) ^ load<i64>(oMM + p8) ^ load<i64>(oIM + p8) ^ load<i64>(oE + p8) ^
        <i64>load<i32>(oTier + (p << 2));
    }
  }
  touchSink ^= sink;
}

// Chunk scratch at fixed addresses (static memory): the loops of a chunk pass values through
// it, addressed with constant offsets (no base pointers to keep live).
const SCR_P = memory.data(CHUNK * 4, 64); // position index
const SCR_ACCT = memory.data(CHUNK * 4, 64);
const SCR_STATUS = memory.data(CHUNK * 4, 64);
const SCR_U = memory.data(CHUNK * 8, 64);
const SCR_MM = memory.data(CHUNK * 8, 64);
const SCR_IM = memory.data(CHUNK * 8, 64);
const SCR_TAKE = memory.data(CHUNK * 8, 64); // all ones for a cross position, else 0
const SCR_CNT = memory.data(CHUNK * 8, 64); // (q != 0) | overflow << 32

/**
 * Figures of positions [from, to) (all of them, or the listed ones): the fast path (plain i64,
 * branch-free tier search) or the checked path; book outputs (FULL) and status, and the chunk
 * scratch the account and summary loops read. Returns 0, or -code at the first bad input.
 */
@inline
function figures(from: i32, to: i32, listed: bool, full: bool): i32 {
  const pQty = fieldPtr(F_POS_QTY);
  const pCost = fieldPtr(F_POS_COST);
  const pMargin = fieldPtr(F_POS_MARGIN);
  const pInst = fieldPtr(F_POS_INST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const pLev = fieldPtr(F_POS_LEV);
  const pMode = fieldPtr(F_POS_MODE);
  const iCache = fieldPtr(F_INST_CACHE);
  const iTiers = fieldPtr(F_INST_TIERS);
  const tMmr = fieldPtr(F_TIER_MMR);
  const tCum = fieldPtr(F_TIER_CUM);
  const oStatus = fieldPtr(F_POS_STATUS);
  const list = fieldPtr(F_LIST);
  for (let j = from; j < to; j++) {
    const p: i32 = listed ? load<i32>(list + (<usize>j << 2)) : j;
    const p8 = <usize>p << 3;
    const p4 = <usize>p << 2;
    const s4 = <usize>(j - from) << 2;
    const s8 = <usize>(j - from) << 3;
    const inst = load<i32>(pInst + p4);
    const isolated = <i32>(load<i32>(pMode + p4) == MODE_ISOLATED);
    const rec = iCache + (<usize>inst << IC_SHIFT);
    const q = load<i64>(pQty + p8);
    const cost = load<i64>(pCost + p8);
    const margin = load<i64>(pMargin + p8) & -(<i64>isolated);
    const lev = load<i32>(pLev + p4);
    // |x| as u64 (i64 min gives 2^63, beyond every bound).
    const sq = q >> 63;
    const sc = cost >> 63;
    const sm = margin >> 63;
    const fast =
      load<i32>(rec + IC_FAST) &
      <i32>(<u64>((q ^ sq) - sq) <= load<u64>(rec + IC_QMAX)) &
      <i32>(<u64>((cost ^ sc) - sc) <= load<u64>(rec + IC_CMAX)) &
      <i32>(<u64>((margin ^ sm) - sm) <= <u64>FAST_LIMIT);
    let notional: i64;
    let upnl: i64;
    let equity: i64;
    let mm: i64;
    let im: i64;
    let t: i32;
    let status: i32;
    if (fast != 0) {
      const k = load<i64>(rec + IC_K);
      const qm = q * load<i64>(rec + IC_MARK);
      const sqm = qm >> 63;
      notional = ((qm ^ sqm) - sqm) * k;
      upnl = k * (qm - cost);
      equity = margin + upnl;
      // Tier: the maxima are sorted and padded with i64 max, so t = #{j : N > max_j}; four
      // independent 2-lane compares (no dependent loads).
      const pad = iTiers + (<usize>inst << 6);
      const nv = i64x2.splat(notional);
      let c = i64x2.gt_s(nv, v128.load(pad));
      c = i64x2.add(c, i64x2.gt_s(nv, v128.load(pad, 16)));
      c = i64x2.add(c, i64x2.gt_s(nv, v128.load(pad, 32)));
      c = i64x2.add(c, i64x2.gt_s(nv, v128.load(pad, 48)));
      t = -<i32>(i64x2.extract_lane(c, 0) + i64x2.extract_lane(c, 1));
      const t8 = ((<usize>inst * MAX_TIERS) + <usize>t) << 3;
      const mmr = <u64>load<i64>(tMmr + t8);
      // ceil(N·mmr/1e8) = a·mmr + ceil(b·mmr/1e8) with N = a·1e8 + b (divisions by a constant).
      const nHi = <u64>notional / <u64>RATE_SCALE;
      const nLo = <u64>notional - nHi * <u64>RATE_SCALE;
      mm = <i64>(nHi * mmr + (nLo * mmr + <u64>(RATE_SCALE - 1)) / <u64>RATE_SCALE) - load<i64>(tCum + t8);
      // IM; FLAGS skips an isolated position's (its account does not add it).
      im = full || isolated == 0 ? <i64>((<u64>notional + <u64>(lev - 1)) / <u64>lev) : 0;
      const active = isolated & <i32>(q != 0);
      status = (active & <i32>(equity < mm)) | ((active & <i32>(equity * 4 <= mm * 5)) << 2);
    } else {
      status = checkedPosition(<usize>p, <usize>inst, lev, isolated != 0);
      if (status < 0) return fail(-status, p);
      notional = cN;
      upnl = cU;
      mm = cMM;
      im = cIM;
      equity = cE;
      t = cTier;
    }
    if (full) {
      store<i64>(fieldPtr(F_POS_N) + p8, notional);
      store<i64>(fieldPtr(F_POS_U) + p8, upnl);
      store<i64>(fieldPtr(F_POS_MM) + p8, mm);
      store<i64>(fieldPtr(F_POS_IM) + p8, im);
      store<i64>(fieldPtr(F_POS_E) + p8, equity);
      store<i32>(fieldPtr(F_POS_TIER) + p4, t);
    }
    store<i32>(oStatus + p4, status);
    store<i32>(SCR_P + s4, p);
    store<i32>(SCR_STATUS + s4, status);
    store<i32>(SCR_ACCT + s4, load<i32>(pAcct + p4));
    store<i64>(SCR_TAKE + s8, <i64>isolated - 1);
    store<i64>(SCR_U + s8, upnl);
    store<i64>(SCR_MM + s8, mm);
    store<i64>(SCR_IM + s8, im);
    store<i64>(SCR_CNT + s8, <i64>(q != 0) | (<i64>((status >> 1) & 1) << 32));
  }
  return 0;
}

/** Adds the chunk's cross positions to their accounts (listed: resets accounts on first sight). */
@inline
function accountsLoop(n: i32, listed: bool): void {
  const accBase = fieldPtr(F_ACCT_ACC);
  const touched = fieldPtr(F_ACCT_TOUCHED);
  const ep = epoch;
  for (let j = 0; j < n; j++) {
    const s8 = <usize>j << 3;
    const acct = load<i32>(SCR_ACCT + (<usize>j << 2));
    const acc = accBase + (<usize>acct << ACC_SHIFT);
    if (listed) {
      if (load<u32>(acc + ACC_STAMP) != ep) {
        resetAccount(acc, <usize>acct);
        store<i32>(touched + (<usize>nTouched << 2), acct);
        nTouched++;
      }
    }
    const take = load<i64>(SCR_TAKE + s8);
    addSplit(acc + ACC_E_LO, load<i64>(SCR_U + s8) & take);
    addSplit(acc + ACC_MM_LO, load<i64>(SCR_MM + s8) & take);
    addSplit(acc + ACC_IM_LO, load<i64>(SCR_IM + s8) & take);
    store<i64>(acc + ACC_CNT, load<i64>(acc + ACC_CNT) + (load<i64>(SCR_CNT + s8) & take));
  }
}

/** The chunk's positions into the summary counts and lists (branch-free appends). */
@inline
function summaryLoop(n: i32): void {
  const pLatch = fieldPtr(F_POS_LATCH);
  const liqList = fieldPtr(F_LIQ_POS);
  const zoneList = fieldPtr(F_ZONE_POS);
  let liqN = nLiqPos;
  let ovfN = nOvfPos;
  let zoneN = nZonePos;
  for (let j = 0; j < n; j++) {
    const p = load<i32>(SCR_P + (<usize>j << 2));
    const status = load<i32>(SCR_STATUS + (<usize>j << 2));
    store<i32>(liqList + (<usize>liqN << 2), p);
    liqN += status & 1;
    ovfN += (status >> 1) & 1;
    const changed = ((status >> 2) & 1) ^ <i32>(load<u8>(pLatch + <usize>p) != 0);
    store<i32>(zoneList + (<usize>zoneN << 2), p);
    zoneN += changed;
  }
  nLiqPos = liqN;
  nOvfPos = ovfN;
  nZonePos = zoneN;
}

/**
 * Positions: the first `count` (listed = false: computeAll, accounts already reset), or the
 * `count` listed ones (listed = true: computeList; accounts reset on first sight and recorded
 * in F_ACCT_TOUCHED). computeAll has validated indices, modes and leverages and derived every
 * instrument; a list is checked chunk by chunk (checkChunk). Chunk by chunk: check or touch,
 * figures, accounts, summary. Returns 0, or -code (errorIndex() set) at the error the
 * reference reports.
 */
@inline
function positionPass(count: i32, listed: bool, full: bool): i32 {
  for (let c = 0; c < count; c += CHUNK) {
    const end = min(count, c + CHUNK);
    if (listed) {
      // checks the chunk's entries (list errors first, as the reference does) and touches
      const checked = checkChunk(c, end, full);
      if (checked < 0) return checked;
      if (checked > 0) return positionErrorAfter(c, end, count);
    } else {
      touchAccounts(c, end);
    }
    const r = figures(c, end, listed, full);
    if (r < 0) return listed ? listErrorOr(end, count, r) : r;
    accountsLoop(end - c, listed);
    summaryLoop(end - c);
  }
  return 0;
}

// ---------------------------------------------------------------- entry points

/**
 * All positions in [0, nPos) and all accounts in [0, nAcct); `outputs` is OUTPUTS_FULL or
 * OUTPUTS_FLAGS. Returns the liquidatable count or -code.
 */
export function computeAll(nPos: i32, nAcct: i32, outputs: i32): i32 {
  if (<u32>nPos > <u32>posCapacity() || <u32>nAcct > <u32>acctCapacity() || <u32>outputs > <u32>OUTPUTS_FLAGS) return fail(ERR_COUNT, 0);
  beginCall();
  resetCounters();
  for (let i = 0, n = instCapacity(); i < n; i++) deriveInstrument(<usize>i);
  if (!positionsValid(nPos, nAcct)) return firstPositionError(0, nPos, nAcct, false);
  const accBase = fieldPtr(F_ACCT_ACC);
  for (let a = 0; a < nAcct; a++) resetAccount(accBase + (<usize>a << ACC_SHIFT), <usize>a);
  const full = outputs == OUTPUTS_FULL;
  const r = full ? positionPass(nPos, false, true) : positionPass(nPos, false, false);
  if (r < 0) return r;
  if (full) finalizeAccounts(nAcct, false, true);
  else finalizeAccounts(nAcct, false, false);
  return writeSummary(nPos);
}

/**
 * The `count` positions in the list region, and their accounts (sums over the listed
 * positions only). Returns the liquidatable count or -code.
 */
export function computeList(count: i32, outputs: i32): i32 {
  if (<u32>count > <u32>posCapacity() || <u32>outputs > <u32>OUTPUTS_FLAGS) return fail(ERR_COUNT, 0);
  beginCall();
  resetCounters();
  ascendingUpTo = 0;
  lastListed = -1;
  const full = outputs == OUTPUTS_FULL;
  const r = full ? positionPass(count, true, true) : positionPass(count, true, false);
  if (r < 0) return r;
  if (full) finalizeAccounts(nTouched, true, true);
  else finalizeAccounts(nTouched, true, false);
  return writeSummary(count);
}
