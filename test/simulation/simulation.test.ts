// Issue 3 acceptance: a deterministic simulation — seeded accounts, deposits, withdrawals,
// isolated and cross positions, trades, mark paths with gaps and crashes, funding, collateral
// price moves — ≥ 10k events × ≥ 20 seeds, invariants checked after every event. A failing
// seed prints itself and the command that replays it exactly.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { generateMarket, type MarketOptions } from "../../src/demo/generate.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { BookSync } from "../../src/margin/sync.js";
import { entry } from "../helpers/core.js";
import { checkInvariants, Ledger } from "./invariants.js";

const SEEDS = Array.from({ length: 20 }, (_, i) => 1000 + i);
const EVENTS = 10_000;

function marketFor(seed: number): MarketOptions {
  // Few accounts, so they trade often and get liquidated in the crash; deep crash, gaps.
  return { seed, accounts: 40, events: EVENTS, crashAt: 0.45, crashDepth: 0.4, crashEvents: 30, badLineRate: 0.002, fundingEvery: 97 };
}

/** Kernel vs reference on the full state: every output identical. */
function compareEngines(core: Core): string | null {
  core.recomputeAll();
  const ref = createReferenceMarginEngine();
  const sync = new BookSync(ref, core.state);
  sync.writeAll();
  sync.computeAll();
  const k = core.margin.book;
  const r = ref.book;
  const nPos = core.state.positionsBySlot.length;
  const nAcct = core.state.accountsBySlot.length;
  const pos = ["pos_notional_minor", "pos_upnl_minor", "pos_mm_minor", "pos_im_minor", "pos_equity_minor", "pos_tier", "pos_status"] as const;
  const acct = ["acct_equity_minor", "acct_mm_minor", "acct_im_minor", "acct_status"] as const;
  for (let p = 0; p < nPos; p++) for (const f of pos) if (k[f][p] !== r[f][p]) return `${f}[${p}]: kernel ${k[f][p]} ≠ reference ${r[f][p]}`;
  for (let a = 0; a < nAcct; a++) for (const f of acct) if (k[f][a] !== r[f][a]) return `${f}[${a}]: kernel ${k[f][a]} ≠ reference ${r[f][a]}`;
  for (let p = 0; p < nPos; p++) {
    if (core.state.positionsBySlot[p]!.qtyLots === 0n) continue;
    if (core.margin.liquidationPrice(p) !== ref.liquidationPrice(p)) return `liquidationPrice[${p}] differs`;
    if (core.margin.bankruptcyPrice(p) !== ref.bankruptcyPrice(p)) return `bankruptcyPrice[${p}] differs`;
  }
  return null;
}

describe("simulation: invariants after every event", () => {
  const totals = { liquidations: 0, adl: 0, calls: 0, covers: 0, rejected: 0 };
  it.each(SEEDS)("seed %i", (seed) => {
    const opts = marketFor(seed);
    const core = new Core();
    const ledger = new Ledger();
    let n = 0;
    for (const line of generateMarket(opts)) {
      const e = entry("raw" in line ? line.raw : line.event);
      const insDelta = e.kind === "event" ? ledger.expectedInsuranceDelta(core.state, e.event) : 0n;
      const r = core.apply(e);
      if (e.kind === "event") ledger.record(core.state, e.event, r);
      const bad = checkInvariants(core, ledger, insDelta, r) ?? core.checkBookCaches();
      const diff = bad === null && ++n % 1000 === 0 ? compareEngines(core) : null;
      if (bad !== null || diff !== null) {
        const replay = `npx mmc generate --seed ${seed} --accounts ${opts.accounts} --events ${opts.events} > s.ndjson && npx mmc replay s.ndjson --until ${r.seq} --json`;
        throw new Error(`seed ${seed} failed at seq ${r.seq}: ${bad ?? diff}\n  replay: ${replay}\n  (generator options: ${JSON.stringify(opts)})`);
      }
    }
    expect(compareEngines(core)).toBeNull();
    const h = core.history;
    totals.liquidations += h.liquidations.length;
    totals.adl += h.adl.length;
    totals.calls += h.marginCalls.length;
    totals.covers += h.insuranceCovers.length;
    totals.rejected += h.rejected.length;
    expect(core.state.seq).toBeGreaterThanOrEqual(EVENTS);
  });

  it("the seeds exercise what they should: liquidations, ADL, margin calls, insurance covers, rejections", () => {
    expect(totals.liquidations).toBeGreaterThan(1000);
    expect(totals.adl).toBeGreaterThan(100);
    expect(totals.calls).toBeGreaterThan(100);
    expect(totals.covers).toBeGreaterThan(0);
    expect(totals.rejected).toBeGreaterThan(100);
  });
});
