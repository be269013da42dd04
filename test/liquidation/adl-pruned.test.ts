// ADL's pruned selection (float score bounds, exact resolution of only the candidates that can
// come next) takes exactly the counterparties, in exactly the order and quantities, of the
// exhaustive selection (every candidate's U, N, E exact), and its float bounds always contain
// the exact score (SPEC §5: score = U·N/E² descending, E ≤ 0 first, ties by account name).
// Given generated books with adversarial near-ties (exact ties, scaled clones with the same
// score, ±1 minor-unit perturbations), E ≤ 0 and E within a few units of 0, values beyond 2^53,
// isolated and cross candidates, cross accounts with other positions and collateral (one or
// two assets, haircuts, price 0), when ADL runs, then both selections give the same effects
// and outputs; and pruning resolves only a handful of candidates out of hundreds.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { adlScoreBounds, autoDeleverage, autoDeleverageReference, type AdlFigures } from "../../src/liquidation/adl.js";
import { OpenPositions } from "../../src/liquidation/open-positions.js";
import { crossBaseMinor } from "../../src/aggregate/collateral.js";
import { evolveAll } from "../../src/aggregate/evolve.js";
import { emptyState, INSURANCE, type Account, type State } from "../../src/aggregate/state.js";
import type { Effect, PositionValues } from "../../src/aggregate/effects.js";
import { parseDecimal } from "../../src/numbers/decimal.js";
import { Prng } from "../../src/util/prng.js";

const TIERS = [{ maxNotionalMinor: 10n ** 30n, mmrE8: 1_000_000n, maxLeverage: 50, cumMinor: 0n }];

function instrument(symbol: string, kMinor: bigint): Effect {
  return {
    t: "instrument",
    params: {
      symbol, tickSize: parseDecimal("0.1")!, lotSize: parseDecimal("0.001")!, kMinor, tiers: TIERS,
      makerFeeE8: 0n, takerFeeE8: 0n, liquidationFeeE8: 0n, insuranceShareE8: 0n,
    },
  };
}

/** Exact E of a cross account: B + Σ floor(collateral) + Σ over its cross positions of U (BigInt). */
function exactCrossEquity(state: State, acct: Account): bigint {
  let e = crossBaseMinor(state, acct);
  for (const p of acct.positions.values()) {
    if (p.mode !== "cross") continue;
    const inst = state.instruments.get(p.symbol)!;
    e += inst.kMinor * (p.qtyLots * inst.markTicks - p.costLotTicks);
  }
  return e;
}

/** The pipeline's figures, exactly, without a kernel: E from the state in BigInt. */
function figures(state: State, index: OpenPositions, refreshed: number[]): AdlFigures {
  return {
    openPositions: (symbol, long) => index.side(symbol, long),
    mirror: () => index,
    refreshAccounts: (slots) => {
      refreshed.push(...slots);
    },
    crossEquityMinor: (slot) => exactCrossEquity(state, state.accountsBySlot[slot]!),
  };
}

/** A random BigInt in [0, 2^bits). */
function bits(rng: Prng, n: number): bigint {
  let x = 0n;
  for (let b = 0; b < n; b += 24) x = (x << 24n) | BigInt(rng.int(0, (1 << 24) - 1));
  return x & ((1n << BigInt(n)) - 1n);
}

type Flavor = "random" | "ties" | "zero" | "huge" | "collateral";

interface Spec {
  name: string;
  isolated: boolean;
  q: bigint;
  c: bigint;
  m: bigint;
  usdt: bigint;
  btc: bigint;
  eth: bigint;
  qy: bigint;
  cy: bigint;
}

/**
 * A state: @insurance holds a position in X (negative equity is the pipeline's trigger, not
 * needed here); counterparties on the other side (most with U > 0), some with positions in Y
 * and collateral.
 */
