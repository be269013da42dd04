// Compact, versioned binary encoding of log entries (the journal payload and the NATS
// batch message format).
//
// Entry layout (all multi-byte integers are LEB128 varints, unsigned unless noted):
//   [u8 version = 1][u8 tag]
//   tag 0 (RAW):   [string raw]
//   tag 1..14:     [u8 tsFlag (0 absent, 1 present)][varint ts if present][fields…]
// Fields follow one per-type table (FIELDS below) that both directions walk, so the
// encoder and the decoder cannot drift:
//   string  varint byte length + WTF-8 bytes (UTF-8, except that a lone surrogate, which
//           JSON and zod accept in an `id`, is kept as its 3-byte form so it round-trips)
//   decimal zigzag varint mantissa (BigInt, at most DECIMAL_MANTISSA_MAX_VARINT_BYTES)
//           + u8 scale
//   decimal? u8 presence (0 absent, 1 present) + decimal if present (order price / qty)
//   uint    varint (range-checked per field)
//   bool    u8 0/1;  enum  u8 index into the field's value list
//   tiers   varint count, then per tier: decimal maxNotional, decimal mmr, uint maxLeverage
//
// The encoding is canonical: the decoder accepts exactly what the encoder produces
// (minimal varints, canonical decimals, no trailing bytes, values the schema accepts), so
// `encodeEntry(decodeEntry(b))` equals `b` whenever decoding succeeds, and a decoded entry
// is always one validateEvent could have produced. Anything else throws CodecError.
//
// Batch layout: ["MMCB"][u8 version = 1][varint count]([varint len][entry])*count.
import { DECIMAL_MAX_CHARS, type Decimal } from "../numbers/decimal.js";
import {
  ACCOUNT_RE, ASSET_DECIMALS_MAX, ASSET_RE, ID_MAX_CHARS, ORDER_SIDES, ORDER_STPS, ORDER_TIFS, ORDER_TYPES, SYMBOL_RE, TIERS_MAX,
} from "./schema.js";
import type { InputEvent, InputEventType, LogEntry, TierDef } from "./types.js";

export const CODEC_VERSION = 1;
/** Raw (unparseable) input text kept in the log is capped at this many UTF-8 bytes. */
export const RAW_TEXT_MAX_BYTES = 1024 * 1024;
/** Largest encoded entry: a maximal raw text plus version, tag and its length varint. */
export const CODEC_ENTRY_MAX_BYTES = RAW_TEXT_MAX_BYTES + 16;
/** Bounds BigInt work on hostile input: 32 × 7 bits covers any 64-char decimal. */
export const DECIMAL_MANTISSA_MAX_VARINT_BYTES = 32;
/** The schema's positive-integer bound (leverage, maxLeverage); see schema.ts `posInt`. */
export const CODEC_POS_INT_MAX = 1_000_000;

export const BATCH_MAGIC = "MMCB";
export const BATCH_VERSION = 1;
export const BATCH_MAX_ENTRIES = 10_000;
/** A whole batch message; NATS publishers must also respect the server's max_payload. */
export const BATCH_MAX_BYTES = 8 * 1024 * 1024;

/** Type tags are part of the persisted format: never renumber, only append. */
export const RAW_TAG = 0;
export const EVENT_TAGS: Readonly<Record<InputEventType, number>> = {
  asset: 1,
  instrument: 2,
  deposit: 3,
  withdraw: 4,
  leverage: 5,
  "margin.mode": 6,
  "margin.transfer": 7,
  trade: 8,
  mark: 9,
  "collateral.price": 10,
  funding: 11,
  "order.new": 12,
  "order.cancel": 13,
  "order.replace": 14,
};

export type CodecErrorReason =
  | "truncated" // input ended inside a value
  | "version" // unknown codec/batch version
  | "tag" // unknown type tag
  | "varint" // overlong, non-minimal or out-of-range varint
  | "utf8" // invalid WTF-8 in a string
  | "field" // a value the schema would not accept (names the field)
  | "too-large" // entry or batch over its limit
  | "trailing" // bytes left after the entry / batch
  | "magic" // batch magic mismatch
  | "count"; // batch entry count over the limit

export class CodecError extends Error {
  constructor(
    readonly reason: CodecErrorReason,
    /** Byte offset in the input where decoding failed (-1 when encoding). */
    readonly offset: number,
    message: string,
    readonly field?: string,
  ) {
    super(`${reason}${field === undefined ? "" : ` (${field})`} at ${offset}: ${message}`);
    this.name = "CodecError";
  }
}

// ---------------------------------------------------------------------------------------
// Field table

type EventOf<T extends InputEventType> = Extract<InputEvent, { type: T }>;
type FieldName<T extends InputEventType> = Exclude<keyof EventOf<T>, "type" | "ts"> & string;

type Field<N extends string = string> =
  | {
      readonly name: N;
      readonly kind: "string";
      readonly check: (s: string) => boolean;
      /** One bit per distinct check, remembered for interned strings that passed it. */
      readonly checkBit: number;
      /**
       * Whether to intern the value: names repeat, ids (unique per event) would only evict
       * them from the cache and pay for the slot's string.
       */
      readonly intern: boolean;
      readonly what: string;
    }
  | { readonly name: N; readonly kind: "decimal" }
  /** An optional decimal: absent ⇔ the key is missing from the event object. */
  | { readonly name: N; readonly kind: "optDecimal" }
  | { readonly name: N; readonly kind: "uint"; readonly min: number; readonly max: number }
  | { readonly name: N; readonly kind: "bool" }
  | { readonly name: N; readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly name: N; readonly kind: "tiers" };

const isAccount = (s: string): boolean => ACCOUNT_RE.test(s);
const isSymbol = (s: string): boolean => SYMBOL_RE.test(s);
const isAsset = (s: string): boolean => ASSET_RE.test(s);
const isId = (s: string): boolean => s.length >= 1 && s.length <= ID_MAX_CHARS;

