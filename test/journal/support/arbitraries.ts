// fast-check arbitraries for well-formed log entries. Events are generated as wire JSON
// and passed through validateEvent, so they have exactly the shape (keys, key order,
// canonical decimals, defaults) the schema produces.
import fc from "fast-check";
import { validateEvent } from "../../../src/events/schema.js";
import { formatScaled } from "../../../src/numbers/decimal.js";
import { INPUT_EVENT_TYPES, type InputEvent, type InputEventType, type LogEntry } from "../../../src/events/types.js";
import { parseEventLine } from "../../../src/events/schema.js";
import { hasLoneSurrogate } from "../../../src/events/codec.js";

const NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
const nameChar = fc.constantFrom(...NAME_CHARS.split(""));
const name = (max: number): fc.Arbitrary<string> => fc.string({ unit: nameChar, minLength: 1, maxLength: max });

export const accountArb = fc.oneof({ weight: 8, arbitrary: name(64) }, { weight: 1, arbitrary: fc.constantFrom("@insurance", "@fees") });
export const symbolArb = name(32);
export const assetArb = name(16);

/** Any UTF-16 code unit (lone surrogates included), plus common multi-byte characters. */
export const anyUnitArb = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("😀", "é", "中", "\u{10ffff}", "\ufeff", "\n", "\r", '"', "\\"),
  nameChar,
);
export const anyStringArb = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: anyUnitArb, maxLength });
export const idArb = fc.string({ unit: anyUnitArb, minLength: 1, maxLength: 64 }).filter((s) => s.length <= 128);

/** Decimal wire values: strings with optional sign, leading/trailing zeros; or safe integers. */
export const decimalWireArb: fc.Arbitrary<string | number> = fc.oneof(
  fc
    .record({
      mantissa: fc.oneof(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.bigInt({ min: -(10n ** 45n), max: 10n ** 45n })),
      scale: fc.nat({ max: 30 }),
      trailing: fc.nat({ max: 3 }),
      leading: fc.nat({ max: 2 }),
    })
    .map(({ mantissa, scale, trailing, leading }) => {
      let s = formatScaled(mantissa, scale);
      if (trailing > 0) s += (scale === 0 ? "." : "") + "0".repeat(trailing);
      if (leading > 0) s = s.startsWith("-") ? "-" + "0".repeat(leading) + s.slice(1) : "0".repeat(leading) + s;
      return s;
    })
    .filter((s) => s.length <= 64),
  fc.stringMatching(/^-?\d{1,40}(\.\d{1,40})?$/).filter((s) => s.length <= 64),
  fc.maxSafeInteger(),
  fc.constantFrom("0", "-0", "-0.000", "0.00000001", "9".repeat(64), "0." + "0".repeat(61) + "1"),
);

const tsArb = fc.option(fc.oneof(fc.nat(), fc.maxSafeNat()), { nil: undefined });
const posIntArb = fc.integer({ min: 1, max: 1_000_000 });

function withTs<T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T & { ts?: number }> {
  return fc.tuple(arb, tsArb).map(([o, ts]) => (ts === undefined ? o : { ...o, ts }));
}

const tierArb = fc.record({ maxNotional: decimalWireArb, mmr: decimalWireArb, maxLeverage: posIntArb });