function scenario(seed: number, flavor: Flavor, count: number): { state: State; index: OpenPositions } {
  const rng = new Prng(seed);
  const huge = flavor === "huge";
  const k = huge ? rng.pick([1n, 7n, 1n << 20n]) : rng.pick([1n, 10n, 1000n]);
  const kY = rng.pick([1n, 3n, 100n]);
  const markX = huge ? bits(rng, 40) + 1n : BigInt(rng.int(1, 1_000_000));
  const markY = BigInt(rng.int(1, 100_000));
  const insLong = rng.chance(0.5);
  const dir = insLong ? -1n : 1n; // counterparties' sign
  const specs: Spec[] = [];
  const names = new Set<string>();
  const freshName = (): string => {
    for (;;) {
      const n = `a${rng.int(0, 99_999).toString().padStart(5, "0")}`;
      if (!names.has(n)) {
        names.add(n);
        return n;
      }
    }
  };
  const withCollateral = flavor === "collateral" || (flavor === "random" && rng.chance(0.5));
  for (let i = 0; specs.length < count; i++) {
    const qMag = huge ? bits(rng, rng.int(1, 40)) + 1n : BigInt(rng.int(1, 5000));
    const q = dir * qMag;
    // U = k·(q·M − C): mostly positive, sometimes ≤ 0 (not a candidate).
    const uTicks = rng.chance(0.85) ? (huge ? bits(rng, rng.int(1, 62)) + 1n : BigInt(rng.int(1, 10_000_000))) : -BigInt(rng.int(0, 1000));
    const c = q * markX - uTicks;
    const isolated = rng.chance(0.3);
    const s: Spec = {
      name: freshName(), isolated, q, c,
      m: isolated ? (huge ? bits(rng, 62) : BigInt(rng.int(-1000, 50_000_000))) * (rng.chance(0.1) ? -1n : 1n) : 0n,
      usdt: isolated ? 0n : (huge ? bits(rng, rng.int(1, 62)) : BigInt(rng.int(0, 100_000_000))) * (rng.chance(0.15) ? -1n : 1n),
      btc: withCollateral && rng.chance(0.6) ? BigInt(rng.int(0, 300_000_000)) * (rng.chance(0.05) ? -1n : 1n) : 0n,
      eth: withCollateral && rng.chance(0.2) ? BigInt(rng.int(1, 10) * 10 ** 17) : 0n,
      qy: !isolated && rng.chance(0.5) ? BigInt(rng.int(-1000, 1000)) : 0n,
      cy: 0n,
    };
    if (s.qy !== 0n) s.cy = s.qy * markY + BigInt(rng.int(-100_000, 100_000));
    if (flavor === "zero" && !isolated) {
      // E = B + k·(qM − C) + U_Y + collateral within a few units of 0 (or below).
      s.btc = 0n;
      s.eth = 0n;
      const u = k * (q * markX - c) + kY * (s.qy * markY - s.cy);
      s.usdt = -u + BigInt(rng.int(-3, 3));
    }
    if (flavor === "zero" && isolated) s.m = -k * (q * markX - c) + BigInt(rng.int(-3, 3));
    specs.push(s);
    if (flavor === "ties" && specs.length < count) {
      // Clones with the same score: identical; everything ×2 (U, N, E all double: same U·N/E²);
      // and one minor unit of balance or margin apart.
      const kind = rng.int(0, 2);
      const t: Spec = { ...s, name: freshName() };
      if (kind === 1) {
        Object.assign(t, { q: 2n * s.q, c: 2n * s.c, m: 2n * s.m, usdt: 2n * s.usdt, qy: 2n * s.qy, cy: 2n * s.cy, btc: 0n, eth: 0n });
        s.btc = 0n;
        s.eth = 0n;
      } else if (kind === 2) {
        if (isolated) t.m += rng.pick([-1n, 1n]);
        else t.usdt += rng.pick([-1n, 1n]);
      }
      specs.push(t);
    }
  }
  const effects: Effect[] = [
    { t: "asset", asset: { name: "USDT", decimals: 6, haircutE8: 0n, settlement: true } },
    { t: "asset", asset: { name: "BTC", decimals: 8, haircutE8: BigInt(rng.pick([0, 10_000_000, 33_333_333])), settlement: false } },
    { t: "asset", asset: { name: "ETH", decimals: 18, haircutE8: 20_000_000n, settlement: false } },
    { t: "collateral.price", asset: "BTC", priceE8: rng.chance(0.1) ? 0n : BigInt(rng.int(1, 10_000_000)) * 1_000_000n + BigInt(rng.int(0, 999_999)) },
    { t: "collateral.price", asset: "ETH", priceE8: BigInt(rng.int(1, 500_000)) * 1_000_000n },
    instrument("X", k),
    instrument("Y", kY),
    { t: "mark", symbol: "X", ticks: markX },
    { t: "mark", symbol: "Y", ticks: markY },
    { t: "account.open", account: INSURANCE },
  ];
  const total = specs.reduce((a, s) => a + (s.q < 0n ? -s.q : s.q), 0n);
  const insQty = rng.chance(0.5) ? BigInt(rng.int(1, 3)) : total / BigInt(rng.int(1, 4)) + 1n;
  const values = (q: bigint, c: bigint, m: bigint, isolated: boolean): PositionValues => ({ qtyLots: q, costLotTicks: c, isolatedMarginMinor: m, mode: isolated ? "isolated" : "cross", leverage: 10 });
  effects.push({ t: "position", account: INSURANCE, symbol: "X", values: values(-dir * insQty, -dir * insQty * markX, 0n, false) });
  for (const s of specs) {
    effects.push({ t: "account.open", account: s.name });
    if (s.usdt !== 0n) effects.push({ t: "balance", account: s.name, asset: "USDT", valueMinor: s.usdt });
    if (s.btc !== 0n) effects.push({ t: "balance", account: s.name, asset: "BTC", valueMinor: s.btc });
    if (s.eth !== 0n) effects.push({ t: "balance", account: s.name, asset: "ETH", valueMinor: s.eth });
    effects.push({ t: "position", account: s.name, symbol: "X", values: values(s.q, s.c, s.m, s.isolated) });
    if (s.qy !== 0n) effects.push({ t: "position", account: s.name, symbol: "Y", values: values(s.qy, s.cy, 0n, false) });
  }
  const state = emptyState();
  evolveAll(state, effects);
  return { state, index: new OpenPositions(state) };
}

