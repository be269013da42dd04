// Minimal 128-bit integer helpers (two's complement, hi:i64 signed / lo:u64). Results go to
// the globals R_HI/R_LO (and Q_*/REM_* for division): the kernel must not allocate.

export let R_HI: i64 = 0;
export let R_LO: u64 = 0;

/** Unsigned 64×64 → 128. */
@inline
export function umul(a: u64, b: u64): void {
  const aL = a & 0xffffffff;
  const aH = a >> 32;
  const bL = b & 0xffffffff;
  const bH = b >> 32;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  R_LO = (mid << 32) | (ll & 0xffffffff);
  R_HI = <i64>(hh + (lh >> 32) + (hl >> 32) + (mid >> 32));
}

/** Signed 64×64 → 128: the unsigned product, corrected for negative operands. */
@inline
export function smul(a: i64, b: i64): void {
  umul(<u64>a, <u64>b);
  R_HI = R_HI - (a < 0 ? b : 0) - (b < 0 ? a : 0);
}

@inline
export function add(aH: i64, aL: u64, bH: i64, bL: u64): void {
  const lo = aL + bL;
  R_HI = aH + bH + <i64>(lo < aL);
  R_LO = lo;
}

@inline
export function sub(aH: i64, aL: u64, bH: i64, bL: u64): void {
  const lo = aL - bL;
  R_HI = aH - bH - <i64>(aL < bL);
  R_LO = lo;
}

/** Signed a < b. */
@inline
export function lt(aH: i64, aL: u64, bH: i64, bL: u64): bool {
  return aH < bH || (aH == bH && aL < bL);
}

/** Signed a <= b. */
@inline
export function le(aH: i64, aL: u64, bH: i64, bL: u64): bool {
  return aH < bH || (aH == bH && aL <= bL);
}

/** True when the exact signed product a·b fits in i64 — exact, for the rare slow path. */
export function mulFits(a: i64, b: i64): bool {
  smul(a, b);
  return R_HI == (<i64>R_LO >> 63);
}

/**
 * Whether a·b (wrapped result r) overflowed i64. Fast path: when the float product is below
 * 2^62 the exact one is below 2^63 (float error is far under 2^-50 relative).
 */
@inline
export function mulOverflows(a: i64, b: i64): i32 {
  if (Math.abs(<f64>a * <f64>b) < 4.611686018427388e18) return 0;
  return <i32>!mulFits(a, b);
}

@inline
export function addOverflows(a: i64, b: i64, r: i64): i32 {
  return <i32>(((a ^ r) & (b ^ r)) < 0);
}

@inline
export function subOverflows(a: i64, b: i64, r: i64): i32 {
  return <i32>(((a ^ b) & (a ^ r)) < 0);
}

/** Exact 4·e <= 5·mm for any i64 e, mm (both sides need up to 66 bits). */
@inline
export function fourLeFive(e: i64, mm: i64): bool {
  const lH = e >> 62;
  const lL = <u64>e << 2;
  const m4L = <u64>mm << 2;
  const m5L = m4L + <u64>mm;
  const m5H = (mm >> 62) + (mm >> 63) + <i64>(m5L < m4L);
  return le(lH, lL, m5H, m5L);
}

export let Q_HI: u64 = 0;
export let Q_LO: u64 = 0;
export let REM_HI: u64 = 0;
export let REM_LO: u64 = 0;

/**
 * Unsigned 128/128 long division (shift-subtract). Requires d != 0 and d < 2^127 (so the
 * shifted remainder never loses a bit). Only used off the hot path.
 */
export function udivmod(nH: u64, nL: u64, dH: u64, dL: u64): void {
  let qH: u64 = 0;
  let qL: u64 = 0;
  let rH: u64 = 0;
  let rL: u64 = 0;
  for (let i = 127; i >= 0; i--) {
    const bit = i >= 64 ? (nH >> <u64>(i - 64)) & 1 : (nL >> <u64>i) & 1;
    rH = (rH << 1) | (rL >> 63);
    rL = (rL << 1) | bit;
    if (rH > dH || (rH == dH && rL >= dL)) {
      const borrow = <u64>(rL < dL);
      rL = rL - dL;
      rH = rH - dH - borrow;
      if (i >= 64) qH |= <u64>1 << <u64>(i - 64);
      else qL |= <u64>1 << <u64>i;
    }
  }
  Q_HI = qH;
  Q_LO = qL;
  REM_HI = rH;
  REM_LO = rL;
}
