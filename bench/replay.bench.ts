// Replay benchmark: events/s replaying a journal (trades and marks mixed, margin checks and
// liquidations included), the chain verified as it is read. Two markets from the demo's
// generator, each replayed in the same run:
// - steady: an ordinary day (`calm`: no crash, modest sizes; liquidations are rare);
// - storm: the stress market (a crash, gaps, high leverage): ~14% of events liquidate and
//   the insurance fund spends most of the run below zero, so ADL runs on most of them.
// (RSS per position is the memory bench's figure: bench/memory.bench.ts.)
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMarketLines } from "../src/demo/generate.js";
import { importNdjson } from "../src/journal/index.js";
import { readLog, replayLog } from "../src/replay.js";

export interface ReplayBenchOptions {
  events?: number;
  accounts?: number;
  seed?: number;
}

export interface ReplayRun {
  events: number;
  accounts: number;
  positions: number;
  liquidations: number;
  adl_fills: number;
  events_per_s: number;
  elapsed_ms: number;
  cpu_ms: number;
  /** The journal read alone (framing, CRC, hash chain, entry decoding), no engine: what bounds the read stage. */
  read_only_events_per_s: number;
}

export interface ReplayBenchResult {
  steady: ReplayRun;
  storm: ReplayRun;
}

async function runOne(dir: string, name: string, events: number, accounts: number, seed: number, calm: boolean): Promise<ReplayRun> {
  const log = join(dir, `${name}.ndjson`);
  writeFileSync(log, [...generateMarketLines({ seed, accounts, events, calm })].join("\n") + "\n");
  const journal = join(dir, `${name}.journal`);
  await importNdjson(log, journal);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
  const tr = process.hrtime.bigint();
  let read = 0;
  for await (const r of readLog(journal)) if (r.seq > 0) read++;
  const readNs = Number(process.hrtime.bigint() - tr);
  if (read !== events) throw new Error(`replay bench: read ${read} of ${events} entries`);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const core = await replayLog(journal);
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const positions = core.state.positionsBySlot.length;
  return {
    events, accounts, positions,
    liquidations: core.history.liquidations.length,
    adl_fills: core.history.adl.length,
    events_per_s: Math.round(events / (ns / 1e9)),
    elapsed_ms: Math.round(ns / 1e6),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    read_only_events_per_s: Math.round(events / (readNs / 1e9)),
  };
}

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<ReplayBenchResult> {
  const events = opts.events ?? 200_000;
  const accounts = opts.accounts ?? 5000;
  const seed = opts.seed ?? 42;
  const dir = mkdtempSync(join(tmpdir(), "mmc-bench-replay-"));
  try {
    const steady = await runOne(dir, "steady", events, accounts, seed, true);
    const storm = await runOne(dir, "storm", events, accounts, seed, false);
    return { steady, storm };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
