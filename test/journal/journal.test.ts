import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { encodeEntry, RAW_TEXT_MAX_BYTES } from "../../src/events/codec.js";
import type { LogEntry } from "../../src/events/types.js";
import {
  JOURNAL_PAYLOAD_MAX_BYTES,
  JOURNAL_READ_CHUNK_BYTES,
  JournalWriter,
  RECORD_KIND_DERIVED,
  RECORD_KIND_INPUT,
  readJournal,
  verifyJournal,
  type JournalRecord,
} from "../../src/journal/index.js";
import { readJournalLog, readLog, type LogRecord } from "../../src/replay.js";
import { entryArb } from "./support/arbitraries.js";
import { ev, tempPaths } from "./support/fixtures.js";
import { GENESIS, HEADER, buildRecord } from "./support/records.js";

const tempPath = tempPaths("mmc-journal-");

const entries: LogEntry[] = [
  ev({ type: "asset", asset: "USDT", decimals: 2, settlement: true, ts: 1000 }),
  ev({ type: "deposit", id: "d1", account: "alice", asset: "USDT", amount: "100.5" }),
  { kind: "raw", raw: "{not json" },
  ev({ type: "mark", symbol: "BTC-PERP", price: "50000", ts: 2000 }),
];

type Op = { input: LogEntry; ts: number; sourceSeq: number } | { derived: Uint8Array; ts: number };

/** Writes ops; returns what each record should read back as. */
function writeOps(path: string, ops: Op[], opts = {}): { seq: number; ts: number; kind: number; sourceSeq: number; payload: Uint8Array; entry?: LogEntry }[] {
  const w = JournalWriter.open(path, opts);
  const expected = [];
  let seq = w.head.seq;
  let sourceSeq = w.head.sourceSeq;
  for (const op of ops) {
    if ("input" in op) {
      seq = w.appendInput(op.input, op.ts, op.sourceSeq);
      sourceSeq = op.sourceSeq;
      expected.push({ seq, ts: op.ts, kind: RECORD_KIND_INPUT, sourceSeq, payload: encodeEntry(op.input), entry: op.input });
    } else {
      w.appendDerived(seq, op.ts, op.derived);
      expected.push({ seq, ts: op.ts, kind: RECORD_KIND_DERIVED, sourceSeq, payload: op.derived });
    }
  }
  w.close();
  return expected;
}

function strip(r: JournalRecord): Record<string, unknown> {
  const o: Record<string, unknown> = { seq: r.seq, ts: r.ts, kind: r.kind, sourceSeq: r.sourceSeq, payload: Buffer.from(r.payload).toString("hex") };
  if (r.entry !== undefined) o.entry = r.entry;
  return o;
}

function stripExpected(e: ReturnType<typeof writeOps>[number]): Record<string, unknown> {
  const o: Record<string, unknown> = { seq: e.seq, ts: e.ts, kind: e.kind, sourceSeq: e.sourceSeq, payload: Buffer.from(e.payload).toString("hex") };
  if (e.entry !== undefined) o.entry = e.entry;
  return o;
}

