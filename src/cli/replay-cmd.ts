// `mmc replay <log>`: the SPEC §9 report (--json) or a readable summary.
import { statSync } from "node:fs";
import { replayLog } from "../replay.js";
import { buildReport, type Report } from "../outputs/report.js";
import { writeSnapshotFile } from "../snapshot-file.js";
import { JournalError } from "../journal/index.js";
import { AuditError } from "../outputs/derived.js";
import { progressBar } from "./progress.js";

export interface ReplayCmdOptions {
  json?: boolean;
  until?: number;
  snapshot?: string;
  snapshotAt?: number;
  snapshotOut?: string;
  progress?: boolean;
}

export async function replayCommand(log: string, opts: ReplayCmdOptions): Promise<number> {
  if ((opts.snapshotAt === undefined) !== (opts.snapshotOut === undefined)) {
    process.stderr.write("mmc replay: --snapshot-at and --snapshot-out go together\n");
    return 2;
  }
  const size = statSync(log).size;
  const bar = progressBar("replay", Math.max(1, Math.round(size / 200)), opts.progress !== false && !opts.json);
  let snapshotWritten = false;
  try {
    const core = await replayLog(log, {
      untilSeq: opts.until,
      snapshotPath: opts.snapshot,
      progressEvery: 5000,
      onProgress: (seq) => bar.update(seq),
      afterEach: (c) => {
        if (opts.snapshotAt !== undefined && c.state.seq === opts.snapshotAt) {
          writeSnapshotFile(opts.snapshotOut!, c);
          snapshotWritten = true;
        }
      },
    });
    bar.stop();
    if (opts.snapshotAt !== undefined && !snapshotWritten) {
      process.stderr.write(`mmc replay: the log ends before seq ${opts.snapshotAt}; no snapshot written\n`);
      return 1;
    }
    const report = buildReport(core);
    process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : summarize(report));
    return 0;
  } catch (err) {
    bar.stop();
    if (err instanceof JournalError) {
      process.stderr.write(`mmc replay: ${log}: broken journal at seq ${err.seq} (offset ${err.offset}): ${err.reason}\n`);
      return 1;
    }
    if (err instanceof AuditError) {
      process.stderr.write(`mmc replay: ${log}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export function summarize(r: Report): string {
  const lines: string[] = [];
  const accounts = Object.entries(r.accounts);
  const positions = accounts.reduce((n, [, a]) => n + Object.keys(a.positions).length, 0);
  lines.push(`seq ${r.seq}  state ${r.stateHash}`);
  lines.push(`accounts ${accounts.length}  open positions ${positions}`);
  lines.push(`marks ${Object.entries(r.marks).map(([s, p]) => `${s} ${p}`).join("  ") || "(none)"}`);
  lines.push(`liquidations ${r.liquidations.length}  adl ${r.adl.length}  margin calls ${r.marginCalls.length}  rejected ${r.rejected.length}`);
  const byCode = new Map<string, number>();
  for (const x of r.rejected) byCode.set(x.code, (byCode.get(x.code) ?? 0) + 1);
  if (byCode.size > 0) lines.push(`rejections ${[...byCode].sort().map(([c, n]) => `${c}×${n}`).join("  ")}`);
  for (const name of ["@insurance", "@fees"]) {
    const a = r.accounts[name];
    if (a !== undefined) lines.push(`${name.padEnd(11)} equity ${a.equity}`);
  }
  const risky = accounts
    .filter(([n, a]) => !n.startsWith("@") && a.marginRatio !== null && Number(a.marginRatio) > 0)
    .sort((x, y) => Number(y[1].marginRatio) - Number(x[1].marginRatio))
    .slice(0, 5);
  if (risky.length > 0) {
    lines.push("highest margin ratios (MM/E, cross):");
    for (const [n, a] of risky) lines.push(`  ${n.padEnd(14)} ${a.marginRatio}  equity ${a.equity}  MM ${a.maintenanceMargin}`);
  }
  return lines.join("\n") + "\n";
}
