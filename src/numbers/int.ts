// Exact integer arithmetic for money paths. State values are signed 64-bit
// (the kernel's representation); intermediates are BigInt (unbounded), and every
// result that lands in state is range-checked: overflow is reported, never wrapped.

export const I64_MAX = (1n << 63n) - 1n;
export const I64_MIN = -(1n << 63n);
/** Mark prices and order prices live in ticks in [1, 2^53). */
export const TICK_MAX = (1n << 53n) - 1n;
/** Rates, haircuts, shares: integers in units of 1e-8. */
export const RATE_SCALE = 100_000_000n;
export const RATE_DECIMALS = 8;

export class OverflowError extends Error {
  constructor(readonly what: string) {
    super(`${what} overflows the 64-bit representation`);
  }
}

export function inI64(x: bigint): boolean {
  return x >= I64_MIN && x <= I64_MAX;
}

/** Returns x when it fits in i64, else throws OverflowError naming `what`. */
export function checkI64(x: bigint, what: string): bigint {
  if (x < I64_MIN || x > I64_MAX) throw new OverflowError(what);
  return x;
}

export function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

export function sign(x: bigint): bigint {
  return x > 0n ? 1n : x < 0n ? -1n : 0n;
}

export function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** floor(n / d), d > 0. BigInt `/` truncates toward zero, so negatives need a step. */
export function divFloor(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError("divFloor: divisor must be positive");
  const q = n / d;
  return n < 0n && q * d !== n ? q - 1n : q;
}

/** ceil(n / d), d > 0. */
export function divCeil(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError("divCeil: divisor must be positive");
  const q = n / d;
  return n > 0n && q * d !== n ? q + 1n : q;
}

/** trunc(n / d): toward zero, any nonzero d. */
export function divTrunc(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError("divTrunc: division by zero");
  return n / d;
}

/** Round half to even, d > 0. */
export function divHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError("divHalfEven: divisor must be positive");
  const q = divFloor(n, d);
  const r2 = (n - q * d) * 2n;
  if (r2 > d) return q + 1n;
  if (r2 < d) return q;
  return q % 2n === 0n ? q : q + 1n;
}

/** ceil(x · rate / 1e8): a charge against the account (margin, fees). */
export function mulRateCeil(x: bigint, rateE8: bigint): bigint {
  return divCeil(x * rateE8, RATE_SCALE);
}

/** floor(x · rate / 1e8): a credit to the account (rebates, haircut value). */
export function mulRateFloor(x: bigint, rateE8: bigint): bigint {
  return divFloor(x * rateE8, RATE_SCALE);
}