const str = <N extends string>(name: N, check: (s: string) => boolean, checkBit: number, what: string, intern = true): Field<N> => ({
  name,
  kind: "string",
  check,
  checkBit,
  intern,
  what,
});
const account = <N extends string>(name: N): Field<N> => str(name, isAccount, 1, "an account name");
const symbol = <N extends string>(name: N): Field<N> => str(name, isSymbol, 2, "a symbol");
const asset = <N extends string>(name: N): Field<N> => str(name, isAsset, 4, "an asset name");
const id = <N extends string>(name: N): Field<N> => str(name, isId, 8, `an id of 1..${ID_MAX_CHARS} characters`, false);
const dec = <N extends string>(name: N): Field<N> => ({ name, kind: "decimal" });
const optDec = <N extends string>(name: N): Field<N> => ({ name, kind: "optDecimal" });
const posInt = <N extends string>(name: N): Field<N> => ({ name, kind: "uint", min: 1, max: CODEC_POS_INT_MAX });
const oneOf = <N extends string>(name: N, values: readonly string[]): Field<N> => ({ name, kind: "enum", values });

type StringField = Extract<Field, { kind: "string" }>;

// Named descriptors: shared by FIELDS (the table the encoder and the generic decoder walk)
// and the per-type decoders below, so both read the same checks.
const F_ID = id("id") as StringField;
const F_ACCOUNT = account("account") as StringField;
const F_BUYER = account("buyer") as StringField;
const F_SELLER = account("seller") as StringField;
const F_SYMBOL = symbol("symbol") as StringField;
const F_ASSET = asset("asset") as StringField;
const F_LEVERAGE = posInt("leverage");
const MARGIN_MODES = ["cross", "isolated"] as const;
const TAKERS = ["buyer", "seller"] as const;

/**
 * Per-type field order. Must list every field of the type in the order of the zod schema
 * (so decoded objects have validateEvent's key order and canonical JSON is stable).
 */
const FIELDS: { readonly [T in InputEventType]: readonly Field<FieldName<T>>[] } = {
  asset: [
    F_ASSET as Field<"asset">,
    { name: "decimals", kind: "uint", min: 0, max: ASSET_DECIMALS_MAX },
    dec("haircut"),
    { name: "settlement", kind: "bool" },
  ],
  instrument: [
    F_SYMBOL as Field<"symbol">,
    dec("tickSize"),
    dec("lotSize"),
    { name: "tiers", kind: "tiers" },
    dec("makerFee"),
    dec("takerFee"),
    dec("liquidationFee"),
    dec("insuranceShare"),
  ],
  deposit: [F_ID as Field<"id">, F_ACCOUNT as Field<"account">, F_ASSET as Field<"asset">, dec("amount")],
  withdraw: [F_ID as Field<"id">, F_ACCOUNT as Field<"account">, F_ASSET as Field<"asset">, dec("amount")],
  leverage: [F_ACCOUNT as Field<"account">, F_SYMBOL as Field<"symbol">, F_LEVERAGE as Field<"leverage">],
  "margin.mode": [F_ACCOUNT as Field<"account">, F_SYMBOL as Field<"symbol">, { name: "mode", kind: "enum", values: MARGIN_MODES }],
  "margin.transfer": [F_ACCOUNT as Field<"account">, F_SYMBOL as Field<"symbol">, dec("amount")],
  trade: [
    F_ID as Field<"id">,
    F_SYMBOL as Field<"symbol">,
    dec("price"),
    dec("qty"),
    F_BUYER as Field<"buyer">,
    F_SELLER as Field<"seller">,
    { name: "taker", kind: "enum", values: TAKERS },
  ],
  mark: [F_SYMBOL as Field<"symbol">, dec("price")],
  "collateral.price": [F_ASSET as Field<"asset">, dec("price")],
  funding: [F_SYMBOL as Field<"symbol">, dec("rate")],
  "order.new": [
    symbol("symbol"),
    id("id"),
    account("account"),
    oneOf("side", ORDER_SIDES),
    oneOf("orderType", ORDER_TYPES),
    optDec("price"),
    dec("qty"),
    oneOf("tif", ORDER_TIFS),
    { name: "reduceOnly", kind: "bool" },
    oneOf("stp", ORDER_STPS),
  ],
  "order.cancel": [F_SYMBOL as Field<"symbol">, F_ID as Field<"id">, F_ACCOUNT as Field<"account">],
  "order.replace": [symbol("symbol"), id("id"), account("account"), optDec("price"), optDec("qty")],
};

const TYPE_BY_TAG: (InputEventType | undefined)[] = [];
for (const [type, tag] of Object.entries(EVENT_TAGS) as [InputEventType, number][]) TYPE_BY_TAG[tag] = type;

// ---------------------------------------------------------------------------------------
// Encoder

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/** Thrown internally when the caller's target buffer is too small (encodeEntryInto → -1). */
class OutOfSpace extends Error {}

class Encoder {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  /** min(target end, start + CODEC_ENTRY_MAX_BYTES) */
  limit = 0;
  /** True when `limit` is the entry size limit rather than the target's end. */
  limitIsEntryMax = false;

  reset(buf: Uint8Array, offset: number): void {
    this.buf = buf;
    this.pos = offset;
    const entryEnd = offset + CODEC_ENTRY_MAX_BYTES;
    this.limitIsEntryMax = entryEnd <= buf.length;
    this.limit = this.limitIsEntryMax ? entryEnd : buf.length;
  }

