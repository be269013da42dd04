// Replay: a log (NDJSON file or journal) → a Core at the last (or a chosen) seq.
// A journal is recognised by its magic bytes; anything else is read as NDJSON.
import { openSync, readSync, closeSync } from "node:fs";
import { readNdjsonEntries } from "./events/ndjson.js";
import type { LogEntry } from "./events/types.js";
import { JOURNAL_MAGIC, RECORD_KIND_INPUT } from "./journal/index.js";
import { JournalScanner } from "./journal/reader.js";
import { AuditError, derivedEquals, encodeDerived } from "./outputs/derived.js";
import { Core, type CoreOptions } from "./pipeline.js";
import { docToState } from "./aggregate/snapshot.js";
import { readSnapshotFile } from "./snapshot-file.js";

export interface LogRecord {
  readonly entry: LogEntry;
  /** Journals only: the derived records journaled after this input (null for NDJSON). */
  readonly derived: readonly Uint8Array[] | null;
  /** The journal's ts for the record (NDJSON: absent; the event's own ts rules). */
  readonly ts?: number;
  readonly seq: number;
}

export function isJournalFile(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(JOURNAL_MAGIC.length);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return n === buf.length && buf.toString("latin1") === JOURNAL_MAGIC;
  } finally {
    closeSync(fd);
  }
}

/** Shared by the records without derived ones (most of them): one allocation fewer each. */
const NO_DERIVED: readonly Uint8Array[] = Object.freeze([]);

/**
 * The input records of a journal, in seq order; corruption throws JournalError. Synchronous:
 * replay needs no promise per record.
 */
export function readJournalLog(path: string): IterableIterator<LogRecord> {
  return new JournalLogIterator(path);
}

/**
 * readJournalLog's iterator, written out rather than as a generator over readJournal: it
 * reads the scanner's fields directly (no record object, no generator resumption per
 * record). An input record is returned once the next input (or the end) shows which
 * derived records belong to it. The file is closed at the end, on an error, and on
 * return() (a `break` out of for-of).
 */
class JournalLogIterator implements IterableIterator<LogRecord> {
  private fd: number;
  private readonly sc: JournalScanner;
  /** The scanner's current record is an input not returned yet. */
  private pending = false;
  private done = false;

  constructor(path: string) {
    this.fd = openSync(path, "r");
    try {
      this.sc = new JournalScanner(this.fd);
      this.sc.readHeader();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  next(): IteratorResult<LogRecord> {
    if (this.done) return { done: true, value: undefined };
    const sc = this.sc;
    try {
      if (!this.pending) {
        // Skip to the first input (derived records before it cannot pass the scanner).
        for (;;) {
          if (!sc.advance()) return this.finish();
          if (sc.kind === RECORD_KIND_INPUT) break;
        }
      }
      const entry = sc.entry!;
      const ts = sc.ts;
      const seq = sc.seq;
      let derived: Uint8Array[] | null = null;
      this.pending = false;
      while (sc.advance()) {
        if (sc.kind === RECORD_KIND_INPUT) {
          this.pending = true;
          break;
        }
        (derived ??= []).push(sc.payloadCopy());
      }
      if (!this.pending) this.finish(); // the end: this record is the last
      return { done: false, value: { entry, ts, seq, derived: derived ?? NO_DERIVED } };
    } catch (err) {
      this.finish();
      throw err;
    }
  }

  return(): IteratorResult<LogRecord> {
    return this.finish();
  }

  [Symbol.iterator](): IterableIterator<LogRecord> {
    return this;
  }

  private finish(): IteratorResult<LogRecord> {
    this.done = true;
    this.close();
    return { done: true, value: undefined };
  }

  private close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** The input records of a log, in seq order. Journal corruption throws JournalError. */
export function readLog(path: string): AsyncIterableIterator<LogRecord> {
  return isJournalFile(path) ? asAsync(readJournalLog(path)) : readNdjsonLog(path);
}

async function* readNdjsonLog(path: string): AsyncGenerator<LogRecord> {
  let seq = 0;
  for await (const entry of readNdjsonEntries(path)) yield { entry, seq: ++seq, derived: null };
}

/**
 * A synchronous iterator as an async one: one resolved promise per item, about half the
 * cost of an async generator's yield (and a third of its `yield*` over a sync iterator).
 */
function asAsync<T>(it: Iterator<T>): AsyncIterableIterator<T> {
  return {
    next(): Promise<IteratorResult<T>> {
      try {
        return Promise.resolve(it.next());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
    return(value?: unknown): Promise<IteratorResult<T>> {
      it.return?.();
      return Promise.resolve({ done: true, value: value as T });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export interface ReplayOptions extends CoreOptions {
  /** Stop after this seq. */
  readonly untilSeq?: number;
  /** Start from a snapshot file (its seq); records at or below it are skipped. */
  readonly snapshotPath?: string;
  /** Called every `progressEvery` records with the seq reached. */
  readonly onProgress?: (seq: number) => void;
  readonly progressEvery?: number;
  /**
   * Journals with derived records: check that replay concludes exactly what was journaled
   * (default true). A journal without derived records (e.g. from `mmc import`) passes.
   */
  readonly audit?: boolean;
  /** Called with the Core after each record (tests use it to check invariants per event). */
  readonly afterEach?: (core: Core, rec: LogRecord) => void;
}

export async function replayLog(path: string, opts: ReplayOptions = {}): Promise<Core> {
  let core: Core;
  if (opts.snapshotPath !== undefined) {
    const snap = readSnapshotFile(opts.snapshotPath);
    core = new Core({ ...opts, state: docToState(snap.state), history: snap.history });
  } else {
    core = new Core(opts);
  }
  const every = opts.progressEvery ?? 10_000;
  let auditing = false;
  /** Applies one record; false once past `untilSeq`. */
  const step = (rec: LogRecord): boolean => {
    if (rec.seq <= core.state.seq) return true;
    if (opts.untilSeq !== undefined && rec.seq > opts.untilSeq) return false;
    const r = core.apply(rec.entry, rec.ts);
    // Strict from the first derived record on: a processed journal carries every output.
    // (Removing derived records would also break the hash chain, which readJournal checks.)
    if (rec.derived !== null && rec.derived.length > 0) auditing = opts.audit !== false;
    if (auditing) auditOutputs(rec, r.outputs);
    opts.afterEach?.(core, rec);
    if (opts.onProgress !== undefined && rec.seq % every === 0) opts.onProgress(rec.seq);
    return true;
  };
  if (isJournalFile(path)) {
    // A journal is read synchronously (readLog's async iteration costs a few promises per
    // record).
    for (const rec of readJournalLog(path)) if (!step(rec)) break;
  } else {
    for await (const rec of readLog(path)) if (!step(rec)) break;
  }
  return core;
}

function auditOutputs(rec: LogRecord, outputs: readonly import("./outputs/events.js").OutputEvent[]): void {
  const journaled = rec.derived!;
  if (journaled.length !== outputs.length) {
    throw new AuditError(rec.seq, `journal has ${journaled.length} derived records, replay derives ${outputs.length}`);
  }
  for (let i = 0; i < outputs.length; i++) {
    const theirs = journaled[i]!;
    if (!derivedEquals(outputs[i]!, theirs)) {
      const mine = encodeDerived(outputs[i]!);
      throw new AuditError(rec.seq, `derived record ${i} differs: journal ${Buffer.from(theirs).toString("utf8")} vs replay ${Buffer.from(mine).toString("utf8")}`);
    }
  }
}
