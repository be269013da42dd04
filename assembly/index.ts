// The margin kernel (SPEC §3) over the structure-of-arrays book in linear memory. Semantics
// are those of src/margin/reference.ts, bit for bit: every figure is exact i64 or flagged as
// overflow, never wrapped. Inputs are validated as they are read; a bad input makes the call
// return -code with the offending index in errorIndex() (kernel.ts turns it into a RangeError).
import {
  ACC_E_HI,
  ACC_E_LO,
  ACC_FLAGS,
  ACC_IM_HI,
  ACC_IM_LO,
  ACC_MM_HI,
  ACC_MM_LO,
  ACC_SHIFT,
  F_ACCT_ACC,
  F_ACCT_BASE,
  F_ACCT_E,
  F_ACCT_IM,
  F_ACCT_MM,
  F_ACCT_STATUS,
  F_INST_K,
  F_INST_MARK,
  F_INST_TIER_COUNT,
  F_LIST,
  F_POS_ACCT,
  F_POS_COST,
  F_POS_E,
  F_POS_IM,
  F_POS_INST,
  F_POS_LEV,
  F_POS_MARGIN,
  F_POS_MM,
  F_POS_MODE,
  F_POS_N,
  F_POS_QTY,
  F_POS_STATUS,
  F_POS_TIER,
  F_POS_U,
  F_TIER_CUM,
  F_TIER_MAX,
  F_TIER_MMR,
  FIELD_COUNT,
  MAX_TIERS,
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
  fail,
} from "./errors";

export { errorIndex } from "./errors";
export { liquidationPrice, bankruptcyPrice, resultHi, resultLo } from "./liqprice";

const POS_LIQUIDATABLE = 1;
const POS_OVERFLOW = 2;
const ACCT_OVERFLOW = 2;
const ACCT_HAS_CROSS = 8;
const MODE_ISOLATED = 1;
/** acct_flags: the account was finalized by this computeList call. */
const ACCT_FINALIZED = 1 << 16;
/** pos_status: transient "listed" mark used by computeList to reject duplicates. */
const POS_LISTED = 1 << 30;

export function layoutTablePtr(): usize {
  return tablePtr();
}

export function layoutFieldCount(): i32 {
  return FIELD_COUNT;
}

export function maxTiers(): i32 {
  return MAX_TIERS;
}

/** Starts account a's sums: E = base (as a 128-bit accumulator), MM = IM = 0, no flags. */
@inline
function resetAccount(a: usize): void {
  const base = load<i64>(fieldPtr(F_ACCT_BASE) + (a << 3));
  const acc = fieldPtr(F_ACCT_ACC) + (a << ACC_SHIFT);
  store<i64>(acc + ACC_E_LO, base);
  store<i64>(acc + ACC_E_HI, base >> 63);
  store<i64>(acc + ACC_MM_LO, 0);
  store<i64>(acc + ACC_MM_HI, 0);
  store<i64>(acc + ACC_IM_LO, 0);
  store<i64>(acc + ACC_IM_HI, 0);
  store<i32>(acc + ACC_FLAGS, 0);
}

/** Turns account a's 128-bit sums into outputs and status. Returns 1 when liquidatable. */
@inline
function finalizeAccount(a: usize): i32 {
  const acc = fieldPtr(F_ACCT_ACC) + (a << ACC_SHIFT);
  const e = load<i64>(acc + ACC_E_LO);
  const mm = load<i64>(acc + ACC_MM_LO);
  const im = load<i64>(acc + ACC_IM_LO);
  const flags = load<i32>(acc + ACC_FLAGS);
  // A sum fits in i64 iff its high word is the sign extension of its low word.
  const wide =
    <i32>(load<i64>(acc + ACC_E_HI) != e >> 63) |
    <i32>(load<i64>(acc + ACC_MM_HI) != mm >> 63) |
    <i32>(load<i64>(acc + ACC_IM_HI) != im >> 63);
  const ovf = (flags & ACCT_OVERFLOW) != 0 || wide != 0;
  const has = flags & ACCT_HAS_CROSS;
  let status = has | (ovf ? ACCT_OVERFLOW : 0);
  let liq = 0;
  if (!ovf && has != 0) {
    liq = <i32>(e < mm);
    status |= liq | (<i32>fourLeFive(e, mm) << 2);
  }
  const keep: i64 = ovf ? 0 : -1;
  const a8 = a << 3;
  store<i64>(fieldPtr(F_ACCT_E) + a8, e & keep);
  store<i64>(fieldPtr(F_ACCT_MM) + a8, mm & keep);
  store<i64>(fieldPtr(F_ACCT_IM) + a8, im & keep);
  store<i32>(fieldPtr(F_ACCT_STATUS) + (a << 2), status);
  return liq;
}