  room(n: number): void {
    if (this.pos + n <= this.limit) return;
    if (this.limitIsEntryMax) throw new CodecError("too-large", -1, `entry exceeds ${CODEC_ENTRY_MAX_BYTES} bytes`);
    throw new OutOfSpace();
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint of a safe integer (Number arithmetic: no 32-bit truncation). */
  uint(n: number): void {
    if (n < 0x80) {
      this.room(1);
      this.buf[this.pos++] = n;
      return;
    }
    this.room(varintBytes(n));
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  bigZigzag(m: bigint): void {
    if (m >= SMALL_MANTISSA_MIN && m < SMALL_MANTISSA_MAX) {
      const n = Number(m);
      this.uint(n >= 0 ? n * 2 : -n * 2 - 1);
      return;
    }
    let z = m >= 0n ? m << 1n : ((-m) << 1n) - 1n;
    let count = 0;
    while (z >= 0x80n) {
      this.byte(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
      count++;
    }
    this.byte(Number(z));
    if (count + 1 > DECIMAL_MANTISSA_MAX_VARINT_BYTES) {
      throw new CodecError("field", -1, "decimal mantissa too large");
    }
  }

  string(s: string): void {
    const n = s.length;
    if (n < 0x80) {
      // Fast path for short ASCII (nearly every event field): one length byte.
      this.room(1 + n);
      const buf = this.buf;
      let pos = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = pos;
        return;
      }
    }
    const len = wtf8Length(s);
    this.uint(len);
    this.room(len);
    if (len >= 256 && !LONE_SURROGATE_RE.test(s)) {
      const r = textEncoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + len));
      if (r.written !== len) throw new Error("codec: UTF-8 length mismatch");
      this.pos += len;
    } else {
      this.wtf8(s);
    }
  }

  /**
   * An event field string, checked. Short ASCII names are looked up in the decoder's
   * intern table (the same slot: FNV-1a of the bytes, computed while writing them), which
   * remembers the checks a string passed: a name seen before skips its RegExp test.
   */
  fieldString(f: StringField, v: unknown): void {
    if (typeof v !== "string") throw fieldError(f.name, `expected ${f.what}`);
    const n = v.length;
    if (f.intern && n <= INTERN_MAX_BYTES) {
      this.room(1 + n);
      const buf = this.buf;
      let pos = this.pos + 1;
      let h = 0x811c9dc5;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
        h = Math.imul(h ^ c, 0x01000193);
      }
      if (i === n) {
        const slot = (h ^ n) & (INTERN_SLOTS - 1);
        if (internStrings[slot] === v) {
          if ((internChecked[slot]! & f.checkBit) === 0) {
            if (!f.check(v)) throw fieldError(f.name, `expected ${f.what}`);
            internChecked[slot]! |= f.checkBit;
          }
        } else {
          if (!f.check(v)) throw fieldError(f.name, `expected ${f.what}`);
          internStrings[slot] = v;
          internChecked[slot] = f.checkBit;
        }
        buf[this.pos] = n;
        this.pos = pos;
        return;
      }
    }
    if (!f.check(v)) throw fieldError(f.name, `expected ${f.what}`);
    this.string(v);
  }

  /** Writes s as WTF-8; the caller has reserved the room. */
  private wtf8(s: string): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[pos++] = c;
      } else if (c < 0x800) {
        buf[pos++] = 0xc0 | (c >> 6);
        buf[pos++] = 0x80 | (c & 0x3f);
      } else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
            buf[pos++] = 0xf0 | (c >> 18);
            buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
            buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
            buf[pos++] = 0x80 | (c & 0x3f);
            continue;
          }
        }
        buf[pos++] = 0xe0 | (c >> 12);
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[pos++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = pos;
  }
}

const textEncoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is data, not a byte-order mark.
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether s holds a UTF-16 surrogate not part of a pair (not representable in UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE_RE.test(s);
}

/** UTF-8 length of s, counting a lone surrogate as 3 bytes (WTF-8). */
export function wtf8Length(s: string): number {
  // Buffer.byteLength counts a lone surrogate as U+FFFD: also 3 bytes.
  return Buffer.byteLength(s, "utf8");
}

function fieldError(field: string, message: string): CodecError {
  return new CodecError("field", -1, message, field);
}

function encodeDecimal(enc: Encoder, d: unknown, field: string): void {
  if (typeof d !== "object" || d === null || typeof (d as Decimal).mantissa !== "bigint") {
    throw fieldError(field, "expected a Decimal");
  }
  const { mantissa, scale } = d as Decimal;
  if (mantissa >= SMALL_MANTISSA_MIN && mantissa < SMALL_MANTISSA_MAX && Number.isInteger(scale) && scale >= 0 && scale <= 40) {
    // Below 2^47 in magnitude and at most 40 places: decimalProblem's checks on a Number
    // (no BigInt remainder), and the string form is within DECIMAL_MAX_CHARS.
    const n = Number(mantissa);
    if (scale > 0 && n % 10 === 0) throw fieldError(field, "not canonical (trailing zero)");
    enc.uint(n >= 0 ? n * 2 : -n * 2 - 1);
    enc.byte(scale);
    return;
  }
  const problem = decimalProblem(mantissa, scale);
  if (problem !== null) throw fieldError(field, problem);
  enc.bigZigzag(mantissa);
  enc.byte(scale);
}

/** Why a decimal is not one parseDecimal could produce, or null when it is. */
function decimalProblem(mantissa: bigint, scale: number): string | null {
  if (!Number.isInteger(scale) || scale < 0 || scale > DECIMAL_MAX_CHARS) return "scale out of range";
  if (scale > 0 && mantissa % 10n === 0n) return "not canonical (trailing zero)";
  // Canonical string length must be within DECIMAL_MAX_CHARS (parseDecimal's bound).
  if (scale <= 40 && mantissa > -1_000_000_000_000_000n && mantissa < 1_000_000_000_000_000n) return null;
  const neg = mantissa < 0n ? 1 : 0;
  const digits = (neg ? -mantissa : mantissa).toString().length;
  const chars = neg + (scale === 0 ? digits : Math.max(digits, scale + 1) + 1);
  return chars > DECIMAL_MAX_CHARS ? `more than ${DECIMAL_MAX_CHARS} characters` : null;
}

const SMALL_MANTISSA_MAX = 2n ** 47n;
const SMALL_MANTISSA_MIN = -SMALL_MANTISSA_MAX;

