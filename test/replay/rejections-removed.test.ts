// SPEC §8: a rejected event changes nothing. So removing every rejected event from a log must
// leave every other event's outputs and the final state exactly as they were (seq numbers
// aside). This checks rollbacks end to end — book figures, latches, mark intervals, caches,
// the ADL memo — without the full recomputes the invariant checks do after every event.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { generateMarket, type MarketOptions } from "../../src/demo/generate.js";
import { stateToDoc } from "../../src/aggregate/snapshot.js";
import { entry } from "../helpers/core.js";
import type { LogEntry } from "../../src/events/types.js";
import type { MarginBook } from "../../src/margin/engine.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { BookSync } from "../../src/margin/sync.js";

const ACCT = ["acct_equity_minor", "acct_mm_minor", "acct_im_minor", "acct_status"] as const;
const POS = ["pos_notional_minor", "pos_upnl_minor", "pos_mm_minor", "pos_im_minor", "pos_equity_minor", "pos_status"] as const;

function figures(book: MarginBook, nAcct: number, nPos: number): string[] {
  const rows: string[] = [];
  for (let a = 0; a < nAcct; a++) rows.push(ACCT.map((f) => String(book[f][a])).join(","));
  for (let p = 0; p < nPos; p++) rows.push(POS.map((f) => String(book[f][p])).join(","));
  return rows;
}

/**
 * After a rollback every figure in the book is either what it was before the event (possibly
 * stale by design, see docs/incremental.md) or exact for the restored state — never the
 * rolled-back event's.
 */
function checkRollbackFigures(core: Core, before: string[], seq: number): void {
  const s = core.state;
  const ref = createReferenceMarginEngine();
  const sync = new BookSync(ref, s);
  sync.writeAll();
  sync.computeAll();
  const now = figures(core.margin.book, s.accountsBySlot.length, s.positionsBySlot.length);
  const fresh = figures(ref.book, s.accountsBySlot.length, s.positionsBySlot.length);
  for (let i = 0; i < now.length; i++) {
    if (now[i] !== before[i] && now[i] !== fresh[i]) {
      throw new Error(`seq ${seq}: after the rollback, book row ${i} is ${now[i]}: neither its value before (${before[i]}) nor exact (${fresh[i]})`);
    }
  }
}

function run(entries: LogEntry[], checkRollbacks = false): { outputs: string[]; rejectedIdx: Set<number>; doc: string; overflows: number } {
  let overflows = 0;
  const core = new Core();
  const outputs: string[] = [];
  const rejectedIdx = new Set<number>();
  entries.forEach((e, i) => {
    const before = checkRollbacks ? figures(core.margin.book, core.state.accountsBySlot.length, core.state.positionsBySlot.length) : [];
    const r = core.apply(e);
    if (r.rejection !== null && checkRollbacks) checkRollbackFigures(core, before, r.seq);
    if (r.rejection?.code === "E_OVERFLOW") overflows++;
    if (r.rejection !== null) rejectedIdx.add(i);
    // Liquidation order ids embed the seq (liq-<seq>-n): seq numbers aside, as everything else.
    else for (const o of r.outputs) outputs.push(JSON.stringify({ ...o, seq: 0 }).replace(/"liq-\d+-/g, '"liq-#-'));
  });
  const doc = stateToDoc(core.state);
  return { outputs, rejectedIdx, overflows, doc: JSON.stringify({ ...doc, seq: 0 }).replace(/"liq-\d+-/g, '"liq-#-') };
}

const cases: [string, MarketOptions][] = [
  ["order flow, seed 3", { seed: 3, accounts: 60, events: 6000, orderFlow: true, crashAt: 0.5, crashDepth: 0.35 }],
  ["order flow, seed 4", { seed: 4, accounts: 30, events: 6000, orderFlow: true, crashAt: 0.4, crashDepth: 0.45 }],
  ["fills, seed 5", { seed: 5, accounts: 40, events: 6000, crashAt: 0.5, crashDepth: 0.4, badLineRate: 0.01 }],
];

describe("removing rejected events changes nothing else", () => {
  it.each(cases)("%s", (_name, opts) => {
    // Every 400th event, an absurd mark (a valid tick, but notionals overflow 64 bits): the
    // engine computes at it, then rolls the event back (E_OVERFLOW).
    const entries: LogEntry[] = [];
    for (const l of generateMarket(opts)) {
      entries.push(entry("raw" in l ? l.raw : l.event));
      if (entries.length % 400 === 0) entries.push(entry({ type: "mark", symbol: "BTC-PERP", price: "900000000000000" }));
    }
    const full = run(entries, true);
    expect(full.rejectedIdx.size).toBeGreaterThan(20);
    expect(full.overflows).toBeGreaterThan(5);
    const kept = run(entries.filter((_, i) => !full.rejectedIdx.has(i)));
    expect(kept.rejectedIdx.size).toBe(0);
    expect(kept.outputs.length).toBe(full.outputs.length);
    for (let i = 0; i < full.outputs.length; i++) {
      if (kept.outputs[i] !== full.outputs[i]) throw new Error(`output ${i}:\n  with rejections:    ${full.outputs[i]}\n  without rejections: ${kept.outputs[i]}`);
    }
    expect(kept.doc).toBe(full.doc);
  });
});
