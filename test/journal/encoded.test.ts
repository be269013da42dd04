// appendInputEncoded: journaling an entry from its encoded bytes (as serve does with the
// entries of a batch message) must give the same journal as appendInput, byte for byte,
// and must refuse what appendInput refuses.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import {
  CODEC_ENTRY_MAX_BYTES,
  CodecError,
  decodeBatch,
  decodeBatchEncoded,
  encodeBatch,
  encodeEntry,
  encodedEntryTs,
  toEncodedEntry,
  type EncodedEntry,
} from "../../src/events/codec.js";
import type { LogEntry } from "../../src/events/types.js";
import { JournalWriter, readJournal, verifyJournal } from "../../src/journal/index.js";
import { entryArb } from "./support/arbitraries.js";
import { ev, tempPaths } from "./support/fixtures.js";

const tempPath = tempPaths("mmc-journal-enc-");

/** Effective ts per entry (SPEC §8: its own, else the previous one's). */
function effectiveTs(list: readonly LogEntry[]): number[] {
  let ts = 0;
  return list.map((e) => (ts = e.kind === "event" && e.event.ts !== undefined ? e.event.ts : ts));
}

/** Writes `list` with appendInput or appendInputEncoded (bytes from a batch), each followed by a derived record. */
function write(path: string, list: readonly LogEntry[], encoded: boolean, fsyncEveryRecords = 7): void {
  const tss = effectiveTs(list);
  const bytes = encoded ? decodeBatchEncoded(encodeBatch(list)).encoded : [];
  const w = JournalWriter.open(path, { fsyncEveryRecords });
  list.forEach((e, i) => {
    const seq = encoded ? w.appendInputEncoded(bytes[i]!, tss[i]!, 100 + i) : w.appendInput(e, tss[i]!, 100 + i);
    expect(seq).toBe(i + 1);
    if (i % 3 === 0) w.appendDerived(seq, tss[i]!, Uint8Array.from([i & 0xff, 7]));
  });
  w.close();
}

describe("appendInputEncoded", () => {
  test("gives a journal byte-identical to appendInput for the same entries (random entries)", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 40 }), (list) => {
        const a = tempPath();
        const b = tempPath();
        write(a, list, false);
        write(b, list, true);
        expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
        const v = verifyJournal(b);
        expect(v.ok).toBe(true);
        expect([...readJournal(b)].filter((r) => r.kind === 0).map((r) => r.entry)).toEqual(list);
      }),
      { numRuns: 60 },
    );
  });

  test("mixes with appendInput and survives reopen; a maximal raw entry fits", () => {
    const path = tempPath();
    const list: LogEntry[] = [
      ev({ type: "asset", asset: "USDT", decimals: 2, settlement: true, ts: 1000 }),
      { kind: "raw", raw: "r".repeat(CODEC_ENTRY_MAX_BYTES - 16) },
      ev({ type: "mark", symbol: "BTC-PERP", price: "50000", ts: 2000 }),
    ];
    const ref = tempPath();
    write(ref, list, false);
    const w = JournalWriter.open(path, { fsyncEveryRecords: 1 });
    w.appendInputEncoded(toEncodedEntry(encodeEntry(list[0]!)), 1000, 100);
    w.appendDerived(1, 1000, Uint8Array.from([0, 7]));
    w.close();
    const w2 = JournalWriter.open(path);
    w2.appendInput(list[1]!, 1000, 101);
    w2.appendInputEncoded(toEncodedEntry(encodeEntry(list[2]!)), 2000, 102);
    w2.close();
    expect(readFileSync(path).equals(readFileSync(ref))).toBe(true);
  });

  test("refuses what appendInput refuses, and leaves the journal untouched", () => {
    const path = tempPath();
    const w = JournalWriter.open(path);
    const withTs = toEncodedEntry(encodeEntry(ev({ type: "mark", symbol: "BTC-PERP", price: "1", ts: 5000 })));
    const noTs = toEncodedEntry(encodeEntry(ev({ type: "mark", symbol: "BTC-PERP", price: "1" })));
    expect(() => w.appendInputEncoded(withTs, 4999, 0)).toThrow(/differs from the event's ts 5000/);
    expect(() => w.appendInputEncoded(noTs, -1, 0)).toThrow(RangeError);
    expect(() => w.appendInputEncoded(noTs, 1.5, 0)).toThrow(RangeError);
    expect(() => w.appendInputEncoded(noTs, 0, 2 ** 53)).toThrow(RangeError);
    // Bytes that did not come from the codec (forced past the type) are refused by their header.
    const forced = (b: number[]): EncodedEntry => Uint8Array.from(b) as EncodedEntry;
    expect(() => w.appendInputEncoded(forced([]), 0, 0)).toThrow(RangeError);
    expect(() => w.appendInputEncoded(forced([2, 0, 0]), 0, 0)).toThrow(CodecError); // codec version
    expect(() => w.appendInputEncoded(forced([1, 200, 0]), 0, 0)).toThrow(CodecError); // type tag
    expect(() => w.appendInputEncoded(forced([1, 9, 2]), 0, 0)).toThrow(CodecError); // ts flag
    expect(() => w.appendInputEncoded(new Uint8Array(CODEC_ENTRY_MAX_BYTES + 1) as EncodedEntry, 0, 0)).toThrow(RangeError);
    expect(w.head.records).toBe(0);
    expect(w.appendInputEncoded(withTs, 5000, 3)).toBe(1);
    expect(w.appendInputEncoded(noTs, 5000, 3)).toBe(2);
    w.close();
    expect(() => w.appendInputEncoded(noTs, 5000, 3)).toThrow(/closed/);
    expect(verifyJournal(path)).toMatchObject({ ok: true, records: 2, lastSeq: 2 });
  });

  test("only codec-checked bytes are accepted by the type", () => {
    const w = JournalWriter.open(tempPath());
    const plain = encodeEntry({ kind: "raw", raw: "x" });
    // @ts-expect-error a plain Uint8Array has not been through the decoder
    w.appendInputEncoded(plain, 0, 0);
    w.close();
    expect(() => toEncodedEntry(Uint8Array.from([1, 0, 0x80, 0]))).toThrow(CodecError); // non-minimal length varint
  });
});

describe("codec: encoded entries of a batch", () => {
  test("decodeBatchEncoded gives decodeBatch's entries and each entry's encodeEntry bytes", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 30 }), (list) => {
        const batch = encodeBatch(list);
        const { entries, encoded } = decodeBatchEncoded(batch);
        expect(entries).toEqual(decodeBatch(batch));
        expect(encoded.map((b) => Buffer.from(b).toString("hex"))).toEqual(list.map((e) => Buffer.from(encodeEntry(e)).toString("hex")));
        encoded.forEach((b, i) => {
          const e = list[i]!;
          expect(encodedEntryTs(b)).toBe(e.kind === "event" ? e.event.ts : undefined);
        });
      }),
      { numRuns: 100 },
    );
  });
});
