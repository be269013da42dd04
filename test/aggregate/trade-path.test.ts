// The fill path's shortcuts (session 5) pinned against the general formulas they replace:
// feeDeltaMinor against divCeil/divFloor, applyLeg (signs branched on, a closing reduction
// removing the whole cost, Draft.positionValues without a copy) against the previous
// implementation kept here as the reference, and the Draft's i64 check (BigInt.asIntN) at
// the boundaries. Same effects, same balances, same overflow rejections with the same messages.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyLeg, feeDeltaMinor, tierOf } from "../../src/aggregate/decide.js";
import { Draft } from "../../src/aggregate/draft.js";
import type { Effect, PositionValues } from "../../src/aggregate/effects.js";
import { INSURANCE, SmallMap, type Account, type Instrument, type Position, type State } from "../../src/aggregate/state.js";
import { abs, divCeil, divFloor, I64_MAX, I64_MIN, max, min, OverflowError, RATE_SCALE, sign } from "../../src/numbers/int.js";

// ---------------------------------------------------------------- the reference (the code before session 5)

function refFee(notionalMinor: bigint, rateE8: bigint): bigint {
  return rateE8 >= 0n ? -divCeil(notionalMinor * rateE8, RATE_SCALE) : divFloor(notionalMinor * -rateE8, RATE_SCALE);
}

function refDefaultLeverage(inst: Instrument): number {
  return Math.min(10, inst.tiers[0]!.maxLeverage);
}

function refWithValues(p: PositionValues, qtyLots: bigint, costLotTicks: bigint, isolatedMarginMinor: bigint): PositionValues {
  return { qtyLots, costLotTicks, isolatedMarginMinor, mode: p.mode, leverage: p.leverage };
}

function refAutoMargin(d: Draft, inst: Instrument, s: string, account: string, aLots: bigint, price: bigint): void {
  const p = d.position(account, inst.symbol);
  const B = d.balance(account, s);
  const move = min(divCeil(aLots * price * inst.kMinor, BigInt(p.leverage)), max(0n, B));
  if (move === 0n) return;
  d.setBalance(account, s, B - move);
  d.setPosition(account, inst.symbol, refWithValues(p, p.qtyLots, p.costLotTicks, p.isolatedMarginMinor + move));
}

function refReturnIsolatedMargin(d: Draft, inst: Instrument, s: string, account: string): void {
  const p = d.position(account, inst.symbol);
  const m = p.isolatedMarginMinor;
  if (m === 0n) return;
  if (m < 0n) {
    d.addBalance(INSURANCE, s, m, "insurance fund balance");
    (d.covers ??= []).push({ account, symbol: inst.symbol, amountMinor: -m });
  } else d.addBalance(account, s, m);
  d.setPosition(account, inst.symbol, refWithValues(p, p.qtyLots, p.costLotTicks, 0n));
}

function refApplyLeg(d: Draft, inst: Instrument, s: string, account: string, dLots: bigint, price: bigint, feeDelta: bigint): void {
  const symbol = inst.symbol;
  const p = d.position(account, symbol, refDefaultLeverage(inst));
  const isolated = p.mode === "isolated";
  let remainder = 0n;
  if (p.qtyLots === 0n || sign(p.qtyLots) === sign(dLots)) {
    d.setPosition(account, symbol, refWithValues(p, p.qtyLots + dLots, p.costLotTicks + dLots * price, p.isolatedMarginMinor));
    if (isolated) refAutoMargin(d, inst, s, account, abs(dLots), price);
  } else {
    const c = min(abs(dLots), abs(p.qtyLots));
    const sq = sign(p.qtyLots);
    const removed = (p.costLotTicks * c) / abs(p.qtyLots);
    const realized = inst.kMinor * (sq * c * price - removed);
    if (!isolated) d.addBalance(account, s, realized);
    d.setPosition(account, symbol, refWithValues(p, p.qtyLots - sq * c, p.costLotTicks - removed, isolated ? p.isolatedMarginMinor + realized : p.isolatedMarginMinor));
    remainder = abs(dLots) - c;
  }
  if (isolated) {
    const q = d.position(account, symbol);
    d.setPosition(account, symbol, refWithValues(q, q.qtyLots, q.costLotTicks, q.isolatedMarginMinor + feeDelta));
    if (q.qtyLots === 0n) refReturnIsolatedMargin(d, inst, s, account);
  } else {
    d.addBalance(account, s, feeDelta);
  }
  if (remainder > 0n) {
    const q = d.position(account, symbol);
    const dir = sign(dLots);
    d.setPosition(account, symbol, refWithValues(q, dir * remainder, dir * remainder * price, q.isolatedMarginMinor));
    if (isolated) refAutoMargin(d, inst, s, account, remainder, price);
  }
}

