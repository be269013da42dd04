// Collateral price intervals (docs/incremental.md "Collateral prices") decide exactly like
// recomputing every holder. Given many cross accounts whose equity leans on BTC collateral
// (different sizes, leverages and sides, some also isolated or collateral-only), when the BTC
// price walks, gaps and crashes through their liquidation and margin-call boundaries
// (interleaved with marks, trades and deposits), then intervals on and off give the same
// outputs and state hash after every event; collateral moves do liquidate and call accounts;
// and a quiet collateral move recomputes far fewer accounts than hold the asset.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { Prng } from "../../src/util/prng.js";
import { entry, type Wire } from "../helpers/core.js";
import { collateralMarketSetup } from "../helpers/collateral-market.js";

function market(seed: number, accounts: number, steps: number): Wire[] {
  const rng = new Prng(seed);
  const ev: Wire[] = collateralMarketSetup("1000000");
  let id = 0;
  for (let a = 0; a < accounts; a++) {
    const name = `c${a}`;
    // Equity mostly in BTC: a little USDT, 0.01–0.3 BTC (none for every 7th account).
    const usdt = rng.int(10, 300);
    const sats = a % 7 === 6 ? 0 : rng.int(1_000_000, 30_000_000);
    ev.push({ type: "deposit", id: `u${id++}`, account: name, asset: "USDT", amount: String(usdt) });
    if (sats > 0) ev.push({ type: "deposit", id: `b${id++}`, account: name, asset: "BTC", amount: (sats / 1e8).toFixed(8) });
    const isolated = a % 5 === 4;
    if (isolated) ev.push({ type: "margin.mode", account: name, symbol: "ETH-PERP", mode: "isolated" });
    ev.push({ type: "leverage", account: name, symbol: "ETH-PERP", leverage: rng.pick([5, 10, 20]) });
    if (a % 11 === 10) continue; // collateral only, no position
    // Notional 5–40× the cross equity (the isolated ones and those without BTC: 3× their
    // USDT), so many start between the call zone and liquidation, at different distances.
    const equity = usdt + (sats / 1e8) * 50_000 * 0.9;
    const notional = isolated || sats === 0 ? usdt * 3 : Math.min(150_000, equity * rng.pick([5, 10, 20, 30, 40]));
    const lots = Math.max(1, Math.round(notional / 3000 * 100));
    const long = rng.chance(0.6);
    ev.push({
      type: "trade", id: `t${id++}`, symbol: "ETH-PERP", price: "3000", qty: (lots / 100).toFixed(2),
      buyer: long ? name : "mm", seller: long ? "mm" : name, taker: "buyer",
    });
  }
  let btc = 50_000;
  let eth = 3000;
  for (let s = 0; s < steps; s++) {
    const r = rng.float();
    if (r < 0.6) {
      // BTC: small steps, occasional gaps, a crash in the middle and a recovery.
      const crash = s > steps * 0.4 && s < steps * 0.55;
      btc = Math.max(1000, btc * (1 + (rng.float() - (crash ? 0.7 : 0.5)) * 0.01 + (rng.chance(0.02) ? (rng.float() - 0.5) * 0.1 : 0)));
      ev.push({ type: "collateral.price", asset: "BTC", price: btc.toFixed(2) });
    } else if (r < 0.85) {
      eth = Math.max(100, eth * (1 + (rng.float() - 0.5) * 0.004));
      ev.push({ type: "mark", symbol: "ETH-PERP", price: eth.toFixed(2) });
    } else if (r < 0.95) {
      const a = `c${rng.int(0, accounts - 1)}`;
      const long = rng.chance(0.5);
      ev.push({
        type: "trade", id: `t${id++}`, symbol: "ETH-PERP", price: eth.toFixed(2), qty: (rng.int(1, 200) / 100).toFixed(2),
        buyer: long ? a : "mm", seller: long ? "mm" : a, taker: "seller",
      });
    } else if (r < 0.955) {
      // A haircut change (an `asset` event for BTC): every holder's collateral slope changes.
      ev.push({ type: "asset", asset: "BTC", decimals: 8, haircut: rng.pick(["0.05", "0.1", "0.2", "0.3"]) });
    } else {
      const a = `c${rng.int(0, accounts - 1)}`;
      ev.push(rng.chance(0.5)
        ? { type: "deposit", id: `b${id++}`, account: a, asset: "BTC", amount: (rng.int(100_000, 3_000_000) / 1e8).toFixed(8) }
        : { type: "withdraw", id: `w${id++}`, account: a, asset: "BTC", amount: (rng.int(100_000, 2_000_000) / 1e8).toFixed(8) });
    }
  }
  return ev;
}