describe("append and read", () => {
  test("inputs and derived records read back exactly, in order, with a verified chain", () => {
    const path = tempPath();
    const derived = new TextEncoder().encode('{"type":"liquidation","account":"bob"}');
    const ops: Op[] = [
      { input: entries[0]!, ts: 1000, sourceSeq: 0 },
      { input: entries[1]!, ts: 1000, sourceSeq: 17 },
      { input: entries[2]!, ts: 1000, sourceSeq: 18 },
      { derived, ts: 1000 },
      { derived: new Uint8Array(0), ts: 1000 },
      { input: entries[3]!, ts: 2000, sourceSeq: 18 },
    ];
    const expected = writeOps(path, ops);
    const records = [...readJournal(path)];
    expect(records.map(strip)).toEqual(expected.map(stripExpected));
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 3, 3, 4]);
    const v = verifyJournal(path);
    expect(v).toEqual({ ok: true, records: 6, lastSeq: 4, headHash: Buffer.from(records[5]!.hash).toString("hex") });
  });

  test("the file matches the documented layout (independent re-implementation)", () => {
    const path = tempPath();
    const expected = writeOps(path, [
      { input: entries[0]!, ts: 1000, sourceSeq: 5 },
      { derived: Uint8Array.from([9, 9]), ts: 1000 },
      { input: entries[1]!, ts: 1000, sourceSeq: 2 ** 40 },
    ]);
    const file = readFileSync(path);
    expect(file.subarray(0, 16)).toEqual(HEADER);
    let prev: Buffer = GENESIS;
    let rebuilt: Buffer = Buffer.from(HEADER);
    for (const e of expected) {
      const rec = buildRecord(prev, e.seq, e.ts, e.kind, e.sourceSeq, e.payload);
      prev = rec.subarray(rec.length - 32);
      rebuilt = Buffer.concat([rebuilt, rec]);
    }
    expect(file.equals(rebuilt)).toBe(true);
    // The reader hands out each record's own hash and payload bytes.
    const hashes: string[] = [];
    prev = GENESIS;
    for (const e of expected) {
      const rec = buildRecord(prev, e.seq, e.ts, e.kind, e.sourceSeq, e.payload);
      prev = rec.subarray(rec.length - 32);
      hashes.push(prev.toString("hex"));
    }
    const read = [...readJournal(path)];
    expect(read.map((r) => Buffer.from(r.hash).toString("hex"))).toEqual(hashes);
    expect(read.map((r) => r.offset)).toEqual([16, 16 + 65 + expected[0]!.payload.length, 16 + 130 + expected[0]!.payload.length + 2]);
    const w = JournalWriter.open(path);
    expect(w.head.hash).toBe(prev.toString("hex"));
    w.close();
  });

  test("an empty journal has the genesis head and verifies", () => {
    const path = tempPath();
    const w = JournalWriter.open(path);
    expect(w.head).toEqual({ seq: 0, hash: createHash("sha256").update(HEADER).digest("hex"), ts: 0, sourceSeq: 0, records: 0, bytes: 16 });
    w.close();
    expect(statSync(path).size).toBe(16);
    expect(verifyJournal(path)).toEqual({ ok: true, records: 0, lastSeq: 0, headHash: GENESIS.toString("hex") });
  });

  test("random entry sequences round-trip across read-chunk boundaries", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 60 }), (list) => {
        const path = tempPath();
        let ts = 0;
        const ops: Op[] = list.map((input, i) => {
          if (input.kind === "event" && input.event.ts !== undefined) ts = input.event.ts;
          return { input, ts, sourceSeq: i };
        });
        const expected = writeOps(path, ops, { fsyncEveryRecords: 16 });
        expect([...readJournal(path)].map(strip)).toEqual(expected.map(stripExpected));
      }),
      { numRuns: 40 },
    );
  });

  test("many records and maximal payloads span read chunks correctly", () => {
    const path = tempPath();
    const big: LogEntry = { kind: "raw", raw: "r".repeat(RAW_TEXT_MAX_BYTES) };
    const ops: Op[] = [];
    for (let i = 0; i < 30_000; i++) ops.push({ input: entries[i % 4 === 0 ? 1 : 2]!, ts: 1000, sourceSeq: i });
    ops.splice(7000, 0, { input: big, ts: 1000, sourceSeq: 7000 });
    ops.splice(7001, 0, { derived: new Uint8Array(JOURNAL_PAYLOAD_MAX_BYTES).fill(7), ts: 1000 });
    const expected = writeOps(path, ops);
    expect(statSync(path).size).toBeGreaterThan(3 * JOURNAL_READ_CHUNK_BYTES);
    let i = 0;
    for (const r of readJournal(path)) {
      const e = expected[i++]!;
      expect(r.seq).toBe(e.seq);
      expect(r.payload.length).toBe(e.payload.length);
      if (r.payload.length > 1000) expect(Buffer.from(r.payload).equals(Buffer.from(e.payload))).toBe(true);
    }
    expect(i).toBe(expected.length);
  });

  test("payload and hash views stay valid after the reader moves on", () => {
    const path = tempPath();
    const ops: Op[] = [];
    for (let i = 0; i < 50_000; i++) ops.push({ input: entries[1]!, ts: 1000, sourceSeq: i });
    writeOps(path, ops);
    const kept = [...readJournal(path)];
    const expectedPayload = Buffer.from(encodeEntry(entries[1]!)).toString("hex");
    expect(kept.every((r) => Buffer.from(r.payload).toString("hex") === expectedPayload)).toBe(true);
    expect(new Set(kept.map((r) => Buffer.from(r.hash).toString("hex"))).size).toBe(kept.length);
  });
});

