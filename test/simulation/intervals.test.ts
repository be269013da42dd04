// Mark intervals (docs/incremental.md) decide exactly like the full path: the seeded markets
// (fills-only and order flow) run through two cores — mark intervals on (the default) and off
// (every mark recomputes every holder) — with identical outputs and state hashes after every
// event. Every open position's interval contains its instrument's current mark afterwards,
// and the interval core keeps agreeing with a fresh full recompute (no stale decision).
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { generateMarket, type MarketOptions } from "../../src/demo/generate.js";
import { stateHash, stateToDoc, docToState } from "../../src/aggregate/snapshot.js";
import { Prng } from "../../src/util/prng.js";
import { entry } from "../helpers/core.js";

function intervalsContainMarks(core: Core): string | null {
  for (const pos of core.state.positionsBySlot) {
    if (pos.qtyLots === 0n) continue;
    const iv = core.markInterval(pos.slot)!;
    if (iv.lo > iv.hi) continue; // recomputed at every mark event
    const m = Number(core.state.instruments.get(pos.symbol)!.markTicks);
    if (!(iv.lo <= m && m <= iv.hi)) return `${pos.account}/${pos.symbol}: mark ${m} outside [${iv.lo}, ${iv.hi}]`;
  }
  return null;
}

function runDifferential(opts: MarketOptions, restoreAt: number | null): { events: number; marks: number; derivations: number } {
  const fast = new Core();
  const full = new Core({ markIntervals: false });
  let resumed: Core | null = null;
  let marks = 0;
  let n = 0;
  for (const line of generateMarket(opts)) {
    const e = entry("raw" in line ? line.raw : line.event);
    if (e.kind === "event" && e.event.type === "mark") marks++;
    const a = fast.apply(e);
    const b = full.apply(e);
    const r = resumed?.apply(e);
    n++;
    const where = `seed ${opts.seed} seq ${a.seq}`;
    if (JSON.stringify(a.outputs) !== JSON.stringify(b.outputs)) {
      throw new Error(`${where}: outputs differ\n  intervals: ${JSON.stringify(a.outputs)}\n  full:      ${JSON.stringify(b.outputs)}`);
    }
    if (stateHash(fast.state) !== stateHash(full.state)) throw new Error(`${where}: state hashes differ`);
    if (r !== undefined && JSON.stringify(r.outputs) !== JSON.stringify(b.outputs)) throw new Error(`${where}: restored core's outputs differ`);
    const bad = intervalsContainMarks(fast);
    if (bad !== null) throw new Error(`${where}: ${bad}`);
    if (restoreAt !== null && n === restoreAt) {
      resumed = new Core({ state: docToState(JSON.parse(JSON.stringify(stateToDoc(fast.state))) as ReturnType<typeof stateToDoc>) });
    }
  }
  if (resumed !== null) expect(stateHash(resumed.state)).toBe(stateHash(full.state));
  return { events: n, marks, derivations: fast.intervalDerivations };
}

describe("mark intervals ≡ full recompute, after every event", () => {
  const FILLS = Array.from({ length: 8 }, (_, i) => 1000 + i);
  it.each(FILLS)("fills-only market, seed %i", (seed) => {
    const opts: MarketOptions = { seed, accounts: 40, events: 6000, crashAt: 0.45, crashDepth: 0.4, crashEvents: 30, badLineRate: 0.002, fundingEvery: 97 };
    const { events, marks } = runDifferential(opts, new Prng(seed).int(1, 5999));
    expect(events).toBe(6000);
    expect(marks).toBeGreaterThan(100);
  });

  const FLOW = Array.from({ length: 4 }, (_, i) => 11 + i);
  it.each(FLOW)("order-flow market, seed %i", (seed) => {
    const opts: MarketOptions = { seed, accounts: 120, events: 5000, crashAt: 0.5, crashDepth: 0.35, crashEvents: 25, badLineRate: 0.002, fundingEvery: 97, orderFlow: true };
    const { events } = runDifferential(opts, new Prng(seed).int(1, 4999));
    expect(events).toBe(5000);
  });

  it("many accounts, small moves: few accounts recomputed per mark", () => {
    const opts: MarketOptions = { seed: 77, accounts: 400, events: 8000, crashAt: 0.7, crashDepth: 0.25, crashEvents: 40, badLineRate: 0, fundingEvery: 500 };
    const { marks, derivations } = runDifferential(opts, null);
    expect(marks).toBeGreaterThan(100);
    expect(derivations).toBeGreaterThan(0);
  });
});
