// Differential: the WASM kernel must equal the BigInt reference on every output, status bit,
// return value and price, for every input — including the overflow edges.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, type MarginEngine } from "../../src/margin/engine.js";
import { createKernelMarginEngine } from "../../src/margin/kernel.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { I64_MAX, I64_MIN } from "../../src/numbers/int.js";
import { Prng } from "../../src/util/prng.js";
import { describePosition, firstOutputDifference, randomBook, writeBook, type BookData } from "./helpers.js";

const BATCHES = 40;

function expectSameOutputs(kernel: MarginEngine, ref: MarginEngine, d: BookData, context: string): void {
  const diff = firstOutputDifference(kernel.book, ref.book, d.positions.length, d.accountBase.length);
  if (diff !== null) {
    const m = /^pos_\w+\[(\d+)\]/.exec(diff);
    const detail = m !== null ? describePosition(ref.book, Number(m[1])) : "";
    expect.fail(`${context}: ${diff}\n${detail}`);
  }
}

function expectSamePrices(kernel: MarginEngine, ref: MarginEngine, nPos: number, context: string): number {
  let compared = 0;
  for (let p = 0; p < nPos; p++) {
    const kl = kernel.liquidationPrice(p);
    const rl = ref.liquidationPrice(p);
    const kb = kernel.bankruptcyPrice(p);
    const rb = ref.bankruptcyPrice(p);
    if (kl !== rl || kb !== rb) {
      expect.fail(`${context}: prices of ${describePosition(ref.book, p)}: liquidation ${kl} vs ${rl}, bankruptcy ${kb} vs ${rb}`);
    }
    if (rl !== null) compared++;
  }
  return compared;
}

/** Random distinct positions (a partial Fisher–Yates shuffle). */
function randomList(r: Prng, n: number, count: number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, j) => j);
  for (let j = 0; j < count; j++) {
    const s = r.int(j, n - 1);
    const t = all[j]!;
    all[j] = all[s]!;
    all[s] = t;
  }
  return all;
}

