// SPEC §3 liquidation and bankruptcy prices of one position, exact (128-bit where needed).
// Same definition as src/margin/reference.ts (see its comments for the derivation); the
// reference solves each tier segment in closed form with BigInt, this searches it with
// 128-bit comparisons, so the two are independent checks of each other.
import {
  F_ACCT_E,
  F_ACCT_MM,
  F_ACCT_STATUS,
  F_INST_K,
  F_INST_TIER_COUNT,
  F_POS_ACCT,
  F_POS_COST,
  F_POS_INST,
  F_POS_MARGIN,
  F_POS_MM,
  F_POS_MODE,
  F_POS_QTY,
  F_POS_STATUS,
  F_POS_U,
  F_TIER_CUM,
  F_TIER_MAX,
  F_TIER_MMR,
  MAX_TIERS,
  acctCapacity,
  fieldPtr,
  instCapacity,
  posCapacity,
} from "./layout";
import { Q_HI, Q_LO, REM_HI, REM_LO, R_HI, R_LO, add, le, lt, smul, sub, udivmod, umul } from "./i128";
import {
  ERR_ACCOUNT_INDEX,
  ERR_COUNT,
  ERR_INSTRUMENT_INDEX,
  ERR_K,
  ERR_MMR,
  ERR_MODE,
  ERR_TIER_COUNT,
  RATE_SCALE,
  fail,
} from "./errors";

const MODE_ISOLATED = 1;
const POS_OVERFLOW = 2;
const ACCT_OVERFLOW = 2;
const I64_MAX: i64 = 0x7fffffffffffffff;
const TICK_MAX: i64 = (1 << 53) - 1;

let resHi: i64 = 0;
let resLo: u64 = 0;

/** High word of the last bankruptcy price. */
export function resultHi(): i64 {
  return resHi;
}

/** Low word of the last bankruptcy price. */
export function resultLo(): i64 {
  return <i64>resLo;
}

@inline
function floorDiv(x: i64, d: i64): i64 {
  const q = x / d;
  return x % d != 0 && x < 0 ? q - 1 : q;
}

/** Checks what the price functions read of position p. Returns 0 or -code. */
function checkPosition(p: i32, needTiers: bool): i32 {
  const p4 = <usize>p << 2;
  const inst = load<i32>(fieldPtr(F_POS_INST) + p4);
  if (<u32>inst >= <u32>instCapacity()) return fail(ERR_INSTRUMENT_INDEX, p);
  if (<u32>load<i32>(fieldPtr(F_POS_ACCT) + p4) >= <u32>acctCapacity()) return fail(ERR_ACCOUNT_INDEX, p);
  if (<u32>load<i32>(fieldPtr(F_POS_MODE) + p4) > 1) return fail(ERR_MODE, p);
  if (load<i64>(fieldPtr(F_INST_K) + (<usize>inst << 3)) < 1) return fail(ERR_K, p);
  if (!needTiers) return 0;
  const tc = load<i32>(fieldPtr(F_INST_TIER_COUNT) + (<usize>inst << 2));
  if (<u32>(tc - 1) >= <u32>MAX_TIERS) return fail(ERR_TIER_COUNT, p);
  const tMmr = fieldPtr(F_TIER_MMR) + ((<usize>inst * MAX_TIERS) << 3);
  for (let t = 0; t < tc; t++) {
    if (<u64>load<i64>(tMmr + (<usize>t << 3)) > <u64>RATE_SCALE) return fail(ERR_MMR, p);
  }
  return 0;
}

/**
 * Liquidation price of position p in ticks; 0 for null, -code on a bad input.
 * Predicate at mark M (A = |q|·k, tier t of N = A·M, G = X − k·C + cum_t, where X is the
 * isolated margin m, or for a cross position D = E_a − U_p − MM_a + MM_p):
 *   long:  A·M·(1e8 − mmr_t) < −G·1e8        short: A·M·(1e8 + mmr_t) > G·1e8
 * Each is monotone in M within a tier segment; across segments it need not be.
 */
