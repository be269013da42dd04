// SPEC §3 liquidation and bankruptcy prices against brute force: scan ticks, apply the exact
// rule at each (tiers re-selected at every price), for both engines.
import { describe, expect, test } from "vitest";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, type MarginEngine } from "../../src/margin/engine.js";
import {
  bruteForceLiquidationPrice,
  isLiquidatableAt,
  liquidationDomainMax,
  liquidationInputsFromInputs,
} from "../../src/margin/reference.js";
import { I64_MAX, divCeil, divFloor } from "../../src/numbers/int.js";
import { Prng } from "../../src/util/prng.js";
import {
  ENGINES,
  RATE,
  describePosition,
  exchangeTiers,
  withSpecCums,
  writeBook,
  type BookData,
  type PositionData,
  type TierData,
} from "./helpers.js";

const USDT = 1_000_000n;

type Outcome = "exact" | "beyond-window" | "null";

/**
 * Checks e.liquidationPrice(p) against a brute-force scan of [lo, hi]:
 *  - the scan found x: the engine must return x, or (if the true extreme lies outside the
 *    window) a tick beyond the window on the far side;
 *  - the scan found nothing: the engine returns null or a tick outside the window.
 * Any tick the engine returns outside the window must satisfy the rule, and its neighbour
 * on the far side must not (it is the extreme, not just some qualifying tick).
 */
function checkAgainstBruteForce(e: MarginEngine, nPos: number, p: number, lo: bigint, hi: bigint): Outcome {
  const inp = liquidationInputsFromInputs(e.book, nPos, p)!;
  const long = inp.q > 0n;
  const mMax = liquidationDomainMax(inp.q, inp.k);
  const got = e.liquidationPrice(p);
  const brute = bruteForceLiquidationPrice(e.book, nPos, p, lo, hi);
  const where = `${e.name}: ${describePosition(e.book, p)}; window [${lo}, ${hi}]`;
  const inWindow = (x: bigint): boolean => x >= lo && x <= hi;
  const expectExtreme = (x: bigint): void => {
    expect(x >= 1n && x <= mMax, `${where}: ${x} outside the domain`).toBe(true);
    expect(isLiquidatableAt(inp, x), `${where}: not liquidatable at ${x}`).toBe(true);
    const next = long ? x + 1n : x - 1n;
    if (next >= 1n && next <= mMax) expect(isLiquidatableAt(inp, next), `${where}: also liquidatable at ${next}`).toBe(false);
  };
  if (brute !== null) {
    expect(got, where).not.toBeNull();
    if (inWindow(got!)) {
      expect(got, where).toBe(brute);
      return "exact";
    }
    expect(long ? got! > hi : got! < lo, `${where}: ${got} on the wrong side of ${brute}`).toBe(true);
    expectExtreme(got!);
    return "beyond-window";
  }
  if (got === null) return "null";
  expect(inWindow(got), `${where}: ${got} in the window but the scan found nothing`).toBe(false);
  expectExtreme(got);
  return "beyond-window";
}

