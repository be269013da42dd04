// Order flow through the whole pipeline (src/demo/orderflow.ts streams: makers, takers,
// cancels/replaces, a crash, liquidations unwound by @insurance through the book), seeded,
// with after every event:
//   - SPEC §7: conservation, open interest 0, nothing but system accounts liquidatable, the
//     insurance fund's equity explained by its outputs (trades included);
//   - every book's structural invariants (never crossed, FIFO, totals, index, account lists);
//   - a rejected event changes nothing: a shadow core that gets junk in place of every
//     rejected event is in the same state (hash ignoring seq/ts, books included) every 500
//     events and at the end.
// And per seed: the naive books give the same outputs and state through the pipeline as the
// fast ones; kernel ≡ reference margin engine; a snapshot restored at a random seq and
// replayed to the end gives the same state hash as the full run.
import { describe, expect, it } from "vitest";
import { Core, type ApplyResult } from "../../src/pipeline.js";
import { generateMarket, type GeneratedLine, type MarketOptions } from "../../src/demo/generate.js";
import { emptyState, INSURANCE } from "../../src/aggregate/state.js";
import { docToState, stateHash, stateToDoc } from "../../src/aggregate/snapshot.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { BookSync } from "../../src/margin/sync.js";
import type { LogEntry } from "../../src/events/types.js";
import { Prng } from "../../src/util/prng.js";
import { entry } from "../helpers/core.js";
import { checkInvariants, Ledger } from "./invariants.js";

const SEEDS = Array.from({ length: 10 }, (_, i) => 11 + i);
const EVENTS = 10_000;

function optionsFor(seed: number): MarketOptions {
  return { seed, accounts: 120, events: EVENTS, crashAt: 0.5, crashDepth: 0.35, crashEvents: 25, badLineRate: 0.002, fundingEvery: 97, orderFlow: true };
}

function entriesOf(lines: readonly GeneratedLine[]): LogEntry[] {
  return lines.map((l) => entry("raw" in l ? l.raw : l.event));
}

function hashIgnoringSeq(core: Core): string {
  const { seq, ts } = core.state;
  core.state.seq = 0;
  core.state.ts = 0;
  const h = stateHash(core.state);
  core.state.seq = seq;
  core.state.ts = ts;
  return h;
}

function kernelMatchesReference(core: Core): string | null {
  core.recomputeAll();
  const ref = createReferenceMarginEngine();
  const sync = new BookSync(ref, core.state);
  sync.writeAll();
  sync.computeAll();
  for (let p = 0; p < core.state.positionsBySlot.length; p++) {
    for (const f of ["pos_upnl_minor", "pos_mm_minor", "pos_im_minor", "pos_equity_minor", "pos_status"] as const) {
      if (core.margin.book[f][p] !== ref.book[f][p]) return `${f}[${p}] differs`;
    }
  }
  for (let a = 0; a < core.state.accountsBySlot.length; a++) {
    for (const f of ["acct_equity_minor", "acct_mm_minor", "acct_im_minor", "acct_status"] as const) {
      if (core.margin.book[f][a] !== ref.book[f][a]) return `${f}[${a}] differs`;
    }
  }
  return null;
}

describe("order-flow simulation: invariants after every event", () => {
  const totals = { trades: 0, liquidations: 0, fundTrades: 0, liquidationCancels: 0, replaced: 0, rejected: 0, adl: 0 };

  it.each(SEEDS)("seed %i", (seed) => {
    const opts = optionsFor(seed);
    const entries = entriesOf([...generateMarket(opts)]);
    const core = new Core();
    const shadow = new Core();
    const ledger = new Ledger();
    const outputs: string[] = [];
    const fail = (r: ApplyResult, what: string): never => {
      throw new Error(`seed ${seed} failed at seq ${r.seq}: ${what}\n  (generator options: ${JSON.stringify(opts)})`);
    };
    for (const e of entries) {
      const insDelta = e.kind === "event" ? ledger.expectedInsuranceDelta(core.state, e.event) : 0n;
      const r = core.apply(e);
      if (e.kind === "event") ledger.record(core.state, e.event, r);
      shadow.apply(r.rejection === null ? e : { kind: "raw", raw: "junk" });
      if ((r.seq % 500 === 0 || r.seq === EVENTS) && hashIgnoringSeq(shadow) !== hashIgnoringSeq(core)) {
        fail(r, "a rejected event since the last check changed the state");
      }
      const bad = checkInvariants(core, ledger, insDelta, r) ?? core.checkBookCaches();
      if (bad !== null) fail(r, bad);
      for (const symbol of core.state.books.engine.symbols()) {
        try {
          core.state.books.engine.book(symbol)!.checkInvariants();
        } catch (err) {
          fail(r, `book ${symbol}: ${(err as Error).message}`);
        }
      }
      if (r.seq % 2000 === 0) {
        const diff = kernelMatchesReference(core);
        if (diff !== null) fail(r, diff);
      }
      outputs.push(JSON.stringify(r.outputs));
      for (const o of r.outputs) {
        if (o.type === "trade") {
          totals.trades++;
          if (o.buyer === INSURANCE || o.seller === INSURANCE) totals.fundTrades++;
        }
        if (o.type === "liquidation") totals.liquidations++;
        if (o.type === "adl") totals.adl++;
        if (o.type === "order.cancelled" && o.reason === "liquidation") totals.liquidationCancels++;
        if (o.type === "order.replaced") totals.replaced++;
        if (o.type === "rejected") totals.rejected++;
      }
    }
    expect(core.state.seq).toBe(EVENTS);
    const full = stateHash(core.state);

    // The naive books through the same pipeline: same outputs, same state.
    const naive = new Core({ state: emptyState("naive") });
    entries.forEach((e, k) => {
      const r = naive.apply(e);
      if (JSON.stringify(r.outputs) !== outputs[k]) throw new Error(`seed ${seed}: naive books differ at seq ${r.seq}: ${JSON.stringify(r.outputs)} vs ${outputs[k]}`);
    });
    expect(stateHash(naive.state)).toBe(full);

    // Snapshot at a random seq, restore, replay the rest.
    const at = new Prng(seed).int(1, EVENTS - 1);
    const head = new Core();
    for (const e of entries.slice(0, at)) head.apply(e);
    const doc = JSON.parse(JSON.stringify(stateToDoc(head.state))) as ReturnType<typeof stateToDoc>;
    const resumed = new Core({ state: docToState(doc) });
    expect(stateHash(resumed.state)).toBe(stateHash(head.state));
    entries.slice(at).forEach((e, k) => {
      const r = resumed.apply(e);
      if (JSON.stringify(r.outputs) !== outputs[at + k]) throw new Error(`seed ${seed}: restored at ${at}, outputs differ at seq ${r.seq}`);
    });
    expect(stateHash(resumed.state)).toBe(full);
  });

  it("the seeds exercise what they should: trades, liquidations, @insurance unwinding through the book, cancels on liquidation", () => {
    expect(totals.trades).toBeGreaterThan(5000);
    expect(totals.replaced).toBeGreaterThan(10000);
    expect(totals.liquidations).toBeGreaterThan(100);
    expect(totals.fundTrades).toBeGreaterThan(20);
    expect(totals.liquidationCancels).toBeGreaterThan(0);
    expect(totals.rejected).toBeGreaterThan(20);
  });
});
