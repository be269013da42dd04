// Replay: a log (NDJSON file or journal) → a Core at the last (or a chosen) seq.
// A journal is recognised by its magic bytes; anything else is read as NDJSON.
import { openSync, readSync, closeSync } from "node:fs";
import { readNdjsonEntries } from "./events/ndjson.js";
import type { LogEntry } from "./events/types.js";
import { readJournal, JOURNAL_MAGIC } from "./journal/index.js";
import { Core, type CoreOptions } from "./pipeline.js";
import { docToState } from "./aggregate/snapshot.js";
import { readSnapshotFile } from "./snapshot-file.js";

export interface LogRecord {
  readonly entry: LogEntry;
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

/** The input records of a log, in seq order. Journal corruption throws JournalError. */
export async function* readLog(path: string): AsyncGenerator<LogRecord> {
  if (isJournalFile(path)) {
    for (const r of readJournal(path)) {
      if (r.kind === 0 && r.entry !== undefined) yield { entry: r.entry, ts: r.ts, seq: r.seq };
    }
    return;
  }
  let seq = 0;
  for await (const entry of readNdjsonEntries(path)) yield { entry, seq: ++seq };
}

export interface ReplayOptions extends CoreOptions {
  /** Stop after this seq. */
  readonly untilSeq?: number;
  /** Start from a snapshot file (its seq); records at or below it are skipped. */
  readonly snapshotPath?: string;
  /** Called every `progressEvery` records with the seq reached. */
  readonly onProgress?: (seq: number) => void;
  readonly progressEvery?: number;
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
  for await (const rec of readLog(path)) {
    if (rec.seq <= core.state.seq) continue;
    if (opts.untilSeq !== undefined && rec.seq > opts.untilSeq) break;
    core.apply(rec.entry, rec.ts);
    opts.afterEach?.(core, rec);
    if (opts.onProgress !== undefined && rec.seq % every === 0) opts.onProgress(rec.seq);
  }
  return core;
}
