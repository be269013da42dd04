// Decimal strings <-> scaled integers. Floats never touch the value: the string is
// split into digits and an exponent, and every conversion is exact or rejected.

/** An exact decimal: value = mantissa · 10^-scale. */
export interface Decimal {
  readonly mantissa: bigint;
  readonly scale: number;
}

/** Inputs longer than this are rejected before any BigInt work (bounds parse cost). */
export const DECIMAL_MAX_CHARS = 64;

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * Parses "123", "-0.50", "1e3"-free plain decimals. A JSON number is accepted when it is a
 * safe integer (SPEC §2). Returns null for anything else (the caller names the field).
 */
export function parseDecimal(input: unknown): Decimal | null {
  if (typeof input === "number") {
    return Number.isSafeInteger(input) ? { mantissa: BigInt(input), scale: 0 } : null;
  }
  if (typeof input !== "string" || input.length === 0 || input.length > DECIMAL_MAX_CHARS) return null;
  const m = DECIMAL_RE.exec(input);
  if (m === null) return null;
  const frac = (m[3] ?? "").replace(/0+$/, "");
  const digits = BigInt(m[2]! + frac);
  return { mantissa: m[1] === "-" ? -digits : digits, scale: frac.length };
}

/** 10^0 … 10^40, built once: `10n ** BigInt(n)` allocates two BigInts on every call. */
const POW10: readonly bigint[] = Array.from({ length: 41 }, (_, n) => 10n ** BigInt(n));

/** 10^n, n ≥ 0 an integer. */
export function pow10(n: number): bigint {
  return n < POW10.length ? POW10[n]! : 10n ** BigInt(n);
}

/**
 * The decimal as an integer count of units of 10^-scale, or null when it has more
 * decimals than that (off the grid: E_PRECISION at the caller).
 */
export function decimalToScaled(d: Decimal, scale: number): bigint | null {
  if (d.scale > scale) return null;
  return d.scale === scale ? d.mantissa : d.mantissa * pow10(scale - d.scale);
}

/**
 * The decimal as an integer multiple of `step` (itself a decimal > 0), or null when the
 * value is not on the step grid. Used for prices → ticks and quantities → lots.
 */
export function decimalToSteps(d: Decimal, step: Decimal): bigint | null {
  const scale = Math.max(d.scale, step.scale);
  const v = d.scale === scale ? d.mantissa : d.mantissa * pow10(scale - d.scale);
  const s = step.scale === scale ? step.mantissa : step.mantissa * pow10(scale - step.scale);
  if (s <= 0n) throw new RangeError("decimalToSteps: step must be positive");
  if (s === 1n) return v; // the usual tick or lot of 10^-n: every integer is on the grid
  return v % s === 0n ? v / s : null;
}

/** Formats `value · 10^-scale` as a plain decimal string, trailing zeros kept to `scale`. */
export function formatScaled(value: bigint, scale: number): string {
  const neg = value < 0n;
  const digits = (neg ? -value : value).toString();
  if (scale === 0) return (neg ? "-" : "") + digits;
  const padded = digits.padStart(scale + 1, "0");
  const int = padded.slice(0, padded.length - scale);
  const frac = padded.slice(padded.length - scale);
  return `${neg ? "-" : ""}${int}.${frac}`;
}

/** Formats `steps · step` (e.g. ticks → price string with the tick's decimals). */
export function formatSteps(steps: bigint, step: Decimal): string {
  return formatScaled(steps * step.mantissa, step.scale);
}

export function decimalToString(d: Decimal): string {
  return formatScaled(d.mantissa, d.scale);
}
