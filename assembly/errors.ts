// Input error codes: the same numbers as src/margin/book.ts (ERR_*).
export const ERR_INSTRUMENT_INDEX = 1;
export const ERR_ACCOUNT_INDEX = 2;
export const ERR_MODE = 3;
export const ERR_LEVERAGE = 4;
export const ERR_K = 5;
export const ERR_MARK = 6;
export const ERR_TIER_COUNT = 7;
export const ERR_MMR = 8;
export const ERR_LIST_INDEX = 9;
export const ERR_LIST_DUPLICATE = 10;
/** A count beyond capacity (kernel.ts checks first; defensive). */
export const ERR_COUNT = 11;

export const RATE_SCALE: i64 = 100_000_000;

let errIndex: i32 = 0;

export function errorIndex(): i32 {
  return errIndex;
}

@inline
export function fail(code: i32, index: i32): i32 {
  errIndex = index;
  return -code;
}
