// Journal writer: appends checksummed, hash-chained records (format.ts) and fsyncs in
// batches. One writer per file: a second open of the same path in this process throws;
// across processes nothing stops it, so deployments must run a single writer.
//
// Durability: appended records are staged in a reusable buffer and written with
// writeSync; sync() (also automatic every fsyncEveryRecords records / fsyncEveryBytes
// bytes, and on close) writes what is staged and fdatasyncs. Only records covered by a
// sync are durable (`durable`); acknowledge upstream (e.g. JetStream acks) only up to it.
//
// Recovery on open: the file is verified record by record. What follows the last good
// record is a torn tail, and is truncated away, when it is an incomplete record (the
// file ends before the record's declared end) or all zero bytes (space extended but
// never written), and no complete valid record starts anywhere inside it. Such a record
// was never acknowledged. Anything else (a CRC or chain failure of a complete record,
// including the last) fails the open with a JournalError: it may have been acknowledged,
// so an operator decides (verifyJournal locates it).
// Known limit: a corrupted length field in the very last record, enlarging it past the end
// of the file, looks exactly like a torn write and is truncated.
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, fsyncSync, openSync, readSync, realpathSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { encodeEntryInto, encodedEntryTs, CODEC_ENTRY_MAX_BYTES, type EncodedEntry } from "../events/codec.js";
import type { LogEntry } from "../events/types.js";
import { crc32Aligned } from "./crc32.js";
import { JournalError } from "./errors.js";
import {
  chainHash,
  GENESIS_HASH,
  HASH_BYTES,
  JOURNAL_HEADER_BYTES,
  JOURNAL_PAYLOAD_MAX_BYTES,
  OFF_CRC,
  OFF_KIND,
  OFF_LEN,
  OFF_PAYLOAD,
  OFF_SEQ,
  OFF_SOURCE_SEQ,
  OFF_TS,
  RECORD_KIND_DERIVED,
  RECORD_KIND_INPUT,
  RECORD_OVERHEAD_BYTES,
  cachedView,
  headerProblem,
  isSafeNonNegative,
  journalHeader,
  readU64,
} from "./format.js";
import { JournalScanner } from "./reader.js";

export const DEFAULT_FSYNC_EVERY_RECORDS = 1000;
export const DEFAULT_FSYNC_EVERY_BYTES = 1024 * 1024;
/** Staged bytes are written out (not fsync'd) once they reach this size. */
export const WRITE_BUFFER_BYTES = 256 * 1024;

/** Initial scratch size (grown for larger records). */
const SCRATCH_BYTES = 4096;
/** Where a payload starts in the scratch: after prev_hash and the fields from seq to source_seq. */
const SCRATCH_PAYLOAD = HASH_BYTES + OFF_PAYLOAD - OFF_SEQ;
const TWO_32 = 0x1_0000_0000;

/** A u32 LE into a plain array (byte stores: no DataView per record). */
function putU32(b: Uint8Array, at: number, value: number): void {
  b[at] = value & 0xff;
  b[at + 1] = (value >>> 8) & 0xff;
  b[at + 2] = (value >>> 16) & 0xff;
  b[at + 3] = value >>> 24;
}

/** A safe non-negative integer as u64 LE into a plain array. */
function putU64(b: Uint8Array, at: number, value: number): void {
  let lo = value;
  let hi = 0;
  if (value >= TWO_32) {
    lo = value % TWO_32;
    hi = (value - lo) / TWO_32;
  }
  putU32(b, at, lo);
  putU32(b, at + 4, hi);
}

export interface JournalWriterOptions {
  /** fsync after this many appended records (1 = every record). */
  readonly fsyncEveryRecords?: number;
  /** fsync once this many bytes were appended since the last fsync. */
  readonly fsyncEveryBytes?: number;
}

export interface JournalHead {
  /** Seq of the last input record (0 for an empty journal). */
  readonly seq: number;
  /** Chain hash of the last record (hex); of the genesis for an empty journal. */
  readonly hash: string;
  /** ts of the last record. */
  readonly ts: number;
  /** source_seq of the last record. */
  readonly sourceSeq: number;
  /** Records of every kind. */
  readonly records: number;
  /** File size once everything staged is written. */
  readonly bytes: number;
}