describe("readLog", () => {
  test("yields each input once, with copies of its derived records, in order; stopping early closes the file", async () => {
    const path = tempPath();
    const d1 = Uint8Array.from([1, 2, 3]);
    const d2 = Uint8Array.from([4]);
    writeOps(path, [
      { input: entries[0]!, ts: 1000, sourceSeq: 1 },
      { derived: d1, ts: 1000 },
      { derived: d2, ts: 1000 },
      { input: entries[1]!, ts: 1000, sourceSeq: 2 },
      { input: entries[2]!, ts: 1000, sourceSeq: 3 },
      { derived: d2, ts: 1000 },
    ]);
    const got: LogRecord[] = [];
    for await (const r of readLog(path)) got.push(r);
    expect(got.map((r) => [r.seq, r.ts, r.entry, r.derived!.map((d) => [...d])])).toEqual([
      [1, 1000, entries[0], [[1, 2, 3], [4]]],
      [2, 1000, entries[1], []],
      [3, 1000, entries[2], [[4]]],
    ]);
    expect(got[0]!.derived![0]!.buffer.byteLength).toBe(3); // a copy, not a view of a read chunk
    const seen: number[] = [];
    for await (const r of readLog(path)) {
      seen.push(r.seq);
      if (r.seq === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    // The file is intact and whole after the early stop.
    const w = JournalWriter.open(path);
    expect(w.head.seq).toBe(3);
    w.close();
  });

  test("a corrupt journal rejects at the bad record after yielding the good ones", async () => {
    const path = tempPath();
    writeOps(path, [
      { input: entries[0]!, ts: 1000, sourceSeq: 1 },
      { input: entries[1]!, ts: 1000, sourceSeq: 2 },
      { input: entries[3]!, ts: 2000, sourceSeq: 3 },
    ]);
    const file = readFileSync(path);
    file[file.length - 40]! ^= 1; // inside the last record
    writeFileSync(path, file);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of readLog(path)) seen.push(r.seq);
      })(),
    ).rejects.toMatchObject({ reason: "checksum", seq: 3 });
    expect(seen).toEqual([1]); // record 2 waits for the next input to show its derived records
  });
});

describe("readJournalLog", () => {
  const openFds = (): number => readdirSync("/proc/self/fd").length;

  test("closes the file at the end, on break and on an error; stays done after the end", () => {
    const path = tempPath();
    writeOps(path, [
      { input: entries[0]!, ts: 1000, sourceSeq: 1 },
      { derived: Uint8Array.from([9]), ts: 1000 },
      { input: entries[1]!, ts: 1000, sourceSeq: 2 },
      { input: entries[3]!, ts: 2000, sourceSeq: 3 },
    ]);
    const before = openFds();
    const it = readJournalLog(path);
    expect(openFds()).toBe(before + 1);
    expect([...it].map((r) => [r.seq, r.derived?.length])).toEqual([
      [1, 1],
      [2, 0],
      [3, 0],
    ]);
    expect(openFds()).toBe(before);
    expect(it.next()).toEqual({ done: true, value: undefined });
    for (const r of readJournalLog(path)) if (r.seq === 1) break;
    expect(openFds()).toBe(before);
    const file = readFileSync(path);
    file[file.length - 40]! ^= 1;
    writeFileSync(path, file);
    expect(() => [...readJournalLog(path)]).toThrow(expect.objectContaining({ reason: "checksum", seq: 3 }) as Error);
    expect(openFds()).toBe(before);
  });
});

