// Wire schema of the matching inputs (`mmc match`): order.new / order.cancel / order.replace,
// plus `instrument` (only symbol, tickSize and lotSize matter here; the other SPEC §8
// instrument fields are accepted and left to the margin core). Decimals are parsed exactly;
// grid checks (E_PRECISION) happen when the engine converts to ticks and lots.
import { z } from "zod";
import { reject, type Rejection } from "../events/errors.js";
import { ACCOUNT_RE, ID_MAX_CHARS, SYMBOL_RE } from "../events/schema.js";
import { INPUT_EVENT_TYPES } from "../events/types.js";
import { parseDecimal, type Decimal } from "../numbers/decimal.js";
import type { OrderType, Side, StpMode, TimeInForce } from "./types.js";

export interface InstrumentInput {
  readonly type: "instrument";
  readonly symbol: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
}

export interface OrderNewInput {
  readonly type: "order.new";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly price?: Decimal;
  readonly qty: Decimal;
  readonly tif: TimeInForce;
  readonly reduceOnly: boolean;
  readonly stp: StpMode;
}

export interface OrderCancelInput {
  readonly type: "order.cancel";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
}

export interface OrderReplaceInput {
  readonly type: "order.replace";
  readonly symbol: string;
  readonly id: string;
  readonly account: string;
  readonly price?: Decimal;
  readonly qty?: Decimal;
}

export type MatchInput = InstrumentInput | OrderNewInput | OrderCancelInput | OrderReplaceInput;

export type MatchValidation =
  | { readonly ok: true; readonly input: MatchInput }
  /** A SPEC §8 event that matching does not use (deposits, marks, …): skipped, not rejected. */
  | { readonly ok: true; readonly input: null }
  | { readonly ok: false; readonly rejection: Rejection };

const decimal = z.union([z.string(), z.number()]).transform((v, ctx): Decimal => {
  const d = parseDecimal(v);
  if (d === null) {
    ctx.addIssue({ code: "custom", message: "expected a decimal string (or a safe integer)" });
    return z.NEVER;
  }
  return d;
});
const account = z.string().regex(ACCOUNT_RE, "expected an account name [A-Za-z0-9_.-]{1,64} or a system account");
const symbol = z.string().regex(SYMBOL_RE, "expected a symbol [A-Za-z0-9_.-]{1,32}");
const id = z.string().min(1, "must not be empty").max(ID_MAX_CHARS, `at most ${ID_MAX_CHARS} characters`);
const ts = z.number().int("expected an integer (ms since epoch)").nonnegative().max(Number.MAX_SAFE_INTEGER).optional();

const schemas = {
  instrument: z.looseObject({ type: z.literal("instrument"), ts, symbol, tickSize: decimal, lotSize: decimal }),
  "order.new": z.strictObject({
    type: z.literal("order.new"), ts, symbol, id, account,
    side: z.enum(["buy", "sell"], { error: 'expected "buy" or "sell"' }),
    orderType: z.enum(["limit", "market"], { error: 'expected "limit" or "market"' }).default("limit"),
    price: decimal.optional(),
    qty: decimal,
    tif: z.enum(["GTC", "IOC", "FOK", "POST_ONLY"], { error: 'expected "GTC", "IOC", "FOK" or "POST_ONLY"' }).default("GTC"),
    reduceOnly: z.boolean({ error: "expected a boolean" }).default(false),
    stp: z
      .enum(["cancel-taker", "cancel-maker", "cancel-both"], { error: 'expected "cancel-taker", "cancel-maker" or "cancel-both"' })
      .default("cancel-taker"),
  }),
  "order.cancel": z.strictObject({ type: z.literal("order.cancel"), ts, symbol, id, account }),
  "order.replace": z.strictObject({
    type: z.literal("order.replace"), ts, symbol, id, account, price: decimal.optional(), qty: decimal.optional(),
  }),
} as const;

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const OTHER_SPEC_TYPES: ReadonlySet<string> = new Set(INPUT_EVENT_TYPES.filter((t) => t !== "instrument"));

/** Validates one parsed JSON value as a matching input. */
export function validateMatchEvent(value: unknown): MatchValidation {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, rejection: reject("E_JSON", undefined, "an event must be a JSON object") };
  }
  const type = (value as { type?: unknown }).type;
  if (type === undefined) return { ok: false, rejection: reject("E_SCHEMA", "type", "missing") };
  if (typeof type === "string" && OTHER_SPEC_TYPES.has(type)) return { ok: true, input: null };
  if (typeof type !== "string" || !Object.hasOwn(schemas, type)) {
    return { ok: false, rejection: reject("E_SCHEMA", "type", `unknown event type ${JSON.stringify(type)}`) };
  }
  const parsed = schemas[type as keyof typeof schemas].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let path = fieldPath(issue.path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      path = fieldPath([...issue.path, issue.keys[0]!]);
      message = "unexpected field";
    } else if (issue.code === "invalid_type" && valueAt(value, issue.path) === undefined) {
      message = "missing";
    }
    return { ok: false, rejection: reject("E_SCHEMA", path || "event", message) };
  }
  const d = parsed.data as Record<string, unknown>;
  if (type === "instrument") {
    // Only the grid is ours; the rest of the instrument belongs to the margin core.
    return { ok: true, input: { type: "instrument", symbol: d.symbol, tickSize: d.tickSize, lotSize: d.lotSize } as InstrumentInput };
  }
  delete d.ts;
  return { ok: true, input: d as unknown as MatchInput };
}

/** Parses one NDJSON line. Malformed JSON → E_JSON. */
export function parseMatchLine(line: string): MatchValidation {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, rejection: reject("E_JSON", undefined, `malformed JSON: ${(err as Error).message}`) };
  }
  return validateMatchEvent(value);
}
