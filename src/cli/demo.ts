// `mmc demo`: the main job on the embedded default, no broker. A seeded market with a crash is
// generated, journaled (checksummed, hash-chained, fsync'd), verified, replayed through the
// WASM margin kernel and the liquidation engine, replayed again to prove determinism, and
// summarized: positions, margin calls, liquidations, the insurance fund's path, ADL,
// the worst accounts, accounts at risk, throughput.
import { mkdtempSync, mkdirSync, createWriteStream, statSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMarketLines, type MarketOptions } from "../demo/generate.js";
import { verifyJournal } from "../journal/index.js";
import { processLog } from "../process.js";
import { stateHash } from "../aggregate/snapshot.js";
import { replayLog } from "../replay.js";
import { buildReport, type Report } from "../outputs/report.js";
import { INSURANCE } from "../aggregate/state.js";
import { formatScaled } from "../numbers/decimal.js";
import { progressBar } from "./progress.js";

export interface DemoOptions {
  seed: number;
  /** Orders through the matching engine (default), or the fills-only tape. */
  orderFlow?: boolean;
  accounts: number;
  events: number;
  dir?: string;
  json?: boolean;
  progress?: boolean;
}

interface FundPoint {
  seq: number;
  equity: string;
}

export async function demoCommand(opts: DemoOptions): Promise<number> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "mmc-demo-"));
  mkdirSync(dir, { recursive: true });
  const ndjson = join(dir, "market.ndjson");
  const journal = join(dir, "market.journal");
  const showProgress = opts.progress !== false && !opts.json;
  const market: MarketOptions = { seed: opts.seed, accounts: opts.accounts, events: opts.events, orderFlow: opts.orderFlow !== false };

  // 1. Generate.
  let bar = progressBar("generate", opts.events, showProgress);
  const out = createWriteStream(ndjson);
  let lines = 0;
  for (const line of generateMarketLines(market)) {
    if (!out.write(line + "\n")) await once(out, "drain");
    if (++lines % 5000 === 0) bar.update(lines);
  }
  out.end();
  await once(out, "finish");
  bar.stop();

  // 2. Run it through the engine, journaling each event with its outputs; verify the chain.
  bar = progressBar("process", lines, showProgress);
  const t0 = process.hrtime.bigint();
  const processed = await processLog(ndjson, journal, { onProgress: (n) => bar.update(n), progressEvery: 5000 });
  const processNs = Number(process.hrtime.bigint() - t0);
  bar.stop();
  const processedHash = stateHash(processed.state);
  const verified = verifyJournal(journal);
  if (!verified.ok) {
    process.stderr.write(`mmc demo: journal failed verification at seq ${verified.seq}: ${verified.reason}\n`);
    return 1;
  }

  // 3. Audit: replay the journal as an auditor would (chain checked, every derived record
  //    compared with what the engine concludes again), sampling the insurance fund.
  bar = progressBar("audit", lines, showProgress);
  const fund: FundPoint[] = [];
  let sDecimals = 0;
  const t1 = process.hrtime.bigint();
  const core = await replayLog(journal, {
    progressEvery: 5000,
    onProgress: (seq) => bar.update(seq),
    afterEach: (c, rec) => {
      const ins = c.state.accounts.get(INSURANCE);
      if (ins === undefined) return;
      if (rec.seq % 2000 === 0 || (c.history.liquidations.at(-1)?.seq === rec.seq)) {
        sDecimals = c.state.assets.get(c.state.settlementAsset ?? "")?.decimals ?? 0;
        fund.push({ seq: rec.seq, equity: formatScaled(c.margin.book.acct_equity_minor[ins.slot]!, sDecimals) });
      }
    },
  });
  const replayNs = Number(process.hrtime.bigint() - t1);
  bar.stop();
  const report = buildReport(core);
  // The auditor's replay must land on the processing run's state, bit for bit.
  const deterministic = report.stateHash === processedHash;

  const summary = summarizeDemo(report, {
    dir, ndjson, journal, events: lines, journalBytes: statSync(journal).size, headHash: verified.headHash, journalRecords: verified.records,
    processNs, replayNs, fund, deterministic, seed: opts.seed, accounts: opts.accounts, orderFlow: market.orderFlow === true,
  });
  process.stdout.write(opts.json ? JSON.stringify(summary.json, null, 2) + "\n" : summary.text);
  return deterministic ? 0 : 1;
}

