import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { appendFileSync, copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { encodeEntry } from "../../src/events/codec.js";
import type { LogEntry } from "../../src/events/types.js";
import { JournalError, JournalWriter, readJournal, verifyJournal, type VerifyResult } from "../../src/journal/index.js";
import { GENESIS, HEADER, buildRecord, fixCrc, parseRecords, type RawRecord } from "./support/records.js";
import { ev, tempPaths } from "./support/fixtures.js";

const tempPath = tempPaths("mmc-journal-bad-");

const deposit = (i: number): LogEntry => ev({ type: "deposit", id: `d${i}`, account: "alice", asset: "USDT", amount: `${i}.5` });

/**
 * A reference journal: inputs 1..8 with derived records after 3 (two) and 6 (one),
 * payloads of varied sizes.
 */
function buildReference(): { path: string; file: Buffer; records: RawRecord[] } {
  const path = tempPath();
  const w = JournalWriter.open(path);
  for (let i = 1; i <= 8; i++) {
    w.appendInput(i === 5 ? { kind: "raw", raw: "x".repeat(300) } : deposit(i), 1000 + i, 100 + i);
    if (i === 3) {
      w.appendDerived(3, 1003, new TextEncoder().encode('{"type":"liquidation"}'));
      w.appendDerived(3, 1003, new TextEncoder().encode('{"type":"adl","n":2}'));
    }
    if (i === 6) w.appendDerived(6, 1006, new Uint8Array(0));
  }
  w.close();
  const file = readFileSync(path);
  return { path, file, records: parseRecords(file) };
}

const REF = buildReference();

function withBytes(bytes: Buffer): string {
  const path = tempPath();
  writeFileSync(path, bytes);
  return path;
}

function failure(v: VerifyResult): { seq: number; offset: number; reason: string } {
  if (v.ok) throw new Error("expected verification to fail");
  return { seq: v.seq, offset: v.offset, reason: v.reason };
}

function openError(path: string): JournalError {
  try {
    JournalWriter.open(path).close();
  } catch (err) {
    if (err instanceof JournalError) return err;
    throw err;
  }
  throw new Error("expected open to fail");
}

function recordAt(offset: number): RawRecord {
  const r = REF.records.find((rec) => offset >= rec.offset && offset < rec.offset + rec.bytes.length);
  if (r === undefined) throw new Error(`no record at ${offset}`);
  return r;
}

describe("verification finds damage at the right record", () => {
  test("the reference journal is intact", () => {
    expect(REF.records.map((r) => r.seq)).toEqual([1, 2, 3, 3, 3, 4, 5, 6, 6, 7, 8]);
    expect(verifyJournal(REF.path)).toMatchObject({ ok: true, records: 11, lastSeq: 8 });
  });

  test("a flipped byte anywhere is detected with the record's seq and offset (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: REF.file.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, mask) => {
        const bad = Buffer.from(REF.file);
        bad[pos]! ^= mask;
        const f = failure(verifyJournal(withBytes(bad)));
        if (pos < HEADER.length) {
          expect(f).toEqual({ seq: 0, offset: 0, reason: "header" });
        } else {
          const rec = recordAt(pos);
          expect({ seq: f.seq, offset: f.offset }).toEqual({ seq: rec.seq, offset: rec.offset });
          expect(["checksum", "length", "truncated"]).toContain(f.reason);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("every single-byte flip in the seq and kind fields names the right seq", () => {
    for (const rec of REF.records) {
      for (let i = 8; i < 33; i++) {
        if (i >= 16 && i < 24) continue; // ts
        const bad = Buffer.from(REF.file);
        bad[rec.offset + i]! ^= 1 << (i % 8);
        const f = failure(verifyJournal(withBytes(bad)));
        expect({ seq: f.seq, offset: f.offset, reason: f.reason }).toEqual({ seq: rec.seq, offset: rec.offset, reason: "checksum" });
      }
    }
  });

  test("a removed input record is a seq gap; a removed derived record breaks the chain", () => {
    const r = REF.records;
    const withoutInput = Buffer.concat([REF.file.subarray(0, r[5]!.offset), REF.file.subarray(r[6]!.offset)]); // drop seq 4
    expect(failure(verifyJournal(withBytes(withoutInput)))).toEqual({ seq: 5, offset: r[5]!.offset, reason: "seq" });
    const withoutDerived = Buffer.concat([REF.file.subarray(0, r[3]!.offset), REF.file.subarray(r[4]!.offset)]); // drop 2nd derived of 3
    expect(failure(verifyJournal(withBytes(withoutDerived)))).toEqual({ seq: 3, offset: r[3]!.offset, reason: "chain" });
  });

  test("a reordered pair is detected (inputs by seq, derived records by the chain)", () => {
    const r = REF.records;
    const swap = (a: RawRecord, b: RawRecord): Buffer =>
      Buffer.concat([REF.file.subarray(0, a.offset), b.bytes, a.bytes, REF.file.subarray(b.offset + b.bytes.length)]);
    expect(failure(verifyJournal(withBytes(swap(r[0]!, r[1]!))))).toEqual({ seq: 2, offset: r[0]!.offset, reason: "seq" });
    expect(failure(verifyJournal(withBytes(swap(r[3]!, r[4]!))))).toEqual({ seq: 3, offset: r[3]!.offset, reason: "chain" });
  });

  test("an altered payload with a recomputed CRC is caught by the hash chain", () => {
    const rec = REF.records[1]!; // seq 2: deposit d2 → d3
    const bad = Buffer.from(REF.file);
    const payload = bad.subarray(rec.offset + 33, rec.offset + 33 + rec.len);
    const forged = Buffer.from(encodeEntry(deposit(3)));
    expect(forged.length).toBe(payload.length);
    forged.copy(payload);
    fixCrc(bad.subarray(rec.offset, rec.offset + rec.bytes.length));
    expect(failure(verifyJournal(withBytes(bad)))).toEqual({ seq: 2, offset: rec.offset, reason: "chain" });
    // Also re-hashing the forged record moves the break to the next record.
    const prevHash = REF.records[0]!.hash;
    const rebuilt = buildRecord(prevHash, 2, rec.ts, 0, rec.sourceSeq, forged);
    const rehashed = Buffer.concat([REF.file.subarray(0, rec.offset), rebuilt, REF.file.subarray(rec.offset + rec.bytes.length)]);
    expect(failure(verifyJournal(withBytes(rehashed)))).toEqual({ seq: 3, offset: REF.records[2]!.offset, reason: "chain" });
  });

  test("records that chain and checksum but break the rules are refused", () => {
    const r = REF.records;
    const prev = r[8]!.hash; // the derived record of seq 6, just before seq 7
    const tail = (rec: Buffer): Buffer => Buffer.concat([REF.file.subarray(0, r[9]!.offset), rec]);
    const cases: [Buffer, string][] = [
      [buildRecord(prev, 7, 1007, 2, 107, Uint8Array.from([1])), "kind"],
      [buildRecord(prev, 9, 1007, 0, 107, encodeEntry(deposit(7))), "seq"],
      [buildRecord(prev, 7, 1007, 1, 107, Uint8Array.from([1])), "seq"], // derived with the wrong seq
      [buildRecord(prev, 7, 1007, 0, 107, Uint8Array.from([1, 99])), "payload"],
      [buildRecord(prev, 7, 1007, 0, 107, encodeEntry(ev({ type: "mark", symbol: "B", price: "1", ts: 5 }))), "ts"],
      [buildRecord(prev, 7, 2 ** 53, 0, 107, encodeEntry(deposit(7))), "range"],
    ];
    for (const [rec, reason] of cases) {
      expect(failure(verifyJournal(withBytes(tail(rec))))).toMatchObject({ offset: r[9]!.offset, reason });
    }
    // A derived record before any input.
    const first = Buffer.concat([HEADER, buildRecord(GENESIS, 0, 0, 1, 0, Uint8Array.from([1]))]);
    expect(failure(verifyJournal(withBytes(first)))).toEqual({ seq: 0, offset: 16, reason: "seq" });
  });

  test("header damage", () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.from("MMC"), /shorter/],
      [Buffer.concat([Buffer.from("XMCJ"), REF.file.subarray(4)]), /magic/],
      [Buffer.concat([HEADER.subarray(0, 4), Buffer.from([2, 0, 0, 0]), Buffer.alloc(8)]), /version 2/],
      [Buffer.concat([HEADER.subarray(0, 15), Buffer.from([1])]), /reserved/],
    ];
    for (const [bytes, message] of cases) {
      const v = verifyJournal(withBytes(bytes));
      expect(v).toMatchObject({ ok: false, seq: 0, offset: 0, reason: "header" });
      expect(v.ok === false && v.message).toMatch(message);
    }
  });

  test("verifyChain: false still checks CRC and sequencing, not the chain", () => {
    const rec = REF.records[1]!;
    const bad = Buffer.from(REF.file);
    const forged = Buffer.from(encodeEntry(deposit(3)));
    forged.copy(bad, rec.offset + 33);
    fixCrc(bad.subarray(rec.offset, rec.offset + rec.bytes.length));
    const path = withBytes(bad);
    expect([...readJournal(path, { verifyChain: false })].map((r) => r.seq)).toEqual(REF.records.map((r) => r.seq));
    expect(() => [...readJournal(path)]).toThrow(/chain/);
    const flipped = Buffer.from(REF.file);
    flipped[rec.offset + 40]! ^= 1;
    expect(() => [...readJournal(withBytes(flipped), { verifyChain: false })]).toThrow(/checksum/);
  });

  test("readJournal yields the good records before throwing at the bad one", () => {
    const bad = Buffer.from(REF.file);
    bad[REF.records[6]!.offset + 40]! ^= 0xff; // seq 5
    const seen: number[] = [];
    let thrown: unknown;
    try {
      for (const r of readJournal(withBytes(bad))) seen.push(r.seq);
    } catch (err) {
      thrown = err;
    }
    expect(seen).toEqual([1, 2, 3, 3, 3, 4]);
    expect(thrown).toBeInstanceOf(JournalError);
    expect(thrown).toMatchObject({ seq: 5, offset: REF.records[6]!.offset, reason: "checksum" });
  });
});

