// Streaming journal reader: reads in chunks, verifies each record's CRC, sequencing and
// hash chain as it goes, and stops with a JournalError at the first bad record.
// Format: see format.ts.
import { closeSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CodecError, decodeEntryAt } from "../events/codec.js";
import type { LogEntry } from "../events/types.js";
import { crc32Aligned } from "./crc32.js";
import { JournalError } from "./errors.js";
import {
  chainHash,
  digestEquals,
  GENESIS_HASH,
  HASH_BYTES,
  JOURNAL_HEADER_BYTES,
  JOURNAL_PAYLOAD_MAX_BYTES,
  OFF_CRC,
  OFF_LEN,
  OFF_KIND,
  OFF_PAYLOAD,
  OFF_SEQ,
  OFF_SOURCE_SEQ,
  OFF_TS,
  RECORD_KIND_DERIVED,
  RECORD_KIND_INPUT,
  RECORD_OVERHEAD_BYTES,
  cachedView,
  headerProblem,
  readU64,
  writeU64,
  type RecordKind,
} from "./format.js";

/** Bytes read per refill. */
export const JOURNAL_READ_CHUNK_BYTES = 1024 * 1024;
/** High 32-bit word limit of a safe integer (2^53 − 1 = 0x1FFFFF_FFFFFFFF). */
const SAFE_HI_MAX = 0x1fffff;

export interface JournalRecord {
  readonly seq: number;
  readonly ts: number;
  readonly kind: RecordKind;
  readonly sourceSeq: number;
  /** The decoded input entry (kind 0 only). */
  readonly entry?: LogEntry;
  /**
   * Payload bytes: a view into the reader's chunk (no copy). Chunks are never reused, so
   * the view stays valid; holding it keeps its ~1 MiB chunk alive.
   */
  readonly payload: Uint8Array;
  /** This record's chain hash (32 bytes; a new view into the read chunk at each access). */
  readonly hash: Uint8Array;
  /** File offset of the record's first byte. */
  readonly offset: number;
}

/**
 * A record as the scanner returns it: `payload` and `hash` are made on first use (most
 * readers never look at them, and a Uint8Array view costs more than the rest of the
 * record object).
 */
class ScannedRecord implements JournalRecord {
  private payloadView: Uint8Array | undefined = undefined;

  constructor(
    readonly seq: number,
    readonly ts: number,
    readonly kind: RecordKind,
    readonly sourceSeq: number,
    readonly entry: LogEntry | undefined,
    readonly offset: number,
    /** The chunk holding the record and the record's first byte in it. */
    private readonly chunk: Buffer,
    private readonly at: number,
    private readonly len: number,
  ) {}

  get payload(): Uint8Array {
    this.payloadView ??= new Uint8Array(this.chunk.buffer, this.chunk.byteOffset + this.at + OFF_PAYLOAD, this.len);
    return this.payloadView;
  }

  get hash(): Uint8Array {
    return new Uint8Array(this.chunk.buffer, this.chunk.byteOffset + this.at + OFF_PAYLOAD + this.len, HASH_BYTES);
  }
}

/**
 * Record-by-record verifier over an open fd. Shared by readJournal and the writer's
 * recovery scan. After next() returns null or throws, the fields describe the last good
 * record (the head) and `offset` is where the next record starts / the bad one starts.
 */
export class JournalScanner {
  /** File offset of the next record. */
  offset = JOURNAL_HEADER_BYTES;
  lastSeq = 0;
  lastTs = 0;
  lastSourceSeq = 0;
  records = 0;

  private buf: Buffer = Buffer.alloc(0);
  /** `buf` as a plain Uint8Array (what the entry decoder reads: one array type there). */
  private bytes = new Uint8Array(0);
  /**
   * `buf`'s ArrayBuffer and offset, read once per chunk: the getters are calls into the
   * runtime (≈ 300 instructions per record when read for each record's view).
   */
  private chunkBuffer: ArrayBufferLike = this.bytes.buffer;
  private chunkOffset = 0;
  /** Index in `buf` of file offset `offset`. */
  private pos = 0;
  private bufEnd = 0;
  /** File offset just after the bytes in buf (next read position). */
  private filePos = 0;
  /**
   * prev_hash ‖ record bytes from seq to the end of the record: the chain hash's input
   * (all but the last 32 bytes) and the CRC's (all but the first 32), both the same length.
   * The first 32 bytes are the last good record's hash.
   */
  private scratch = new Uint8Array(4096);
  /** `scratch` as words, for the CRC. */
  private scratchWords = new Int32Array(this.scratch.buffer);
  /** Views of `scratch` by length for the hash (at 0). */
  private hashViews: Uint8Array[] = [];