type Run = { ok: true; value: ReturnType<typeof autoDeleverage>; refreshed: number } | { ok: false; error: string };

function run(state: State, index: OpenPositions, fn: typeof autoDeleverage): Run {
  const refreshed: number[] = [];
  try {
    const value = fn(state, figures(state, index, refreshed), 7);
    return { ok: true, value, refreshed: refreshed.length };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}

/** A finite non-negative double as an exact fraction [num, den]. */
function fraction(x: number): [bigint, bigint] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0);
  const e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(dv.getUint32(4));
  let exp = -1074;
  if (e !== 0) {
    m |= 1n << 52n;
    exp = e - 1075;
  }
  return exp >= 0 ? [m << BigInt(exp), 1n] : [m, 1n << BigInt(-exp)];
}

/** Every candidate's float bounds contain its exact score. */
function checkBounds(state: State, index: OpenPositions): void {
  const ins = state.accounts.get(INSURANCE)!.positions.get("X")!;
  const inst = state.instruments.get("X")!;
  const side = index.side("X", ins.qtyLots < 0n);
  for (let i = 0; i < side.size; i++) {
    const p = state.positionsBySlot[side.slots[i]!]!;
    const u = inst.kMinor * (p.qtyLots * inst.markTicks - p.costLotTicks);
    if (u <= 0n || p.account === INSURANCE) continue;
    const n = (p.qtyLots < 0n ? -p.qtyLots : p.qtyLots) * inst.markTicks * inst.kMinor;
    const e = p.mode === "isolated" ? p.isolatedMarginMinor + u : exactCrossEquity(state, state.accounts.get(p.account)!);
    const b = adlScoreBounds(state, index, p);
    const what = `${p.account}: U=${u} N=${n} E=${e} bounds [${b.lo}, ${b.hi}]`;
    if (e <= 0n) {
      expect(b.hi, what).toBe(Infinity);
      continue;
    }
    expect(b.lo, what).toBeLessThan(Infinity);
    const [ln, ld] = fraction(b.lo);
    expect(ln * e * e <= u * n * ld, `lo above the score: ${what}`).toBe(true);
    if (b.hi !== Infinity) {
      const [hn, hd] = fraction(b.hi);
      expect(hn * e * e >= u * n * hd, `hi below the score: ${what}`).toBe(true);
    }
  }
}

describe("ADL: pruned selection = exhaustive selection", () => {
  const flavors: Flavor[] = ["random", "ties", "zero", "huge", "collateral"];
  for (const flavor of flavors) {
    it(`${flavor}: same effects and outputs; bounds contain the exact scores`, () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 60 }), (seed, count) => {
        const { state, index } = scenario(seed, flavor, count);
        checkBounds(state, index);
        const pruned = run(state, index, autoDeleverage);
        const reference = run(state, index, autoDeleverageReference);
        if (pruned.ok && reference.ok) {
          expect(pruned.value).toEqual(reference.value);
          expect(pruned.refreshed).toBeLessThanOrEqual(reference.refreshed);
        } else {
          expect(pruned).toEqual(reference);
        }
      }), { numRuns: 300 });
    });
  }

  it("resolves only the candidates that can come next (hundreds of candidates, a few taken)", () => {
    let pruned = 0;
    let exhaustive = 0;
    let fills = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const { state, index } = scenario(seed, "random", 400);
      const ins = state.accounts.get(INSURANCE)!.positions.get("X")!;
      // A small fund position: a few counterparties are enough.
      ins.qtyLots = ins.qtyLots < 0n ? -1n : 1n;
      const a = run(state, index, autoDeleverage);
      const b = run(state, index, autoDeleverageReference);
      if (!a.ok || !b.ok) throw new Error("ADL failed");
      expect(a.value).toEqual(b.value);
      pruned += a.refreshed;
      exhaustive += b.refreshed;
      fills += a.value.outputs.length;
    }
    expect(fills).toBeGreaterThanOrEqual(20);
    expect(exhaustive).toBeGreaterThan(2000);
    expect(pruned).toBeLessThanOrEqual(3 * fills);
  });
});