describe("recovery on open", () => {
  test("a torn final record (any cut inside it) is truncated and appending continues", () => {
    const last = REF.records[REF.records.length - 1]!;
    for (let cut = last.offset + 1; cut < REF.file.length; cut += 3) {
      const path = withBytes(REF.file.subarray(0, cut));
      expect(failure(verifyJournal(path))).toMatchObject({ seq: 8, offset: last.offset, reason: "truncated" });
      const w = JournalWriter.open(path);
      expect(w.truncatedBytes).toBe(cut - last.offset);
      expect(w.head.seq).toBe(7);
      expect(w.head.hash).toBe(REF.records[REF.records.length - 2]!.hash.toString("hex"));
      expect(statSync(path).size).toBe(last.offset);
      expect(w.appendInput(deposit(8), 1008, 108)).toBe(8);
      w.close();
      // Re-appending the same entry reproduces the original file byte for byte.
      expect(readFileSync(path).equals(REF.file)).toBe(true);
    }
  });

  test("a zero-filled tail (size extended, data never written) is truncated", () => {
    const path = withBytes(REF.file);
    appendFileSync(path, Buffer.alloc(5000));
    const w = JournalWriter.open(path);
    expect(w.truncatedBytes).toBe(5000);
    expect(w.head.seq).toBe(8);
    w.close();
    expect(verifyJournal(path)).toMatchObject({ ok: true, records: 11 });
  });

  test("a header torn at creation is rewritten", () => {
    for (const bytes of [HEADER.subarray(0, 5), Buffer.alloc(9)]) {
      const path = withBytes(bytes);
      const w = JournalWriter.open(path);
      expect(w.head.records).toBe(0);
      w.appendInput(deposit(1), 0, 0);
      w.close();
      expect(verifyJournal(path)).toMatchObject({ ok: true, records: 1 });
    }
    expect(openError(withBytes(Buffer.from("garbage")))).toMatchObject({ reason: "header", seq: 0 });
  });

  test("damage before the tail makes open fail with the record's seq", () => {
    const rec = REF.records[4]!; // second derived record of seq 3
    const bad = Buffer.from(REF.file);
    bad[rec.offset + 40]! ^= 0x10;
    const path = withBytes(bad);
    expect(openError(path)).toMatchObject({ seq: 3, offset: rec.offset, reason: "checksum" });
    expect(readFileSync(path).equals(bad)).toBe(true); // nothing was truncated
  });

  test("a complete final record with a bad CRC is not silently dropped", () => {
    const last = REF.records[REF.records.length - 1]!;
    const bad = Buffer.from(REF.file);
    bad[last.offset + 50]! ^= 0x01;
    expect(openError(withBytes(bad))).toMatchObject({ seq: 8, reason: "checksum" });
  });

  test("a length field enlarged past the end is not mistaken for a torn tail when good records follow", () => {
    const rec = REF.records[8]!; // derived record of seq 6 (empty payload), two inputs follow
    const bad = Buffer.from(REF.file);
    bad.writeUInt32LE(REF.file.length, rec.offset); // runs past EOF
    const path = withBytes(bad);
    expect(failure(verifyJournal(path))).toMatchObject({ seq: 6, offset: rec.offset, reason: "truncated" });
    expect(openError(path)).toMatchObject({ seq: 6, reason: "truncated" });
    expect(statSync(path).size).toBe(bad.length);
  });

  test("a copy of a journal opened after a crash mid-batch keeps every complete record", () => {
    const path = tempPath();
    const w = JournalWriter.open(path, { fsyncEveryRecords: 4 });
    for (let i = 1; i <= 10; i++) w.appendInput(deposit(i), 0, i);
    // Simulate a crash: copy what is on disk now, without close().
    const crashed = tempPath();
    copyFileSync(path, crashed);
    w.close();
    const r = JournalWriter.open(crashed);
    expect(r.head.seq).toBe(8); // two auto-syncs of 4 records
    r.close();
    truncateSync(crashed, statSync(crashed).size - 1);
    const r2 = JournalWriter.open(crashed);
    expect(r2.head.seq).toBe(7);
    expect(r2.truncatedBytes).toBeGreaterThan(0);
    r2.close();
  });
});