  constructor(
    private readonly fd: number,
    private readonly decodeEntries = true,
    private readonly verifyChain = true,
  ) {
    this.scratch.set(GENESIS_HASH, 0);
  }

  /** The chain hash of the last good record (GENESIS_HASH before the first): a copy. */
  get prevHash(): Uint8Array {
    return this.scratch.slice(0, HASH_BYTES);
  }

  /** Copies record bytes seq .. end of record (`n` bytes at `from` in the chunk) after prev_hash. */
  private stage(from: number, n: number): void {
    if (this.scratch.length < HASH_BYTES + n) {
      // A multiple of 4 bytes, for the word view.
      const grown = new Uint8Array((Math.max(HASH_BYTES + n, this.scratch.length * 2) + 3) & ~3);
      grown.set(this.scratch.subarray(0, HASH_BYTES), 0);
      this.scratch = grown;
      this.scratchWords = new Int32Array(grown.buffer);
      this.hashViews = [];
    }
    // One set() from a view: fewer instructions than a byte loop even with the view's
    // allocation (callgrind, ~100-byte records).
    this.scratch.set(new Uint8Array(this.chunkBuffer, this.chunkOffset + from, n), HASH_BYTES);
  }

  /** `scratch[at, at + n)` as a view, cached by length for the common record sizes. */
  private view(cache: Uint8Array[], at: number, n: number): Uint8Array {
    return cachedView(this.scratch.buffer, cache, at, n);
  }

  /** Verifies the file header; throws JournalError("header"). */
  readHeader(): void {
    const h = Buffer.alloc(JOURNAL_HEADER_BYTES);
    const n = readSync(this.fd, h, 0, JOURNAL_HEADER_BYTES, 0);
    const problem = headerProblem(h.subarray(0, n));
    if (problem !== null) throw new JournalError("header", 0, 0, problem);
    this.filePos = JOURNAL_HEADER_BYTES;
    this.offset = JOURNAL_HEADER_BYTES;
  }

