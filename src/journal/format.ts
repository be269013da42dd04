// Journal file format, version 1 (also described in docs/journal.md).
//
// The journal is the system of record: an append-only file of input entries (and, for
// audit, the output events they caused), each record checksummed and hash-chained to
// the one before, fsync'd in batches by the writer.
//
//   File header, 16 bytes:
//     0  4  magic "MMCJ"
//     4  4  u32 LE format version (1)
//     8  8  reserved, must be zero (a future use bumps the version)
//
//   Record (all integers little-endian), RECORD_OVERHEAD_BYTES + len bytes:
//     0   4   u32 len          payload length in bytes (≤ JOURNAL_PAYLOAD_MAX_BYTES)
//     4   4   u32 crc          CRC-32 (IEEE, zlib.crc32) of bytes 8 .. end of record
//     8   8   u64 seq          input sequence number (see below)
//     16  8   i64 ts           ms since epoch (0 ≤ ts ≤ 2^53−1)
//     24  1   u8  kind         0 = input entry, 1 = derived output event; 2..255 reserved
//     25  8   u64 source_seq   JetStream stream sequence of the input (0 if none)
//     33  len payload          kind 0: codec.encodeEntry bytes; kind 1: opaque output event
//     33+len 32 hash           SHA-256(prev_hash ‖ bytes 8 .. 33+len) — i.e. of
//                              prev_hash ‖ seq ‖ ts ‖ kind ‖ source_seq ‖ payload
//
//   prev_hash of the first record is SHA-256 of the 16-byte file header, so the chain is
//   bound to the format version. u64 fields hold values ≤ 2^53−1 (JS safe integers); a
//   larger value is corruption.
//
//   Sequencing: input records have seq 1, 2, 3, … (each exactly the previous input's + 1);
//   a derived record carries the seq of the input that caused it and follows it (before
//   the next input), so seq is non-decreasing over the file. A derived record's
//   source_seq is its input's.
//
//   The CRC catches torn and bit-rotted records cheaply and frames the file; the hash
//   chain makes any edit, removal or reordering detectable even when the editor fixes
//   the CRC, and the head hash identifies the whole history in 32 bytes.
import { hash as cryptoHash } from "node:crypto";
import { CODEC_ENTRY_MAX_BYTES } from "../events/codec.js";

export const JOURNAL_MAGIC = "MMCJ";
export const JOURNAL_FORMAT_VERSION = 1;
export const JOURNAL_HEADER_BYTES = 16;

export const RECORD_KIND_INPUT = 0;
export const RECORD_KIND_DERIVED = 1;
export type RecordKind = typeof RECORD_KIND_INPUT | typeof RECORD_KIND_DERIVED;

export const OFF_LEN = 0;
export const OFF_CRC = 4;
export const OFF_SEQ = 8;
export const OFF_TS = 16;
export const OFF_KIND = 24;
export const OFF_SOURCE_SEQ = 25;
export const OFF_PAYLOAD = 33;
export const HASH_BYTES = 32;
/** Fixed bytes per record: header fields plus the trailing hash. */
export const RECORD_OVERHEAD_BYTES = OFF_PAYLOAD + HASH_BYTES;

/** Largest payload: any encoded entry, and derived output events up to 4 MiB. */
export const JOURNAL_PAYLOAD_MAX_BYTES = Math.max(4 * 1024 * 1024, CODEC_ENTRY_MAX_BYTES);
export const JOURNAL_RECORD_MAX_BYTES = RECORD_OVERHEAD_BYTES + JOURNAL_PAYLOAD_MAX_BYTES;

const TWO_32 = 0x1_0000_0000;
/** High 32-bit word limit of a safe integer (2^53 − 1 = 0x1FFFFF_FFFFFFFF). */
const SAFE_HI_MAX = 0x1fffff;

export function journalHeader(): Buffer {
  const h = Buffer.alloc(JOURNAL_HEADER_BYTES);
  h.write(JOURNAL_MAGIC, 0, "latin1");
  h.writeUInt32LE(JOURNAL_FORMAT_VERSION, 4);
  return h;
}

/** prev_hash of the first record. */
export const GENESIS_HASH: Buffer = cryptoHash("sha256", journalHeader(), "buffer");

/** Why a header is not a valid v1 header, or null. */
export function headerProblem(h: Uint8Array): string | null {
  if (h.length < JOURNAL_HEADER_BYTES) return "file shorter than the header";
  const b = Buffer.from(h.buffer, h.byteOffset, JOURNAL_HEADER_BYTES);
  if (b.toString("latin1", 0, 4) !== JOURNAL_MAGIC) return "bad magic (not an mmc journal)";
  const version = b.readUInt32LE(4);
  if (version !== JOURNAL_FORMAT_VERSION) return `unsupported format version ${version}`;
  for (let i = 8; i < JOURNAL_HEADER_BYTES; i++) if (b[i] !== 0) return "reserved header bytes are not zero";
  return null;
}

/** Writes a safe non-negative integer as u64 LE without BigInt. */
export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

/** Reads a u64 LE; returns -1 when it exceeds 2^53 − 1 (corruption for this format). */
export function readU64(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32LE(offset + 4);
  if (hi > SAFE_HI_MAX) return -1;
  return hi * TWO_32 + buf.readUInt32LE(offset);
}

/**
 * The chain hash: SHA-256 of `input` (prev_hash ‖ record bytes seq .. end of payload,
 * already contiguous) as a 32-character latin1 string, one char per byte. A one-shot
 * `crypto.hash` with latin1 output: for ~150-byte inputs the "buffer" output (a fresh Buffer
 * per call, and GC) costs about 2.5× as much, and a streaming Hash with two updates about 4×
 * (docs/journal.md, *Throughput*).
 */
export function chainHash(input: Uint8Array): string {
  // "binary" is Node's alias of latin1 (the name the type declarations accept).
  return cryptoHash("sha256", input, "binary");
}

/** Whether `bytes[offset .. offset+32)` are the digest's bytes. */
export function digestEquals(digest: string, bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < HASH_BYTES; i++) if (digest.charCodeAt(i) !== bytes[offset + i]) return false;
  return true;
}

export function isSafeNonNegative(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** Views of a scratch buffer longer than this are not cached (rare: big payloads). */
const VIEW_CACHE_MAX_BYTES = 4096;

/**
 * `buffer[at, at + n)` as a view, cached by length (`cache[n]`) for the common record
 * sizes: a record's CRC and hash inputs start at fixed scratch offsets, so a length names
 * the view. The caller drops its caches when the scratch is replaced.
 */
export function cachedView(buffer: ArrayBufferLike, cache: Uint8Array[], at: number, n: number): Uint8Array {
  if (n > VIEW_CACHE_MAX_BYTES) return new Uint8Array(buffer, at, n);
  let v = cache[n];
  if (v === undefined) {
    v = new Uint8Array(buffer, at, n);
    cache[n] = v;
  }
  return v;
}