export interface DurablePoint {
  readonly seq: number;
  readonly records: number;
}

const openPaths = new Set<string>();

function assertSafe(name: string, v: unknown): asserts v is number {
  if (!isSafeNonNegative(v)) throw new RangeError(`${name} must be a non-negative safe integer, got ${String(v)}`);
}

export class JournalWriter {
  private fd: number;
  private closed = false;
  private failure: JournalError | null = null;

  private seq = 0;
  /** Chain hash of the last record as a latin1 string (one char per byte; chainHash's form). */
  private lastDigest: string = GENESIS_HASH.toString("latin1");
  private lastTs = 0;
  private lastSourceSeq = 0;
  private records = 0;
  /** Bytes already handed to writeSync. */
  private written = 0;

  private staged: Buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private stagedLen = 0;
  /**
   * Each record is built here first, after the previous record's hash: prev_hash ‖ seq ‖ ts
   * ‖ kind ‖ source_seq ‖ payload ‖ hash. The chain hash's input is all but the last 32
   * bytes and the CRC's (also what is staged) all but the first 32, each the same length,
   * read through views cached by length: no typed array per record, and one copy into
   * `staged` (the old path made four views and three copies).
   */
  private scratch = new Uint8Array(SCRATCH_BYTES);
  /** `scratch` as words, for the CRC. */
  private scratchWords = new Int32Array(this.scratch.buffer);
  /** `scratch` minus room for the hash: where payloads are encoded. */
  private payloadRoom: Uint8Array = this.scratch.subarray(0, SCRATCH_BYTES - HASH_BYTES);
  private hashViews: Uint8Array[] = [];
  private recordViews: Uint8Array[] = [];

  private recordsSinceSync = 0;
  private bytesSinceSync = 0;
  private durablePoint: DurablePoint = { seq: 0, records: 0 };
  private readonly fsyncEveryRecords: number;
  private readonly fsyncEveryBytes: number;

  private constructor(
    readonly path: string,
    private readonly lockKey: string,
    fd: number,
    opts: JournalWriterOptions,
    /** Bytes of torn tail removed by the recovery scan at open. */
    readonly truncatedBytes: number,
  ) {
    this.fd = fd;
    this.fsyncEveryRecords = opts.fsyncEveryRecords ?? DEFAULT_FSYNC_EVERY_RECORDS;
    this.fsyncEveryBytes = opts.fsyncEveryBytes ?? DEFAULT_FSYNC_EVERY_BYTES;
  }