/**
 * Computes positions (the first `count`, or the listed ones): validation and every position
 * output. Returns the number of liquidatable isolated positions, or -code on a bad input.
 */
function computePositions(count: i32, acctLimit: i32, listed: bool): i32 {
  const pQty = fieldPtr(F_POS_QTY);
  const pCost = fieldPtr(F_POS_COST);
  const pMargin = fieldPtr(F_POS_MARGIN);
  const pInst = fieldPtr(F_POS_INST);
  const pAcct = fieldPtr(F_POS_ACCT);
  const pLev = fieldPtr(F_POS_LEV);
  const pMode = fieldPtr(F_POS_MODE);
  const iMark = fieldPtr(F_INST_MARK);
  const iK = fieldPtr(F_INST_K);
  const iTc = fieldPtr(F_INST_TIER_COUNT);
  const tMax = fieldPtr(F_TIER_MAX);
  const tMmr = fieldPtr(F_TIER_MMR);
  const tCum = fieldPtr(F_TIER_CUM);
  const oN = fieldPtr(F_POS_N);
  const oU = fieldPtr(F_POS_U);
  const oMM = fieldPtr(F_POS_MM);
  const oIM = fieldPtr(F_POS_IM);
  const oE = fieldPtr(F_POS_E);
  const oTier = fieldPtr(F_POS_TIER);
  const oStatus = fieldPtr(F_POS_STATUS);
  const list = fieldPtr(F_LIST);
  const instCap = instCapacity();
  let liquidatable = 0;

  for (let j = 0; j < count; j++) {
    const p: i32 = listed ? load<i32>(list + (<usize>j << 2)) : j;
    const p8 = <usize>p << 3;
    const p4 = <usize>p << 2;
    const q = load<i64>(pQty + p8);
    const cost = load<i64>(pCost + p8);
    const inst = load<i32>(pInst + p4);
    const acct = load<i32>(pAcct + p4);
    const lev = load<i32>(pLev + p4);
    const mode = load<i32>(pMode + p4);
    if (<u32>inst >= <u32>instCap || <u32>acct >= <u32>acctLimit || <u32>mode > 1 || lev < 1) {
      if (<u32>inst >= <u32>instCap) return fail(ERR_INSTRUMENT_INDEX, p);
      if (<u32>acct >= <u32>acctLimit) return fail(ERR_ACCOUNT_INDEX, p);
      if (<u32>mode > 1) return fail(ERR_MODE, p);
      return fail(ERR_LEVERAGE, p);
    }
    const i8 = <usize>inst << 3;
    const mark = load<i64>(iMark + i8);
    const k = load<i64>(iK + i8);
    const tc = load<i32>(iTc + (<usize>inst << 2));
    if (k < 1 || mark < 0 || <u32>(tc - 1) >= <u32>MAX_TIERS) {
      if (k < 1) return fail(ERR_K, p);
      if (mark < 0) return fail(ERR_MARK, p);
      return fail(ERR_TIER_COUNT, p);
    }

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
    const tierBase = <usize>inst * MAX_TIERS;
    const last = tc - 1;
    let t = 0;
    while (t < last && notional > load<i64>(tMax + ((tierBase + <usize>t) << 3))) t++;
    const t8 = (tierBase + <usize>t) << 3;
    const mmr = load<i64>(tMmr + t8);
    const cum = load<i64>(tCum + t8);
    // The selected tier's rate must be valid; when N or U already overflowed, the tier choice
    // is moot (and the reference, with exact N, might choose another), so it is not checked.
    if (<u64>mmr > <u64>RATE_SCALE && ovf == 0) return fail(ERR_MMR, p);

    // ceil(N·mmr/1e8) without 128-bit math: N = a·1e8 + b, so it is a·mmr + ceil(b·mmr/1e8);
    // neither product can overflow when N fits and mmr <= 1e8.
    const nHi = <u64>notional / <u64>RATE_SCALE;
    const nLo = <u64>notional - nHi * <u64>RATE_SCALE;
    const mmRaw = <i64>(nHi * <u64>mmr + (nLo * <u64>mmr + <u64>(RATE_SCALE - 1)) / <u64>RATE_SCALE);
    const mm = mmRaw - cum;
    ovf |= subOverflows(mmRaw, cum, mm);
    // IM = ceil(N/L): unsigned, since N < 2^63 and L − 1 < 2^31 cannot carry out.
    const im = <i64>((<u64>notional + <u64>(lev - 1)) / <u64>lev);

    const isolated = mode == MODE_ISOLATED;
    const margin = load<i64>(pMargin + p8);
    const eIso = margin + upnl;
    ovf |= <i32>isolated & addOverflows(margin, upnl, eIso);
    const equity = select<i64>(eIso, upnl, isolated);

    let status = POS_OVERFLOW;
    let keep: i64 = 0; // all-ones when the figures are valid; zeroes them on overflow
    if (ovf == 0) {
      keep = -1;
      const active = isolated && q != 0;
      const liq = <i32>(active && equity < mm);
      status = liq | (<i32>(active && fourLeFive(equity, mm)) << 2);
      liquidatable += liq;
    }
    store<i64>(oN + p8, notional & keep);
    store<i64>(oU + p8, upnl & keep);
    store<i64>(oMM + p8, mm & keep);
    store<i64>(oIM + p8, im & keep);
    store<i64>(oE + p8, equity & keep);
    store<i32>(oTier + p4, t & <i32>keep);
    store<i32>(oStatus + p4, status);
  }
  return liquidatable;
}

