// Processing a log into an audited journal: each entry is applied by the engine and
// journaled with its outputs (input record, then its derived records), fsync'd in batches.
import { JournalWriter } from "./journal/index.js";
import { readLog } from "./replay.js";
import { Core, type CoreOptions } from "./pipeline.js";
import { applyAndJournal } from "./outputs/derived.js";

export interface ProcessOptions extends CoreOptions {
  readonly onProgress?: (seq: number) => void;
  readonly progressEvery?: number;
}

export async function processLog(src: string, dst: string, opts: ProcessOptions = {}): Promise<Core> {
  const core = new Core(opts);
  const writer = JournalWriter.open(dst);
  if (writer.head.seq !== 0) {
    writer.close();
    throw new Error(`${dst} already holds ${writer.head.seq} events; process into a new journal`);
  }
  const every = opts.progressEvery ?? 10_000;
  try {
    for await (const rec of readLog(src)) {
      applyAndJournal(core, writer, rec.entry, 0, rec.ts);
      if (opts.onProgress !== undefined && rec.seq % every === 0) opts.onProgress(rec.seq);
    }
    writer.sync();
  } finally {
    writer.close();
  }
  return core;
}
