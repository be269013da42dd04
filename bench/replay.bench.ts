// Replay benchmark: events/s replaying a journal (trades and marks mixed, margin checks and
// liquidations included), the chain verified as it is read. Also RSS per position.
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMarketLines } from "../src/demo/generate.js";
import { importNdjson } from "../src/journal/index.js";
import { replayLog } from "../src/replay.js";

export interface ReplayBenchOptions {
  events?: number;
  accounts?: number;
  seed?: number;
}

export interface ReplayBenchResult {
  events: number;
  accounts: number;
  positions: number;
  events_per_s: number;
  elapsed_ms: number;
  rss_bytes_per_position: number;
}

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<ReplayBenchResult> {
  const events = opts.events ?? 200_000;
  const accounts = opts.accounts ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), "mmc-bench-replay-"));
  try {
    const log = join(dir, "m.ndjson");
    writeFileSync(log, [...generateMarketLines({ seed: opts.seed ?? 42, accounts, events })].join("\n") + "\n");
    const journal = join(dir, "m.journal");
    await importNdjson(log, journal);
    const rss0 = process.memoryUsage().rss;
    const t0 = process.hrtime.bigint();
    const core = await replayLog(journal, { keepHistory: false });
    const ns = Number(process.hrtime.bigint() - t0);
    const rss1 = process.memoryUsage().rss;
    const positions = core.state.positionsBySlot.length;
    return {
      events, accounts, positions,
      events_per_s: Math.round(events / (ns / 1e9)),
      elapsed_ms: Math.round(ns / 1e6),
      rss_bytes_per_position: Math.round(Math.max(0, rss1 - rss0) / Math.max(1, positions)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
