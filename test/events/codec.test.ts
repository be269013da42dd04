import { describe, expect, test } from "vitest";
import fc from "fast-check";
import {
  BATCH_MAX_BYTES,
  BATCH_MAX_ENTRIES,
  CODEC_ENTRY_MAX_BYTES,
  CodecError,
  EVENT_TAGS,
  RAW_TAG,
  RAW_TEXT_MAX_BYTES,
  decodeBatch,
  decodeEntry,
  decodeEntryAt,
  decodeEntryByTable,
  encodeBatch,
  encodeEntry,
  encodeEntryInto,
} from "../../src/events/codec.js";
import { eventToJson, validateEvent } from "../../src/events/schema.js";
import { INPUT_EVENT_TYPES, type InputEvent, type LogEntry } from "../../src/events/types.js";
import { anyRawEntryArb, entryArb, eventArbByType, rawEntryArb } from "../journal/support/arbitraries.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function ev(json: Record<string, unknown>): LogEntry {
  const r = validateEvent(json);
  if (!r.ok) throw new Error(r.rejection.message);
  return { kind: "event", event: r.event };
}

/** What any successful decode must satisfy: canonical bytes and a schema-valid entry. */
function assertValidDecode(bytes: Uint8Array, entry: LogEntry): void {
  expect(hex(encodeEntry(entry))).toBe(hex(bytes));
  if (entry.kind === "event") {
    const again = validateEvent(eventToJson(entry.event));
    expect(again.ok).toBe(true);
    if (again.ok) expect(again.event).toStrictEqual(entry.event);
  } else {
    expect(typeof entry.raw).toBe("string");
  }
}

function decodeOrCodecError(bytes: Uint8Array): LogEntry | CodecError {
  try {
    return decodeEntry(bytes);
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw err; // any other exception fails the property
  }
}

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw new Error(`expected a CodecError, got ${String(err)}`);
  }
  throw new Error("expected a CodecError, got a result");
}