  /** Creates the journal, or opens it for append after verifying it and cutting a torn tail. */
  static open(path: string, opts: JournalWriterOptions = {}): JournalWriter {
    const everyRecords = opts.fsyncEveryRecords ?? DEFAULT_FSYNC_EVERY_RECORDS;
    const everyBytes = opts.fsyncEveryBytes ?? DEFAULT_FSYNC_EVERY_BYTES;
    if (!Number.isSafeInteger(everyRecords) || everyRecords < 1) throw new RangeError("fsyncEveryRecords must be an integer ≥ 1");
    if (!Number.isSafeInteger(everyBytes) || everyBytes < 1) throw new RangeError("fsyncEveryBytes must be an integer ≥ 1");
    // 'a+': create if missing, read for the scan, and every write appends.
    const fd = openSync(path, "a+");
    let lockKey = "";
    try {
      lockKey = realpathSync(path);
      if (openPaths.has(lockKey)) throw new Error(`journal ${path} is already open for writing in this process`);
      const size = fstatSync(fd).size;
      if (size < JOURNAL_HEADER_BYTES) initHeader(fd, path, size);
      // CRC, sequencing and chain; payload decoding is verifyJournal's job.
      const sc = new JournalScanner(fd, false);
      sc.readHeader();
      const end = recover(fd, sc);
      const fileSize = fstatSync(fd).size;
      const truncated = fileSize - end;
      if (truncated > 0) {
        ftruncateSync(fd, end);
        fsyncSync(fd);
      }
      const w = new JournalWriter(path, lockKey, fd, { fsyncEveryRecords: everyRecords, fsyncEveryBytes: everyBytes }, truncated);
      w.seq = sc.lastSeq;
      w.setLastHash(sc.prevHash);
      w.lastTs = sc.lastTs;
      w.lastSourceSeq = sc.lastSourceSeq;
      w.records = sc.records;
      w.written = end;
      w.durablePoint = { seq: sc.lastSeq, records: sc.records };
      openPaths.add(lockKey);
      return w;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get head(): JournalHead {
    return {
      seq: this.seq,
      hash: Buffer.from(this.lastDigest, "latin1").toString("hex"),
      ts: this.lastTs,
      sourceSeq: this.lastSourceSeq,
      records: this.records,
      bytes: this.written + this.stagedLen,
    };
  }

  /** The last point covered by an fsync: records up to here survive a crash. */
  get durable(): DurablePoint {
    return this.durablePoint;
  }

  /**
   * Appends an input entry as seq head.seq + 1 and returns that seq. `ts` is the entry's
   * effective ts (SPEC §8: its own, else the previous event's); an event that carries a
   * ts must be given that ts.
   */
  appendInput(entry: LogEntry, ts: number, sourceSeq: number): number {
    this.assertWritable();
    assertSafe("ts", ts);
    assertSafe("sourceSeq", sourceSeq);
    if (entry.kind === "event" && entry.event.ts !== undefined && entry.event.ts !== ts) {
      throw new RangeError(`appendInput: ts ${ts} differs from the event's ts ${entry.event.ts}`);
    }
    const seq = this.seq + 1;
    // Encode straight into the scratch; if it is too small, grow it to the largest entry.
    let end = encodeEntryInto(entry, this.payloadRoom, SCRATCH_PAYLOAD);
    if (end < 0) {
      this.growScratch(SCRATCH_PAYLOAD + CODEC_ENTRY_MAX_BYTES + HASH_BYTES);
      end = encodeEntryInto(entry, this.payloadRoom, SCRATCH_PAYLOAD);
      if (end < 0) throw new Error("journal: scratch too small for an entry");
    }
    const total = this.seal(end - SCRATCH_PAYLOAD, seq, ts, RECORD_KIND_INPUT, sourceSeq);
    this.seq = seq;
    this.lastSourceSeq = sourceSeq;
    this.afterAppend(total);
    return seq;
  }

  /**
   * appendInput for an entry already in its encoded form, e.g. from decodeBatchEncoded: the
   * bytes are copied, not re-encoded (the same record as appendInput of the decoded entry,
   * byte for byte). The EncodedEntry type says a decoder accepted them, so the reader will
   * too; here only what the caller decides is checked: the size, and that `ts` is the
   * event's own ts when it carries one (read from the entry's header).
   */
  appendInputEncoded(bytes: EncodedEntry, ts: number, sourceSeq: number): number {
    this.assertWritable();
    assertSafe("ts", ts);
    assertSafe("sourceSeq", sourceSeq);
    if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes.length > CODEC_ENTRY_MAX_BYTES) {
      throw new RangeError(`appendInputEncoded: expected an encoded entry of 2 to ${CODEC_ENTRY_MAX_BYTES} bytes`);
    }
    const own = encodedEntryTs(bytes);
    if (own !== undefined && own !== ts) throw new RangeError(`appendInputEncoded: ts ${ts} differs from the event's ts ${own}`);
    const seq = this.seq + 1;
    this.payloadInScratch(bytes);
    const total = this.seal(bytes.length, seq, ts, RECORD_KIND_INPUT, sourceSeq);
    this.seq = seq;
    this.lastSourceSeq = sourceSeq;
    this.afterAppend(total);
    return seq;
  }

  /**
   * Appends a derived output event (liquidation, adl, margin call…) caused by input `seq`,
   * which must be the last input appended. The payload is opaque to the journal.
   */
  appendDerived(seq: number, ts: number, payload: Uint8Array): void {
    this.assertWritable();
    assertSafe("ts", ts);
    if (this.seq === 0 || seq !== this.seq) {
      throw new RangeError(`appendDerived: seq ${seq} is not the last input seq ${this.seq}`);
    }
    if (!(payload instanceof Uint8Array) || payload.length > JOURNAL_PAYLOAD_MAX_BYTES) {
      throw new RangeError(`appendDerived: payload must be a Uint8Array of at most ${JOURNAL_PAYLOAD_MAX_BYTES} bytes`);
    }
    this.payloadInScratch(payload);
    this.afterAppend(this.seal(payload.length, seq, ts, RECORD_KIND_DERIVED, this.lastSourceSeq));
  }

  /** Writes everything staged and fdatasyncs; afterwards `durable` equals the head. */
  sync(): void {
    this.assertWritable();
    this.flush();
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.poison(err, "fsync failed");
    }
    this.recordsSinceSync = 0;
    this.bytesSinceSync = 0;
    this.durablePoint = { seq: this.seq, records: this.records };
  }