/**
 * Adds the cross positions (the first `count`, or the listed ones) to their accounts' exact
 * sums, from the position outputs. A separate pass on purpose: positions reach accounts in
 * random order, and in this short loop the CPU keeps many of those cache misses in flight,
 * which it cannot do inside the long position loop.
 */
function accumulateAccounts(count: i32, listed: bool): void {
  const pQty = fieldPtr(F_POS_QTY);
  const pAcct = fieldPtr(F_POS_ACCT);
  const pMode = fieldPtr(F_POS_MODE);
  const oU = fieldPtr(F_POS_U);
  const oMM = fieldPtr(F_POS_MM);
  const oIM = fieldPtr(F_POS_IM);
  const oStatus = fieldPtr(F_POS_STATUS);
  const list = fieldPtr(F_LIST);
  const accBase = fieldPtr(F_ACCT_ACC);
  for (let j = 0; j < count; j++) {
    const p: i32 = listed ? load<i32>(list + (<usize>j << 2)) : j;
    const p8 = <usize>p << 3;
    const p4 = <usize>p << 2;
    // Isolated positions add zero (branch-free); overflowed ones have zero figures and
    // flag the account instead.
    const cross = <i32>(load<i32>(pMode + p4) != MODE_ISOLATED);
    const ovf = (load<i32>(oStatus + p4) & POS_OVERFLOW) >> 1;
    const take: i64 = -(<i64>cross);
    const du = load<i64>(oU + p8) & take;
    const dmm = load<i64>(oMM + p8) & take;
    const dim = load<i64>(oIM + p8) & take;
    const acc = accBase + (<usize>load<i32>(pAcct + p4) << ACC_SHIFT);
    const e0 = load<i64>(acc + ACC_E_LO);
    const e1 = e0 + du;
    store<i64>(acc + ACC_E_LO, e1);
    store<i64>(acc + ACC_E_HI, load<i64>(acc + ACC_E_HI) + (du >> 63) + <i64>(<u64>e1 < <u64>e0));
    const m0 = load<i64>(acc + ACC_MM_LO);
    const m1 = m0 + dmm;
    store<i64>(acc + ACC_MM_LO, m1);
    store<i64>(acc + ACC_MM_HI, load<i64>(acc + ACC_MM_HI) + (dmm >> 63) + <i64>(<u64>m1 < <u64>m0));
    const n0 = load<i64>(acc + ACC_IM_LO);
    const n1 = n0 + dim;
    store<i64>(acc + ACC_IM_LO, n1);
    store<i64>(acc + ACC_IM_HI, load<i64>(acc + ACC_IM_HI) + (dim >> 63) + <i64>(<u64>n1 < <u64>n0));
    const hasQty = <i32>(load<i64>(pQty + p8) != 0);
    store<i32>(acc + ACC_FLAGS, load<i32>(acc + ACC_FLAGS) | ((cross & hasQty) << 3) | ((cross & ovf) << 1));
  }
}