describe("entry round trip", () => {
  for (const type of INPUT_EVENT_TYPES) {
    test(`random well-formed ${type} events round-trip exactly`, () => {
      fc.assert(
        fc.property(eventArbByType[type], (event) => {
          const entry: LogEntry = { kind: "event", event };
          const bytes = encodeEntry(entry);
          expect(bytes[0]).toBe(1);
          expect(bytes[1]).toBe(EVENT_TAGS[type]);
          const back = decodeEntry(bytes);
          expect(back).toStrictEqual(entry);
          // Same keys in the same order as validateEvent: canonical JSON is unchanged.
          expect(Object.keys((back as { event: InputEvent }).event)).toEqual(Object.keys(event));
          expect(JSON.stringify(eventToJson((back as { event: InputEvent }).event))).toBe(JSON.stringify(eventToJson(event)));
        }),
        { numRuns: 300 },
      );
    });
  }

  test("the per-type decoders agree with the FIELDS walk (values, key order, with and without ts)", () => {
    for (const type of INPUT_EVENT_TYPES) {
      fc.assert(
        fc.property(eventArbByType[type], fc.boolean(), (event, dropTs) => {
          const e = dropTs ? (({ ts: _ts, ...rest }) => rest)(event as InputEvent & { ts?: number }) : event;
          const bytes = encodeEntry({ kind: "event", event: e as InputEvent });
          const fast = decodeEntry(bytes);
          const table = decodeEntryByTable(bytes);
          expect(fast).toStrictEqual(table);
          expect(Object.keys((fast as { event: InputEvent }).event)).toEqual(Object.keys((table as { event: InputEvent }).event));
        }),
        { numRuns: 200 },
      );
    }
  });

  test("the per-type decoders fail where the FIELDS walk fails, with the same error", () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        (entry, edits) => {
          const bytes = Uint8Array.from(encodeEntry(entry));
          for (const [pos, value] of edits) bytes[pos % bytes.length] = value;
          const run = (f: (b: Uint8Array) => LogEntry): LogEntry | string => {
            try {
              return f(bytes);
            } catch (err) {
              if (err instanceof CodecError) return err.message;
              throw err;
            }
          };
          expect(run(decodeEntry)).toStrictEqual(run(decodeEntryByTable));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("raw entries with any text (lone surrogates, newlines, BOM) round-trip exactly", () => {
    fc.assert(
      fc.property(anyRawEntryArb, (entry) => {
        const bytes = encodeEntry(entry);
        expect(bytes[1]).toBe(RAW_TAG);
        expect(decodeEntry(bytes)).toStrictEqual(entry);
      }),
      { numRuns: 500 },
    );
  });

  test("an interned string is still checked per field kind", () => {
    // "a b" is a valid id but not a valid symbol; decoding it as an id first must not
    // let it through as a symbol later (the decoder caches short strings).
    const asId = ev({ type: "deposit", id: "a b", account: "a", asset: "USDT", amount: "1" });
    expect(decodeEntry(encodeEntry(asId))).toStrictEqual(asId);
    const good = encodeEntry(ev({ type: "mark", symbol: "abc", price: "1" }));
    const forged = Uint8Array.from(good);
    forged[5] = 0x20; // "abc" → "a b"
    forged[6] = 0x62;
    expect(Buffer.from(forged.subarray(4, 7)).toString("latin1")).toBe("a b");
    expect(codecError(() => decodeEntry(forged)).field).toBe("symbol");
    // And a string that passed as a symbol is re-checked as an account.
    const sym = ev({ type: "mark", symbol: "x".repeat(32), price: "1" });
    decodeEntry(encodeEntry(sym));
    const lev = encodeEntry(ev({ type: "leverage", account: "x".repeat(32), symbol: "B", leverage: 3 }));
    expect(decodeEntry(lev)).toMatchObject({ event: { account: "x".repeat(32) } });
  });

  test("ASCII ids of every length decode exactly (short ones are not interned)", () => {
    for (let n = 1; n <= 64; n++) {
      const id = Array.from({ length: n }, (_, i) => String.fromCharCode(0x20 + ((i * 7 + n) % 95))).join("");
      const e = ev({ type: "trade", id, symbol: "B", price: "1", qty: "1", buyer: "a", seller: "b", taker: "buyer" });
      expect(decodeEntry(encodeEntry(e))).toStrictEqual(e);
    }
    // Control characters are ASCII too.
    const ctl = ev({ type: "deposit", id: "\u0000\t\u007f", account: "a", asset: "USDT", amount: "1" });
    expect(decodeEntry(encodeEntry(ctl))).toStrictEqual(ctl);
  });

  test("decodeEntryAt decodes in place: decodeEntry's entry, or its error with the same offset", () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        (entry, edits, before, after) => {
          const bytes = Uint8Array.from(encodeEntry(entry));
          for (const [pos, value] of edits) bytes[pos % bytes.length] = value;
          const buf = Uint8Array.from([...before, ...bytes, ...after]);
          const at = (): LogEntry => decodeEntryAt(buf, before.length, before.length + bytes.length);
          const ref = decodeOrCodecError(bytes);
          if (ref instanceof CodecError) {
            const err = codecError(at);
            expect([err.reason, err.offset, err.field, err.message]).toEqual([ref.reason, ref.offset, ref.field, ref.message]);
          } else {
            expect(at()).toStrictEqual(ref);
            if (edits.length === 0) expect(ref).toStrictEqual(entry);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("ids with lone surrogates survive (JSON and zod accept them)", () => {
    const e = ev({ type: "deposit", id: "\ud800a\udc00\ud83d\ude00\udbff", account: "a", asset: "USDT", amount: "1" });
    expect(decodeEntry(encodeEntry(e))).toStrictEqual(e);
  });

  test("long raw texts take the native UTF-8 path both ways", () => {
    for (const raw of ["x".repeat(5000), "é€😀".repeat(2000), "a\ud800".repeat(300), "\ufeff" + "b".repeat(400)]) {
      const e: LogEntry = { kind: "raw", raw };
      expect(decodeEntry(encodeEntry(e))).toStrictEqual(e);
    }
  });

  test("a maximal raw text (RAW_TEXT_MAX_BYTES) fits; one byte more is refused", () => {
    const max: LogEntry = { kind: "raw", raw: "a".repeat(RAW_TEXT_MAX_BYTES) };
    const bytes = encodeEntry(max);
    expect(bytes.length).toBeLessThanOrEqual(CODEC_ENTRY_MAX_BYTES);
    expect(decodeEntry(bytes)).toStrictEqual(max);
    expect(codecError(() => encodeEntry({ kind: "raw", raw: "a".repeat(RAW_TEXT_MAX_BYTES + 1) })).reason).toBe("too-large");
    // Multi-byte characters count in bytes, not UTF-16 units.
    expect(codecError(() => encodeEntry({ kind: "raw", raw: "é".repeat(RAW_TEXT_MAX_BYTES / 2 + 1) })).reason).toBe("too-large");
  });

  test("the format is pinned (golden bytes)", () => {
    expect(hex(encodeEntry(ev({ type: "mark", ts: 5, symbol: "B", price: "1.50" })))).toBe("0109" + "01" + "05" + "0142" + "1e01");
    expect(hex(encodeEntry(ev({ type: "mark", symbol: "B", price: "-2" })))).toBe("0109" + "00" + "0142" + "0300");
    expect(hex(encodeEntry({ kind: "raw", raw: "hé" }))).toBe("0100" + "03" + "68c3a9");
    expect(hex(encodeEntry(ev({ type: "margin.mode", account: "a", symbol: "B", mode: "isolated" })))).toBe("0106" + "00" + "0161" + "0142" + "01");
  });

  test("order events: defaults filled, optional price/qty as a presence byte (golden bytes)", () => {
    const limit = ev({ type: "order.new", symbol: "B", id: "o", account: "a", side: "sell", price: "1.5", qty: "2" });
    // tag 12, no ts, symbol, id, account, side=1, orderType=0, price present 15e-1, qty 2, tif=0, reduceOnly=0, stp=0
    expect(hex(encodeEntry(limit))).toBe("010c" + "00" + "0142" + "016f" + "0161" + "01" + "00" + "01" + "1e01" + "0400" + "00" + "00" + "00");
    const mkt = ev({ type: "order.new", symbol: "B", id: "o", account: "a", side: "buy", orderType: "market", qty: "2", tif: "IOC", reduceOnly: true, stp: "cancel-both" });
    expect(hex(encodeEntry(mkt))).toBe("010c" + "00" + "0142" + "016f" + "0161" + "00" + "01" + "00" + "0400" + "01" + "01" + "02");
    expect(decodeEntry(encodeEntry(mkt))).toStrictEqual(mkt);
    expect("price" in (decodeEntry(encodeEntry(mkt)) as { event: object }).event).toBe(false);
    // Writing the defaults out gives the same event and the same bytes.
    const explicit = ev({ type: "order.new", symbol: "B", id: "o", account: "a", side: "sell", orderType: "limit", price: "1.5", qty: "2", tif: "GTC", reduceOnly: false, stp: "cancel-taker" });
    expect(explicit).toStrictEqual(limit);
    expect(hex(encodeEntry(ev({ type: "order.cancel", symbol: "B", id: "o", account: "a" })))).toBe("010d" + "00" + "0142" + "016f" + "0161");
    const rep = ev({ type: "order.replace", symbol: "B", id: "o", account: "a", qty: "3" });
    expect(hex(encodeEntry(rep))).toBe("010e" + "00" + "0142" + "016f" + "0161" + "00" + "01" + "0600");
    expect(decodeEntry(encodeEntry(rep))).toStrictEqual(rep);
    // A presence byte other than 0/1 is refused.
    const bad = Uint8Array.from(encodeEntry(rep));
    bad[9] = 2; // the price presence byte
    expect(codecError(() => decodeEntry(bad)).field).toBe("price");
  });

  test("encodeEntryInto writes at an offset and reports a too-small target with -1", () => {
    const e = ev({ type: "funding", symbol: "BTC-PERP", rate: "0.0001" });
    const ref = encodeEntry(e);
    const target = new Uint8Array(100);
    const end = encodeEntryInto(e, target, 10);
    expect(hex(target.subarray(10, end))).toBe(hex(ref));
    expect(encodeEntryInto(e, new Uint8Array(ref.length + 2), 3)).toBe(-1);
    expect(encodeEntryInto(e, new Uint8Array(ref.length + 3), 3)).toBe(ref.length + 3);
    expect(() => encodeEntryInto(e, target, 101)).toThrow(RangeError);
  });
});

describe("malformed bytes", () => {
  test("random bytes decode to a valid entry or throw CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, prefix) => {
        // Half the time start with a plausible version + tag so decoding gets further.
        const input = prefix && bytes.length >= 2 ? Uint8Array.from([1, (bytes[1] ?? 0) % 15, ...bytes.subarray(2)]) : bytes;
        const r = decodeOrCodecError(input);
        if (!(r instanceof CodecError)) assertValidDecode(input, r);
      }),
      { numRuns: 5000 },
    );
  });

  test("every proper prefix of a valid encoding throws CodecError", () => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        const bytes = encodeEntry(entry);
        for (let n = 0; n < bytes.length; n++) {
          const r = decodeOrCodecError(bytes.subarray(0, n));
          expect(r).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("mutated encodings decode to a valid entry or throw CodecError", () => {
    fc.assert(
      fc.property(
        entryArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat({ max: 3 }),
        (entry, edits, extra) => {
          const bytes = Uint8Array.from([...encodeEntry(entry), ...new Array<number>(extra).fill(0x81)]);
          for (const [pos, value] of edits) bytes[pos % bytes.length] = value;
          const r = decodeOrCodecError(bytes);
          if (!(r instanceof CodecError)) assertValidDecode(bytes, r);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("specific malformations name their reason", () => {
    const good = encodeEntry(ev({ type: "mark", symbol: "B", price: "1.5" })); // 01 09 00 01 42 1e 01
    const patched = (i: number, v: number): Uint8Array => {
      const b = Uint8Array.from(good);
      b[i] = v;
      return b;
    };
    expect(codecError(() => decodeEntry(patched(0, 2))).reason).toBe("version");
    expect(codecError(() => decodeEntry(patched(1, 99))).reason).toBe("tag");
    expect(codecError(() => decodeEntry(patched(2, 2))).field).toBe("ts");
    expect(codecError(() => decodeEntry(Uint8Array.from([...good, 0]))).reason).toBe("trailing");
    expect(codecError(() => decodeEntry(new Uint8Array(0))).reason).toBe("truncated");
    // Symbol fails its pattern.
    expect(codecError(() => decodeEntry(patched(4, 0x20))).field).toBe("symbol");
    // Non-canonical decimal: mantissa 10 at scale 1 is "1.0".
    expect(codecError(() => decodeEntry(Uint8Array.from([1, 9, 0, 1, 0x42, 20, 1]))).field).toBe("price");
    // Non-minimal varint (0x80 0x00 spells zero in two bytes) in the ts.
    expect(codecError(() => decodeEntry(Uint8Array.from([1, 9, 1, 0x80, 0x00, 1, 0x42, 2, 0]))).reason).toBe("varint");
    // A mantissa varint longer than the bound.
    const huge = Uint8Array.from([1, 9, 0, 1, 0x42, ...new Array<number>(40).fill(0xff), 0x01, 0]);
    expect(codecError(() => decodeEntry(huge)).reason).toBe("field");
    // Decimal with more than 64 characters.
    const big = encodeEntry(ev({ type: "mark", symbol: "B", price: "9".repeat(64) }));
    expect(decodeEntry(big)).toBeTruthy();
    const tooLong = Uint8Array.from(big);
    tooLong[tooLong.length - 1] = 1; // same digits at scale 1: "9…9.9" is 65 chars
    expect(codecError(() => decodeEntry(tooLong)).field).toBe("price");
    // Invalid UTF-8 in a raw string; a surrogate pair spelled as two 3-byte halves.
    expect(codecError(() => decodeEntry(Uint8Array.from([1, 0, 1, 0xff]))).reason).toBe("utf8");
    expect(codecError(() => decodeEntry(Uint8Array.from([1, 0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]))).reason).toBe("utf8");
    expect(codecError(() => decodeEntry(Uint8Array.from([1, 0, 2, 0xc0, 0x80]))).reason).toBe("utf8"); // overlong NUL
    expect(codecError(() => decodeEntry(new Uint8Array(CODEC_ENTRY_MAX_BYTES + 1))).reason).toBe("too-large");
  });
});

describe("encoder refuses what it could not round-trip", () => {
  const mark = (over: Record<string, unknown>): LogEntry =>
    ({ kind: "event", event: { type: "mark", symbol: "B", price: { mantissa: 15n, scale: 1 }, ...over } }) as unknown as LogEntry;

  test.each([
    ["an extra key", mark({ extra: 1 }), "event"],
    ["a missing field", { kind: "event", event: { type: "mark", symbol: "B" } } as unknown as LogEntry, "event"],
    ["a bad symbol", mark({ symbol: "has space" }), "symbol"],
    ["a non-canonical decimal", mark({ price: { mantissa: 150n, scale: 2 } }), "price"],
    ["a negative scale", mark({ price: { mantissa: 1n, scale: -1 } }), "price"],
    ["a float ts", mark({ ts: 1.5 }), "ts"],
    ["an unknown type", { kind: "event", event: { type: "order" } } as unknown as LogEntry, "type"],
    [
      "a fractional leverage",
      { kind: "event", event: { type: "leverage", account: "a", symbol: "B", leverage: 2.5 } } as unknown as LogEntry,
      "leverage",
    ],
  ])("%s", (_what, entry, field) => {
    const err = codecError(() => encodeEntry(entry));
    expect(err.reason).toBe("field");
    expect(err.field).toBe(field);
  });

  test("a name that passed one field's check is checked again for another (the encoder's check cache)", () => {
    const long = "x".repeat(40); // an account (≤ 64 characters), not a symbol (≤ 32)
    const lev = ev({ type: "leverage", account: long, symbol: "B", leverage: 3 });
    decodeEntry(encodeEntry(lev)); // cached for the encoder and the decoder as an account
    for (const name of [long, "@fees"]) {
      encodeEntry(ev({ type: "leverage", account: name, symbol: "B", leverage: 3 }));
      const err = codecError(() => encodeEntry(mark({ symbol: name })));
      expect(err.field).toBe("symbol");
      const trade = { type: "trade", id: "t", symbol: name, price: { mantissa: 1n, scale: 0 }, qty: { mantissa: 1n, scale: 0 }, buyer: "a", seller: "b", taker: "buyer" };
      expect(codecError(() => encodeEntry({ kind: "event", event: trade } as unknown as LogEntry)).field).toBe("symbol");
    }
    // And the other way: a symbol is not an asset when longer than 16 characters.
    const sym = "s".repeat(20);
    encodeEntry(mark({ symbol: sym }));
    const cp = { type: "collateral.price", asset: sym, price: { mantissa: 1n, scale: 0 } };
    expect(codecError(() => encodeEntry({ kind: "event", event: cp } as unknown as LogEntry)).field).toBe("asset");
  });

  test("decimals: the Number fast path and the BigInt path agree at their boundary", () => {
    for (const m of [2n ** 47n - 1n, 2n ** 47n, -(2n ** 47n), -(2n ** 47n) - 1n, 10n ** 15n + 1n, -123456789012345n]) {
      for (const scale of [0, 3, 40]) {
        const e = mark({ price: { mantissa: m, scale } });
        expect(decodeEntry(encodeEntry(e))).toStrictEqual(e);
      }
      const zero = mark({ price: { mantissa: m * 10n, scale: 1 } });
      expect(codecError(() => encodeEntry(zero)).field).toBe("price");
    }
    expect(codecError(() => encodeEntry(mark({ price: { mantissa: 1n, scale: 65 } }))).field).toBe("price");
    expect(codecError(() => encodeEntry(mark({ price: { mantissa: 1n, scale: 1.5 } }))).field).toBe("price");
  });

  test("ts: undefined is treated as absent", () => {
    const e = mark({ ts: undefined });
    const back = decodeEntry(encodeEntry(e));
    expect(back.kind === "event" && "ts" in back.event).toBe(false);
  });
});

describe("batches", () => {
  test("random batches round-trip", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(entryArb, anyRawEntryArb), { maxLength: 30 }), (entries) => {
        const bytes = encodeBatch(entries);
        expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).toBe("MMCB");
        expect(bytes[4]).toBe(1);
        expect(decodeBatch(bytes)).toStrictEqual(entries);
      }),
      { numRuns: 300 },
    );
  });

  test("truncated or mutated batches decode to valid entries or throw CodecError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(entryArb, rawEntryArb), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (entries, cut, pos, value) => {
          const full = encodeBatch(entries);
          const mutated = Uint8Array.from(full);
          mutated[pos % mutated.length] = value;
          for (const bytes of [full.subarray(0, cut % full.length), mutated]) {
            try {
              const out = decodeBatch(bytes);
              expect(hex(encodeBatch(out))).toBe(hex(bytes));
            } catch (err) {
              expect(err).toBeInstanceOf(CodecError);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("limits: entry count, batch size, magic, version, trailing bytes", () => {
    const small: LogEntry = { kind: "raw", raw: "x" };
    expect(decodeBatch(encodeBatch([]))).toEqual([]);
    expect(decodeBatch(encodeBatch(new Array<LogEntry>(BATCH_MAX_ENTRIES).fill(small)))).toHaveLength(BATCH_MAX_ENTRIES);
    expect(codecError(() => encodeBatch(new Array<LogEntry>(BATCH_MAX_ENTRIES + 1).fill(small))).reason).toBe("count");
    // A forged count above the limit is refused before reading entries.
    const forged = Uint8Array.from([0x4d, 0x4d, 0x43, 0x42, 1, 0x91, 0x4e]); // count 10001
    expect(codecError(() => decodeBatch(forged)).reason).toBe("count");
    const big: LogEntry = { kind: "raw", raw: "b".repeat(RAW_TEXT_MAX_BYTES) };
    const tooMany = new Array<LogEntry>(Math.floor(BATCH_MAX_BYTES / RAW_TEXT_MAX_BYTES) + 1).fill(big);
    expect(codecError(() => encodeBatch(tooMany)).reason).toBe("too-large");
    expect(codecError(() => decodeBatch(new Uint8Array(BATCH_MAX_BYTES + 1))).reason).toBe("too-large");
    const ok = encodeBatch([small, small]);
    const badMagic = Uint8Array.from(ok);
    badMagic[0] = 0x58;
    expect(codecError(() => decodeBatch(badMagic)).reason).toBe("magic");
    const badVersion = Uint8Array.from(ok);
    badVersion[4] = 2;
    expect(codecError(() => decodeBatch(badVersion)).reason).toBe("version");
    expect(codecError(() => decodeBatch(Uint8Array.from([...ok, 0]))).reason).toBe("trailing");
    // An entry length that claims more than the batch holds.
    const short = Uint8Array.from([0x4d, 0x4d, 0x43, 0x42, 1, 1, 5, 1, 0, 1, 0x78]);
    expect(codecError(() => decodeBatch(short)).reason).toBe("truncated");
    // An entry length with a byte left over inside it.
    const padded = Uint8Array.from([0x4d, 0x4d, 0x43, 0x42, 1, 1, 5, 1, 0, 1, 0x78, 0]);
    expect(codecError(() => decodeBatch(padded)).reason).toBe("trailing");
  });
});