function encodeField(enc: Encoder, f: Field, v: unknown): void {
  switch (f.kind) {
    case "string":
      enc.fieldString(f, v);
      return;
    case "decimal":
      encodeDecimal(enc, v, f.name);
      return;
    case "optDecimal":
      if (v === undefined) {
        enc.byte(0);
      } else {
        enc.byte(1);
        encodeDecimal(enc, v, f.name);
      }
      return;
    case "uint":
      if (typeof v !== "number" || !Number.isInteger(v) || v < f.min || v > f.max) {
        throw fieldError(f.name, `expected an integer in [${f.min}, ${f.max}]`);
      }
      enc.uint(v);
      return;
    case "bool":
      if (typeof v !== "boolean") throw fieldError(f.name, "expected a boolean");
      enc.byte(v ? 1 : 0);
      return;
    case "enum": {
      const i = f.values.indexOf(v as string);
      if (typeof v !== "string" || i < 0) throw fieldError(f.name, `expected one of ${f.values.join("/")}`);
      enc.byte(i);
      return;
    }
    case "tiers": {
      if (!Array.isArray(v) || v.length < 1 || v.length > TIERS_MAX) throw fieldError(f.name, `expected 1..${TIERS_MAX} tiers`);
      enc.uint(v.length);
      for (let i = 0; i < v.length; i++) {
        const t = v[i] as TierDef;
        const path = `tiers[${i}]`;
        if (typeof t !== "object" || t === null || Object.keys(t).length !== 3) throw fieldError(path, "expected a tier");
        encodeDecimal(enc, t.maxNotional, `${path}.maxNotional`);
        encodeDecimal(enc, t.mmr, `${path}.mmr`);
        const lev = t.maxLeverage;
        if (!Number.isInteger(lev) || lev < 1 || lev > CODEC_POS_INT_MAX) throw fieldError(`${path}.maxLeverage`, "out of range");
        enc.uint(lev);
      }
      return;
    }
  }
}

function encodeInto(enc: Encoder, entry: LogEntry): void {
  enc.byte(CODEC_VERSION);
  if (entry.kind === "raw") {
    if (typeof entry.raw !== "string") throw fieldError("raw", "expected a string");
    if (wtf8Length(entry.raw) > RAW_TEXT_MAX_BYTES) {
      throw new CodecError("too-large", -1, `raw text exceeds ${RAW_TEXT_MAX_BYTES} bytes`, "raw");
    }
    enc.byte(RAW_TAG);
    enc.string(entry.raw);
    return;
  }
  if (entry.kind !== "event") throw fieldError("kind", "expected an event or raw entry");
  const e = entry.event as unknown as Record<string, unknown>;
  const type = e.type;
  switch (type) {
    case "trade":
      encodeHead(enc, e, EVENT_TAGS.trade, 7);
      enc.fieldString(F_ID, e.id);
      enc.fieldString(F_SYMBOL, e.symbol);
      encodeDecimal(enc, e.price, "price");
      encodeDecimal(enc, e.qty, "qty");
      enc.fieldString(F_BUYER, e.buyer);
      enc.fieldString(F_SELLER, e.seller);
      encodeOneOf(enc, TAKERS, e.taker, "taker");
      return;
    case "mark":
      encodeHead(enc, e, EVENT_TAGS.mark, 2);
      enc.fieldString(F_SYMBOL, e.symbol);
      encodeDecimal(enc, e.price, "price");
      return;
    case "leverage":
      encodeHead(enc, e, EVENT_TAGS.leverage, 3);
      enc.fieldString(F_ACCOUNT, e.account);
      enc.fieldString(F_SYMBOL, e.symbol);
      encodeField(enc, F_LEVERAGE, e.leverage);
      return;
    case "deposit":
    case "withdraw":
      encodeHead(enc, e, EVENT_TAGS[type], 4);
      enc.fieldString(F_ID, e.id);
      enc.fieldString(F_ACCOUNT, e.account);
      enc.fieldString(F_ASSET, e.asset);
      encodeDecimal(enc, e.amount, "amount");
      return;
    case "collateral.price":
      encodeHead(enc, e, EVENT_TAGS[type], 2);
      enc.fieldString(F_ASSET, e.asset);
      encodeDecimal(enc, e.price, "price");
      return;
  }
  // The other types: the FIELDS walk.
  const tag = typeof type === "string" && Object.hasOwn(EVENT_TAGS, type) ? EVENT_TAGS[type as InputEventType] : undefined;
  if (tag === undefined) throw fieldError("type", `unknown event type ${JSON.stringify(type)}`);
  const fields = FIELDS[type as InputEventType] as readonly Field[];
  let keys = 0;
  for (const f of fields) if (f.kind !== "optDecimal" || f.name in e) keys++;
  encodeHead(enc, e, tag, keys);
  for (const f of fields) encodeField(enc, f, e[f.name]);
}

/**
 * Tag and ts; refuses an event whose keys are not `type`, `ts` (optional) and `fields`
 * others (extra keys would be silently dropped by the round trip).
 */
function encodeHead(enc: Encoder, e: Record<string, unknown>, tag: number, fields: number): void {
  enc.byte(tag);
  const ts = e.ts;
  let keys = 1 + fields;
  if ("ts" in e) keys++;
  if (ts === undefined) {
    enc.byte(0);
  } else {
    if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) throw fieldError("ts", "expected a non-negative safe integer");
    enc.byte(1);
    enc.uint(ts);
  }
  if (Object.keys(e).length !== keys) throw fieldError("event", `expected exactly the fields of a ${String(e.type)} event`);
}

function encodeOneOf(enc: Encoder, values: readonly string[], v: unknown, field: string): void {
  const i = typeof v === "string" ? values.indexOf(v) : -1;
  if (i < 0) throw fieldError(field, `expected one of ${values.join("/")}`);
  enc.byte(i);
}

const encoder = new Encoder();
let scratch: Uint8Array | null = null;

/**
 * Encodes `entry` into `target` at `offset`; returns the end offset, or -1 when the
 * target has too little room (the caller grows it and retries). Throws CodecError for an
 * entry that cannot be encoded (malformed, or over CODEC_ENTRY_MAX_BYTES).
 */
