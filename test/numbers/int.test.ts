// Every division states its rounding: each helper is checked against its definition.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checkI64, divCeil, divFloor, divHalfEven, divTrunc, I64_MAX, I64_MIN, mulRateCeil, mulRateFloor, OverflowError, RATE_SCALE } from "../../src/numbers/int.js";

const big = fc.bigInt({ min: -(1n << 100n), max: 1n << 100n });
const pos = fc.bigInt({ min: 1n, max: 1n << 70n });

describe("rounding divisions", () => {
  it("divFloor: q·d ≤ n < (q+1)·d", () => fc.assert(fc.property(big, pos, (n, d) => {
    const q = divFloor(n, d);
    return q * d <= n && n < (q + 1n) * d;
  })));
  it("divCeil: (q−1)·d < n ≤ q·d", () => fc.assert(fc.property(big, pos, (n, d) => {
    const q = divCeil(n, d);
    return (q - 1n) * d < n && n <= q * d;
  })));
  it("divTrunc rounds toward zero", () => fc.assert(fc.property(big, pos, (n, d) => {
    const q = divTrunc(n, d);
    return n >= 0n ? q === divFloor(n, d) : q === divCeil(n, d);
  })));
  it("divHalfEven: nearest, ties to even", () => fc.assert(fc.property(big, pos, (n, d) => {
    const q = divHalfEven(n, d);
    const twice = 2n * (n - q * d); // 2·remainder ∈ [−d, d]
    if (twice > d || twice < -d) return false;
    if (twice === d || twice === -d) return q % 2n === 0n;
    return true;
  })));
  it("examples", () => {
    expect(divFloor(-7n, 2n)).toBe(-4n);
    expect(divCeil(-7n, 2n)).toBe(-3n);
    expect(divTrunc(-7n, 2n)).toBe(-3n);
    expect(divHalfEven(5n, 2n)).toBe(2n);
    expect(divHalfEven(7n, 2n)).toBe(4n);
    expect(divHalfEven(-5n, 2n)).toBe(-2n);
    expect(mulRateCeil(25_000_050n, 50_000n)).toBe(12_501n); // 12500.025 → up
    expect(mulRateFloor(25_000_050n, 50_000n)).toBe(12_500n);
    expect(() => divFloor(1n, 0n)).toThrow(RangeError);
  });
  it("rates: ceil and floor bracket the exact product", () => fc.assert(fc.property(big, fc.bigInt({ min: -RATE_SCALE, max: RATE_SCALE }), (x, r) => {
    const lo = mulRateFloor(x, r);
    const hi = mulRateCeil(x, r);
    return lo * RATE_SCALE <= x * r && x * r <= hi * RATE_SCALE && hi - lo <= 1n;
  })));
});

describe("64-bit range", () => {
  it("checkI64 passes the bounds and rejects one past them", () => {
    expect(checkI64(I64_MAX, "x")).toBe(I64_MAX);
    expect(checkI64(I64_MIN, "x")).toBe(I64_MIN);
    expect(() => checkI64(I64_MAX + 1n, "x")).toThrow(OverflowError);
    expect(() => checkI64(I64_MIN - 1n, "balance")).toThrow(/balance overflows/);
  });
});