  /**
   * Makes at least `n` bytes available from `pos`; returns how many are (less only at
   * EOF). Refills into a fresh chunk so views handed out earlier stay intact.
   */
  private ensure(n: number): number {
    const have = this.bufEnd - this.pos;
    if (have >= n) return have;
    const size = Math.max(JOURNAL_READ_CHUNK_BYTES, n);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.pos, this.bufEnd);
    let end = have;
    while (end < size) {
      const r = readSync(this.fd, next, end, size - end, this.filePos);
      if (r === 0) break;
      end += r;
      this.filePos += r;
      if (end >= n) break; // enough for now; the rest comes with the next refill
    }
    this.buf = next;
    this.chunkBuffer = next.buffer;
    this.chunkOffset = next.byteOffset;
    this.bytes = new Uint8Array(this.chunkBuffer, this.chunkOffset, next.length);
    this.pos = 0;
    this.bufEnd = end;
    return end;
  }

  /** Bytes of the file from `offset` to EOF, read directly (error paths only). */
  private tail(maxBytes: number): Buffer {
    const out = Buffer.allocUnsafe(maxBytes);
    let n = 0;
    while (n < maxBytes) {
      const r = readSync(this.fd, out, n, maxBytes - n, this.offset + n);
      if (r === 0) break;
      n += r;
    }
    return out.subarray(0, n);
  }

  /** The next verified record, or null at a clean end of file. */
  next(): JournalRecord | null {
    if (!this.advance()) return null;
    return new ScannedRecord(this.seq, this.ts, this.kind, this.sourceSeq, this.entry, this.offset - this.total, this.buf, this.at, this.len);
  }

  // The record advance() last verified (valid while it returns true; `entry` is undefined
  // for derived records and when entries are not decoded).
  seq = 0;
  ts = 0;
  kind: RecordKind = RECORD_KIND_INPUT;
  sourceSeq = 0;
  entry: LogEntry | undefined = undefined;
  /** The record's first byte in the current chunk, its payload length and its size. */
  private at = 0;
  private len = 0;
  private total = 0;

  /** A copy of the payload of the record advance() last verified. */
  payloadCopy(): Uint8Array {
    return this.bytes.slice(this.at + OFF_PAYLOAD, this.at + OFF_PAYLOAD + this.len);
  }

  /**
   * Verifies the next record and exposes it in the fields above (no object per record:
   * what readJournalLog uses); false at a clean end of file.
   */
  advance(): boolean {
    const avail = this.ensure(OFF_PAYLOAD);
    if (avail === 0) return false;
    if (avail < OFF_SEQ) this.fail("truncated", `${avail} bytes left, less than a record header`);
    let bytes = this.bytes;
    let q = this.pos;
    const len = (bytes[q]! | (bytes[q + 1]! << 8) | (bytes[q + 2]! << 16)) + bytes[q + 3]! * 0x1000000;
    if (len > JOURNAL_PAYLOAD_MAX_BYTES) this.fail("length", `payload length ${len} exceeds ${JOURNAL_PAYLOAD_MAX_BYTES}`);
    const total = RECORD_OVERHEAD_BYTES + len;
    if (this.ensure(total) < total) this.fail("truncated", `record of ${total} bytes runs past the end of the file`);
    // ensure() may have moved the bytes to a new chunk.
    bytes = this.bytes;
    q = this.pos;
    const stored = (bytes[q + 4]! | (bytes[q + 5]! << 8) | (bytes[q + 6]! << 16)) + bytes[q + 7]! * 0x1000000;
    // CRC and chain hash both run over the staged copy (the hash through views cached by
    // length): no allocation per record.
    const n = total - OFF_SEQ;
    this.stage(q + OFF_SEQ, n);
    if (crc32Aligned(this.scratch, this.scratchWords, HASH_BYTES, n) !== stored) this.fail("checksum", "CRC mismatch");
    const seq = u64At(bytes, q + OFF_SEQ);
    const ts = u64At(bytes, q + OFF_TS);
    const kind = bytes[q + OFF_KIND]!;
    const sourceSeq = u64At(bytes, q + OFF_SOURCE_SEQ);
    if (seq < 0 || ts < 0 || sourceSeq < 0) this.fail("range", "a u64 field exceeds 2^53-1", seq < 0 ? undefined : seq);
    if (kind === RECORD_KIND_INPUT) {
      if (seq !== this.lastSeq + 1) this.fail("seq", `input seq ${seq} after ${this.lastSeq} (expected ${this.lastSeq + 1})`, seq);
    } else if (kind === RECORD_KIND_DERIVED) {
      if (this.lastSeq === 0 || seq !== this.lastSeq) {
        this.fail("seq", `derived record seq ${seq} after input seq ${this.lastSeq}`, seq);
      }
    } else {
      this.fail("kind", `unknown record kind ${kind}`, seq);
    }
    const hashAt = q + OFF_PAYLOAD + len;
    const scratch = this.scratch;
    if (this.verifyChain) {
      const digest = chainHash(this.view(this.hashViews, 0, n));
      if (!digestEquals(digest, bytes, hashAt)) this.fail("chain", "hash does not chain from the previous record", seq);
    }
    let entry: LogEntry | undefined;
    if (kind === RECORD_KIND_INPUT && this.decodeEntries) {
      try {
        entry = decodeEntryAt(bytes, q + OFF_PAYLOAD, hashAt);
      } catch (err) {
        if (err instanceof CodecError) this.fail("payload", err.message, seq);
        throw err;
      }
      if (entry.kind === "event" && entry.event.ts !== undefined && entry.event.ts !== ts) {
        this.fail("ts", `record ts ${ts} but the event's ts is ${entry.event.ts}`, seq);
      }
    }
    // This record's hash is the next one's prev_hash: 32 stores in a loop, cheaper than
    // copyWithin (a call into the runtime).
    for (let i = 0; i < HASH_BYTES; i++) scratch[i] = bytes[hashAt + i]!;
    this.seq = seq;
    this.ts = ts;
    this.kind = kind as RecordKind;
    this.sourceSeq = sourceSeq;
    this.entry = entry;
    this.at = q;
    this.len = len;
    this.total = total;
    this.lastSeq = seq;
    this.lastTs = ts;
    this.lastSourceSeq = sourceSeq;
    this.records++;
    this.offset += total;
    this.pos += total;
    return true;
  }

  /** Throws a JournalError for the record at `offset`. */
  private fail(reason: JournalError["reason"], detail: string, seq?: number): never {
    throw new JournalError(reason, seq ?? this.likelySeq(), this.offset, detail);
  }

  /**
   * The seq the damaged record at `offset` most likely carries, for error reports: when
   * its kind and seq fields agree with the sequencing rule they are trusted; else the CRC
   * decides between "input seq last+1" and "derived seq last"; else a best guess.
   */
  private likelySeq(): number {
    const input = this.lastSeq + 1;
    const derived = this.lastSeq;
    const h = this.tail(OFF_PAYLOAD);
    if (h.length < OFF_SOURCE_SEQ) return input;
    const seq = readU64(h, OFF_SEQ);
    const kind = h[OFF_KIND];
    if ((kind === RECORD_KIND_INPUT && seq === input) || (kind === RECORD_KIND_DERIVED && seq === derived && derived > 0)) return seq;
    const len = h.readUInt32LE(OFF_LEN);
    const total = RECORD_OVERHEAD_BYTES + len;
    const b = len <= JOURNAL_PAYLOAD_MAX_BYTES ? this.tail(total) : h;
    if (len <= JOURNAL_PAYLOAD_MAX_BYTES && b.length >= total) {
      const stored = b.readUInt32LE(OFF_CRC);
      const candidates: [number, number][] = [[RECORD_KIND_INPUT, input]];
      if (derived > 0) candidates.push([RECORD_KIND_DERIVED, derived]);
      for (const [k, s] of candidates) {
        const patched = Buffer.from(b.subarray(0, total));
        writeU64(patched, s, OFF_SEQ);
        patched[OFF_KIND] = k;
        if (crc32(patched.subarray(OFF_SEQ)) === stored) return s;
      }
    }
    if (seq === input || (seq === derived && derived > 0)) return seq;
    return kind === RECORD_KIND_DERIVED && derived > 0 ? derived : input;
  }
}