export function liquidationPrice(p: i32): i64 {
  if (<u32>p >= <u32>posCapacity()) return fail(ERR_COUNT, p);
  const bad = checkPosition(p, true);
  if (bad < 0) return bad;
  const p8 = <usize>p << 3;
  const p4 = <usize>p << 2;
  const q = load<i64>(fieldPtr(F_POS_QTY) + p8);
  if (q == 0) return 0;
  const inst = load<i32>(fieldPtr(F_POS_INST) + p4);
  const k = load<i64>(fieldPtr(F_INST_K) + (<usize>inst << 3));
  const absQ: u64 = q < 0 ? <u64>0 - <u64>q : <u64>q;
  umul(absQ, <u64>k);
  if (R_HI != 0 || R_LO > <u64>I64_MAX) return 0; // no mark keeps the notional representable
  const aa = <i64>R_LO;
  let mMax = I64_MAX / aa;
  if (mMax > TICK_MAX) mMax = TICK_MAX;
  if (mMax < 1) return 0;

  // X as a 128-bit value.
  let xH: i64;
  let xL: u64;
  if (load<i32>(fieldPtr(F_POS_MODE) + p4) == MODE_ISOLATED) {
    const m = load<i64>(fieldPtr(F_POS_MARGIN) + p8);
    xH = m >> 63;
    xL = <u64>m;
  } else {
    const a = <usize>load<i32>(fieldPtr(F_POS_ACCT) + p4);
    if ((load<i32>(fieldPtr(F_ACCT_STATUS) + (a << 2)) & ACCT_OVERFLOW) != 0) return 0;
    if ((load<i32>(fieldPtr(F_POS_STATUS) + p4) & POS_OVERFLOW) != 0) return 0;
    const ea = load<i64>(fieldPtr(F_ACCT_E) + (a << 3));
    const mma = load<i64>(fieldPtr(F_ACCT_MM) + (a << 3));
    const up = load<i64>(fieldPtr(F_POS_U) + p8);
    const mmp = load<i64>(fieldPtr(F_POS_MM) + p8);
    sub(ea >> 63, <u64>ea, up >> 63, <u64>up);
    sub(R_HI, R_LO, mma >> 63, <u64>mma);
    add(R_HI, R_LO, mmp >> 63, <u64>mmp);
    xH = R_HI;
    xL = R_LO;
  }
  // B0 = X − k·C
  smul(k, load<i64>(fieldPtr(F_POS_COST) + p8));
  sub(xH, xL, R_HI, R_LO);
  const b0H = R_HI;
  const b0L = R_LO;

  const tc = load<i32>(fieldPtr(F_INST_TIER_COUNT) + (<usize>inst << 2));
  const tierBase = fieldPtr(F_TIER_MAX) + ((<usize>inst * MAX_TIERS) << 3);
  const mmrBase = fieldPtr(F_TIER_MMR) + ((<usize>inst * MAX_TIERS) << 3);
  const cumBase = fieldPtr(F_TIER_CUM) + ((<usize>inst * MAX_TIERS) << 3);
  const long = q > 0;
  for (let s = 0; s < tc; s++) {
    // Longs want the highest tick: scan segments from the top; shorts from the bottom.
    const t = long ? tc - 1 - s : s;
    // Segment of tier t: A·M > max of earlier tiers' maxNotional, and A·M <= its own
    // (the last tier has no upper bound).
    let lo: i64 = 1;
    if (t > 0) {
      let prev = load<i64>(tierBase);
      for (let j = 1; j < t; j++) {
        const v = load<i64>(tierBase + (<usize>j << 3));
        if (v > prev) prev = v;
      }
      const f = floorDiv(prev, aa);
      if (f >= mMax) continue;
      if (f + 1 > lo) lo = f + 1;
    }
    let hi = mMax;
    if (t < tc - 1) {
      const f = floorDiv(load<i64>(tierBase + (<usize>t << 3)), aa);
      if (f < hi) hi = f;
    }
    if (lo > hi) continue;

    const mmr = load<i64>(mmrBase + (<usize>t << 3));
    const cum = load<i64>(cumBase + (<usize>t << 3));
    add(b0H, b0L, cum >> 63, <u64>cum); // G = B0 + cum_t
    const gH = R_HI;
    const gL = R_LO;
    if (long) {
      // T = −G: none when T <= 0; every tick when T >= 2^63 (A·M·w < 2^63·1e8).
      if (gH >= 0) continue;
      sub(0, 0, gH, gL);
      if (R_HI != 0 || R_LO > <u64>I64_MAX) return hi;
      umul(R_LO, <u64>RATE_SCALE);
      const rH = R_HI;
      const rL = R_LO;
      const w = <u64>(RATE_SCALE - mmr);
      // pred(M): A·M·w < T·1e8
      umul(<u64>(aa * hi), w);
      if (lt(R_HI, R_LO, rH, rL)) return hi;
      umul(<u64>(aa * lo), w);
      if (!lt(R_HI, R_LO, rH, rL)) continue;
      let yes = lo; // pred(yes), !pred(no)
      let no = hi;
      while (no - yes > 1) {
        const mid = yes + ((no - yes) >> 1);
        umul(<u64>(aa * mid), w);
        if (lt(R_HI, R_LO, rH, rL)) yes = mid;
        else no = mid;
      }
      return yes;
    } else {
      // S = G: every tick when S < 0; none when S >= 2^64 (A·M·v < 2^64·1e8).
      if (gH < 0) return lo;
      if (gH != 0) continue;
      umul(gL, <u64>RATE_SCALE);
      const rH = R_HI;
      const rL = R_LO;
      const v = <u64>(RATE_SCALE + mmr);
      // pred(M): A·M·v > S·1e8
      umul(<u64>(aa * lo), v);
      if (lt(rH, rL, R_HI, R_LO)) return lo;
      umul(<u64>(aa * hi), v);
      if (!lt(rH, rL, R_HI, R_LO)) continue;
      let no = lo;
      let yes = hi;
      while (yes - no > 1) {
        const mid = no + ((yes - no) >> 1);
        umul(<u64>(aa * mid), v);
        if (lt(rH, rL, R_HI, R_LO)) yes = mid;
        else no = mid;
      }
      return yes;
    }
  }
  return 0;
}

