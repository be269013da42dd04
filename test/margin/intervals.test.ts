// Mark intervals (src/margin/intervals.ts, docs/incremental.md): the bound's constants, and
// soundness checked by brute force — for every entity, marks anywhere in the box of its
// positions' intervals (corners, centre, random points) give the same flags (liquidatable,
// margin-call zone, overflow) as at the marks they were derived at, computed exactly by the
// reference engine. Longs and shorts, isolated and cross over several instruments, positions
// straddling tier boundaries, and figures near the 64-bit limit.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { instrumentBound } from "../../src/margin/intervals.js";
import { maintenanceMargin, createReferenceMarginEngine, type Tier } from "../../src/margin/reference.js";
import { BookSync } from "../../src/margin/sync.js";
import {
  ACCT_CALL_ZONE, ACCT_LIQUIDATABLE, ACCT_OVERFLOW, POS_CALL_ZONE, POS_LIQUIDATABLE, POS_OVERFLOW, type MarginBook,
} from "../../src/margin/engine.js";
import { SYSTEM_ACCOUNTS } from "../../src/aggregate/state.js";
import { Prng } from "../../src/util/prng.js";
import { entry, type Wire } from "../helpers/core.js";

const RATE = 100_000_000n;

/** SPEC cum: cum_0 = 0, cum_n = cum_{n−1} + floor(maxN_{n−1}·(mmr_n − mmr_{n−1}) / 1e8). */
function specCum(maxN: bigint[], mmr: bigint[]): bigint[] {
  const cum = [0n];
  for (let t = 1; t < maxN.length; t++) {
    const x = maxN[t - 1]! * (mmr[t]! - mmr[t - 1]!);
    const f = x >= 0n ? x / RATE : -((-x + RATE - 1n) / RATE);
    cum.push(cum[t - 1]! + f);
  }
  return cum;
}

describe("instrumentBound: the tier-jump constant J", () => {
  it("one tier, or equal rates with SPEC cum: no jump", () => {
    expect(instrumentBound([100n], [400_000n], [0n])).toEqual({ r: 400_000n, j: 0n, ok: true });
    const maxN = [5_000_000_000n, 25_000_000_000n, 100_000_000_000n];
    const mmr = [500_000n, 500_000n, 500_000n];
    expect(instrumentBound(maxN, mmr, specCum(maxN, mmr)).j).toBe(0n);
  });

  it("SPEC cum: each boundary contributes the floor's remainder (< 1 minor unit)", () => {
    const maxN = [50_000_000_001n, 250_000_000_003n, 1_000_000_000_007n];
    const mmr = [400_000n, 500_000n, 1_000_000n];
    const b = instrumentBound(maxN, mmr, specCum(maxN, mmr));
    // jump_t = maxN_t·Δmmr − 1e8·floor(maxN_t·Δmmr/1e8) = (maxN_t·Δmmr) mod 1e8
    expect(b.j).toBe((50_000_000_001n * 100_000n) % RATE + (250_000_000_003n * 500_000n) % RATE);
    expect(b.r).toBe(1_000_000n);
    expect(b.j < 2n * RATE).toBe(true);
  });

  it("rates out of [0, 1e8] or no tiers: not usable", () => {
    expect(instrumentBound([1n], [RATE + 1n], [0n]).ok).toBe(false);
    expect(instrumentBound([], [], []).ok).toBe(false);
  });

  it("|MM(N1) − MM(N0)| ≤ ceil((R·|N1 − N0| + J)/1e8), across boundaries, any cum (brute force)", () => {
    const rng = new Prng(5);
    for (let round = 0; round < 300; round++) {
      const count = rng.int(1, 5);
      const maxN: bigint[] = [];
      let at = 0n;
      for (let t = 0; t < count; t++) maxN.push((at += BigInt(rng.int(1, 5000))));
      if (round % 5 === 0) maxN.reverse(); // not increasing: the selection rule still holds
      const mmr = maxN.map(() => BigInt(rng.int(0, 100_000_000)));
      const cum = round % 2 === 0 ? specCum(maxN, mmr) : maxN.map(() => BigInt(rng.int(-50, 50)));
      const { r, j } = instrumentBound(maxN, mmr, cum);
      const tiers: Tier[] = maxN.map((m, t) => ({ maxNotional: m, mmr: mmr[t]!, cum: cum[t]! }));
      for (let s = 0; s < 200; s++) {
        const n0 = BigInt(rng.int(0, Number(at) + 100));
        const n1 = BigInt(rng.int(0, Number(at) + 100));
        const d = maintenanceMargin(tiers, n1) - maintenanceMargin(tiers, n0);
        const dn = n1 > n0 ? n1 - n0 : n0 - n1;
        const bound = (r * dn + j + RATE - 1n) / RATE;
        if ((d < 0n ? -d : d) > bound) throw new Error(`round ${round}: |ΔMM| = ${d} > ${bound} (N ${n0} → ${n1})`);
      }
    }
  });
});