describe("reopen", () => {
  test("reopening recovers the head and the chain continues", () => {
    const path = tempPath();
    const w1 = JournalWriter.open(path);
    w1.appendInput(entries[0]!, 1000, 3);
    w1.appendInput(entries[1]!, 1000, 4);
    w1.appendDerived(2, 1001, Uint8Array.from([1]));
    const head1 = w1.head;
    w1.close();
    const w2 = JournalWriter.open(path);
    expect(w2.head).toEqual(head1);
    expect(w2.truncatedBytes).toBe(0);
    expect(w2.appendInput(entries[3]!, 2000, 9)).toBe(3);
    expect(() => w2.appendDerived(2, 1, Uint8Array.from([1]))).toThrow(RangeError);
    w2.close();
    const v = verifyJournal(path);
    expect(v.ok && v.records === 4 && v.lastSeq === 3).toBe(true);
    const records = [...readJournal(path)];
    expect(records.map((r) => [r.seq, r.kind, r.ts, r.sourceSeq])).toEqual([
      [1, 0, 1000, 3],
      [2, 0, 1000, 4],
      [2, 1, 1001, 4],
      [3, 0, 2000, 9],
    ]);
  });

  test("a second writer on the same file in this process is refused until the first closes", () => {
    const path = tempPath();
    const w = JournalWriter.open(path);
    expect(() => JournalWriter.open(path)).toThrow(/already open/);
    w.close();
    JournalWriter.open(path).close();
  });
});

describe("durability", () => {
  test("records are written and fsync'd every fsyncEveryRecords; sync() covers the rest", () => {
    const path = tempPath();
    const w = JournalWriter.open(path, { fsyncEveryRecords: 3 });
    for (let i = 0; i < 7; i++) w.appendInput(entries[1]!, 1000, i);
    // Six records went out with the two automatic syncs; the seventh is staged.
    expect(w.durable).toEqual({ seq: 6, records: 6 });
    expect([...readJournal(path)].length).toBe(6);
    w.sync();
    expect(w.durable).toEqual({ seq: 7, records: 7 });
    expect([...readJournal(path)].length).toBe(7);
    w.appendInput(entries[1]!, 1000, 7);
    w.close();
    const again = JournalWriter.open(path);
    expect(again.head.seq).toBe(8);
    again.close();
  });

  test("fsyncEveryBytes triggers a sync by size", () => {
    const path = tempPath();
    const w = JournalWriter.open(path, { fsyncEveryRecords: 1_000_000, fsyncEveryBytes: 500 });
    let synced = 0;
    for (let i = 0; i < 20; i++) {
      w.appendInput(entries[1]!, 1000, i);
      if (w.durable.records > synced) synced = w.durable.records;
    }
    expect(synced).toBeGreaterThan(0);
    expect(synced).toBeLessThan(20);
    expect([...readJournal(path)].length).toBe(w.durable.records);
    w.close();
  });
});

describe("argument checks", () => {
  test("bad arguments are refused without touching the journal", () => {
    const path = tempPath();
    const w = JournalWriter.open(path);
    expect(() => w.appendDerived(0, 1, Uint8Array.from([1]))).toThrow(RangeError); // no input yet
    expect(() => w.appendInput(entries[0]!, 999, 0)).toThrow(/differs from the event's ts/);
    expect(() => w.appendInput(entries[1]!, -1, 0)).toThrow(RangeError);
    expect(() => w.appendInput(entries[1]!, 1.5, 0)).toThrow(RangeError);
    expect(() => w.appendInput(entries[1]!, 0, 2 ** 53)).toThrow(RangeError);
    expect(() => w.appendInput({ kind: "raw", raw: "x".repeat(RAW_TEXT_MAX_BYTES + 1) }, 0, 0)).toThrow(/raw text exceeds/);
    w.appendInput(entries[1]!, 5, 0);
    expect(() => w.appendDerived(1, 5, new Uint8Array(JOURNAL_PAYLOAD_MAX_BYTES + 1))).toThrow(RangeError);
    expect(() => w.appendDerived(2, 5, Uint8Array.from([1]))).toThrow(RangeError);
    expect(w.head.records).toBe(1);
    w.close();
    expect(() => w.appendInput(entries[1]!, 5, 0)).toThrow(/closed/);
    w.close(); // idempotent
    expect(verifyJournal(path)).toMatchObject({ ok: true, records: 1 });
    expect(() => JournalWriter.open(tempPath(), { fsyncEveryRecords: 0 })).toThrow(RangeError);
  });
});
