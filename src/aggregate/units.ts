// Decimal → integer units, with the rejection each failure deserves (SPEC §2).
import { decimalToScaled, decimalToSteps, decimalToString, type Decimal } from "../numbers/decimal.js";
import { I64_MAX, RATE_DECIMALS, RATE_SCALE, TICK_MAX } from "../numbers/int.js";
import { reject, RejectError } from "../events/errors.js";
import type { Instrument } from "./state.js";

export function fail(code: Parameters<typeof reject>[0], field: string | undefined, message: string): never {
  throw new RejectError(reject(code, field, message));
}

/** A price as ticks of the instrument: on the grid (E_PRECISION) and in [1, 2^53) (E_RANGE). */
export function toTicks(d: Decimal, inst: Instrument, field: string): bigint {
  const ticks = decimalToSteps(d, inst.tickSize);
  if (ticks === null) fail("E_PRECISION", field, `${decimalToString(d)} is not a multiple of the tick size ${decimalToString(inst.tickSize)}`);
  if (ticks < 1n || ticks > TICK_MAX) fail("E_RANGE", field, `must be positive and below 2^53 ticks`);
  return ticks;
}

/** A quantity as lots: on the grid and positive. */
export function toLots(d: Decimal, inst: Instrument, field: string): bigint {
  const lots = decimalToSteps(d, inst.lotSize);
  if (lots === null) fail("E_PRECISION", field, `${decimalToString(d)} is not a multiple of the lot size ${decimalToString(inst.lotSize)}`);
  if (lots < 1n) fail("E_RANGE", field, "must be positive");
  if (lots > I64_MAX) fail("E_OVERFLOW", field, "overflows the 64-bit representation");
  return lots;
}

/** An amount of an asset in minor units; the sign is the caller's business. */
export function toMinor(d: Decimal, decimals: number, field: string): bigint {
  const v = decimalToScaled(d, decimals);
  if (v === null) fail("E_PRECISION", field, `${decimalToString(d)} has more than ${decimals} decimals`);
  if (v > I64_MAX || v < -I64_MAX) fail("E_OVERFLOW", field, "overflows the 64-bit representation");
  return v;
}

/** A rate in 1e-8 units within [min, max] (given in 1e-8 units). */
export function toRateE8(d: Decimal, field: string, minE8: bigint, maxE8: bigint): bigint {
  const v = decimalToScaled(d, RATE_DECIMALS);
  if (v === null) fail("E_PRECISION", field, `${decimalToString(d)} has more than ${RATE_DECIMALS} decimals`);
  if (v < minE8 || v > maxE8) {
    fail("E_RANGE", field, `must be within [${fmtRate(minE8)}, ${fmtRate(maxE8)}]`);
  }
  return v;
}

function fmtRate(e8: bigint): string {
  return (Number(e8) / Number(RATE_SCALE)).toString();
}
