// An independent implementation of the journal record layout (docs/journal.md), used to
// forge and parse records in tests without going through the code under test.
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

export const HEADER = Buffer.concat([Buffer.from("MMCJ", "latin1"), Buffer.from([1, 0, 0, 0]), Buffer.alloc(8)]);
export const GENESIS = createHash("sha256").update(HEADER).digest();

export interface RawRecord {
  offset: number;
  len: number;
  seq: number;
  ts: number;
  kind: number;
  sourceSeq: number;
  payload: Buffer;
  hash: Buffer;
  bytes: Buffer;
}

export function buildRecord(prev: Buffer, seq: number, ts: number, kind: number, sourceSeq: number, payload: Uint8Array): Buffer {
  const fields = Buffer.alloc(25);
  fields.writeBigUInt64LE(BigInt(seq), 0);
  fields.writeBigInt64LE(BigInt(ts), 8);
  fields[16] = kind;
  fields.writeBigUInt64LE(BigInt(sourceSeq), 17);
  const hash = createHash("sha256").update(prev).update(fields).update(payload).digest();
  const body = Buffer.concat([fields, payload, hash]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([head, body]);
}

/** Splits a well-formed journal file into records (no verification). */
export function parseRecords(file: Buffer): RawRecord[] {
  const out: RawRecord[] = [];
  let off = 16;
  while (off < file.length) {
    const len = file.readUInt32LE(off);
    const end = off + 65 + len;
    out.push({
      offset: off,
      len,
      seq: Number(file.readBigUInt64LE(off + 8)),
      ts: Number(file.readBigInt64LE(off + 16)),
      kind: file[off + 24]!,
      sourceSeq: Number(file.readBigUInt64LE(off + 25)),
      payload: file.subarray(off + 33, off + 33 + len),
      hash: file.subarray(off + 33 + len, end),
      bytes: file.subarray(off, end),
    });
    off = end;
  }
  return out;
}

/** Recomputes the CRC of a record in place (simulates a careful forger). */
export function fixCrc(record: Buffer): void {
  record.writeUInt32LE(crc32(record.subarray(8)), 4);
}
