// `mmc bench <name>`: runs one benchmark (or all) and prints medians; `--write FILE` records
// the results with the machine and the command that produced them (bench/results.md).
import { writeFileSync } from "node:fs";
import os from "node:os";
import { runKernelBench } from "../../bench/kernel.bench.js";
import { runMarkBench } from "../../bench/mark.bench.js";
import { runReplayBench } from "../../bench/replay.bench.js";
import { runMatchingBench } from "../../bench/matching.bench.js";

export const BENCHES = ["kernel", "mark", "replay", "matching"] as const;
export type BenchName = (typeof BENCHES)[number];

export interface BenchCmdOptions {
  json?: boolean;
  positions?: number;
  events?: number;
  ops?: number;
  seed?: number;
  write?: string;
}

async function runOne(name: BenchName, o: BenchCmdOptions): Promise<unknown> {
  switch (name) {
    case "kernel":
      return runKernelBench({ positions: o.positions ?? 1_000_000, seed: o.seed });
    case "mark":
      return runMarkBench({ positions: o.positions ?? 100_000, seed: o.seed });
    case "replay":
      return runReplayBench({ events: o.events ?? 200_000, seed: o.seed });
    case "matching":
      return runMatchingBench({ ops: o.ops ?? 1_000_000, seed: o.seed });
  }
}

export function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export async function benchCommand(name: string, o: BenchCmdOptions): Promise<number> {
  const names: BenchName[] = name === "all" ? [...BENCHES] : BENCHES.includes(name as BenchName) ? [name as BenchName] : [];
  if (names.length === 0) {
    process.stderr.write(`mmc bench: unknown benchmark ${JSON.stringify(name)}; one of ${BENCHES.join(", ")}, all\n`);
    return 2;
  }
  const results: Record<string, unknown> = {};
  for (const n of names) {
    if (!o.json) process.stderr.write(`running ${n}…\n`);
    results[n] = await runOne(n, o);
    if (!o.json) process.stdout.write(`${n}: ${JSON.stringify(results[n])}\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify(names.length === 1 ? results[names[0]!] : results, null, 2) + "\n");
  if (o.write !== undefined) writeFileSync(o.write, resultsMarkdown(results, process.argv.slice(2).join(" ")));
  return 0;
}

function resultsMarkdown(results: Record<string, unknown>, args: string): string {
  const m = machine();
  const lines = [
    "# Benchmark results",
    "",
    `Produced by \`npx mmc ${args}\` (or \`npm run bench\`) on ${new Date().toISOString().slice(0, 10)}.`,
    "",
    "| machine | |",
    "| --- | --- |",
    ...Object.entries(m).map(([k, v]) => `| ${k} | ${v} |`),
    "",
  ];
  for (const [name, r] of Object.entries(results)) {
    lines.push(`## ${name}`, "", "```json", JSON.stringify(r, null, 2), "```", "");
  }
  return lines.join("\n");
}