describe("collateral price intervals ≡ recomputing every holder, after every event", () => {
  it.each([1, 2, 3, 4, 5])("BTC-collateralized accounts, seed %i", (seed) => {
    const fast = new Core();
    const full = new Core({ markIntervals: false });
    let collateralLiquidations = 0;
    let collateralCalls = 0;
    let quietMoves = 0;
    let quietDerivations = 0;
    const holdersAtStart = 60 - Math.floor(60 / 7);
    for (const w of market(seed, 60, 3000)) {
      const e = entry(w);
      const before = fast.intervalDerivations;
      const a = fast.apply(e);
      const b = full.apply(e);
      const where = `seed ${seed} seq ${a.seq} (${String(w.type)})`;
      if (JSON.stringify(a.outputs) !== JSON.stringify(b.outputs)) {
        throw new Error(`${where}: outputs differ\n  intervals: ${JSON.stringify(a.outputs)}\n  full:      ${JSON.stringify(b.outputs)}`);
      }
      if (stateHash(fast.state) !== stateHash(full.state)) throw new Error(`${where}: state hashes differ`);
      if (w.type === "collateral.price") {
        if (a.outputs.some((o) => o.type === "liquidation")) collateralLiquidations++;
        if (a.outputs.some((o) => o.type === "margin.call")) collateralCalls++;
        if (a.outputs.length === 0) {
          quietMoves++;
          quietDerivations += fast.intervalDerivations - before;
        }
      }
    }
    // The walk really crosses boundaries through collateral alone…
    expect(collateralLiquidations).toBeGreaterThan(0);
    expect(collateralCalls).toBeGreaterThan(0);
    // …and a quiet move re-derives a small fraction of the ~50 holders.
    expect(quietMoves).toBeGreaterThan(100);
    expect(quietDerivations / quietMoves).toBeLessThan(holdersAtStart / 4);
    // The reports agree as well (figures recomputed in full on both).
    fast.recomputeAll();
    full.recomputeAll();
    expect(stateHash(fast.state)).toBe(stateHash(full.state));
  });
});

describe("collateral prices at the edges: overflow rollbacks and prices beyond exact floats", () => {
  it("an overflowing price is rejected and rolled back, a price ≥ 2^53·1e-8 recomputes every holder; both paths agree", () => {
    const base = market(7, 30, 400);
    const edge: Wire[] = [
      { type: "deposit", id: "whale", account: "whale", asset: "BTC", amount: "1000000" },
      { type: "collateral.price", asset: "BTC", price: "1000000000" }, // whale's base > 2^63: E_OVERFLOW
      { type: "collateral.price", asset: "BTC", price: "48000" },
      { type: "withdraw", id: "whale-out", account: "whale", asset: "BTC", amount: "999999" },
      { type: "collateral.price", asset: "BTC", price: "100000000" }, // 1e16 in 1e-8 units: not an exact float key
      { type: "collateral.price", asset: "BTC", price: "47000" },
      { type: "mark", symbol: "ETH-PERP", price: "2950" },
    ];
    const fast = new Core();
    const full = new Core({ markIntervals: false });
    const codes: (string | null)[] = [];
    for (const w of [...base, ...edge, ...market(8, 30, 400).slice(7)]) {
      const a = fast.apply(entry(w));
      const b = full.apply(entry(w));
      if (edge.includes(w)) codes.push(a.rejection?.code ?? null);
      expect(JSON.stringify(a.outputs)).toBe(JSON.stringify(b.outputs));
      expect(stateHash(fast.state)).toBe(stateHash(full.state));
    }
    expect(codes).toEqual([null, "E_OVERFLOW", null, null, null, null, null]);
  });
});