export function encodeEntryInto(entry: LogEntry, target: Uint8Array, offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset > target.length) throw new RangeError("encodeEntryInto: bad offset");
  encoder.reset(target, offset);
  try {
    encodeInto(encoder, entry);
  } catch (err) {
    if (err instanceof OutOfSpace) return -1;
    throw err;
  }
  return encoder.pos;
}

export function encodeEntry(entry: LogEntry): Uint8Array {
  scratch ??= new Uint8Array(CODEC_ENTRY_MAX_BYTES);
  const end = encodeEntryInto(entry, scratch, 0);
  return scratch.slice(0, end);
}

// ---------------------------------------------------------------------------------------
// Decoder

class Decoder {
  constructor(
    public buf: Uint8Array,
    public pos: number,
    public end: number,
    /** Where offsets in errors count from (the entry's start when decoding in place). */
    public base = 0,
  ) {}

  /** Points this decoder at new input (one decoder is reused per entry: no allocation). */
  reset(buf: Uint8Array, pos: number, end: number, base: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.base = base;
  }

  fail(reason: CodecErrorReason, message: string, field?: string): never {
    throw new CodecError(reason, this.pos - this.base, message, field);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail("truncated", "unexpected end of input");
    return this.buf[this.pos++]!;
  }

  /** Minimal unsigned varint ≤ max (≤ Number.MAX_SAFE_INTEGER). */
  uint(max: number, field?: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail("varint", "non-minimal varint", field);
        if (result > max) this.fail(field === undefined ? "varint" : "field", `value ${result} exceeds ${max}`, field);
        return result;
      }
      mul *= 0x80;
    }
    return this.fail("varint", "varint too long", field);
  }

  bigZigzag(field: string): bigint {
    // Fast path: up to 7 bytes (49 bits) in Number arithmetic.
    const start = this.pos;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.byte();
      n += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail("varint", "non-minimal varint", field);
        return n % 2 === 0 ? BigInt(n / 2) : -BigInt((n + 1) / 2);
      }
      mul *= 0x80;
    }
    this.pos = start;
    let z = 0n;
    let shift = 0n;
    for (let i = 0; i < DECIMAL_MANTISSA_MAX_VARINT_BYTES; i++) {
      const b = this.byte();
      z |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) {
        if (b === 0) this.fail("varint", "non-minimal varint", field);
        return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
      }
    }
    return this.fail("field", "decimal mantissa too large", field);
  }

  decimal(field: string): Decimal {
    // Fast path: a varint of ≤ 7 bytes is < 2^49, so |mantissa| < 2^48 < 10^15 and the
    // checks run on Numbers; with scale ≤ 40 the string form is < 64 characters.
    const start = this.pos;
    let z = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.byte();
      z += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) this.fail("varint", "non-minimal varint", field);
        const scale = this.byte();
        if (scale > 40) break;
        const neg = z % 2 === 1;
        const mag = neg ? (z + 1) / 2 : z / 2;
        if (scale > 0 && mag % 10 === 0) this.fail("field", "not canonical (trailing zero)", field);
        return { mantissa: BigInt(neg ? -mag : mag), scale };
      }
      mul *= 0x80;
    }
    this.pos = start;
    const mantissa = this.bigZigzag(field);
    const scale = this.byte();
    const problem = decimalProblem(mantissa, scale);
    if (problem !== null) this.fail("field", problem, field);
    return { mantissa, scale };
  }

  /** An enum byte: an index into `values`. */
  oneOf<V extends string>(values: readonly V[], field: string): V {
    const v = values[this.byte()];
    if (v === undefined) this.fail("field", "enum index out of range", field);
    return v;
  }

  /**
   * An event field string. Short ASCII strings (symbols, accounts, assets: a few distinct
   * values repeated millions of times) are interned in a direct-mapped cache, which saves
   * the allocation and remembers which field checks the string already passed.
   */
  fieldString(f: StringField): string {
    const len = this.uint(FIELD_STRING_MAX_BYTES, f.name);
    if (this.end - this.pos < len) this.fail("truncated", "string runs past the end", f.name);
    const buf = this.buf;
    const start = this.pos;
    const stop = start + len;
    let h = 0x811c9dc5; // FNV-1a
    let i = start;
    for (; i < stop; i++) {
      const b = buf[i]!;
      if (b >= 0x80) break;
      h = Math.imul(h ^ b, 0x01000193);
    }
    if (i === stop && !f.intern && len <= SHORT_STRING_MAX_BYTES) {
      // Short ASCII, not interned (an id): one String.fromCharCode call per 8 characters
      // (one string allocated), cheaper than a concatenation per character,
      // fromCharCode.apply or a TextDecoder at this length.
      const s = shortAscii(buf, start, len);
      if (!f.check(s)) this.fail("field", `expected ${f.what}`, f.name);
      this.pos = stop;
      return s;
    }
    if (i === stop && f.intern && len <= INTERN_MAX_BYTES) {
      const slot = (h ^ len) & (INTERN_SLOTS - 1);
      let s = internStrings[slot]!;
      let same = s.length === len;
      for (let k = 0; same && k < len; k++) same = s.charCodeAt(k) === buf[start + k];
      if (!same) {
        s = String.fromCharCode.apply(null, buf.subarray(start, stop) as unknown as number[]);
        internStrings[slot] = s;
        internChecked[slot] = 0;
      }
      if ((internChecked[slot]! & f.checkBit) === 0) {
        if (!f.check(s)) this.fail("field", `expected ${f.what}`, f.name);
        internChecked[slot]! |= f.checkBit;
      }
      this.pos = stop;
      return s;
    }
    this.pos = start - varintBytes(len);
    const s = this.string(FIELD_STRING_MAX_BYTES, f.name);
    if (!f.check(s)) this.fail("field", `expected ${f.what}`, f.name);
    return s;
  }

  string(maxBytes: number, field: string): string {
    const len = this.uint(maxBytes, field);
    if (this.end - this.pos < len) this.fail("truncated", "string runs past the end", field);
    const start = this.pos;
    const stop = start + len;
    const s = len >= 256 ? decodeLong(this.buf, start, stop) : decodeWtf8(this.buf, start, stop);
    if (s === null) this.fail("utf8", "invalid UTF-8", field);
    this.pos = stop;
    return s;
  }
}