export const wireArbs: Record<InputEventType, fc.Arbitrary<Record<string, unknown>>> = {
  asset: withTs(
    fc.record(
      {
        type: fc.constant("asset"),
        asset: assetArb,
        decimals: fc.integer({ min: 0, max: 18 }),
        haircut: decimalWireArb,
        settlement: fc.boolean(),
      },
      { requiredKeys: ["type", "asset", "decimals"] },
    ),
  ),
  instrument: withTs(
    fc.record({
      type: fc.constant("instrument"),
      symbol: symbolArb,
      tickSize: decimalWireArb,
      lotSize: decimalWireArb,
      tiers: fc.array(tierArb, { minLength: 1, maxLength: 8 }),
      makerFee: decimalWireArb,
      takerFee: decimalWireArb,
      liquidationFee: decimalWireArb,
      insuranceShare: decimalWireArb,
    }),
  ),
  deposit: withTs(fc.record({ type: fc.constant("deposit"), id: idArb, account: accountArb, asset: assetArb, amount: decimalWireArb })),
  withdraw: withTs(fc.record({ type: fc.constant("withdraw"), id: idArb, account: accountArb, asset: assetArb, amount: decimalWireArb })),
  leverage: withTs(fc.record({ type: fc.constant("leverage"), account: accountArb, symbol: symbolArb, leverage: posIntArb })),
  "margin.mode": withTs(
    fc.record({ type: fc.constant("margin.mode"), account: accountArb, symbol: symbolArb, mode: fc.constantFrom("cross", "isolated") }),
  ),
  "margin.transfer": withTs(fc.record({ type: fc.constant("margin.transfer"), account: accountArb, symbol: symbolArb, amount: decimalWireArb })),
  trade: withTs(
    fc.record({
      type: fc.constant("trade"),
      id: idArb,
      symbol: symbolArb,
      price: decimalWireArb,
      qty: decimalWireArb,
      buyer: accountArb,
      seller: accountArb,
      taker: fc.constantFrom("buyer", "seller"),
    }),
  ),
  mark: withTs(fc.record({ type: fc.constant("mark"), symbol: symbolArb, price: decimalWireArb })),
  "collateral.price": withTs(fc.record({ type: fc.constant("collateral.price"), asset: assetArb, price: decimalWireArb })),
  funding: withTs(fc.record({ type: fc.constant("funding"), symbol: symbolArb, rate: decimalWireArb })),
  "order.new": withTs(
    fc.record(
      {
        type: fc.constant("order.new"),
        symbol: symbolArb,
        id: idArb,
        account: accountArb,
        side: fc.constantFrom("buy", "sell"),
        orderType: fc.constantFrom("limit", "market"),
        price: decimalWireArb,
        qty: decimalWireArb,
        tif: fc.constantFrom("GTC", "IOC", "FOK", "POST_ONLY"),
        reduceOnly: fc.boolean(),
        stp: fc.constantFrom("cancel-taker", "cancel-maker", "cancel-both"),
      },
      { requiredKeys: ["type", "symbol", "id", "account", "side", "qty"] },
    ),
  ),
  "order.cancel": withTs(fc.record({ type: fc.constant("order.cancel"), symbol: symbolArb, id: idArb, account: accountArb })),
  "order.replace": withTs(
    fc.record(
      { type: fc.constant("order.replace"), symbol: symbolArb, id: idArb, account: accountArb, price: decimalWireArb, qty: decimalWireArb },
      { requiredKeys: ["type", "symbol", "id", "account"] },
    ),
  ),
};

function validated(json: Record<string, unknown>): InputEvent {
  const r = validateEvent(json);
  if (!r.ok) throw new Error(`generator produced an invalid event: ${r.rejection.message} in ${JSON.stringify(json, (_k, v: unknown) => v)}`);
  return r.event;
}

export const eventArbByType = Object.fromEntries(
  INPUT_EVENT_TYPES.map((t) => [t, wireArbs[t].map(validated)]),
) as Record<InputEventType, fc.Arbitrary<InputEvent>>;

export const eventArb: fc.Arbitrary<InputEvent> = fc.oneof(...INPUT_EVENT_TYPES.map((t) => eventArbByType[t]));
export const eventEntryArb: fc.Arbitrary<LogEntry> = eventArb.map((event) => ({ kind: "event", event }));

/**
 * Raw entries as the NDJSON file reader makes them: a non-blank line that fails parsing
 * (decoded from UTF-8, so no lone surrogates).
 */
export const rawLineArb: fc.Arbitrary<string> = fc
  .oneof(
    anyStringArb(80),
    wireArbs.trade.map((o) => JSON.stringify({ ...o, price: 1.5 })), // float price: E_SCHEMA
    fc.constantFrom('{"type":"bogus"}', "not json", "[1,2]", '{"type":"mark","symbol":"B"}', "{", "\r"),
  )
  .filter(
    (s) =>
      !s.includes("\n") && !/^[ \t\r]*$/.test(s) && s.charCodeAt(0) !== 0xfeff && !hasLoneSurrogate(s) && !parseEventLine(s).ok,
  );

export const rawEntryArb: fc.Arbitrary<LogEntry> = rawLineArb.map((raw) => ({ kind: "raw", raw }));
/** Any raw text the codec must carry (not necessarily a single line). */
export const anyRawEntryArb: fc.Arbitrary<LogEntry> = anyStringArb(200).map((raw) => ({ kind: "raw", raw }));

export const entryArb: fc.Arbitrary<LogEntry> = fc.oneof({ weight: 4, arbitrary: eventEntryArb }, { weight: 1, arbitrary: rawEntryArb });
