// NDJSON ⇄ journal. Import assigns seq (1, 2, …) and ts per SPEC §8: an event's own ts,
// else the previous event's (0 before any); raw entries get the previous ts too.
// Export writes the input entries back as NDJSON lines (entryToJsonLine); importing that
// output again yields a journal with the same head hash. Derived records are not
// exported: they are outputs, recomputed by replay.
import { closeSync, openSync, unlinkSync } from "node:fs";
import { once } from "node:events";
import { entryToJsonLine, readNdjsonEntries } from "../events/ndjson.js";
import { RECORD_KIND_INPUT } from "./format.js";
import { readJournal } from "./reader.js";
import { JournalWriter, type JournalHead, type JournalWriterOptions } from "./writer.js";

export const IMPORT_PROGRESS_EVERY_RECORDS = 10_000;
/** Export batches lines into writes of about this many characters. */
const EXPORT_WRITE_CHARS = 64 * 1024;

export interface ImportOptions extends JournalWriterOptions {
  /** Called every `progressEvery` records and once at the end, with the count so far. */
  readonly onProgress?: (records: number) => void;
  readonly progressEvery?: number;
}

/**
 * Reads NDJSON `src` into a new journal `dst` (which must not exist). On failure the
 * partial journal is removed. Returns the journal's head.
 */
export async function importNdjson(src: string, dst: string, opts: ImportOptions = {}): Promise<JournalHead> {
  const every = opts.progressEvery ?? IMPORT_PROGRESS_EVERY_RECORDS;
  if (!Number.isSafeInteger(every) || every < 1) throw new RangeError("progressEvery must be an integer ≥ 1");
  closeSync(openSync(dst, "wx")); // fails with EEXIST rather than appending to a journal
  let w: JournalWriter | undefined;
  try {
    w = JournalWriter.open(dst, opts);
    let ts = 0;
    let n = 0;
    for await (const entry of readNdjsonEntries(src)) {
      if (entry.kind === "event" && entry.event.ts !== undefined) ts = entry.event.ts;
      w.appendInput(entry, ts, 0);
      if (++n % every === 0) opts.onProgress?.(n);
    }
    w.close();
    opts.onProgress?.(n);
    return w.head;
  } catch (err) {
    try {
      w?.close();
    } catch {
      // the original error matters more
    }
    unlinkSync(dst);
    throw err;
  }
}

export type LineSink = NodeJS.WritableStream | ((line: string) => void);

/**
 * Writes the journal's input entries as NDJSON: to a stream (one "\n"-terminated line
 * each, honouring backpressure; the stream is not ended) or to a function (called with
 * each line, no terminator). Throws JournalError if the journal is damaged; lines before
 * the damage have been written. Returns the number of entries written.
 */
export async function exportJournal(path: string, out: LineSink): Promise<number> {
  let n = 0;
  if (typeof out === "function") {
    for (const r of readJournal(path)) {
      if (r.kind !== RECORD_KIND_INPUT) continue;
      out(entryToJsonLine(r.entry!));
      n++;
    }
    return n;
  }
  let pending = "";
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, "drain");
  };
  for (const r of readJournal(path)) {
    if (r.kind !== RECORD_KIND_INPUT) continue;
    pending += entryToJsonLine(r.entry!) + "\n";
    n++;
    if (pending.length >= EXPORT_WRITE_CHARS) {
      await write(pending);
      pending = "";
    }
  }
  if (pending.length > 0) await write(pending);
  return n;
}