// ------------------------------------------------------------------------- soundness

const FLAGS_A = ACCT_LIQUIDATABLE | ACCT_CALL_ZONE | ACCT_OVERFLOW;
const FLAGS_P = POS_LIQUIDATABLE | POS_CALL_ZONE | POS_OVERFLOW;

/** The reference engine's book over the core's state, with some marks replaced. */
function exactAt(core: Core, marks: ReadonlyMap<number, bigint>): MarginBook {
  const ref = createReferenceMarginEngine();
  const sync = new BookSync(ref, core.state);
  sync.writeAll();
  for (const [i, m] of marks) ref.book.inst_mark_ticks[i] = m;
  sync.computeAll();
  return ref.book;
}

const TICK_MAX = 2 ** 53 - 1;

/**
 * For every account (and its isolated positions): marks at the corners, centre and random
 * points of its positions' interval box give the flags of the derivation marks. Returns the
 * number of boxes checked with a non-zero width.
 */
function checkBoxes(core: Core, rng: Prng, samples = 12): number {
  const s = core.state;
  const base = exactAt(core, new Map());
  let wide = 0;
  for (const acct of s.accountsBySlot) {
    if (SYSTEM_ACCOUNTS.includes(acct.name)) continue;
    const open = [...acct.positions.values()].filter((p) => p.qtyLots !== 0n);
    // Entities: the cross positions together, each isolated position alone.
    const entities = [open.filter((p) => p.mode === "cross"), ...open.filter((p) => p.mode === "isolated").map((p) => [p])];
    for (const ps of entities) {
      if (ps.length === 0) continue;
      const boxes = ps.map((p) => {
        const iv = core.markInterval(p.slot)!;
        return { inst: s.instruments.get(p.symbol)!.slot, lo: Math.max(1, iv.lo), hi: Math.min(TICK_MAX, iv.hi), empty: iv.lo > iv.hi };
      });
      if (boxes.some((b) => b.empty)) continue; // recomputed at every mark event: nothing to check
      if (boxes.some((b) => b.hi > b.lo)) wide++;
      const cross = ps[0]!.mode === "cross";
      const flags = (book: MarginBook): number => (cross ? book.acct_status[acct.slot]! & FLAGS_A : book.pos_status[ps[0]!.slot]! & FLAGS_P);
      const want = flags(base);
      const points: number[][] = [];
      for (let c = 0; c < 1 << boxes.length; c++) points.push(boxes.map((b, j) => ((c >> j) & 1 ? b.hi : b.lo)));
      for (let k = 0; k < samples; k++) points.push(boxes.map((b) => b.lo + Math.floor(rng.float() * (b.hi - b.lo + 1))));
      for (const pt of points) {
        const marks = new Map(boxes.map((b, j) => [b.inst, BigInt(pt[j]!)] as const));
        const got = flags(exactAt(core, marks));
        if (got !== want) {
          throw new Error(`${acct.name} ${cross ? "cross" : ps[0]!.symbol}: flags ${want} → ${got} at marks ${JSON.stringify([...marks].map(([i, m]) => [i, String(m)]))} inside ${JSON.stringify(boxes)}`);
        }
      }
    }
  }
  return wide;
}

function apply(core: Core, events: Wire[]): void {
  for (const e of events) core.apply(entry(e));
}

