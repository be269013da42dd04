// Wire schema of the matching inputs (`mmc match`): order.new / order.cancel / order.replace,
// plus `instrument` (only symbol, tickSize and lotSize matter here; the other SPEC §8
// instrument fields are accepted and left to the margin core). The order events are the
// pipeline's own input events (src/events/schema.ts `orderSchemas`): one schema for both.
// Decimals are parsed exactly; grid checks (E_PRECISION) happen when the engine converts to
// ticks and lots.
import { z } from "zod";
import { reject, type Rejection } from "../events/errors.js";
import { decimal, symbol, ts, validateEvent } from "../events/schema.js";
import { INPUT_EVENT_TYPES, type OrderCancelEvent, type OrderNewEvent, type OrderReplaceEvent } from "../events/types.js";
import type { Decimal } from "../numbers/decimal.js";

export interface InstrumentInput {
  readonly type: "instrument";
  readonly symbol: string;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
}

export type OrderNewInput = OrderNewEvent;
export type OrderCancelInput = OrderCancelEvent;
export type OrderReplaceInput = OrderReplaceEvent;

export type MatchInput = InstrumentInput | OrderNewInput | OrderCancelInput | OrderReplaceInput;

export type MatchValidation =
  | { readonly ok: true; readonly input: MatchInput }
  /** A SPEC §8 event that matching does not use (deposits, marks, …): skipped, not rejected. */
  | { readonly ok: true; readonly input: null }
  | { readonly ok: false; readonly rejection: Rejection };

/** Only the grid of an instrument is ours; the rest belongs to the margin core. */
const instrumentGrid = z.looseObject({ type: z.literal("instrument"), ts, symbol, tickSize: decimal, lotSize: decimal });

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

const ORDER_TYPES: ReadonlySet<string> = new Set(["order.new", "order.cancel", "order.replace"]);
const OTHER_SPEC_TYPES: ReadonlySet<string> = new Set(INPUT_EVENT_TYPES.filter((t) => t !== "instrument" && !ORDER_TYPES.has(t)));

/** Validates one parsed JSON value as a matching input. */
export function validateMatchEvent(value: unknown): MatchValidation {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, rejection: reject("E_JSON", undefined, "an event must be a JSON object") };
  }
  const type = (value as { type?: unknown }).type;
  if (type === undefined) return { ok: false, rejection: reject("E_SCHEMA", "type", "missing") };
  if (typeof type === "string" && OTHER_SPEC_TYPES.has(type)) return { ok: true, input: null };
  if (typeof type === "string" && ORDER_TYPES.has(type)) {
    const v = validateEvent(value);
    return v.ok ? { ok: true, input: v.event as MatchInput } : v;
  }
  if (type !== "instrument") {
    return { ok: false, rejection: reject("E_SCHEMA", "type", `unknown event type ${JSON.stringify(type)}`) };
  }
  const parsed = instrumentGrid.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = fieldPath(issue.path);
    const message = issue.code === "invalid_type" && valueAt(value, issue.path) === undefined ? "missing" : issue.message;
    return { ok: false, rejection: reject("E_SCHEMA", path || "event", message) };
  }
  const d = parsed.data;
  return { ok: true, input: { type: "instrument", symbol: d.symbol, tickSize: d.tickSize, lotSize: d.lotSize } };
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
