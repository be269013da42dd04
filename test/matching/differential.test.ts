// Differential property tests: the fast book must be indistinguishable from the naive one.
// Two layers:
//   - fast-check generates short operation lists over a tiny id/price space (so cancels,
//     replaces, duplicates and STP collisions are frequent) and shrinks any failure;
//   - fast-check picks seeds for the seeded stream generator (stream.ts), which produces long
//     streams with the brief's mix. Together well over 1M operations per run.
// After every step: identical events (JSON), checkInvariants() on both, identical levels,
// and lots conserved: placed = 2·traded + cancelled + resting.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { OrderRequest } from "../../src/matching/types.js";
import { LockStep, runDifferential, type Op, type StreamStats } from "./stream.js";

const accountArb = fc.constantFrom("a", "b", "c");
const idArb = fc.integer({ min: 1, max: 25 }).map((n) => `o${n}`);
const qtyArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 10 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 37) }, // invalid, and the DiffHooks risk denial
);
const placeArb: fc.Arbitrary<Op> = fc
  .record({
    id: idArb,
    account: accountArb,
    side: fc.constantFrom("buy" as const, "sell" as const),
    marketPick: fc.integer({ min: 0, max: 9 }),
    price: fc.integer({ min: 95, max: 105 }),
    qty: qtyArb,
    tif: fc.constantFrom("GTC" as const, "GTC" as const, "IOC" as const, "FOK" as const, "POST_ONLY" as const),
    reduceOnly: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    stp: fc.constantFrom("cancel-taker" as const, "cancel-maker" as const, "cancel-both" as const),
  })
  .map(({ id, account, side, marketPick, price, qty, tif, reduceOnly, stp }): Op => {
    const order: OrderRequest =
      marketPick === 0
        ? { id, account, side, orderType: "market", qty, tif, reduceOnly, stp }
        : { id, account, side, orderType: "limit", price, qty, tif, reduceOnly, stp };
    return { kind: "place", order };
  });
const cancelArb: fc.Arbitrary<Op> = fc.record({ account: accountArb, id: idArb }).map(({ account, id }): Op => ({ kind: "cancel", account, id }));
const replaceArb: fc.Arbitrary<Op> = fc
  .record({
    account: accountArb,
    id: idArb,
    price: fc.option(fc.integer({ min: 95, max: 105 }), { nil: undefined }),
    qty: fc.option(qtyArb, { nil: undefined }),
  })
  .map(({ account, id, price, qty }): Op => ({
    kind: "replace", account, id,
    change: { ...(price === undefined ? {} : { price }), ...(qty === undefined ? {} : { qty }) },
  }));
const opsArb = fc.array(
  fc.oneof({ weight: 5, arbitrary: placeArb }, { weight: 3, arbitrary: cancelArb }, { weight: 2, arbitrary: replaceArb }),
  { minLength: 1, maxLength: 80, size: "max" },
);

describe("fast book ≡ naive book", () => {
  it("on short fast-check streams over a tiny id/price space (shrinks failures)", () => {
    let ops = 0;
    fc.assert(
      fc.property(opsArb, (list) => {
        const lock = new LockStep("fast-check");
        for (const op of list) lock.step(op);
        ops += lock.finish().ops;
      }),
      { numRuns: 1500, seed: 20240611 },
    );
    expect(ops).toBeGreaterThan(30_000);
  });

  // Long seeded streams: ≈2.3M operations (≈1.1M new orders) in about 40 s on 2 cores. The
  // naive book is O(resting) per step, so deep books get fewer operations.
  const totals: StreamStats[] = [];
  const cases = [
    { name: "brief mix (45/35/15/5)", seeds: 2, ops: 256_000, cancelShare: 0.35, maxResting: 150 },
    { name: "brief mix, more seeds", seeds: 4, ops: 128_000, cancelShare: 0.35, maxResting: 150 },
    { name: "cancel-heavy", seeds: 2, ops: 256_000, cancelShare: 0.45, maxResting: 150 },
    { name: "fewer cancels", seeds: 2, ops: 128_000, cancelShare: 0.25, maxResting: 300 },
    { name: "trade-heavy (more replaces and takers)", seeds: 2, ops: 96_000, cancelShare: 0.2, maxResting: 60 },
    { name: "book capped at 40 resting orders", seeds: 2, ops: 128_000, cancelShare: 0.35, maxResting: 40 },
    { name: "deep book (up to 400 resting orders)", seeds: 2, ops: 12_000, cancelShare: 0.12, maxResting: 400 },
  ];
  it.each(cases.map((c, i) => [c.name, i, c] as const))("on seeded streams: %s", (_name, i, c) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        totals.push(runDifferential(seed, c.ops, { maxResting: c.maxResting, cancelShare: c.cancelShare, levelsEvery: 4 }));
      }),
      { numRuns: c.seeds, seed: 1000 + i },
    );
  });

  it("covered at least 1M operations with every kind of outcome", () => {
    const sum = (k: Exclude<keyof StreamStats, "outcomes">): number => totals.reduce((a, s) => a + s[k], 0);
    const outcomes: Record<string, number> = {};
    for (const t of totals) for (const [k, v] of Object.entries(t.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    const summary = {
      ops: sum("ops"), newOrders: sum("newOrders"), trades: sum("trades"), cancelled: sum("cancelled"),
      replaced: sum("replaced"), rejected: sum("rejected"), maxResting: Math.max(...totals.map((s) => s.maxResting)),
    };
    console.log(`differential streams: ${JSON.stringify(summary)}\noutcomes: ${JSON.stringify(outcomes)}`);
    // Every rule fired, many times.
    for (const outcome of [
      "cancelled:user", "cancelled:unfilled", "cancelled:no-liquidity", "cancelled:stp", "cancelled:reduce-only",
      "replaced:kept", "replaced:lost",
      "rejected:E_ORDER", "rejected:E_UNKNOWN", "rejected:E_DUPLICATE", "rejected:E_RANGE", "rejected:E_MARGIN",
      "accepted:limit:GTC", "accepted:limit:POST_ONLY", "accepted:limit:IOC", "accepted:limit:FOK",
      "accepted:market:IOC", "accepted:market:GTC", "accepted:market:FOK", "accepted:limit:GTC:reduceOnly",
    ]) {
      expect(outcomes[outcome] ?? 0, outcome).toBeGreaterThan(outcome === "cancelled:reduce-only" ? 20 : 100);
    }
    expect(summary.ops).toBeGreaterThanOrEqual(2_000_000);
    expect(summary.maxResting).toBeGreaterThanOrEqual(300);
    expect(summary.newOrders).toBeGreaterThanOrEqual(1_000_000);
    expect(summary.trades).toBeGreaterThan(100_000);
    expect(summary.replaced).toBeGreaterThan(100_000);
  });
});