const fcc = String.fromCharCode;

/** `len` (≤ SHORT_STRING_MAX_BYTES) ASCII bytes at `at` as a string. */
function shortAscii(b: Uint8Array, at: number, len: number): string {
  switch (len) {
    case 0: return "";
    case 1: return fcc(b[at]!);
    case 2: return fcc(b[at]!, b[at + 1]!);
    case 3: return fcc(b[at]!, b[at + 1]!, b[at + 2]!);
    case 4: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
    case 5: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!);
    case 6: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!);
    case 7: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!);
    case 8: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
    default: return fcc(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!) + shortAscii(b, at + 8, len - 8);
  }
}

/** Longest field string in bytes: an id of ID_MAX_CHARS UTF-16 units, 3 bytes each. */
const FIELD_STRING_MAX_BYTES = 3 * ID_MAX_CHARS;
const INTERN_MAX_BYTES = 64;
/** Direct-mapped: room for some 10k distinct names (accounts) with few collisions. */
const INTERN_SLOTS = 16384; // power of two
const SHORT_STRING_MAX_BYTES = 24;
const internStrings: string[] = new Array<string>(INTERN_SLOTS).fill("");
const internChecked = new Uint8Array(INTERN_SLOTS);

function decodeLong(buf: Uint8Array, start: number, stop: number): string | null {
  try {
    return textDecoder.decode(buf.subarray(start, stop));
  } catch {
    // Not strict UTF-8: maybe WTF-8 (lone surrogates), else null.
    return decodeWtf8(buf, start, stop);
  }
}

const FROM_CHAR_CODE_CHUNK = 4096;

/** Strict WTF-8 → string, or null for any malformed, overlong or non-canonical sequence. */
function decodeWtf8(buf: Uint8Array, start: number, stop: number): string | null {
  let out = "";
  const units: number[] = [];
  let leadFrom3 = false; // previous unit was a lone lead surrogate encoded in 3 bytes
  let i = start;
  while (i < stop) {
    const b0 = buf[i]!;
    let c: number;
    let isLead3 = false;
    if (b0 < 0x80) {
      c = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= stop) return null;
      const b1 = buf[i + 1]!;
      if ((b1 & 0xc0) !== 0x80) return null;
      c = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (i + 2 >= stop) return null;
      const b1 = buf[i + 1]!;
      const b2 = buf[i + 2]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      if (b0 === 0xe0 && b1 < 0xa0) return null; // overlong
      c = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (c >= 0xdc00 && c <= 0xdfff && leadFrom3) return null; // a pair must use 4 bytes
      isLead3 = c >= 0xd800 && c <= 0xdbff;
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (i + 3 >= stop) return null;
      const b1 = buf[i + 1]!;
      const b2 = buf[i + 2]!;
      const b3 = buf[i + 3]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      if ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 > 0x8f)) return null;
      const cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      units.push(0xd800 + ((cp - 0x10000) >> 10));
      c = 0xdc00 + ((cp - 0x10000) & 0x3ff);
      i += 4;
    } else {
      return null;
    }
    leadFrom3 = isLead3;
    units.push(c);
    if (units.length >= FROM_CHAR_CODE_CHUNK) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return units.length === 0 ? out : out + String.fromCharCode(...units);
}

function decodeField(d: Decoder, f: Field): unknown {
  switch (f.kind) {
    case "string":
      return d.fieldString(f);
    case "decimal":
      return d.decimal(f.name);
    case "optDecimal": {
      const flag = d.byte();
      if (flag === 0) return undefined;
      if (flag !== 1) d.fail("field", "bad presence flag", f.name);
      return d.decimal(f.name);
    }
    case "uint":
      return decodeUint(d, f.min, f.max, f.name);
    case "bool": {
      const b = d.byte();
      if (b > 1) d.fail("field", "expected a boolean byte", f.name);
      return b === 1;
    }
    case "enum": {
      const v = f.values[d.byte()];
      if (v === undefined) d.fail("field", "enum index out of range", f.name);
      return v;
    }
    case "tiers": {
      const n = decodeUint(d, 1, TIERS_MAX, f.name);
      const tiers: TierDef[] = [];
      for (let i = 0; i < n; i++) {
        const maxNotional = d.decimal(`tiers[${i}].maxNotional`);
        const mmr = d.decimal(`tiers[${i}].mmr`);
        const maxLeverage = decodeUint(d, 1, CODEC_POS_INT_MAX, `tiers[${i}].maxLeverage`);
        tiers.push({ maxNotional, mmr, maxLeverage });
      }
      return tiers;
    }
  }
}

function decodeUint(d: Decoder, min: number, max: number, field: string): number {
  const v = d.uint(max, field);
  if (v < min) d.fail("field", `value ${v} below ${min}`, field);
  return v;
}

function decodeOne(d: Decoder, byTable = false): LogEntry {
  const version = d.byte();
  if (version !== CODEC_VERSION) {
    d.pos--;
    d.fail("version", `unknown codec version ${version}`);
  }
  const tag = d.byte();
  if (tag === RAW_TAG) return { kind: "raw", raw: d.string(RAW_TEXT_MAX_BYTES, "raw") };
  const type = TYPE_BY_TAG[tag];
  if (type === undefined) {
    d.pos--;
    d.fail("tag", `unknown type tag ${tag}`);
  }
  const tsFlag = d.byte();
  let ts: number | undefined;
  if (tsFlag === 1) ts = d.uint(Number.MAX_SAFE_INTEGER, "ts");
  else if (tsFlag !== 0) d.fail("field", "bad ts presence flag", "ts");
  return { kind: "event", event: byTable ? decodeByTable(d, type, ts) : decodeEvent(d, type, ts) };
}

