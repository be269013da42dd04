// `mmc verify | import | export | generate`: journal tooling and the market generator.
import { createWriteStream, statSync } from "node:fs";
import { processLog } from "../process.js";
import { stateHash } from "../aggregate/snapshot.js";
import { once } from "node:events";
import { verifyJournal, importNdjson, exportJournal } from "../journal/index.js";
import { generateMarketLines } from "../demo/generate.js";
import { progressBar } from "./progress.js";

export function verifyCommand(journal: string, opts: { json?: boolean }): number {
  const r = verifyJournal(journal);
  if (opts.json) process.stdout.write(JSON.stringify(r) + "\n");
  else if (r.ok) process.stdout.write(`ok: ${r.records} records, last seq ${r.lastSeq}, head ${r.headHash}\n`);
  else process.stdout.write(`BROKEN at seq ${r.seq} (offset ${r.offset}): ${r.reason}\n`);
  return r.ok ? 0 : 1;
}

export async function importCommand(src: string, dst: string, opts: { progress?: boolean }): Promise<number> {
  const bar = progressBar("import", Math.max(1, Math.round(statSync(src).size / 150)), opts.progress !== false);
  await importNdjson(src, dst, { onProgress: (k) => bar.update(k) });
  bar.stop();
  const v = verifyJournal(dst);
  if (!v.ok) {
    process.stderr.write(`mmc import: the written journal does not verify at seq ${v.seq}: ${v.reason}\n`);
    return 1;
  }
  process.stdout.write(`imported ${v.lastSeq} events into ${dst}; head ${v.headHash}\n`);
  return 0;
}

export async function processCommand(src: string, dst: string, opts: { progress?: boolean; json?: boolean }): Promise<number> {
  const bar = progressBar("process", Math.max(1, Math.round(statSync(src).size / 150)), opts.progress !== false && !opts.json);
  const core = await processLog(src, dst, { onProgress: (k) => bar.update(k), progressEvery: 5000 });
  bar.stop();
  const v = verifyJournal(dst);
  if (!v.ok) {
    process.stderr.write(`mmc process: the written journal does not verify at seq ${v.seq}: ${v.reason}\n`);
    return 1;
  }
  const h = core.history;
  const result = {
    events: v.lastSeq, records: v.records, derivedRecords: v.records - v.lastSeq, headHash: v.headHash, stateHash: stateHash(core.state),
    liquidations: h.liquidations.length, adl: h.adl.length, marginCalls: h.marginCalls.length, rejected: h.rejected.length,
  };
  process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : `processed ${result.events} events into ${dst} (${result.derivedRecords} derived records); head ${result.headHash}; state ${result.stateHash}\n`);
  return 0;
}

export async function exportCommand(journal: string, opts: { out?: string }): Promise<number> {
  const out = opts.out === undefined ? process.stdout : createWriteStream(opts.out);
  await exportJournal(journal, out);
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
  }
  return 0;
}

export async function generateCommand(opts: { seed: number; accounts: number; events: number; orderFlow?: boolean; calm?: boolean; out?: string }): Promise<number> {
  if (opts.calm === true && opts.orderFlow === true) {
    process.stderr.write("mmc generate: --calm is a fills-only market; it cannot be combined with --order-flow\n");
    return 2;
  }
  const out = opts.out === undefined ? process.stdout : createWriteStream(opts.out);
  const market = { seed: opts.seed, accounts: opts.accounts, events: opts.events, orderFlow: opts.orderFlow === true, calm: opts.calm === true };
  for (const line of generateMarketLines(market)) {
    if (!out.write(line + "\n")) await once(out, "drain");
  }
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
  }
  return 0;
}