  /** Syncs and closes. Idempotent; a failed writer just releases its fd. */
  close(): void {
    if (this.closed) return;
    try {
      if (this.failure === null) this.sync();
    } finally {
      this.closed = true;
      openPaths.delete(this.lockKey);
      closeSync(this.fd);
    }
  }

  // ---- internals

  private assertWritable(): void {
    if (this.closed) throw new Error(`journal ${this.path} is closed`);
    if (this.failure !== null) throw this.failure;
  }

  /** Returns the staging offset of `n` free bytes, writing out / growing as needed. */
  private reserve(n: number): number {
    if (this.stagedLen + n <= this.staged.length) return this.stagedLen;
    this.flush();
    if (n > this.staged.length) this.staged = Buffer.allocUnsafe(n);
    return 0;
  }

  /** Makes the scratch at least `n` bytes, keeping the previous hash at its start. */
  private growScratch(n: number): void {
    if (this.scratch.length >= n) return;
    const grown = new Uint8Array((n + 3) & ~3); // a multiple of 4 bytes, for the word view
    grown.set(this.scratch.subarray(0, HASH_BYTES), 0);
    this.scratch = grown;
    this.scratchWords = new Int32Array(grown.buffer);
    this.payloadRoom = grown.subarray(0, grown.length - HASH_BYTES);
    this.hashViews = [];
    this.recordViews = [];
  }

  private payloadInScratch(payload: Uint8Array): void {
    this.growScratch(SCRATCH_PAYLOAD + payload.length + HASH_BYTES);
    this.scratch.set(payload, SCRATCH_PAYLOAD);
  }

  /** `scratch[at, at + n)` as a view, cached by length for the common record sizes. */
  private view(cache: Uint8Array[], at: number, n: number): Uint8Array {
    return cachedView(this.scratch.buffer, cache, at, n);
  }

  /** The previous record's hash (32 bytes) as the chain's next input. */
  private setLastHash(hash: Uint8Array): void {
    this.scratch.set(hash, 0);
    this.lastDigest = Buffer.from(hash).toString("latin1");
  }

  /**
   * Completes the record whose payload (`len` bytes) is in the scratch: fixed fields,
   * chain hash, CRC; stages it and returns its size.
   */
  private seal(len: number, seq: number, ts: number, kind: number, sourceSeq: number): number {
    const sc = this.scratch;
    putU64(sc, HASH_BYTES, seq);
    putU64(sc, HASH_BYTES + OFF_TS - OFF_SEQ, ts);
    sc[HASH_BYTES + OFF_KIND - OFF_SEQ] = kind;
    putU64(sc, HASH_BYTES + OFF_SOURCE_SEQ - OFF_SEQ, sourceSeq);
    const body = OFF_PAYLOAD - OFF_SEQ + len;
    const digest = chainHash(this.view(this.hashViews, 0, HASH_BYTES + body));
    // The hash after the body, and at the start as the next record's prev_hash.
    const hashAt = HASH_BYTES + body;
    for (let i = 0; i < HASH_BYTES; i++) {
      const c = digest.charCodeAt(i);
      sc[hashAt + i] = c;
      sc[i] = c; // the CRC below reads from HASH_BYTES on: prev_hash is no longer needed
    }
    const crc = crc32Aligned(sc, this.scratchWords, HASH_BYTES, body + HASH_BYTES);
    const total = RECORD_OVERHEAD_BYTES + len;
    const start = this.reserve(total);
    const b = this.staged;
    putU32(b, start + OFF_LEN, len);
    putU32(b, start + OFF_CRC, crc);
    b.set(this.view(this.recordViews, HASH_BYTES, body + HASH_BYTES), start + OFF_SEQ);
    this.lastDigest = digest;
    this.lastTs = ts;
    this.records++;
    return total;
  }