/** The generic decoder: walks FIELDS, one keyed store per field. */
function decodeByTable(d: Decoder, type: InputEventType, ts: number | undefined): InputEvent {
  const e: Record<string, unknown> = { type };
  if (ts !== undefined) e.ts = ts;
  for (const f of FIELDS[type] as readonly Field[]) {
    const v = decodeField(d, f);
    if (v !== undefined) e[f.name] = v; // an absent optional field has no key (as after validateEvent)
  }
  return e as unknown as InputEvent;
}

/**
 * The event's fields, by a hand-written decoder per type: each builds its event as one
 * object literal (with and without ts), where the table walk stores one key at a time
 * through a megamorphic keyed store (≈ 1k instructions per event). Each reads the fields
 * in FIELDS order with FIELDS' own descriptors; a test checks every type against
 * decodeByTable. Types with optional fields (orders) take the table walk.
 */
function decodeEvent(d: Decoder, type: InputEventType, ts: number | undefined): InputEvent {
  switch (type) {
    case "trade": {
      const id = d.fieldString(F_ID);
      const symbol = d.fieldString(F_SYMBOL);
      const price = d.decimal("price");
      const qty = d.decimal("qty");
      const buyer = d.fieldString(F_BUYER);
      const seller = d.fieldString(F_SELLER);
      const taker = d.oneOf(TAKERS, "taker");
      return ts === undefined
        ? { type: "trade", id, symbol, price, qty, buyer, seller, taker }
        : { type: "trade", ts, id, symbol, price, qty, buyer, seller, taker };
    }
    case "mark": {
      const symbol = d.fieldString(F_SYMBOL);
      const price = d.decimal("price");
      return ts === undefined ? { type: "mark", symbol, price } : { type: "mark", ts, symbol, price };
    }
    case "leverage": {
      const account = d.fieldString(F_ACCOUNT);
      const symbol = d.fieldString(F_SYMBOL);
      const leverage = decodeUint(d, 1, CODEC_POS_INT_MAX, "leverage");
      return ts === undefined ? { type: "leverage", account, symbol, leverage } : { type: "leverage", ts, account, symbol, leverage };
    }
    case "margin.mode": {
      const account = d.fieldString(F_ACCOUNT);
      const symbol = d.fieldString(F_SYMBOL);
      const mode = d.oneOf(MARGIN_MODES, "mode");
      return ts === undefined ? { type: "margin.mode", account, symbol, mode } : { type: "margin.mode", ts, account, symbol, mode };
    }
    case "margin.transfer": {
      const account = d.fieldString(F_ACCOUNT);
      const symbol = d.fieldString(F_SYMBOL);
      const amount = d.decimal("amount");
      return ts === undefined
        ? { type: "margin.transfer", account, symbol, amount }
        : { type: "margin.transfer", ts, account, symbol, amount };
    }
    case "deposit":
    case "withdraw": {
      const id = d.fieldString(F_ID);
      const account = d.fieldString(F_ACCOUNT);
      const asset = d.fieldString(F_ASSET);
      const amount = d.decimal("amount");
      if (type === "deposit") {
        return ts === undefined ? { type: "deposit", id, account, asset, amount } : { type: "deposit", ts, id, account, asset, amount };
      }
      return ts === undefined ? { type: "withdraw", id, account, asset, amount } : { type: "withdraw", ts, id, account, asset, amount };
    }
    case "collateral.price": {
      const asset = d.fieldString(F_ASSET);
      const price = d.decimal("price");
      return ts === undefined ? { type: "collateral.price", asset, price } : { type: "collateral.price", ts, asset, price };
    }
    case "funding": {
      const symbol = d.fieldString(F_SYMBOL);
      const rate = d.decimal("rate");
      return ts === undefined ? { type: "funding", symbol, rate } : { type: "funding", ts, symbol, rate };
    }
    case "order.cancel": {
      const symbol = d.fieldString(F_SYMBOL);
      const id = d.fieldString(F_ID);
      const account = d.fieldString(F_ACCOUNT);
      return ts === undefined ? { type: "order.cancel", symbol, id, account } : { type: "order.cancel", ts, symbol, id, account };
    }
    default:
      return decodeByTable(d, type, ts);
  }
}

/** Decodes one entry occupying all of `bytes`; throws CodecError for anything malformed. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  if (bytes.length > CODEC_ENTRY_MAX_BYTES) throw new CodecError("too-large", 0, `entry exceeds ${CODEC_ENTRY_MAX_BYTES} bytes`);
  return decodeEntryAt(bytes, 0, bytes.length);
}

const entryDecoder = new Decoder(new Uint8Array(0), 0, 0);

/**
 * decodeEntry through the FIELDS walk only (no per-type decoders): what tests compare the
 * per-type decoders with. Not for production paths.
 */
export function decodeEntryByTable(bytes: Uint8Array): LogEntry {
  const d = new Decoder(bytes, 0, bytes.length);
  const entry = decodeOne(d, true);
  if (d.pos !== bytes.length) d.fail("trailing", `${bytes.length - d.pos} bytes after the entry`);
  return entry;
}

/**
 * decodeEntry of `buf[start, end)` without a view of it (the journal reader decodes in its
 * read chunk). Error offsets count from `start`, as decodeEntry's do.
 */
export function decodeEntryAt(buf: Uint8Array, start: number, end: number): LogEntry {
  const len = end - start;
  if (len > CODEC_ENTRY_MAX_BYTES) throw new CodecError("too-large", 0, `entry exceeds ${CODEC_ENTRY_MAX_BYTES} bytes`);
  const d = entryDecoder;
  d.reset(buf, start, end, start);
  const entry = decodeOne(d);
  if (d.pos !== end) d.fail("trailing", `${end - d.pos} bytes after the entry`);
  d.reset(EMPTY_BYTES, 0, 0, 0); // do not keep the caller's buffer alive
  return entry;
}

const EMPTY_BYTES = new Uint8Array(0);

// ---------------------------------------------------------------------------------------
// Batches

const MAGIC_BYTES = [...BATCH_MAGIC].map((c) => c.charCodeAt(0));

