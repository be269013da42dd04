// ADL's pruned selection inside the engine: two Cores fed the same events, one running the
// pruned `autoDeleverage`, the other the exhaustive `autoDeleverageReference` (Core option
// `adlSelection: "exhaustive"`), give the same outputs after every event and the same state hash. Given the
// seeded stress markets (crash, gaps, funding, collateral moves, bad lines; fills-only and order
// flow) and a market of accounts whose equity is mostly BTC collateral with a small insurance
// fund (so ADL ranks collateral holders whose margin-book bases are stale: lazy bases under mark
// and collateral intervals), when they run, then nothing differs, ADL does run, and the ADL
// mirror (position floats, account lists, cached bases) matches the state after every event.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { generateMarket, type MarketOptions } from "../../src/demo/generate.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { Prng } from "../../src/util/prng.js";
import { entry, type Wire } from "../helpers/core.js";
import { collateralMarketSetup } from "../helpers/collateral-market.js";

/** Feeds both cores; returns the number of ADL fills. */
function compare(lines: Iterable<ReturnType<typeof entry>>, label: string): number {
  const pruned = new Core();
  const reference = new Core({ adlSelection: "exhaustive" });
  let adl = 0;
  let n = 0;
  for (const e of lines) {
    const a = pruned.apply(e);
    const b = reference.apply(e);
    n++;
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new Error(`${label}: event ${n} differs:\n  pruned    ${JSON.stringify(a.outputs)}\n  reference ${JSON.stringify(b.outputs)}`);
    }
    adl += a.outputs.filter((o) => o.type === "adl").length;
    const bad = pruned.checkBookCaches();
    if (bad !== null) throw new Error(`${label}: event ${n}: ${bad}`);
    if (n % 1000 === 0) expect(stateHash(pruned.state)).toBe(stateHash(reference.state));
  }
  expect(stateHash(pruned.state)).toBe(stateHash(reference.state));
  return adl;
}

function seeded(seed: number, orderFlow: boolean): ReturnType<typeof entry>[] {
  const opts: MarketOptions = { seed, accounts: 40, events: 10_000, crashAt: 0.45, crashDepth: 0.4, crashEvents: 30, badLineRate: 0.002, fundingEvery: 97, orderFlow };
  return [...generateMarket(opts)].map((line) => entry("raw" in line ? line.raw : line.event));
}

/** Cross accounts mostly in BTC collateral, a small fund, ETH and BTC crashing together. */
function collateralMarket(seed: number, accounts: number, steps: number): Wire[] {
  const rng = new Prng(seed);
  const ev: Wire[] = collateralMarketSetup("50");
  let id = 0;
  for (let a = 0; a < accounts; a++) {
    const name = `c${String(a).padStart(3, "0")}`;
    const usdt = rng.int(10, 300);
    const sats = a % 7 === 6 ? 0 : rng.int(1_000_000, 30_000_000);
    ev.push({ type: "deposit", id: `u${id++}`, account: name, asset: "USDT", amount: String(usdt) });
    if (sats > 0) ev.push({ type: "deposit", id: `b${id++}`, account: name, asset: "BTC", amount: (sats / 1e8).toFixed(8) });
    if (a % 5 === 4) ev.push({ type: "margin.mode", account: name, symbol: "ETH-PERP", mode: "isolated" });
    ev.push({ type: "leverage", account: name, symbol: "ETH-PERP", leverage: rng.pick([5, 10, 20]) });
    const equity = usdt + (sats / 1e8) * 50_000 * 0.9;
    const notional = a % 5 === 4 || sats === 0 ? usdt * 3 : Math.min(150_000, equity * rng.pick([2, 5, 10, 20, 30]));
    const lots = Math.max(1, Math.round((notional / 3000) * 100));
    const long = rng.chance(0.5);
    ev.push({
      type: "trade", id: `t${id++}`, symbol: "ETH-PERP", price: "3000", qty: (lots / 100).toFixed(2),
      buyer: long ? name : "mm", seller: long ? "mm" : name, taker: "buyer",
    });
  }
  let btc = 50_000;
  let eth = 3000;
  for (let s = 0; s < steps; s++) {
    const crash = s > steps * 0.3 && s < steps * 0.5;
    const r = rng.float();
    if (r < 0.45) {
      btc = Math.max(1000, btc * (1 + (rng.float() - (crash ? 0.7 : 0.5)) * 0.01 + (rng.chance(0.03) ? (rng.float() - 0.5) * 0.1 : 0)));
      ev.push({ type: "collateral.price", asset: "BTC", price: btc.toFixed(2) });
    } else if (r < 0.9) {
      eth = Math.max(100, eth * (1 + (rng.float() - 0.5) * (crash ? 0.04 : 0.01) + (rng.chance(0.03) ? (rng.float() - 0.5) * 0.15 : 0)));
      ev.push({ type: "mark", symbol: "ETH-PERP", price: eth.toFixed(2) });
    } else {
      const name = `c${String(rng.int(0, accounts - 1)).padStart(3, "0")}`;
      if (rng.chance(0.5)) ev.push({ type: "deposit", id: `d${id++}`, account: name, asset: rng.chance(0.5) ? "BTC" : "USDT", amount: rng.chance(0.5) ? "0.01000000" : "25" });
      else {
        const long = rng.chance(0.5);
        ev.push({
          type: "trade", id: `t${id++}`, symbol: "ETH-PERP", price: eth.toFixed(2), qty: (rng.int(1, 50) / 100).toFixed(2),
          buyer: long ? name : "mm", seller: long ? "mm" : name, taker: "buyer",
        });
      }
    }
  }
  return ev;
}

describe("ADL in the engine: pruned = exhaustive", () => {
  const totals = { seeded: 0, collateral: 0 };
  it.each([1000, 1001, 1002])("seeded stress market %i (fills-only)", (seed) => {
    totals.seeded += compare(seeded(seed, false), `seed ${seed}`);
  });

  it.each([1003, 1004])("seeded stress market %i (order flow)", (seed) => {
    totals.seeded += compare(seeded(seed, true), `seed ${seed} order flow`);
  });

  it.each([7, 8, 9])("collateral-heavy accounts, stale bases, small fund: seed %i", (seed) => {
    totals.collateral += compare(collateralMarket(seed, 80, 1500).map((w) => entry(w)), `collateral seed ${seed}`);
  });

  it("the markets exercise ADL", () => {
    expect(totals.seeded).toBeGreaterThan(20);
    expect(totals.collateral).toBeGreaterThan(20);
  });
});