interface DemoFacts {
  dir: string;
  ndjson: string;
  journal: string;
  events: number;
  journalBytes: number;
  journalRecords: number;
  headHash: string;
  processNs: number;
  replayNs: number;
  fund: FundPoint[];
  deterministic: boolean;
  seed: number;
  accounts: number;
  orderFlow: boolean;
}

function summarizeDemo(r: Report, f: DemoFacts): { text: string; json: unknown } {
  const accounts = Object.entries(r.accounts).filter(([n]) => !n.startsWith("@"));
  const positions = accounts.flatMap(([n, a]) => Object.entries(a.positions).map(([s, p]) => ({ account: n, symbol: s, ...p })));
  const isolated = positions.filter((p) => p.mode === "isolated").length;
  const liq = r.liquidations;
  const sum = (xs: string[]): number => xs.reduce((t, x) => t + Number(x), 0); // display only
  const feeTotal = sum(liq.map((l) => l.fee));
  const deficitTotal = sum(liq.map((l) => l.deficit));
  const worst = [...liq].sort((a, b) => Number(b.deficit) - Number(a.deficit) || (a.account < b.account ? -1 : 1)).slice(0, 5);
  const atRisk = accounts
    .filter(([, a]) => a.marginRatio !== null && Number(a.marginRatio) > 0)
    .sort((x, y) => Number(y[1].marginRatio) - Number(x[1].marginRatio))
    .slice(0, 5)
    .map(([n, a]) => ({ account: n, marginRatio: a.marginRatio, equity: a.equity, maintenanceMargin: a.maintenanceMargin }));
  const fundEquities = f.fund.map((p) => Number(p.equity));
  const fundMin = f.fund.length > 0 ? f.fund[fundEquities.indexOf(Math.min(...fundEquities))]! : null;
  const eventsPerS = Math.round(f.events / (f.replayNs / 1e9));
  const processPerS = Math.round(f.events / (f.processNs / 1e9));
  const rejectedByCode: Record<string, number> = {};
  for (const x of r.rejected) rejectedByCode[x.code] = (rejectedByCode[x.code] ?? 0) + 1;
  const json = {
    seed: f.seed, accounts: f.accounts, events: f.events, dir: f.dir, mode: f.orderFlow ? "order flow through matching" : "fills only",
    matching: r.matching,
    books: Object.fromEntries(Object.entries(r.books).map(([s, b]) => [s, { bestBid: b.bids[0] ?? null, bestAsk: b.asks[0] ?? null, bidLevels: b.bids.length, askLevels: b.asks.length }])),
    journal: { path: f.journal, bytes: f.journalBytes, records: f.journalRecords, derivedRecords: f.journalRecords - f.events, headHash: f.headHash, verified: true },
    process: { events_per_s: processPerS, elapsed_ms: Math.round(f.processNs / 1e6) },
    audit: { events_per_s: eventsPerS, elapsed_ms: Math.round(f.replayNs / 1e6), stateHash: r.stateHash, derivedRecordsMatch: true, deterministic: f.deterministic },
    positions: { open: positions.length, isolated, cross: positions.length - isolated },
    marks: r.marks,
    liquidations: { count: liq.length, isolated: liq.filter((l) => l.mode === "isolated").length, cross: liq.filter((l) => l.mode === "cross").length, fees: feeTotal, deficits: deficitTotal },
    adl: r.adl.length,
    marginCalls: r.marginCalls.length,
    insuranceFund: { start: f.fund[0]?.equity ?? null, min: fundMin, end: r.accounts["@insurance"]?.equity ?? null, path: f.fund.filter((_, i) => i % Math.max(1, Math.floor(f.fund.length / 20)) === 0) },
    worstLiquidations: worst.map((l) => ({ seq: l.seq, account: l.account, mode: l.mode, symbols: l.symbols, fee: l.fee, deficit: l.deficit })),
    accountsAtRisk: atRisk,
    rejected: rejectedByCode,
  };
  const t: string[] = [];
  t.push(`mmc demo — seed ${f.seed}, ${f.accounts} accounts, ${f.events} events, ${f.orderFlow ? "orders through the matching engine" : "fills only"}`);
  t.push(`  log      ${f.ndjson}`);
  t.push(`  journal  ${f.journal} (${(f.journalBytes / 1e6).toFixed(1)} MB, ${f.events} inputs + ${f.journalRecords - f.events} derived records), chain verified, head ${f.headHash.slice(0, 16)}…`);
  t.push(`  process  ${processPerS.toLocaleString("en-US")} events/s (${Math.round(f.processNs / 1e6)} ms): apply, journal, fsync`);
  t.push(`  audit    ${eventsPerS.toLocaleString("en-US")} events/s (${Math.round(f.replayNs / 1e6)} ms): replayed the journal, every derived record matched, state ${f.deterministic ? "identical" : "MISMATCH"} (${r.stateHash.slice(0, 16)}…)`);
  t.push("");
  if (f.orderFlow) {
    const m = r.matching;
    t.push(`matching: ${m.trades} trades, ${m.accepted} orders accepted, ${m.replaced} replaced, ${m.cancelled} cancelled, ${m.rejected} rejected (pre-trade margin, reduce-only, post-only, …)`);
    for (const [s, b] of Object.entries(r.books)) {
      t.push(`  ${s.padEnd(9)} bid ${b.bids[0] ? `${b.bids[0][1]} @ ${b.bids[0][0]}` : "-"}  ask ${b.asks[0] ? `${b.asks[0][1]} @ ${b.asks[0][0]}` : "-"}  (${b.bids.length}/${b.asks.length} levels)`);
    }
  }
  t.push(`positions open: ${positions.length} (${isolated} isolated, ${positions.length - isolated} cross); marks ${Object.entries(r.marks).map(([s, p]) => `${s} ${p}`).join(", ")}`);
  t.push(`liquidations: ${liq.length} (${json.liquidations.isolated} isolated, ${json.liquidations.cross} cross accounts), fees ${feeTotal.toFixed(2)}, deficits covered ${deficitTotal.toFixed(2)}; ADL fills ${r.adl.length}; margin calls ${r.marginCalls.length}`);
  t.push(`insurance fund: ${json.insuranceFund.start} → min ${fundMin?.equity ?? "-"} (seq ${fundMin?.seq ?? "-"}) → ${json.insuranceFund.end}`);
  t.push(`  path ${sparkline(fundEquities)}`);
  if (worst.length > 0) {
    t.push("worst liquidations (by deficit):");
    for (const l of worst) t.push(`  seq ${String(l.seq).padEnd(7)} ${l.account.padEnd(12)} ${l.mode.padEnd(8)} ${l.symbols.join(",").padEnd(18)} fee ${l.fee.padStart(14)}  deficit ${l.deficit}`);
  }
  if (atRisk.length > 0) {
    t.push("accounts at risk now (highest MM/E):");
    for (const a of atRisk) t.push(`  ${a.account.padEnd(12)} ratio ${a.marginRatio}  equity ${a.equity}  MM ${a.maintenanceMargin}`);
  }
  t.push(`rejected: ${r.rejected.length}${r.rejected.length > 0 ? ` (${Object.entries(rejectedByCode).map(([c, n]) => `${c}×${n}`).join(", ")})` : ""}`);
  t.push("");
  t.push(`full report: npx mmc replay ${f.journal} --json`);
  return { text: t.join("\n") + "\n", json };
}

function sparkline(values: number[]): string {
  if (values.length === 0) return "";
  const ticks = "▁▂▃▄▅▆▇█";
  const step = Math.max(1, Math.ceil(values.length / 60));
  const pts = values.filter((_, i) => i % step === 0);
  const lo = Math.min(...pts);
  const hi = Math.max(...pts);
  return pts.map((v) => ticks[hi === lo ? 3 : Math.min(7, Math.floor(((v - lo) / (hi - lo)) * 8))]).join("");
}