export function encodeBatch(entries: readonly LogEntry[]): Uint8Array {
  if (!Array.isArray(entries)) throw new TypeError("encodeBatch: expected an array");
  if (entries.length > BATCH_MAX_ENTRIES) {
    throw new CodecError("count", -1, `${entries.length} entries exceed the batch limit of ${BATCH_MAX_ENTRIES}`);
  }
  scratch ??= new Uint8Array(CODEC_ENTRY_MAX_BYTES);
  const entryBuf = scratch;
  let out = new Uint8Array(4096);
  let pos = 0;
  const reserve = (n: number): void => {
    if (pos + n > BATCH_MAX_BYTES) throw new CodecError("too-large", -1, `batch exceeds ${BATCH_MAX_BYTES} bytes`);
    if (pos + n <= out.length) return;
    const grown = new Uint8Array(Math.min(BATCH_MAX_BYTES, Math.max(out.length * 2, pos + n)));
    grown.set(out.subarray(0, pos));
    out = grown;
  };
  const putUint = (n: number): void => {
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
  };
  reserve(MAGIC_BYTES.length + 1 + varintBytes(entries.length));
  out.set(MAGIC_BYTES, 0);
  pos = MAGIC_BYTES.length;
  out[pos++] = BATCH_VERSION;
  putUint(entries.length);
  for (const entry of entries) {
    const len = encodeEntryInto(entry, entryBuf, 0);
    reserve(varintBytes(len) + len);
    putUint(len);
    out.set(entryBuf.subarray(0, len), pos);
    pos += len;
  }
  return out.slice(0, pos);
}

export function decodeBatch(bytes: Uint8Array): LogEntry[] {
  return decodeBatchInto(bytes, null);
}

declare const canonicalEntryBrand: unique symbol;

/**
 * Bytes the decoder accepted as exactly one entry. The encoding is canonical, so they are
 * what encodeEntry gives for the decoded entry, and can be journaled as they are (the
 * journal writer's appendInputEncoded takes only these). Made by decodeBatchEncoded and
 * toEncodedEntry; the brand keeps unchecked bytes out of the journal at compile time.
 */
export type EncodedEntry = Uint8Array & { readonly [canonicalEntryBrand]: true };

export interface DecodedBatch {
  readonly entries: LogEntry[];
  /** `encoded[i]` is entry i's bytes: a view into the batch (no copy). */
  readonly encoded: EncodedEntry[];
}

/** decodeBatch, plus each entry's canonical bytes (views into `bytes`). */
export function decodeBatchEncoded(bytes: Uint8Array): DecodedBatch {
  const encoded: EncodedEntry[] = [];
  return { entries: decodeBatchInto(bytes, encoded), encoded };
}

/** Checks that `bytes` are one canonical entry (a full decode); throws CodecError. */
export function toEncodedEntry(bytes: Uint8Array): EncodedEntry {
  decodeEntry(bytes);
  return bytes as EncodedEntry;
}

/**
 * The `ts` an encoded entry carries (undefined for a raw entry or an event without one),
 * read from its header alone: [version][tag][ts flag][ts varint].
 */
export function encodedEntryTs(bytes: Uint8Array): number | undefined {
  // Hand-rolled (no Decoder object): the journal writer calls this for every record.
  if (bytes[0] !== CODEC_VERSION) throw new CodecError("version", 0, `unknown codec version ${bytes[0]}`);
  const tag = bytes[1];
  if (tag === RAW_TAG) return undefined;
  if (tag === undefined || TYPE_BY_TAG[tag] === undefined) throw new CodecError("tag", 1, `unknown type tag ${tag}`);
  const flag = bytes[2];
  if (flag === 0) return undefined;
  if (flag !== 1) throw new CodecError("field", 2, "bad ts presence flag", "ts");
  let ts = 0;
  let mul = 1;
  for (let i = 3; i < 11 && i < bytes.length; i++) {
    const b = bytes[i]!;
    ts += (b & 0x7f) * mul;
    if (b < 0x80) {
      if ((b === 0 && i > 3) || ts > Number.MAX_SAFE_INTEGER) throw new CodecError("varint", i, "bad ts varint", "ts");
      return ts;
    }
    mul *= 0x80;
  }
  throw new CodecError("truncated", 3, "bad ts varint", "ts");
}

function decodeBatchInto(bytes: Uint8Array, encoded: EncodedEntry[] | null): LogEntry[] {
  if (bytes.length > BATCH_MAX_BYTES) throw new CodecError("too-large", 0, `batch exceeds ${BATCH_MAX_BYTES} bytes`);
  const d = new Decoder(bytes, 0, bytes.length);
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (d.byte() !== MAGIC_BYTES[i]) {
      d.pos--;
      d.fail("magic", "not an MMCB batch");
    }
  }
  const version = d.byte();
  if (version !== BATCH_VERSION) {
    d.pos--;
    d.fail("version", `unknown batch version ${version}`);
  }
  const count = d.uint(Number.MAX_SAFE_INTEGER);
  if (count > BATCH_MAX_ENTRIES) d.fail("count", `${count} entries exceed the batch limit of ${BATCH_MAX_ENTRIES}`);
  const out: LogEntry[] = [];
  // One decoder for the entries, pointed at each in turn (offsets still count from the batch's start).
  const inner = new Decoder(bytes, 0, 0);
  for (let i = 0; i < count; i++) {
    const len = d.uint(CODEC_ENTRY_MAX_BYTES, `entry[${i}].length`);
    if (bytes.length - d.pos < len) d.fail("truncated", "entry runs past the end of the batch");
    const end = d.pos + len;
    inner.reset(bytes, d.pos, end, 0);
    out.push(decodeOne(inner));
    if (inner.pos !== end) inner.fail("trailing", "bytes after the entry inside its length");
    // Decoded whole and canonical: these are the entry's journal bytes.
    if (encoded !== null) encoded.push(new Uint8Array(bytes.buffer, bytes.byteOffset + d.pos, len) as EncodedEntry);
    d.pos = end;
  }
  if (d.pos !== bytes.length) d.fail("trailing", `${bytes.length - d.pos} bytes after the batch`);
  return out;
}