  private afterAppend(recordBytes: number): void {
    this.stagedLen += recordBytes;
    this.recordsSinceSync++;
    this.bytesSinceSync += recordBytes;
    if (this.recordsSinceSync >= this.fsyncEveryRecords || this.bytesSinceSync >= this.fsyncEveryBytes) this.sync();
    else if (this.stagedLen >= WRITE_BUFFER_BYTES) this.flush();
  }

  private flush(): void {
    let off = 0;
    try {
      while (off < this.stagedLen) off += writeSync(this.fd, this.staged, off, this.stagedLen - off);
    } catch (err) {
      this.poison(err, "write failed");
    }
    this.written += this.stagedLen;
    this.stagedLen = 0;
  }

  /** After a failed write or fsync the file state is unknown: refuse further use. */
  private poison(err: unknown, what: string): never {
    this.failure = new JournalError("io", this.seq, this.written, `${what}: ${(err as Error).message}; reopen the journal to recover`);
    throw this.failure;
  }
}

/** Writes the header into a new (or torn-at-creation) file; fsyncs it and its directory. */
function initHeader(fd: number, path: string, size: number): void {
  const header = journalHeader();
  if (size > 0) {
    const have = Buffer.alloc(size);
    readSync(fd, have, 0, size, 0);
    const isPrefix = have.equals(header.subarray(0, size)) || have.every((b) => b === 0);
    if (!isPrefix) throw new JournalError("header", 0, 0, headerProblem(have) ?? "bad header");
    ftruncateSync(fd, 0);
  }
  writeSync(fd, header, 0, header.length);
  fsyncSync(fd);
  // Make the new directory entry durable too.
  const dirFd = openSync(dirname(path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Scans every record; returns the offset after the last good one. Throws the scan's
 * JournalError unless what follows is a torn tail (see the module comment).
 */
function recover(fd: number, sc: JournalScanner): number {
  try {
    while (sc.next() !== null) {
      // verifying
    }
    return sc.offset;
  } catch (err) {
    if (!(err instanceof JournalError)) throw err;
    const end = sc.offset;
    const size = fstatSync(fd).size;
    if (err.reason === "truncated") {
      // Shorter than the record's declared size, which is ≤ JOURNAL_RECORD_MAX_BYTES.
      const tail = Buffer.allocUnsafe(size - end);
      readSync(fd, tail, 0, tail.length, end);
      if (!containsRecord(tail, sc.lastSeq)) return end;
    } else if (isZeroFrom(fd, end, size)) {
      return end;
    }
    throw err;
  }
}

/** Whether bytes [from, size) of the file are all zero (read in chunks). */
function isZeroFrom(fd: number, from: number, size: number): boolean {
  const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(1, size - from)));
  for (let pos = from; pos < size; ) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (n === 0) break;
    for (let i = 0; i < n; i++) if (chunk[i] !== 0) return false;
    pos += n;
  }
  return true;
}

/**
 * Whether a complete record with a valid CRC and a plausible seq starts anywhere in
 * `tail`: then the tail is not a torn write but damage in front of good data.
 */
function containsRecord(tail: Buffer, lastSeq: number): boolean {
  const maxSeq = lastSeq + Math.ceil(tail.length / RECORD_OVERHEAD_BYTES);
  for (let i = 1; i + RECORD_OVERHEAD_BYTES <= tail.length; i++) {
    const len = tail.readUInt32LE(i + OFF_LEN);
    const total = RECORD_OVERHEAD_BYTES + len;
    if (len > JOURNAL_PAYLOAD_MAX_BYTES || i + total > tail.length) continue;
    const kind = tail[i + OFF_KIND];
    if (kind !== RECORD_KIND_INPUT && kind !== RECORD_KIND_DERIVED) continue;
    const seq = readU64(tail, i + OFF_SEQ);
    if (seq < lastSeq || seq > maxSeq) continue;
    if (crc32(tail.subarray(i + OFF_SEQ, i + total)) === tail.readUInt32LE(i + OFF_CRC)) return true;
  }
  return false;
}