// Found in review: a haircut change re-derived a holder only when its base moved, so at
// collateral price 0 the holder kept an interval sized with the old haircut's slope.
function both(events: Wire[]): { fast: Core; full: Core; last: [string | null, string | null] } {
  const fast = new Core();
  const full = new Core({ markIntervals: false });
  let last: [string | null, string | null] = [null, null];
  for (const w of events) {
    const a = fast.apply(entry(w));
    const b = full.apply(entry(w));
    last = [a.rejection?.code ?? null, b.rejection?.code ?? null];
  }
  return { fast, full, last };
}

describe("haircut changes re-derive every holder (even when the base does not move, at price 0)", () => {
  // whale: 1e12 BTC (decimals 0), USDT decimals 2. With haircut 0, V = 1e6 · priceE8 minor units.
  it.each([
    // haircut 100%: c = 0, interval unbounded; 6e6 USDT/BTC → V = 6e20 > 2^63
    ["1", "6000000"],
    // haircut 50%: c = 5e5, interval ≈ ±1.84e13 (1e-8 units) ≈ ±184 467; 120 000 → V = 1.2e19 > 2^63
    ["0.5", "120000"],
  ])("haircut %s -> 0 at price 0, then BTC at %s: both paths reject E_OVERFLOW", (h0, price) => {
    const { fast, full, last } = both([
      { type: "asset", asset: "USDT", decimals: 2, settlement: true },
      { type: "asset", asset: "BTC", decimals: 0, haircut: h0 },
      { type: "deposit", id: "w", account: "whale", asset: "BTC", amount: "1000000000000" },
      { type: "asset", asset: "BTC", decimals: 0, haircut: "0" }, // base stays 0: whale not re-derived
      { type: "collateral.price", asset: "BTC", price },
    ]);
    expect(last[1]).toBe("E_OVERFLOW");
    expect(last[0]).toBe(last[1]);
    expect(stateHash(fast.state)).toBe(stateHash(full.state));
  });

  it("haircut 100% -> 0 at price 0, then a collateral rally: both paths clear the margin-call latch", () => {
    const { fast, full, last } = both([
      { type: "asset", asset: "USDT", decimals: 2, settlement: true },
      { type: "asset", asset: "BTC", decimals: 2, haircut: "1" },
      {
        type: "instrument", symbol: "X-PERP", tickSize: "1", lotSize: "1",
        tiers: [{ maxNotional: "100000000", mmr: "0.1", maxLeverage: 10 }],
        makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0.5",
      },
      { type: "mark", symbol: "X-PERP", price: "100" },
      { type: "deposit", id: "a", account: "alice", asset: "USDT", amount: "120" },
      { type: "deposit", id: "b", account: "bob", asset: "USDT", amount: "100000" },
      { type: "deposit", id: "ab", account: "alice", asset: "BTC", amount: "1" },
      // alice long 10 @ 100: MM = 100, E = 120 ≤ 1.25·MM → margin call, latched
      { type: "trade", id: "t", symbol: "X-PERP", price: "100", qty: "10", buyer: "alice", seller: "bob", taker: "buyer" },
      { type: "asset", asset: "BTC", decimals: 2, haircut: "0" }, // base unchanged (price 0)
      // 1 BTC now worth 1000: E = 1120 > 1.25·MM → the full path clears the latch
      { type: "collateral.price", asset: "BTC", price: "1000" },
    ]);
    expect(last).toEqual([null, null]);
    expect(full.state.accounts.get("alice")!.crossCallLatched).toBe(false);
    expect(fast.state.accounts.get("alice")!.crossCallLatched).toBe(false);
    expect(stateHash(fast.state)).toBe(stateHash(full.state));
  });
});
