// Wire schema (SPEC §8): JSON object → typed InputEvent, or a rejection whose message
// names the field. zod does the shape checks; decimals are parsed exactly here, grid and
// state checks happen later in `decide`.
import { z } from "zod";
import { parseDecimal, decimalToString, type Decimal } from "../numbers/decimal.js";
import { reject, type Rejection } from "./errors.js";
import type { InputEvent, TierDef } from "./types.js";

export const ACCOUNT_RE = /^(?:[A-Za-z0-9_.-]{1,64}|@insurance|@fees)$/;
export const SYMBOL_RE = /^[A-Za-z0-9_.-]{1,32}$/;
export const ASSET_RE = /^[A-Za-z0-9_.-]{1,16}$/;
export const ID_MAX_CHARS = 128;
export const TIERS_MAX = 8;
export const ASSET_DECIMALS_MAX = 18;

export const decimal = z.union([z.string(), z.number()]).transform((v, ctx): Decimal => {
  const d = parseDecimal(v);
  if (d === null) {
    ctx.addIssue({ code: "custom", message: "expected a decimal string (or a safe integer)" });
    return z.NEVER;
  }
  return d;
});
const account = z.string().regex(ACCOUNT_RE, "expected an account name [A-Za-z0-9_.-]{1,64} or a system account");
export const symbol = z.string().regex(SYMBOL_RE, "expected a symbol [A-Za-z0-9_.-]{1,32}");
const asset = z.string().regex(ASSET_RE, "expected an asset name [A-Za-z0-9_.-]{1,16}");
const id = z.string().min(1, "must not be empty").max(ID_MAX_CHARS, `at most ${ID_MAX_CHARS} characters`);
export const ts = z.number().int("expected an integer (ms since epoch)").nonnegative().max(Number.MAX_SAFE_INTEGER).optional();
const posInt = z.number().int("expected an integer").positive("must be positive").max(1_000_000);

export const ORDER_SIDES = ["buy", "sell"] as const;
export const ORDER_TYPES = ["limit", "market"] as const;
export const ORDER_TIFS = ["GTC", "IOC", "FOK", "POST_ONLY"] as const;
export const ORDER_STPS = ["cancel-taker", "cancel-maker", "cancel-both"] as const;

/**
 * Order events (docs/matching.md). One schema for the pipeline and `mmc match`: defaults are
 * filled in schema order, so an order's canonical JSON and binary form do not depend on
 * whether the defaults were written out.
 */
export const orderSchemas = {
  "order.new": z.strictObject({
    type: z.literal("order.new"), ts, symbol, id, account,
    side: z.enum(ORDER_SIDES, { error: 'expected "buy" or "sell"' }),
    orderType: z.enum(ORDER_TYPES, { error: 'expected "limit" or "market"' }).default("limit"),
    price: decimal.optional(),
    qty: decimal,
    tif: z.enum(ORDER_TIFS, { error: 'expected "GTC", "IOC", "FOK" or "POST_ONLY"' }).default("GTC"),
    reduceOnly: z.boolean({ error: "expected a boolean" }).default(false),
    stp: z.enum(ORDER_STPS, { error: 'expected "cancel-taker", "cancel-maker" or "cancel-both"' }).default("cancel-taker"),
  }),
  "order.cancel": z.strictObject({ type: z.literal("order.cancel"), ts, symbol, id, account }),
  "order.replace": z.strictObject({
    type: z.literal("order.replace"), ts, symbol, id, account, price: decimal.optional(), qty: decimal.optional(),
  }),
} as const;

const tier = z.strictObject({ maxNotional: decimal, mmr: decimal, maxLeverage: posInt });

