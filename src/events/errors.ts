// Rejection codes. Every rejected event gets one code and a message naming the field;
// it changes nothing, stays in the log and is listed in the report.

export const ERROR_CODES = {
  E_JSON: "the input is not a JSON object",
  E_SCHEMA: "unknown type, missing field or wrong field type",
  E_RANGE: "a field's value is outside its allowed range (negative amount, zero quantity, rate > 1, …)",
  E_PRECISION: "a price off the tick grid, a quantity off the lot grid, or more decimals than allowed",
  E_UNKNOWN: "unknown symbol, asset, account or order",
  E_DUPLICATE: "an event with this type and id was already applied",
  E_INSTRUMENT: "invalid instrument definition (k not a positive integer, tiers out of order, …)",
  E_ASSET: "invalid asset definition (second settlement asset, changed decimals, …)",
  E_LEVERAGE: "leverage outside 1..maxLeverage of the position's tier",
  E_MODE: "margin mode change with an open position, or an isolated-only action on a cross position",
  E_MARGIN: "would leave equity below initial margin or a balance below zero",
  E_OVERFLOW: "a result would overflow the 64-bit representation",
  E_TOO_LARGE: "the message exceeds the size limit",
  E_ORDER: "order rejected by the matching engine's rules (post-only cross, FOK unfillable, reduce-only, …)",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A decided rejection. `field` is the offending field's path when there is one. */
export interface Rejection {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
}

export function reject(code: ErrorCode, field: string | undefined, message: string): Rejection {
  return field === undefined ? { code, message } : { code, field, message: `${field}: ${message}` };
}

/** Thrown inside decide steps to abort the event with a rejection; caught at the decide boundary. */
export class RejectError extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.message);
  }
}