/** All positions in [0, nPos) and all accounts in [0, nAcct). Returns liquidatable count or -code. */
export function computeAll(nPos: i32, nAcct: i32): i32 {
  if (<u32>nPos > <u32>posCapacity() || <u32>nAcct > <u32>acctCapacity()) return fail(ERR_COUNT, 0);
  for (let a = 0; a < nAcct; a++) resetAccount(<usize>a);
  const n = computePositions(nPos, nAcct, false);
  if (n < 0) return n;
  accumulateAccounts(nPos, false);
  let total = n;
  for (let a = 0; a < nAcct; a++) total += finalizeAccount(<usize>a);
  return total;
}

function unmark(from: i32, to: i32): void {
  const list = fieldPtr(F_LIST);
  const st = fieldPtr(F_POS_STATUS);
  for (let j = from; j < to; j++) {
    const s = st + (<usize>load<i32>(list + (<usize>j << 2)) << 2);
    store<i32>(s, load<i32>(s) & ~POS_LISTED);
  }
}

/**
 * The `count` positions in the list region, and their accounts (sums over the listed
 * positions only). Returns the liquidatable count or -code.
 */
export function computeList(count: i32): i32 {
  const posCap = posCapacity();
  const acctCap = acctCapacity();
  if (<u32>count > <u32>posCap) return fail(ERR_COUNT, 0);
  const list = fieldPtr(F_LIST);
  const st = fieldPtr(F_POS_STATUS);
  const pAcct = fieldPtr(F_POS_ACCT);
  // Pass 1: check the list, mark listed positions (duplicates are an error), reset accounts.
  for (let j = 0; j < count; j++) {
    const p = load<i32>(list + (<usize>j << 2));
    if (<u32>p >= <u32>posCap) {
      unmark(0, j);
      return fail(ERR_LIST_INDEX, j);
    }
    const s = st + (<usize>p << 2);
    const status = load<i32>(s);
    if ((status & POS_LISTED) != 0) {
      unmark(0, j);
      return fail(ERR_LIST_DUPLICATE, j);
    }
    store<i32>(s, status | POS_LISTED);
    const a = load<i32>(pAcct + (<usize>p << 2));
    if (<u32>a >= <u32>acctCap) {
      unmark(0, j + 1);
      return fail(ERR_ACCOUNT_INDEX, p);
    }
    resetAccount(<usize>a);
  }
  // Pass 2: positions (overwrites each status, which clears the mark).
  const n = computePositions(count, acctCap, true);
  if (n < 0) {
    unmark(0, count);
    return n;
  }
  accumulateAccounts(count, true);
  // Pass 3: each account once.
  let total = n;
  const accBase = fieldPtr(F_ACCT_ACC);
  for (let j = 0; j < count; j++) {
    const a = <usize>load<i32>(pAcct + (<usize>load<i32>(list + (<usize>j << 2)) << 2));
    const fl = accBase + (a << ACC_SHIFT) + ACC_FLAGS;
    const flags = load<i32>(fl);
    if ((flags & ACCT_FINALIZED) != 0) continue;
    store<i32>(fl, flags | ACCT_FINALIZED);
    total += finalizeAccount(a);
  }
  return total;
}