function sortBig(xs: bigint[]): bigint[] {
  return xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Tiers whose segment boundaries (in ticks, for A = |q|·k) fall at the given ticks, ±. */
function tiersAtTicks(
  r: Prng,
  a: bigint,
  ticks: bigint[],
  o: { monotone: boolean; mmr: () => bigint; cumJitter: bigint },
): TierData[] {
  const maxes = sortBig(
    ticks.map((m) => {
      const x = a * m + r.pick([0n, a - 1n, -1n, 1n, r.bigint(0n, a)]);
      return x > I64_MAX ? I64_MAX : x;
    }),
  );
  let mmrs = maxes.map(() => o.mmr());
  if (o.monotone) mmrs = sortBig(mmrs);
  const tiers = withSpecCums(maxes.map((maxNotional, t) => ({ maxNotional, mmr: mmrs[t]! })));
  for (const t of tiers) {
    // Sometimes arbitrary (non-SPEC) cum: the predicate then jumps at tier boundaries.
    if (r.chance(0.3)) t.cum += r.bigint(-o.cumJitter, o.cumJitter);
    if (t.cum > I64_MAX / 2n || t.cum < -I64_MAX / 2n) t.cum = r.bigint(-o.cumJitter, o.cumJitter);
  }
  return tiers;
}

/** Other cross positions of account 0 on instruments 1..n (ordinary sizes). */
function otherCrossPositions(r: Prng, n: number): { instruments: BookData["instruments"]; positions: PositionData[] } {
  const instruments: BookData["instruments"] = [];
  const positions: PositionData[] = [];
  for (let i = 1; i <= n; i++) {
    const mark = r.bigint(100n, 100_000n);
    instruments.push({ mark, k: 100n, tiers: exchangeTiers(USDT, r.int(1, MAX_TIERS)) });
    const q = r.bigint(1n, 10_000n) * (r.chance(0.5) ? 1n : -1n);
    positions.push({ q, cost: q * (mark + r.bigint(-mark / 10n, mark / 10n)), margin: 0n, inst: i, acct: 0, lev: 10, mode: MODE_CROSS });
  }
  return { instruments, positions };
}

/**
 * Sets account 0's base so that D (base + Σ U − Σ MM of the other cross positions) is `d`,
 * by computing the others' figures with the engine itself.
 */
function placeCrossBase(e: MarginEngine, data: BookData, d: bigint): void {
  const n = data.positions.length;
  data.accountBase[0] = 0n;
  writeBook(e, data);
  e.computeAll(n, 1);
  const b = e.book;
  const others = b.acct_equity_minor[0]! - b.pos_upnl_minor[0]! - (b.acct_mm_minor[0]! - b.pos_mm_minor[0]!);
  data.accountBase[0] = d - others;
  writeBook(e, data);
  e.computeAll(n, 1);
  expect(b.acct_status[0]! & 2, "account must not overflow").toBe(0);
}

describe.each(ENGINES)("$name engine: liquidation price", ({ create }) => {
  test("equals an exhaustive scan of the whole domain (small domains, random tiers), isolated and cross", () => {
    const r = new Prng(101);
    const outcomes = { exact: 0, null: 0 };
    for (let run = 0; run < 120; run++) {
      // |q|·k near 2^63 / domain: the whole tick domain [1, floor((2^63−1)/(|q|k))] is small.
      const domain = BigInt(r.int(50, 6000));
      const k = r.pick([1n, 100n, 10_000n, r.bigint(1n, 1000n)]);
      const absQ = (I64_MAX / domain / k) || 1n;
      const q = r.chance(0.5) ? absQ : -absQ;
      const a = absQ * k;
      const mMax = liquidationDomainMax(q, k);
      const entry = r.bigint(1n, mMax / 2n > 1n ? mMax / 2n : 1n);
      const ticks = Array.from({ length: r.int(0, MAX_TIERS - 1) }, () => r.bigint(1n, mMax));
      const tiers = tiersAtTicks(r, a, ticks, {
        monotone: r.chance(0.5),
        mmr: () => r.pick([0n, RATE, r.bigint(0n, RATE), r.bigint(0n, 5_000_000n)]),
        cumJitter: a * 100n,
      });
      tiers.push({ maxNotional: I64_MAX, mmr: r.bigint(0n, RATE), cum: tiers.length > 0 ? tiers[tiers.length - 1]!.cum : 0n });
      // X: anywhere from deep in debt to more than the whole notional (never liquidatable)
      const x = r.chance(0.2) ? r.bigint(a * entry, I64_MAX / 2n) : r.bigint(-a * entry, a * entry) / r.pick([1n, 2n, 10n, 100n]);
      const cross = r.chance(0.5);
      const others = cross ? otherCrossPositions(r, r.int(0, 3)) : { instruments: [], positions: [] };
      const data: BookData = {
        instruments: [{ mark: entry, k, tiers: tiers.slice(0, MAX_TIERS) }, ...others.instruments],
        accountBase: [0n],
        positions: [
          { q, cost: q * entry, margin: cross ? 0n : x, inst: 0, acct: 0, lev: 1, mode: cross ? MODE_CROSS : MODE_ISOLATED },
          ...others.positions,
        ],
      };
      const e = create();
      if (cross) placeCrossBase(e, data, x);
      else {
        writeBook(e, data);
        e.computeAll(data.positions.length, 1);
      }
      const outcome = checkAgainstBruteForce(e, data.positions.length, 0, 1n, mMax);
      expect(outcome).not.toBe("beyond-window");
      outcomes[outcome as "exact" | "null"]++;
    }
    expect(outcomes.exact).toBeGreaterThan(40);
    expect(outcomes.null).toBeGreaterThan(5);
  });

  test("realistic books (exchange tiers, several cross positions per account): scan around the mark", () => {
    const r = new Prng(202);
    const outcomes: Record<Outcome, number> = { exact: 0, "beyond-window": 0, null: 0 };
    for (let run = 0; run < 100; run++) {
      const mark = r.bigint(1_000n, 20_000n);
      const q = r.bigint(1n, 200_000n) * (r.chance(0.5) ? 1n : -1n);
      const lev = r.pick([1, 2, 5, 10, 20, 50, 100, 125]);
      const entry = mark + r.bigint(-mark / 20n, mark / 20n);
      const notional = (q < 0n ? -q : q) * entry * 100n;
      const im = divCeil(notional, BigInt(lev));
      const x = (im * r.bigint(50n, 300n)) / 100n; // margin between 0.5 and 3 × IM
      const cross = r.chance(0.5);
      const others = cross ? otherCrossPositions(r, r.int(1, 4)) : { instruments: [], positions: [] };
      const data: BookData = {
        instruments: [{ mark, k: 100n, tiers: exchangeTiers(USDT / 100n, r.int(1, MAX_TIERS)) }, ...others.instruments],
        accountBase: [0n],
        positions: [{ q, cost: q * entry, margin: x, inst: 0, acct: 0, lev, mode: cross ? MODE_CROSS : MODE_ISOLATED }, ...others.positions],
      };
      const e = create();
      if (cross) placeCrossBase(e, data, x);
      else {
        writeBook(e, data);
        e.computeAll(data.positions.length, 1);
      }
      outcomes[checkAgainstBruteForce(e, data.positions.length, 0, mark / 2n, mark * 2n)]++;
    }
    expect(outcomes.exact).toBeGreaterThan(60);
  });

  test("E = MM exactly at a tick is not liquidatable (strict <): the answer is the next tick out", () => {
    const r = new Prng(505);
    for (let run = 0; run < 200; run++) {
      // k = 100 and these rates make N·mmr/1e8 exact, so E(M*) = MM(M*) can be hit exactly.
      const k = 100n;
      const mmr = r.pick([0n, 1_000_000n, 500_000n, 2_000_000n, RATE]);
      const q = r.bigint(1n, 10_000n) * 2n * (r.chance(0.5) ? 1n : -1n);
      const entry = r.bigint(1_000n, 50_000n);
      const star = entry + r.bigint(-500n, 500n);
      const tiers: TierData[] = [{ maxNotional: I64_MAX, mmr, cum: 0n }];
      const nStar = (q < 0n ? -q : q) * star * k;
      const x = divCeil(nStar * mmr, RATE) - k * (q * star - q * entry); // E(M*) = MM(M*)
      const cross = r.chance(0.5);
      const data: BookData = {
        instruments: [{ mark: entry, k, tiers }],
        accountBase: [0n],
        positions: [{ q, cost: q * entry, margin: x, inst: 0, acct: 0, lev: 1, mode: cross ? MODE_CROSS : MODE_ISOLATED }],
      };
      const e = create();
      if (cross) placeCrossBase(e, data, x);
      else writeBook(e, data);
      const inp = liquidationInputsFromInputs(e.book, 1, 0)!;
      expect(isLiquidatableAt(inp, star)).toBe(false);
      // With mmr = 100% a long's E − MM = X − A·entry does not depend on M: here it is 0
      // everywhere, so never liquidatable.
      const flat = q > 0n && mmr === RATE;
      expect(checkAgainstBruteForce(e, 1, 0, star - 1000n, star + 1000n)).toBe(flat ? "null" : "exact");
      // within a single tier the predicate is monotone: the answer is M*'s neighbour on the loss side
      if (!flat) expect(e.liquidationPrice(0)).toBe(q > 0n ? star - 1n : star + 1n);
    }
  });

  test("liquidation prices on and next to tier boundaries (SPEC and arbitrary cum)", () => {
    const r = new Prng(303);
    let near = 0;
    for (let run = 0; run < 100; run++) {
      const mark = r.bigint(1_000n, 10_000n);
      const q = r.bigint(1n, 50_000n) * (r.chance(0.5) ? 1n : -1n);
      const absQ = q < 0n ? -q : q;
      const k = 100n;
      const a = absQ * k;
      const lev = r.pick([5, 10, 20, 50]);
      const margin = divCeil(absQ * mark * k, BigInt(lev));
      const cross = r.chance(0.4);
      const others = cross ? otherCrossPositions(r, r.int(1, 3)) : { instruments: [], positions: [] };
      // First find where it liquidates under one tier, then put tier boundaries right there.
      const probe: BookData = {
        instruments: [{ mark, k, tiers: [{ maxNotional: I64_MAX, mmr: 500_000n, cum: 0n }] }, ...others.instruments],
        accountBase: [0n],
        positions: [{ q, cost: q * mark, margin, inst: 0, acct: 0, lev, mode: cross ? MODE_CROSS : MODE_ISOLATED }, ...others.positions],
      };
      const e = create();
      if (cross) placeCrossBase(e, probe, margin);
      else writeBook(e, probe);
      e.computeAll(probe.positions.length, 1);
      const liq = e.liquidationPrice(0);
      if (liq === null) continue;
      const ticks = Array.from({ length: r.int(1, MAX_TIERS - 1) }, () => liq + r.bigint(-3n, 3n));
      // mmr close to the probe's 0.5% and small cum jitter keep the answer near the boundaries
      probe.instruments[0]!.tiers = tiersAtTicks(r, a, ticks, {
        monotone: r.chance(0.7),
        mmr: () => 500_000n + r.bigint(-2_000n, 2_000n),
        cumJitter: a * 3n,
      });
      if (cross) placeCrossBase(e, probe, margin);
      else writeBook(e, probe);
      e.computeAll(probe.positions.length, 1);
      const outcome = checkAgainstBruteForce(e, probe.positions.length, 0, liq - 2000n > 0n ? liq - 2000n : 1n, liq + 2000n);
      const got = e.liquidationPrice(0);
      if (outcome === "exact" && got !== null && got >= liq - 4n && got <= liq + 4n) near++;
    }
    expect(near).toBeGreaterThan(30);
  });
});

describe.each(ENGINES)("$name engine: bankruptcy price", ({ create }) => {
  test("(kC − m)/(kq) rounded up for a long, down for a short; E changes sign there", () => {
    const r = new Prng(404);
    let positive = 0;
    for (let run = 0; run < 3000; run++) {
      // |q|·entry·k <= 10^18 keeps cost and margin inside i64
      const k = r.pick([1n, 100n, 10_000n, r.bigint(1n, 10n ** 6n)]);
      const q = r.bigint(1n, r.pick([10n, 10n ** 3n, 10n ** 6n])) * (r.chance(0.5) ? 1n : -1n);
      const entry = r.bigint(1n, r.pick([100n, 10n ** 3n, 10n ** 6n]));
      const cost = q * entry + r.bigint(-1000n, 1000n);
      const margin = r.chance(0.1) ? r.bigint(-(10n ** 12n), 0n) : r.bigint(0n, (q < 0n ? -q : q) * entry * k * 2n);
      const data: BookData = {
        instruments: [{ mark: entry, k, tiers: [{ maxNotional: I64_MAX, mmr: 0n, cum: 0n }] }],
        accountBase: [0n],
        positions: [{ q, cost, margin, inst: 0, acct: 0, lev: 1, mode: MODE_ISOLATED }],
      };
      const e = create();
      writeBook(e, data);
      const got = e.bankruptcyPrice(0);
      // direct formula
      const exact = q > 0n ? divCeil(k * cost - margin, k * q) : divFloor(margin - k * cost, -k * q);
      expect(got, describePosition(e.book, 0)).toBe(exact > 0n ? exact : null);
      // the rule: E(M) = m + k(qM − C) is >= 0 at the returned tick, < 0 one tick further into the loss
      const equity = (m: bigint): bigint => margin + k * (q * m - cost);
      if (got !== null) {
        positive++;
        expect(equity(got) >= 0n).toBe(true);
        expect(equity(q > 0n ? got - 1n : got + 1n) < 0n).toBe(true);
      } else if (q > 0n) {
        expect(equity(1n) >= 0n).toBe(true); // solvent at every positive tick
      } else {
        expect(equity(1n) < 0n).toBe(true); // bankrupt already at tick 1
      }
    }
    expect(positive).toBeGreaterThan(1000);
  });

  test("wide values: kC beyond i64 still gives the exact price", () => {
    const q = 3n;
    const k = 1n << 40n;
    const cost = I64_MAX; // k·C ≈ 2^103
    const margin = -7n;
    const e = create();
    writeBook(e, {
      instruments: [{ mark: 1n, k, tiers: [{ maxNotional: I64_MAX, mmr: 0n, cum: 0n }] }],
      accountBase: [0n],
      positions: [{ q, cost, margin, inst: 0, acct: 0, lev: 1, mode: MODE_ISOLATED }],
    });
    expect(e.bankruptcyPrice(0)).toBe(divCeil(k * cost - margin, k * q));
  });
});