/**
 * Bankruptcy price of isolated position p: M with m + k(qM − C) = 0, i.e. (kC − m)/(kq),
 * rounded up (long) / down (short). Returns 1 with the value in resultHi/resultLo, 0 for
 * null (cross, q = 0, or a rounded price <= 0), or -code.
 */
export function bankruptcyPrice(p: i32): i32 {
  if (<u32>p >= <u32>posCapacity()) return fail(ERR_COUNT, p);
  const bad = checkPosition(p, false);
  if (bad < 0) return bad;
  const p8 = <usize>p << 3;
  const p4 = <usize>p << 2;
  const q = load<i64>(fieldPtr(F_POS_QTY) + p8);
  if (q == 0 || load<i32>(fieldPtr(F_POS_MODE) + p4) != MODE_ISOLATED) return 0;
  const inst = load<i32>(fieldPtr(F_POS_INST) + p4);
  const k = load<i64>(fieldPtr(F_INST_K) + (<usize>inst << 3));
  const m = load<i64>(fieldPtr(F_POS_MARGIN) + p8);
  smul(k, load<i64>(fieldPtr(F_POS_COST) + p8));
  // num = kC − m (long) or m − kC (short); den = k·|q| < 2^126.
  if (q > 0) sub(R_HI, R_LO, m >> 63, <u64>m);
  else sub(m >> 63, <u64>m, R_HI, R_LO);
  const nH = R_HI;
  const nL = R_LO;
  if (le(nH, nL, 0, 0)) return 0;
  umul(<u64>k, q < 0 ? <u64>0 - <u64>q : <u64>q);
  udivmod(<u64>nH, nL, <u64>R_HI, R_LO);
  let qH = Q_HI;
  let qL = Q_LO;
  if (q > 0 && (REM_HI | REM_LO) != 0) {
    qL += 1;
    if (qL == 0) qH += 1;
  }
  if ((qH | qL) == 0) return 0;
  resHi = <i64>qH;
  resLo = qL;
  return 1;
}
