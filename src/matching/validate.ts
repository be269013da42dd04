// Stateless checks and rejection messages shared by both books, so they reject the same
// inputs with the same words. Stateful rules (duplicates, reduce-only, limits, post-only,
// FOK) live in each book and are cross-checked by the differential tests.
import { reject, type Rejection } from "../events/errors.js";
import type { OrderRequest, ReplaceRequest, Side, StpMode } from "./types.js";
import { ACCOUNT_MAX_CHARS, MAX_PRICE_TICKS, MAX_QTY_LOTS, ORDER_ID_MAX_CHARS } from "./types.js";

function isPositiveSafeInt(v: unknown, max: number): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v <= max;
}

function checkKey(account: unknown, id: unknown): Rejection | null {
  if (typeof id !== "string" || id.length === 0 || id.length > ORDER_ID_MAX_CHARS) {
    return reject("E_SCHEMA", "id", `expected a non-empty string of at most ${ORDER_ID_MAX_CHARS} characters`);
  }
  if (typeof account !== "string" || account.length === 0 || account.length > ACCOUNT_MAX_CHARS) {
    return reject("E_SCHEMA", "account", `expected a non-empty string of at most ${ACCOUNT_MAX_CHARS} characters`);
  }
  return null;
}

/** The (account, id) pair of cancel/replace. */
export function validateOrderKey(account: unknown, id: unknown): Rejection | null {
  return checkKey(account, id);
}

function checkQty(qty: unknown): Rejection | null {
  if (typeof qty !== "number") return reject("E_SCHEMA", "qty", "expected a number of lots");
  if (!isPositiveSafeInt(qty, MAX_QTY_LOTS)) return reject("E_RANGE", "qty", "must be an integer number of lots in 1..2^53-1");
  return null;
}

function checkPrice(price: unknown): Rejection | null {
  if (typeof price !== "number") return reject("E_SCHEMA", "price", "expected a number of ticks");
  if (!isPositiveSafeInt(price, MAX_PRICE_TICKS)) return reject("E_RANGE", "price", "must be an integer number of ticks in 1..2^53-1");
  return null;
}

/** Shape and range of a new order. Null when it is well-formed. */
export function validateOrderRequest(input: unknown): Rejection | null {
  if (typeof input !== "object" || input === null) return reject("E_SCHEMA", "order", "expected an object");
  const o = input as Partial<Record<keyof OrderRequest, unknown>>;
  const keyBad = checkKey(o.account, o.id);
  if (keyBad !== null) return keyBad;
  if (o.side !== "buy" && o.side !== "sell") return reject("E_SCHEMA", "side", 'expected "buy" or "sell"');
  if (o.orderType !== "limit" && o.orderType !== "market") {
    return reject("E_SCHEMA", "orderType", 'expected "limit" or "market"');
  }
  switch (o.tif) {
    case "GTC":
    case "IOC":
    case "FOK":
    case "POST_ONLY":
      break;
    default:
      return reject("E_SCHEMA", "tif", 'expected "GTC", "IOC", "FOK" or "POST_ONLY"');
  }
  if (o.reduceOnly !== undefined && typeof o.reduceOnly !== "boolean") {
    return reject("E_SCHEMA", "reduceOnly", "expected a boolean");
  }
  if (o.stp !== undefined && o.stp !== "cancel-taker" && o.stp !== "cancel-maker" && o.stp !== "cancel-both") {
    return reject("E_SCHEMA", "stp", 'expected "cancel-taker", "cancel-maker" or "cancel-both"');
  }
  if (o.orderType === "limit") {
    if (o.price === undefined) return reject("E_SCHEMA", "price", "missing (required for a limit order)");
    const priceBad = checkPrice(o.price);
    if (priceBad !== null) return priceBad;
  } else {
    if (o.price !== undefined) return reject("E_SCHEMA", "price", "not allowed on a market order");
    if (o.tif === "POST_ONLY") return reject("E_ORDER", "tif", "POST_ONLY requires a limit order");
  }
  return checkQty(o.qty);
}

/** Shape and range of a replace's changes. */
export function validateReplaceRequest(input: unknown): Rejection | null {
  if (typeof input !== "object" || input === null) return reject("E_SCHEMA", "replace", "expected an object");
  const c = input as Partial<Record<keyof ReplaceRequest, unknown>>;
  if (c.price === undefined && c.qty === undefined) return reject("E_ORDER", "replace", "price or qty required");
  if (c.price !== undefined) {
    const bad = checkPrice(c.price);
    if (bad !== null) return bad;
  }
  if (c.qty !== undefined) {
    const bad = checkQty(c.qty);
    if (bad !== null) return bad;
  }
  return null;
}

/** The hooks' position, checked: the contract is a safe integer number of lots. */
export function checkPositionLots(positionLots: number): number {
  if (!Number.isSafeInteger(positionLots)) {
    throw new TypeError(`RiskHooks.positionLots must return a safe integer, got ${String(positionLots)}`);
  }
  return positionLots;
}

/**
 * Lots a reduce-only order on `side` may still trade given the signed position: a sell
 * reduces a long, a buy reduces a short; 0 when it would open or increase a position.
 * (`positionLots` may be a hooks position plus this operation's fills, so it is not
 * re-checked here; beyond 2^53 it only ever exceeds the order's own qty.)
 */
export function reduceCapacityLots(side: Side, positionLots: number): number {
  if (side === "sell") return positionLots > 0 ? positionLots : 0;
  return positionLots < 0 ? -positionLots : 0;
}

/** True when a taker on `side` with limit `limitTicks` would trade against `makerTicks`. */
export function crosses(side: Side, limitTicks: number, makerTicks: number): boolean {
  return side === "buy" ? limitTicks >= makerTicks : limitTicks <= makerTicks;
}

export function resolveStp(stp: StpMode | undefined): StpMode {
  return stp ?? "cancel-taker";
}

// ---- rejection messages (field first, like every other rejection in the project)

export const rejections = {
  duplicate: (account: string, id: string): Rejection =>
    reject("E_DUPLICATE", "id", `order id ${JSON.stringify(id)} was already used by account ${JSON.stringify(account)}`),
  unknown: (account: string, id: string): Rejection =>
    reject("E_UNKNOWN", "id", `no resting order ${JSON.stringify(id)} of account ${JSON.stringify(account)}`),
  reduceOnly: (side: Side, positionLots: number): Rejection =>
    reject("E_ORDER", "reduceOnly", `a ${side} would not reduce the position (${positionLots} lots)`),
  bookFull: (symbol: string, max: number): Rejection =>
    reject("E_ORDER", "book", `${symbol} already holds the maximum of ${max} resting orders`),
  levelsFull: (side: Side, symbol: string, max: number): Rejection =>
    reject("E_ORDER", "price", `the ${side} side of ${symbol} already has the maximum of ${max} price levels`),
  levelTotal: (priceTicks: number): Rejection =>
    reject("E_RANGE", "qty", `the level total at ${priceTicks} ticks would exceed 2^53-1 lots`),
  postOnlyCross: (side: Side, priceTicks: number, oppositeTicks: number): Rejection =>
    reject(
      "E_ORDER",
      "tif",
      `POST_ONLY ${side} at ${priceTicks} ticks would cross the best ${side === "buy" ? "ask" : "bid"} at ${oppositeTicks} ticks`,
    ),
  fokUnfillable: (fillableLots: number, qtyLots: number): Rejection =>
    reject("E_ORDER", "tif", `FOK cannot be filled completely (${fillableLots} of ${qtyLots} lots fillable)`),
} as const;