const schemas = {
  asset: z.strictObject({
    type: z.literal("asset"), ts,
    asset, decimals: z.number().int("expected an integer").min(0).max(ASSET_DECIMALS_MAX),
    haircut: decimal.optional(), settlement: z.boolean().optional(),
  }),
  instrument: z.strictObject({
    type: z.literal("instrument"), ts,
    symbol, tickSize: decimal, lotSize: decimal,
    tiers: z.array(tier).min(1, "at least one tier").max(TIERS_MAX, `at most ${TIERS_MAX} tiers`),
    makerFee: decimal, takerFee: decimal, liquidationFee: decimal, insuranceShare: decimal,
  }),
  deposit: z.strictObject({ type: z.literal("deposit"), ts, id, account, asset, amount: decimal }),
  withdraw: z.strictObject({ type: z.literal("withdraw"), ts, id, account, asset, amount: decimal }),
  leverage: z.strictObject({ type: z.literal("leverage"), ts, account, symbol, leverage: posInt }),
  "margin.mode": z.strictObject({
    type: z.literal("margin.mode"), ts, account, symbol, mode: z.enum(["cross", "isolated"]),
  }),
  "margin.transfer": z.strictObject({ type: z.literal("margin.transfer"), ts, account, symbol, amount: decimal }),
  trade: z.strictObject({
    type: z.literal("trade"), ts, id, symbol, price: decimal, qty: decimal,
    buyer: account, seller: account, taker: z.enum(["buyer", "seller"]),
  }),
  mark: z.strictObject({ type: z.literal("mark"), ts, symbol, price: decimal }),
  "collateral.price": z.strictObject({ type: z.literal("collateral.price"), ts, asset, price: decimal }),
  funding: z.strictObject({ type: z.literal("funding"), ts, symbol, rate: decimal }),
  ...orderSchemas,
} as const;

/** Optional fields that are dropped when absent (never kept as `undefined`). */
const OPTIONAL_FIELDS = ["ts", "price", "qty"] as const;

export type ValidationResult = { ok: true; event: InputEvent } | { ok: false; rejection: Rejection };

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

/** Validates a parsed JSON value as an input event. */
export function validateEvent(value: unknown): ValidationResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, rejection: reject("E_JSON", undefined, "an event must be a JSON object") };
  }
  const type = (value as { type?: unknown }).type;
  if (type === undefined) return { ok: false, rejection: reject("E_SCHEMA", "type", "missing") };
  if (typeof type !== "string" || !Object.hasOwn(schemas, type)) {
    return { ok: false, rejection: reject("E_SCHEMA", "type", `unknown event type ${JSON.stringify(type)}`) };
  }
  const schema = schemas[type as keyof typeof schemas];
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let path = fieldPath(issue.path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      path = fieldPath([...issue.path, issue.keys[0]!]);
      message = "unexpected field";
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      message = "missing";
    }
    return { ok: false, rejection: reject("E_SCHEMA", path || "event", message) };
  }
  const e = parsed.data as Record<string, unknown>;
  for (const k of OPTIONAL_FIELDS) if (k in e && e[k] === undefined) delete e[k];
  if (type === "asset") {
    // Defaults go in schema order whether or not the fields were given, so the key order
    // (and thus canonical JSON / the binary codec's round trip) is the same either way.
    const { haircut, settlement, ...rest } = e;
    const asset = { ...rest, haircut: haircut ?? { mantissa: 0n, scale: 0 }, settlement: settlement ?? false };
    return { ok: true, event: asset as unknown as InputEvent };
  }
  return { ok: true, event: e as unknown as InputEvent };
}

/** Parses one NDJSON line. Malformed JSON → E_JSON. */
export function parseEventLine(line: string): ValidationResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, rejection: reject("E_JSON", undefined, `malformed JSON: ${(err as Error).message}`) };
  }
  return validateEvent(value);
}

/** Canonical JSON form of a well-formed event (decimals as strings, fixed field order). */
export function eventToJson(e: InputEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(e)) {
    if (v === undefined) continue;
    out[key] = key === "tiers" ? (v as TierDef[]).map(tierToJson) : isDecimal(v) ? decimalToString(v) : v;
  }
  return out;
}

function tierToJson(t: TierDef): Record<string, unknown> {
  return { maxNotional: decimalToString(t.maxNotional), mmr: decimalToString(t.mmr), maxLeverage: t.maxLeverage };
}

function isDecimal(v: unknown): v is Decimal {
  return typeof v === "object" && v !== null && typeof (v as Decimal).mantissa === "bigint";
}