/** A u64 LE at `at` as a number; -1 when it exceeds 2^53 − 1 (readU64 on a plain array). */
function u64At(b: Uint8Array, at: number): number {
  const hi = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16)) + b[at + 7]! * 0x1000000;
  if (hi > SAFE_HI_MAX) return -1;
  return hi * 0x1_0000_0000 + (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

export interface ReadJournalOptions {
  /**
   * Check each record's chain hash (default true). SHA-256 is most of the cost of a read
   * (about 1 µs per record in Node); a replay of a journal verified elsewhere (the writer's
   * open, or verifyJournal in a worker) may skip it and rely on the CRC, which still
   * catches damage but not a deliberate edit.
   */
  readonly verifyChain?: boolean;
}

/**
 * Streams the records of a journal, verifying as it goes; throws JournalError at the
 * first bad record (records before it have been yielded). Reads in chunks: memory is
 * bounded by the chunk size and the largest record, not the file size.
 */
export function* readJournal(path: string, opts: ReadJournalOptions = {}): Generator<JournalRecord> {
  const fd = openSync(path, "r");
  try {
    const sc = new JournalScanner(fd, true, opts.verifyChain ?? true);
    sc.readHeader();
    for (;;) {
      const r = sc.next();
      if (r === null) return;
      yield r;
    }
  } finally {
    closeSync(fd);
  }
}

export type VerifyResult =
  | { readonly ok: true; readonly records: number; readonly lastSeq: number; readonly headHash: string }
  | {
      readonly ok: false;
      readonly seq: number;
      readonly offset: number;
      readonly reason: JournalError["reason"];
      readonly message: string;
      /** Records verified before the bad one. */
      readonly records: number;
    };

/** Verifies a whole journal (CRC, sequencing, hash chain, payload decoding). */
export function verifyJournal(path: string): VerifyResult {
  const fd = openSync(path, "r");
  const sc = new JournalScanner(fd);
  try {
    sc.readHeader();
    while (sc.next() !== null) {
      // verification happens in next()
    }
    return { ok: true, records: sc.records, lastSeq: sc.lastSeq, headHash: Buffer.from(sc.prevHash).toString("hex") };
  } catch (err) {
    if (!(err instanceof JournalError)) throw err;
    return { ok: false, seq: err.seq, offset: err.offset, reason: err.reason, message: err.message, records: sc.records };
  } finally {
    closeSync(fd);
  }
}