// ---------------------------------------------------------------- a small state

const S = "USDT";
const SYMBOL = "BTC-PERP";

interface Holder {
  readonly name: string;
  readonly balance: bigint | null; // null: no balance entry
  readonly position: { q: bigint; cost: bigint; m: bigint; mode: "cross" | "isolated"; leverage: number } | null;
}

function makeState(holders: readonly Holder[]): State {
  const accounts = new Map<string, Account>();
  let slot = 0;
  for (const h of holders) {
    if (accounts.has(h.name)) continue;
    const balances = new SmallMap<bigint>();
    if (h.balance !== null) balances.set(S, h.balance);
    const positions = new SmallMap<Position>();
    const p = h.position;
    if (p !== null) {
      positions.set(SYMBOL, { account: h.name, symbol: SYMBOL, slot, qtyLots: p.q, costLotTicks: p.cost, isolatedMarginMinor: p.m, mode: p.mode, leverage: p.leverage, callLatched: false });
    }
    accounts.set(h.name, { name: h.name, slot: slot++, balances, positions, crossCallLatched: false, isolatedCount: p?.mode === "isolated" ? 1 : 0 });
  }
  return { accounts, settlementAsset: S } as unknown as State;
}

function makeInstrument(kMinor: bigint, maxLeverage: number): Instrument {
  return {
    symbol: SYMBOL, kMinor, tiers: [{ maxNotionalMinor: I64_MAX, mmrE8: 500_000n, maxLeverage, cumMinor: 0n }],
    makerFeeE8: 0n, takerFeeE8: 0n, liquidationFeeE8: 0n, insuranceShareE8: 0n, slot: 0, markTicks: 0n, positions: [],
  } as unknown as Instrument;
}

type Outcome = { effects: Effect[]; covers: unknown } | { overflow: string };

/** The legs run through one Draft (as a fill's two legs and @insurance do), by `leg`. */
function run(state: State, inst: Instrument, legs: readonly { account: string; dLots: bigint; price: bigint; fee: bigint }[], leg: typeof applyLeg): Outcome {
  const d = new Draft(state);
  try {
    for (const l of legs) leg(d, inst, S, l.account, l.dLots, l.price, l.fee);
  } catch (err) {
    if (err instanceof OverflowError) return { overflow: err.message };
    throw err;
  }
  const covers = d.covers;
  return { effects: d.effects(), covers };
}

// ---------------------------------------------------------------- arbitraries

/** Mostly small values (the usual fills), sometimes near the i64 edges (overflow paths). */
const i64ish = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: -1_000_000n, max: 1_000_000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: I64_MIN, max: I64_MAX }) },
  { weight: 1, arbitrary: fc.constantFrom(I64_MIN, I64_MIN + 1n, I64_MAX - 1n, I64_MAX, 0n) },
);
const lots = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 200n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: I64_MAX }) },
);
const NAMES = ["a", "b", "c", INSURANCE];
const holderArb: fc.Arbitrary<Holder> = fc.record({
  name: fc.constantFrom(...NAMES),
  balance: fc.option(i64ish, { nil: null }),
  position: fc.option(
    fc.record({
      q: fc.oneof({ weight: 4, arbitrary: fc.bigInt({ min: -200n, max: 200n }) }, { weight: 1, arbitrary: i64ish }),
      cost: i64ish,
      m: i64ish,
      mode: fc.constantFrom("cross" as const, "isolated" as const),
      leverage: fc.integer({ min: 1, max: 125 }),
    }),
    { nil: null },
  ),
});
const legArb = fc.record({
  account: fc.constantFrom(...NAMES),
  dLots: fc.tuple(lots, fc.boolean()).map(([l, neg]) => (neg ? -l : l)),
  price: fc.oneof({ weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 100_000n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: (1n << 53n) - 1n }) }),
  fee: fc.oneof({ weight: 6, arbitrary: fc.bigInt({ min: -5_000n, max: 5_000n }) }, { weight: 1, arbitrary: i64ish }),
});

// ---------------------------------------------------------------- the properties

