// Decimal strings ↔ integer units: exact, or rejected — never rounded by a float.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decimalToScaled, decimalToSteps, formatScaled, formatSteps, parseDecimal } from "../../src/numbers/decimal.js";

describe("parseDecimal", () => {
  it("accepts plain decimals and safe JSON integers, nothing else", () => {
    expect(parseDecimal("50000.50")).toEqual({ mantissa: 500005n, scale: 1 });
    expect(parseDecimal("-0.001")).toEqual({ mantissa: -1n, scale: 3 });
    expect(parseDecimal(42)).toEqual({ mantissa: 42n, scale: 0 });
    for (const bad of ["", "1e3", "0x10", ".5", "5.", "1,5", " 1", "+1", "NaN", 1.5, 2 ** 60, null, {}, "1".repeat(65)]) {
      expect(parseDecimal(bad), String(bad)).toBeNull();
    }
  });
  it("round-trips through formatScaled for any integer and scale", () => fc.assert(fc.property(
    fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }), fc.integer({ min: 0, max: 18 }), (v, scale) => {
      const d = parseDecimal(formatScaled(v, scale));
      return d !== null && decimalToScaled(d, scale) === v;
    })));
});

describe("grid conversions", () => {
  it("prices become ticks exactly, off-grid is null", () => {
    const tick = parseDecimal("0.1")!;
    expect(decimalToSteps(parseDecimal("47690.7")!, tick)).toBe(476907n);
    expect(decimalToSteps(parseDecimal("47690.75")!, tick)).toBeNull();
    expect(formatSteps(476907n, tick)).toBe("47690.7");
    const half = parseDecimal("0.5")!;
    expect(decimalToSteps(parseDecimal("2.5")!, half)).toBe(5n);
    expect(decimalToSteps(parseDecimal("2.25")!, half)).toBeNull();
  });
  it("amounts with more decimals than the asset are rejected", () => {
    expect(decimalToScaled(parseDecimal("1.0000001")!, 6)).toBeNull();
    expect(decimalToScaled(parseDecimal("1.000000100")!, 6)).toBeNull();
    expect(decimalToScaled(parseDecimal("1.100000000")!, 6)).toBe(1_100_000n);
  });
  it("decimalToSteps and decimalToScaled are their definitions (exact multiple, else null), any scales", () => fc.assert(fc.property(
    fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.integer({ min: 0, max: 45 }), fc.constantFrom(1n, 2n, 5n, 10n, 25n, 7n), fc.integer({ min: 0, max: 45 }),
    (mantissa, scale, stepMantissa, stepScale) => {
      const d = { mantissa, scale };
      const step = { mantissa: stepMantissa, scale: stepScale };
      // value / step = (mantissa · 10^stepScale) / (stepMantissa · 10^scale): an integer or off the grid.
      const num = mantissa * 10n ** BigInt(stepScale);
      const den = stepMantissa * 10n ** BigInt(scale);
      expect(decimalToSteps(d, step)).toBe(num % den === 0n ? num / den : null);
      expect(decimalToScaled(d, stepScale)).toBe(scale > stepScale ? null : mantissa * 10n ** BigInt(stepScale - scale));
    })));
  it("steps · step formats back to the same value", () => fc.assert(fc.property(
    fc.bigInt({ min: -(1n << 60n), max: 1n << 60n }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 0, max: 8 }), (n, m, s) => {
      const step = { mantissa: BigInt(m), scale: s };
      return decimalToSteps(parseDecimal(formatSteps(n, step))!, step) === n;
    })));
});