const INSTRUMENTS: Wire[] = [
  {
    type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
    tiers: [{ maxNotional: "5000", mmr: "0.004", maxLeverage: 125 }, { maxNotional: "20000", mmr: "0.005", maxLeverage: 100 }, { maxNotional: "60000", mmr: "0.0137", maxLeverage: 50 }],
    makerFee: "0", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
  },
  {
    type: "instrument", symbol: "ETH-PERP", tickSize: "0.01", lotSize: "0.01",
    tiers: [{ maxNotional: "3000", mmr: "0.005", maxLeverage: 100 }, { maxNotional: "30000", mmr: "0.0123", maxLeverage: 40 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0.005", insuranceShare: "0.5",
  },
  {
    type: "instrument", symbol: "SOL-PERP", tickSize: "0.001", lotSize: "0.1",
    tiers: [{ maxNotional: "1000", mmr: "0.01", maxLeverage: 50 }, { maxNotional: "8000", mmr: "0.031", maxLeverage: 20 }, { maxNotional: "50000", mmr: "0.05", maxLeverage: 10 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0.005", insuranceShare: "0.5",
  },
];
const PRICES: Record<string, number> = { "BTC-PERP": 50_000, "ETH-PERP": 3_000, "SOL-PERP": 150 };
const DECIMALS: Record<string, [number, number]> = { "BTC-PERP": [1, 3], "ETH-PERP": [2, 2], "SOL-PERP": [3, 1] };

/** A market whose positions sit around the tier boundaries and close to their margins. */
function market(seed: number, accounts: number, symbols: string[]): Core {
  const rng = new Prng(seed);
  const core = new Core();
  apply(core, [{ type: "asset", asset: "USDT", decimals: 6, settlement: true }, ...INSTRUMENTS.filter((i) => symbols.includes(i.symbol as string))]);
  apply(core, [{ type: "deposit", id: "ins", account: "@insurance", asset: "USDT", amount: "10000000" }]);
  let id = 0;
  for (const sym of symbols) apply(core, [{ type: "mark", symbol: sym, price: PRICES[sym]!.toFixed(DECIMALS[sym]![0]) }]);
  for (let a = 0; a < accounts; a++) {
    apply(core, [{ type: "deposit", id: `d${id++}`, account: `A${a}`, asset: "USDT", amount: String(rng.int(50, 3000)) }]);
    if (rng.float() < 0.3) apply(core, [{ type: "margin.mode", account: `A${a}`, symbol: symbols[rng.int(0, symbols.length - 1)]!, mode: "isolated" }]);
  }
  for (let t = 0; t < accounts * symbols.length; t++) {
    const sym = symbols[rng.int(0, symbols.length - 1)]!;
    const [td, ld] = DECIMALS[sym]!;
    // Notional around the tier boundaries: from a few hundred to ~30k USDT.
    const notional = 200 + rng.float() * 30_000;
    const price = PRICES[sym]! * (1 + (rng.float() - 0.5) * 0.02);
    const qty = Math.max(10 ** -ld, notional / PRICES[sym]!);
    const buyer = `A${rng.int(0, accounts - 1)}`;
    const seller = `A${rng.int(0, accounts - 1)}`;
    if (buyer === seller) continue;
    apply(core, [{ type: "trade", id: `t${id++}`, symbol: sym, price: price.toFixed(td), qty: qty.toFixed(ld), buyer, seller, taker: "buyer" }]);
  }
  return core;
}

describe("mark intervals are sound (brute force over each entity's box)", () => {
  it.each([1, 2, 3, 4, 5, 6])("one instrument (long/short, cross/isolated, tier boundaries), seed %i", (seed) => {
    const core = market(seed, 24, ["BTC-PERP"]);
    const rng = new Prng(seed * 31);
    let wide = 0;
    for (let step = 0; step < 6; step++) {
      wide += checkBoxes(core, rng);
      const m = Number(core.state.instruments.get("BTC-PERP")!.markTicks) * (1 + (rng.float() - 0.5) * 0.03);
      apply(core, [{ type: "mark", symbol: "BTC-PERP", price: (Math.round(m) / 10).toFixed(1) }]);
    }
    expect(wide).toBeGreaterThan(10);
  });

  it.each([7, 8, 9, 10])("cross accounts over three instruments, seed %i", (seed) => {
    const symbols = ["BTC-PERP", "ETH-PERP", "SOL-PERP"];
    const core = market(seed, 16, symbols);
    const rng = new Prng(seed * 17);
    let wide = 0;
    for (let step = 0; step < 5; step++) {
      wide += checkBoxes(core, rng, 8);
      const sym = symbols[step % 3]!;
      const inst = core.state.instruments.get(sym)!;
      const m = Math.max(1, Math.round(Number(inst.markTicks) * (1 + (rng.float() - 0.5) * 0.04)));
      apply(core, [{ type: "mark", symbol: sym, price: (m / 10 ** DECIMALS[sym]![0]).toFixed(DECIMALS[sym]![0]) }]);
    }
    expect(wide).toBeGreaterThan(5);
  });

  it("near the 64-bit limit: the interval stops short of the overflow, the mark beyond is rejected in both modes", () => {
    const setup: Wire[] = [
      { type: "asset", asset: "USDT", decimals: 6, settlement: true },
      {
        type: "instrument", symbol: "BIG", tickSize: "1", lotSize: "1",
        tiers: [{ maxNotional: "9000000000000", mmr: "0.01", maxLeverage: 100 }],
        makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0",
      },
      {
        type: "instrument", symbol: "BIG2", tickSize: "1", lotSize: "1",
        tiers: [{ maxNotional: "9000000000000", mmr: "0.01", maxLeverage: 100 }],
        makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0",
      },
      { type: "deposit", id: "a", account: "L", asset: "USDT", amount: "1000000000000" },
      { type: "deposit", id: "b", account: "S", asset: "USDT", amount: "9000000000000" },
      // k = 1e6 minor per lot·tick; q = 1e6 lots: N = 1e12·M, the i64 limit at M ≈ 9 223 372.
      { type: "trade", id: "t1", symbol: "BIG", price: "4000000", qty: "1000000", buyer: "L", seller: "S", taker: "buyer" },
      { type: "trade", id: "t2", symbol: "BIG2", price: "4000000", qty: "1000000", buyer: "L", seller: "S", taker: "buyer" },
    ];
    const fast = new Core();
    const full = new Core({ markIntervals: false });
    for (const e of setup) {
      expect(fast.apply(entry(e)).rejection).toBeNull();
      full.apply(entry(e));
    }
    const big = fast.state.accounts.get("L")!.positions.get("BIG")!;
    const iv = fast.markInterval(big.slot)!;
    // L's cross sums (two notionals of 4e18, E ≈ 1e18) leave ~1e18 of headroom: the interval's
    // top keeps the summed IM (≈ Σ N / 100) and every position figure representable.
    expect(iv.hi).toBeGreaterThan(4_000_000);
    expect(iv.hi).toBeLessThan(9_223_372);
    checkBoxes(fast, new Prng(3));
    for (const price of ["4500000", "6000000", "8000000", "9300000", "9000000", "9300000", "4000000"]) {
      const a = fast.apply(entry({ type: "mark", symbol: "BIG", price }));
      const b = full.apply(entry({ type: "mark", symbol: "BIG", price }));
      expect(JSON.stringify(a.outputs)).toBe(JSON.stringify(b.outputs));
      expect(a.rejection?.code).toBe(price === "9300000" ? "E_OVERFLOW" : undefined);
      checkBoxes(fast, new Prng(4));
    }
    expect(fast.state.accounts.get("L")!.positions.get("BIG")!.qtyLots).toBe(1_000_000n);
  });

  it("a rejected mark restores the intervals it popped: the next mark still finds the account it crosses", () => {
    const bigInst = (symbol: string): Wire => ({
      type: "instrument", symbol, tickSize: "1", lotSize: "1",
      tiers: [{ maxNotional: "9000000000000", mmr: "0.01", maxLeverage: 100 }],
      makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0",
    });
    const setup: Wire[] = [
      { type: "asset", asset: "USDT", decimals: 6, settlement: true },
      bigInst("BIG"),
      { type: "deposit", id: "i", account: "@insurance", asset: "USDT", amount: "1000000" },
      { type: "deposit", id: "b", account: "B", asset: "USDT", amount: "1000000000000" },
      { type: "deposit", id: "c", account: "C", asset: "USDT", amount: "9000000000000" },
      { type: "deposit", id: "a", account: "A", asset: "USDT", amount: "410000" },
      { type: "deposit", id: "d", account: "D", asset: "USDT", amount: "1000000" },
      { type: "trade", id: "t1", symbol: "BIG", price: "4000000", qty: "1000000", buyer: "B", seller: "C", taker: "buyer" },
      // A: a thin short, liquidatable from ≈ 4 366 000.
      { type: "trade", id: "t2", symbol: "BIG", price: "4000000", qty: "1", buyer: "D", seller: "A", taker: "buyer" },
    ];
    const fast = new Core();
    const full = new Core({ markIntervals: false });
    for (const e of setup) {
      expect(fast.apply(entry(e)).rejection).toBeNull();
      full.apply(entry(e));
    }
    const a = fast.state.accounts.get("A")!.positions.get("BIG")!;
    expect(fast.markInterval(a.slot)!.hi).toBeLessThan(4_366_000);
    // B's notional overflows at 9 300 000: rejected, after A's entry was popped as a leaver.
    for (const price of ["9300000", "4500000"]) {
      const x = fast.apply(entry({ type: "mark", symbol: "BIG", price }));
      const y = full.apply(entry({ type: "mark", symbol: "BIG", price }));
      expect(JSON.stringify(x.outputs)).toBe(JSON.stringify(y.outputs));
    }
    expect(fast.state.accounts.get("A")!.positions.get("BIG")!.qtyLots).toBe(0n);
    expect(fast.history.liquidations.map((l) => l.account)).toEqual(["A"]);
  });

  it("a system account holding a position: recomputed at every mark of its instrument (its equity exact), not derived again", () => {
    const setup: Wire[] = [
      { type: "asset", asset: "USDT", decimals: 6, settlement: true },
      {
        type: "instrument", symbol: "BIG", tickSize: "1", lotSize: "1",
        tiers: [{ maxNotional: "9000000000000", mmr: "0.01", maxLeverage: 100 }],
        makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0",
      },
      { type: "deposit", id: "i", account: "@insurance", asset: "USDT", amount: "1000000" },
      { type: "deposit", id: "b", account: "B", asset: "USDT", amount: "1000000000000" },
      { type: "deposit", id: "c", account: "C", asset: "USDT", amount: "9000000000000" },
      { type: "deposit", id: "a", account: "A", asset: "USDT", amount: "410000" },
      { type: "deposit", id: "d", account: "D", asset: "USDT", amount: "1000000" },
      { type: "trade", id: "t1", symbol: "BIG", price: "4000000", qty: "1000000", buyer: "B", seller: "C", taker: "buyer" },
      { type: "trade", id: "t2", symbol: "BIG", price: "4000000", qty: "1", buyer: "D", seller: "A", taker: "buyer" },
      // A's short is liquidated: the insurance fund takes it over.
      { type: "mark", symbol: "BIG", price: "4500000" },
    ];
    const fast = new Core();
    const full = new Core({ markIntervals: false });
    for (const e of setup) {
      expect(fast.apply(entry(e)).rejection).toBeNull();
      full.apply(entry(e));
    }
    const ins = fast.state.accounts.get("@insurance")!;
    expect(ins.positions.get("BIG")!.qtyLots).not.toBe(0n);
    const insFull = full.state.accounts.get("@insurance")!;
    const rng = new Prng(5);
    let derivations = 0;
    for (let step = 0; step < 40; step++) {
      const price = String(4_500_000 + Math.round((rng.float() - 0.5) * 2000));
      const before = fast.intervalDerivations;
      const x = fast.apply(entry({ type: "mark", symbol: "BIG", price }));
      const y = full.apply(entry({ type: "mark", symbol: "BIG", price }));
      expect(JSON.stringify(x.outputs)).toBe(JSON.stringify(y.outputs));
      // The fund's figures are read without a recompute (ADL's trigger): exact after every mark.
      expect(fast.margin.book.acct_equity_minor[ins.slot]).toBe(full.margin.book.acct_equity_minor[insFull.slot]);
      expect(fast.markInterval(ins.positions.get("BIG")!.slot)!.lo).toBe(Infinity); // empty: always recomputed
      derivations += fast.intervalDerivations - before;
    }
    // Small moves leave B, C and D inside their intervals, and the fund is not derived again.
    expect(derivations).toBe(0);
  });
});