describe("the fill path's shortcuts against the general formulas", () => {
  it("feeDeltaMinor is floor(−N·f / 1e8): −ceil for a charge, floor for a rebate (any sign of N, any rate)", () => {
    const notional = fc.oneof(fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), fc.bigInt({ min: 0n, max: 10n ** 12n }));
    const rate = fc.oneof(fc.bigInt({ min: -RATE_SCALE, max: RATE_SCALE }), fc.constantFrom(0n, 1n, -1n, RATE_SCALE, -RATE_SCALE));
    fc.assert(fc.property(notional, rate, (n, r) => {
      const got = feeDeltaMinor(n, r);
      expect(got).toBe(refFee(n, r));
      expect(got).toBe(divFloor(-n * r, RATE_SCALE));
    }), { numRuns: 5000 });
    // Exact multiples and one unit either side, where ceil and floor part.
    for (const n of [0n, 1n, 99_999_999n, 100_000_000n, 100_000_001n, 2_000_000_000n]) {
      for (const r of [0n, 1n, -1n, 50_000n, -50_000n, RATE_SCALE, -RATE_SCALE]) expect(feeDeltaMinor(n, r)).toBe(refFee(n, r));
    }
  });

  it("applyLeg gives the previous implementation's effects, covers and overflow messages", () => {
    fc.assert(fc.property(
      fc.array(holderArb, { maxLength: 4 }),
      fc.array(legArb, { minLength: 1, maxLength: 4 }),
      fc.constantFrom(1n, 3n, 1000n),
      fc.integer({ min: 1, max: 125 }),
      (holders, legs, kMinor, maxLeverage) => {
        const inst = makeInstrument(kMinor, maxLeverage);
        const got = run(makeState(holders), inst, legs, applyLeg);
        const want = run(makeState(holders), inst, legs, refApplyLeg);
        expect(got).toEqual(want);
      },
    ), { numRuns: 3000 });
  });

  it("applyLeg: reductions, closes and flips of long and short positions, cross and isolated", () => {
    const inst = makeInstrument(7n, 20);
    for (const mode of ["cross", "isolated"] as const) {
      for (const q of [-10n, -3n, 3n, 10n]) {
        for (const d of [-13n, -10n, -4n, -3n, -1n, 1n, 3n, 4n, 10n, 13n]) {
          const holders: Holder[] = [{ name: "a", balance: 1_000_000n, position: { q, cost: q * 997n + (q > 0n ? 5n : -5n), m: 40_000n, mode, leverage: 5 } }];
          const legs = [{ account: "a", dLots: d, price: 1003n, fee: -17n }];
          expect(run(makeState(holders), inst, legs, applyLeg)).toEqual(run(makeState(holders), inst, legs, refApplyLeg));
        }
      }
    }
  });

  it("the Draft's i64 check accepts exactly [−2^63, 2^63 − 1]", () => {
    for (const [v, ok] of [[I64_MAX, true], [I64_MAX + 1n, false], [I64_MIN, true], [I64_MIN - 1n, false], [0n, true], [1n << 64n, false], [-(1n << 64n), false]] as const) {
      const state = makeState([{ name: "a", balance: 0n, position: null }]);
      const set = (): void => new Draft(state).setBalance("a", S, v);
      const add = (): void => new Draft(state).addBalance("a", S, v);
      const pos = (): void => new Draft(state).setPosition("a", SYMBOL, { qtyLots: v, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage: 1 });
      for (const f of [set, add, pos]) {
        if (ok) expect(f).not.toThrow();
        else expect(f).toThrow(OverflowError);
      }
    }
    expect(() => new Draft(makeState([])).addBalance("a", S, I64_MAX + 1n, "what")).toThrow("what overflows the 64-bit representation");
  });

  it("positionValues reads the draft's write, else the state's position, else nothing", () => {
    const state = makeState([{ name: "a", balance: 5n, position: { q: 2n, cost: 20n, m: 0n, mode: "cross", leverage: 3 } }, { name: "b", balance: null, position: null }]);
    const d = new Draft(state);
    expect(d.positionValues("a", SYMBOL)).toBe(state.accounts.get("a")!.positions.get(SYMBOL));
    expect(d.positionValues("b", SYMBOL)).toBeUndefined();
    expect(d.positionValues("zz", SYMBOL)).toBeUndefined();
    const v: PositionValues = { qtyLots: 1n, costLotTicks: 9n, isolatedMarginMinor: 0n, mode: "cross", leverage: 3 };
    d.setPosition("a", SYMBOL, v);
    expect(d.positionValues("a", SYMBOL)).toBe(v);
    // position() still hands out a copy with the five fields only.
    expect(new Draft(state).position("a", SYMBOL)).toEqual({ qtyLots: 2n, costLotTicks: 20n, isolatedMarginMinor: 0n, mode: "cross", leverage: 3 });
    expect(tierOf(makeInstrument(1n, 10), 5n).maxLeverage).toBe(10);
  });
});