describe("kernel vs reference", () => {
  test(`randomized books (${BATCHES} batches, >= 100k positions): computeAll, computeList, prices`, () => {
    let positions = 0;
    let liquidationPrices = 0;
    let overflowed = 0;
    let liquidatable = 0;
    for (let seed = 1; seed <= BATCHES; seed++) {
      const r = new Prng(seed);
      const n = r.int(1500, 4500);
      const d = randomBook(r, {
        positions: n,
        instruments: r.int(1, 64),
        accounts: Math.max(1, Math.floor(n / r.int(1, 6))),
        edgy: r.pick([0.05, 0.3, 0.8]),
      });
      const kernel = createKernelMarginEngine();
      const ref = createReferenceMarginEngine();
      writeBook(kernel, d);
      writeBook(ref, d);
      const nAcct = d.accountBase.length;

      const kn = kernel.computeAll(n, nAcct);
      const rn = ref.computeAll(n, nAcct);
      expect(kn, `seed ${seed}: liquidatable count`).toBe(rn);
      expectSameOutputs(kernel, ref, d, `seed ${seed} computeAll`);
      liquidationPrices += expectSamePrices(kernel, ref, n, `seed ${seed}`);
      positions += n;
      liquidatable += rn;
      for (let p = 0; p < n; p++) if (ref.book.pos_status[p]! & 2) overflowed++;

      // computeList after changing some inputs: marks, bases, quantities.
      for (let round = 0; round < 3; round++) {
        for (let c = r.int(0, 5); c > 0; c--) {
          const i = r.int(0, d.instruments.length - 1);
          const mark = r.bigint(0n, d.instruments[i]!.mark < I64_MAX / 2n ? d.instruments[i]!.mark * 2n + 10n : I64_MAX);
          kernel.book.inst_mark_ticks[i] = mark;
          ref.book.inst_mark_ticks[i] = mark;
        }
        for (let c = r.int(0, 20); c > 0; c--) {
          const a = r.int(0, nAcct - 1);
          const base = r.bigint(-(10n ** 12n), 10n ** 12n);
          kernel.book.acct_base_minor[a] = base;
          ref.book.acct_base_minor[a] = base;
          const p = r.int(0, n - 1);
          const q = -ref.book.pos_qty_lots[p]!;
          kernel.book.pos_qty_lots[p] = q;
          ref.book.pos_qty_lots[p] = q;
        }
        const list = randomList(r, n, r.int(0, n));
        const count = r.int(0, n);
        const kl = kernel.computeList(list, count);
        const rl = ref.computeList(list, count);
        expect(kl, `seed ${seed} computeList round ${round}: count`).toBe(rl);
        expectSameOutputs(kernel, ref, d, `seed ${seed} computeList round ${round}`);
        positions += count;
      }
      expectSamePrices(kernel, ref, n, `seed ${seed} after computeList`);
    }
    expect(positions).toBeGreaterThanOrEqual(100_000);
    // the generator reaches every regime it is meant to
    expect(overflowed).toBeGreaterThan(1000);
    expect(liquidatable).toBeGreaterThan(1000);
    expect(liquidationPrices).toBeGreaterThan(10_000);
  });

  test("bad inputs: both engines throw the same RangeError", () => {
    const r = new Prng(7);
    let thrown = 0;
    for (let run = 0; run < 600; run++) {
      const n = r.int(1, 30);
      const d = randomBook(r, { positions: n, instruments: r.int(1, 4), accounts: r.int(1, 5), edgy: 0.3 });
      // spoil one input
      const p = d.positions[r.int(0, n - 1)]!;
      const inst = d.instruments[r.int(0, d.instruments.length - 1)]!;
      switch (r.int(0, 7)) {
        case 0:
          p.inst = r.pick([-1, d.instruments.length + 100]);
          break;
        case 1:
          p.acct = r.pick([-1, d.accountBase.length]);
          break;
        case 2:
          p.mode = r.pick([-1, 2, 7]);
          break;
        case 3:
          p.lev = r.pick([0, -5]);
          break;
        case 4:
          inst.k = r.pick([0n, -1n, I64_MIN]);
          break;
        case 5:
          inst.mark = r.pick([-1n, I64_MIN]);
          break;
        case 6:
          // 0 or MAX_TIERS + 1 tiers (writeBook stores the count and the first MAX_TIERS)
          inst.tiers = r.chance(0.5) ? [] : Array.from({ length: MAX_TIERS + 1 }, () => ({ maxNotional: 0n, mmr: 0n, cum: 0n }));
          break;
        default:
          // some tiers only: positions selecting a valid tier are fine
          inst.tiers = inst.tiers.map((t) => (r.chance(0.5) ? { ...t, mmr: r.pick([-1n, 100_000_001n, I64_MAX]) } : t));
          break;
      }
      const outcome = (e: MarginEngine): string => {
        writeBook(e, d);
        const results: string[] = [];
        const attempt = (f: () => unknown, valueMatters = true): boolean => {
          try {
            const v = f();
            results.push(valueMatters ? String(v) : "ok");
            return true;
          } catch (err) {
            if (!(err instanceof RangeError)) throw err;
            results.push(`RangeError: ${err.message}`);
            thrown++;
            return false;
          }
        };
        attempt(() => e.computeAll(n, d.accountBase.length));
        // (computeList checks accounts against the capacity, so it may succeed where computeAll failed)
        const computed = attempt(() => e.computeList(Int32Array.from({ length: n }, (_, j) => n - 1 - j), n));
        for (let j = 0; j < n; j++) {
          // a cross position's price reads the account outputs, unspecified after a failed compute
          attempt(() => e.liquidationPrice(j), computed || d.positions[j]!.mode === MODE_ISOLATED);
          attempt(() => e.bankruptcyPrice(j));
        }
        return results.join("\n");
      };
      expect(outcome(createKernelMarginEngine()), `run ${run}`).toBe(outcome(createReferenceMarginEngine()));
    }
    expect(thrown).toBeGreaterThan(300);
  });

  test("property (fast-check): one instrument, two positions, arbitrary i64 inputs", () => {
    const kernel = createKernelMarginEngine();
    const ref = createReferenceMarginEngine();
    const i64 = fc.oneof(fc.bigInt({ min: I64_MIN, max: I64_MAX }), fc.bigInt({ min: -(10n ** 9n), max: 10n ** 9n }));
    const nonNeg = fc.oneof(fc.bigInt({ min: 0n, max: I64_MAX }), fc.bigInt({ min: 0n, max: 10n ** 6n }));
    const tier = fc.record({ maxNotional: i64, mmr: fc.bigInt({ min: 0n, max: 100_000_000n }), cum: i64 });
    const position = fc.record({
      q: i64,
      cost: i64,
      margin: i64,
      lev: fc.integer({ min: 1, max: 0x7fffffff }),
      mode: fc.constantFrom(MODE_CROSS, MODE_ISOLATED),
    });
    fc.assert(
      fc.property(
        nonNeg,
        fc.oneof(fc.bigInt({ min: 1n, max: I64_MAX }), fc.bigInt({ min: 1n, max: 10n ** 4n })),
        fc.array(tier, { minLength: 1, maxLength: MAX_TIERS }),
        i64,
        position,
        position,
        (mark, k, tiers, base, p0, p1) => {
          const d: BookData = {
            instruments: [{ mark, k, tiers }],
            accountBase: [base],
            positions: [
              { ...p0, inst: 0, acct: 0 },
              { ...p1, inst: 0, acct: 0 },
            ],
          };
          writeBook(kernel, d);
          writeBook(ref, d);
          expect(kernel.computeAll(2, 1)).toBe(ref.computeAll(2, 1));
          expectSameOutputs(kernel, ref, d, "computeAll");
          expectSamePrices(kernel, ref, 2, "prices");
          expect(kernel.computeList(Int32Array.of(1), 1)).toBe(ref.computeList(Int32Array.of(1), 1));
          expectSameOutputs(kernel, ref, d, "computeList");
        },
      ),
      { seed: 20240611, numRuns: 4000 },
    );
  });
});
