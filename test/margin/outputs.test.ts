// Compact outputs (summary, result lists, margin-call latches), OUTPUTS_FLAGS, and the kernel's
// fast path at its edges: both engines must agree bit for bit, and the kernel must take the
// path the bounds say (checkedPositions()).
import { describe, expect, test } from "vitest";
import {
  ACCT_CALL_ZONE,
  ACCT_HAS_CROSS,
  ACCT_LIQUIDATABLE,
  MODE_CROSS,
  MODE_ISOLATED,
  OUTPUTS_FLAGS,
  OUTPUTS_FULL,
  POS_CALL_ZONE,
  POS_LIQUIDATABLE,
  POS_OVERFLOW,
  SUMMARY_LENGTH,
  readSummary,
  type MarginEngine,
  type Outputs,
} from "../../src/margin/engine.js";
import { createKernelMarginEngine, type KernelMarginEngine } from "../../src/margin/kernel.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { I64_MAX, I64_MIN } from "../../src/numbers/int.js";
import { Prng } from "../../src/util/prng.js";
import {
  RATE,
  STATUS_FIELDS,
  describePosition,
  exchangeTiers,
  firstOutputDifference,
  randomBook,
  withSpecCums,
  writeBook,
  type BookData,
  type PositionData,
} from "./helpers.js";

const L = 1n << 58n; // assembly/index.ts FAST_LIMIT

function engines(): { kernel: KernelMarginEngine; ref: MarginEngine } {
  return { kernel: createKernelMarginEngine(), ref: createReferenceMarginEngine() };
}

function expectSame(kernel: MarginEngine, ref: MarginEngine, d: BookData, context: string, only?: readonly string[]): void {
  const diff = firstOutputDifference(kernel.book, ref.book, d.positions.length, d.accountBase.length, only);
  if (diff !== null) {
    const m = /^pos_\w+\[(\d+)\]/.exec(diff);
    expect.fail(`${context}: ${diff}\n${m !== null ? describePosition(ref.book, Number(m[1])) : ""}`);
  }
}

/** computeAll then computeList over every position in reverse, on both engines, compared. */
function runBoth(d: BookData, context: string, outputs: Outputs = OUTPUTS_FULL): { kernel: KernelMarginEngine; ref: MarginEngine } {
  const { kernel, ref } = engines();
  writeBook(kernel, d);
  writeBook(ref, d);
  const n = d.positions.length;
  const nAcct = d.accountBase.length;
  expect(kernel.computeAll(n, nAcct, outputs), `${context}: computeAll`).toBe(ref.computeAll(n, nAcct));
  expectSame(kernel, ref, d, `${context} computeAll`, outputs === OUTPUTS_FLAGS ? STATUS_FIELDS : undefined);
  const list = Int32Array.from({ length: n }, (_, j) => n - 1 - j);
  expect(kernel.computeList(list, n, outputs), `${context}: computeList`).toBe(ref.computeList(list, n));
  expectSame(kernel, ref, d, `${context} computeList`, outputs === OUTPUTS_FLAGS ? STATUS_FIELDS : undefined);
  return { kernel, ref };
}

/** One instrument, simple tiers (0.5% to 50k, then 1%), mark 50_000 ticks, k = 1. */
function oneInstrument(positions: PositionData[], accountBase: bigint[], accountLatch?: number[]): BookData {
  const tiers = withSpecCums([
    { maxNotional: 50_000n * 100_000n, mmr: 500_000n },
    { maxNotional: 500_000n * 100_000n, mmr: 1_000_000n },
  ]);
  return { instruments: [{ mark: 50_000n, k: 1n, tiers }], accountBase, positions, ...(accountLatch ? { accountLatch } : {}) };
}

function iso(q: bigint, margin: bigint, acct: number, latch = 0): PositionData {
  return { q, cost: q * 50_000n, margin, inst: 0, acct, lev: 10, mode: MODE_ISOLATED, latch };
}

function cross(q: bigint, acct: number, latch = 0): PositionData {
  return { q, cost: q * 50_000n, margin: 0n, inst: 0, acct, lev: 10, mode: MODE_CROSS, latch };
}

describe("compact outputs", () => {
  test("summary, lists and zone changes against the latches (hand-made book, both engines)", () => {
    // q = 100 at 50_000, k = 1: N = 5_000_000, tier 0 (0.5%): MM = 25_000, zone: E <= 31_250.
    const d = oneInstrument(
      [
        iso(100n, 20_000n, 0), // 0: liquidatable and in zone, latch 0 → zone change
        iso(100n, 30_000n, 0, 1), // 1: in zone (not liquidatable), latched → no change
        iso(100n, 40_000n, 0, 1), // 2: out of zone, latched → change (re-arm)
        cross(100n, 1, 1), // 3: a cross position is never in zone; latched → change
        iso(0n, 0n, 0, 1), // 4: q = 0 is out of zone; latched → change
        iso(-100n, 60_000n, 0), // 5: short, out of zone, latch 0 → no change
        cross(100n, 2), // 6: account 2, in zone (base below)
        cross(-100n, 3), // 7: account 3, safe
        iso(1n << 62n, 0n, 0, 1), // 8: overflows (|q|·M·k > i64), latched → change
      ],
      // account 0: isolated positions only; 1: cross, safe; 2: cross, liquidatable; 3: safe;
      // 4: no positions at all
      [0n, 10n ** 9n, 20_000n, 10n ** 9n, 5n],
      [1, 0, 0, 0, 1], // account 0 latched without cross positions → change; 4 likewise
    );
    for (const e of [createKernelMarginEngine(), createReferenceMarginEngine()]) {
      writeBook(e, d);
      const b = e.book;
      expect(e.computeAll(9, 5), e.name).toBe(2); // position 0 and account 2
      expect(b.pos_status[0]).toBe(POS_LIQUIDATABLE | POS_CALL_ZONE);
      expect(b.pos_status[1]).toBe(POS_CALL_ZONE);
      expect(b.pos_status[8]).toBe(POS_OVERFLOW);
      expect(b.acct_status[2]).toBe(ACCT_HAS_CROSS | ACCT_LIQUIDATABLE | ACCT_CALL_ZONE);
      expect(readSummary(b), e.name).toEqual({
        positions: 9,
        accounts: 5,
        liquidatablePositions: 1,
        liquidatableAccounts: 1,
        overflowPositions: 1,
        overflowAccounts: 0,
        zoneChangedPositions: 5,
        zoneChangedAccounts: 3,
      });
      expect([...b.list_liq_positions.subarray(0, 1)]).toEqual([0]);
      expect([...b.list_liq_accounts.subarray(0, 1)]).toEqual([2]);
      expect([...b.list_zone_positions.subarray(0, 5)]).toEqual([0, 2, 3, 4, 8]);
      expect([...b.list_zone_accounts.subarray(0, 3)]).toEqual([0, 2, 4]);
      expect([...b.summary.subarray(8)]).toEqual(new Array(SUMMARY_LENGTH - 8).fill(0));

      // computeList: positions in list order, accounts in order of first appearance; account 4
      // (no listed position) is not computed.
      expect(e.computeList(Int32Array.of(6, 2, 0, 3), 4), e.name).toBe(2);
      expect(readSummary(b)).toMatchObject({ positions: 4, accounts: 3, zoneChangedPositions: 3, zoneChangedAccounts: 2 });
      expect([...b.list_zone_positions.subarray(0, 3)]).toEqual([2, 0, 3]);
      expect([...b.list_zone_accounts.subarray(0, 2)]).toEqual([2, 0]);
      expect([...b.list_liq_accounts.subarray(0, 1)]).toEqual([2]);

      // the latches follow the zone: no changes left
      b.pos_call_latch.fill(0);
      b.acct_call_latch.fill(0);
      for (const p of [0, 1]) b.pos_call_latch[p] = 1;
      b.acct_call_latch[2] = 1;
      e.computeAll(8, 5, OUTPUTS_FLAGS);
      expect(readSummary(b)).toMatchObject({ zoneChangedPositions: 0, zoneChangedAccounts: 0 });
    }
  });

  test("overflowed accounts are counted, and out of zone", () => {
    // account 0: E = 0 < MM = 250 (liquidatable, in zone, latch 0 → change);
    // account 1: E = i64 max + 50_000 overflows (out of zone, latched → change)
    const d = oneInstrument([cross(1n, 0), { ...cross(1n, 1), cost: 0n }], [0n, I64_MAX], [0, 1]);
    const { kernel, ref } = runBoth(d, "overflow");
    for (const e of [kernel, ref]) {
      expect(readSummary(e.book), e.name).toMatchObject({ liquidatableAccounts: 1, overflowAccounts: 1, zoneChangedAccounts: 2 });
    }
  });

  test("OUTPUTS_FLAGS: statuses, summary and lists equal a FULL compute (randomized books)", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = new Prng(1000 + seed);
      const n = r.int(200, 1500);
      const d = randomBook(r, { positions: n, instruments: r.int(1, 16), accounts: Math.max(1, n >> r.int(0, 3)), edgy: r.pick([0.05, 0.5]) });
      runBoth(d, `flags seed ${seed}`, OUTPUTS_FLAGS);
    }
  });

  test("a FULL compute after a FLAGS one fills every figure", () => {
    const d = randomBook(new Prng(77), { positions: 800, instruments: 5, accounts: 200, edgy: 0.3 });
    const { kernel, ref } = engines();
    writeBook(kernel, d);
    writeBook(ref, d);
    kernel.computeAll(800, 200, OUTPUTS_FLAGS);
    const list = Int32Array.from({ length: 800 }, (_, j) => j);
    expect(kernel.computeList(list, 800)).toBe(ref.computeList(list, 800));
    expectSame(kernel, ref, d, "full after flags");
  });

  test("the outputs argument is validated the same way", () => {
    for (const e of [createKernelMarginEngine(), createReferenceMarginEngine()]) {
      expect(() => e.computeAll(0, 0, 2 as Outputs)).toThrow(new RangeError("outputs must be OUTPUTS_FULL or OUTPUTS_FLAGS, got 2"));
      expect(() => e.computeList(new Int32Array(0), 0, -1 as Outputs)).toThrow(RangeError);
    }
  });

  test("ensureCapacity keeps the latches (inputs)", () => {
    for (const e of [createKernelMarginEngine(), createReferenceMarginEngine()]) {
      e.book.pos_call_latch[5] = 1;
      e.book.acct_call_latch[7] = 1;
      e.ensureCapacity({ positions: 5000, accounts: 3000, instruments: 40 });
      expect(e.book.pos_call_latch[5]).toBe(1);
      expect(e.book.acct_call_latch[7]).toBe(1);
      expect(e.book.pos_call_latch.length).toBeGreaterThanOrEqual(5000);
    }
  });
});

describe("kernel fast path at its bounds", () => {
  /**
   * An instrument with mark M and k, SPEC tiers, and positions at, just inside and just outside
   * each fast-path bound: |q| vs floor(L/(M·k)), |C| vs floor(L/k), |m| vs L.
   */
  function boundsBook(mark: bigint, k: bigint): { d: BookData; fast: boolean[] } {
    const tiers = exchangeTiers(10_000n, 4);
    const qmax = mark === 0n ? I64_MAX : L / (mark * k);
    const cmax = L / k;
    const positions: PositionData[] = [];
    const fast: boolean[] = [];
    const add = (q: bigint, cost: bigint, margin: bigint, mode: number, isFast: boolean): void => {
      positions.push({ q, cost, margin, inst: 0, acct: positions.length % 3, lev: 7, mode });
      fast.push(isFast);
    };
    for (const sign of [1n, -1n]) {
      for (const mode of [MODE_CROSS, MODE_ISOLATED]) {
        const q0 = sign * (qmax < I64_MAX ? qmax : I64_MAX);
        add(q0, 0n, 0n, mode, true);
        if (qmax < I64_MAX) add(sign * (qmax + 1n), 0n, 0n, mode, false);
        add(1n, sign * cmax, 0n, mode, true);
        add(1n, sign * (cmax + 1n), 0n, mode, false);
        add(1n, 0n, sign * L, mode, true);
        // the margin bound only applies to isolated positions
        add(1n, 0n, sign * (L + 1n), mode, mode === MODE_CROSS);
      }
    }
    add(I64_MIN, 0n, 0n, MODE_CROSS, false); // |i64 min| is beyond every bound
    return { d: { instruments: [{ mark, k, tiers }], accountBase: [0n, 10n ** 12n, -(10n ** 12n)], positions }, fast };
  }

  function checkPaths(kernel: KernelMarginEngine, fast: boolean[], context: string): void {
    for (let p = 0; p < fast.length; p++) {
      kernel.computeList(Int32Array.of(p), 1);
      expect(kernel.checkedPositions(), `${context}: position ${p} ${describePosition(kernel.book, p)}`).toBe(fast[p] ? 0 : 1);
    }
  }

  test.each([
    [50_000n, 1n],
    [50_000n, 1000n],
    [1n, 1n],
    [0n, 7n],
    [L / 3n, 3n], // M·k just below L
  ])("mark %s, k %s: positions at the bounds take the expected path, same outputs", (mark, k) => {
    const { d, fast } = boundsBook(mark, k);
    const { kernel } = runBoth(d, `M ${mark} k ${k}`);
    checkPaths(kernel, fast, `M ${mark} k ${k}`);
  });

  test("instrument-level bounds: M·k above 2^58, |cum| above 2^58, unsorted maxima, a bad rate", () => {
    const base = exchangeTiers(10_000n, 4);
    const variants: { name: string; mark: bigint; k: bigint; tiers: typeof base; fast: boolean }[] = [
      { name: "M·k = L", mark: L / 4n, k: 4n, tiers: base, fast: true },
      { name: "M·k = L + 4", mark: L / 4n + 1n, k: 4n, tiers: base, fast: false },
      { name: "cum = L", mark: 1000n, k: 1n, tiers: base.map((t, j) => (j === 2 ? { ...t, cum: L } : t)), fast: true },
      { name: "cum = −L − 1", mark: 1000n, k: 1n, tiers: base.map((t, j) => (j === 2 ? { ...t, cum: -L - 1n } : t)), fast: false },
      { name: "unsorted", mark: 1000n, k: 1n, tiers: [base[1]!, base[0]!, base[2]!, base[3]!], fast: false },
      // the last tier's maximum is never compared: unsorted there is still fast
      { name: "last max unsorted", mark: 1000n, k: 1n, tiers: [...base.slice(0, 3), { ...base[3]!, maxNotional: 0n }], fast: true },
      { name: "mmr 1e8 + 1 (unselected)", mark: 1000n, k: 1n, tiers: [...base.slice(0, 3), { ...base[3]!, mmr: RATE + 1n }], fast: false },
    ];
    for (const v of variants) {
      const d: BookData = {
        instruments: [{ mark: v.mark, k: v.k, tiers: v.tiers }],
        accountBase: [0n],
        positions: [{ q: 1n, cost: 0n, margin: 5n, inst: 0, acct: 0, lev: 2, mode: MODE_ISOLATED }],
      };
      const { kernel } = runBoth(d, v.name);
      expect(kernel.checkedPositions(), v.name).toBe(v.fast ? 0 : 1);
    }
  });

  test("tier edges and margin thresholds on the fast path: N = max ± 1, E − MM and 4E − 5MM in {−1, 0, 1}", () => {
    const tiers = exchangeTiers(1n, 8); // maxNotional 50_000 … 200_000_000 minor units
    const positions: PositionData[] = [];
    const accountBase: bigint[] = [];
    for (const [t, tier] of tiers.slice(0, 7).entries()) {
      for (const dn of [-1n, 0n, 1n]) {
        const n = tier.maxNotional + dn; // k = 1, M = 1: N = |q|
        // MM at N with the tier N selects
        const sel = dn <= 0n ? tier : tiers[t + 1]!;
        const mm = (n * sel.mmr + RATE - 1n) / RATE - sel.cum;
        for (const de of [-1n, 0n, 1n]) {
          // isolated: E = m (cost = q·M so U = 0) at MM + de, and at the margin-call edge
          positions.push({ q: n, cost: n, margin: mm + de, inst: 0, acct: 0, lev: 3, mode: MODE_ISOLATED });
          positions.push({ q: -n, cost: -n, margin: (5n * mm) / 4n + de, inst: 0, acct: 0, lev: 3, mode: MODE_ISOLATED });
          // cross: one position per account, base at the threshold
          accountBase.push(mm + de);
          positions.push({ q: n, cost: n, margin: 0n, inst: 0, acct: accountBase.length - 1, lev: 3, mode: MODE_CROSS });
          accountBase.push((5n * mm) / 4n + de);
          positions.push({ q: -n, cost: -n, margin: 0n, inst: 0, acct: accountBase.length - 1, lev: 3, mode: MODE_CROSS });
        }
      }
    }
    const d: BookData = { instruments: [{ mark: 1n, k: 1n, tiers }], accountBase, positions };
    const { kernel, ref } = runBoth(d, "tier edges");
    expect(kernel.checkedPositions()).toBe(0);
    const b = ref.book;
    let liq = 0;
    let zone = 0;
    for (let p = 0; p < positions.length; p++) {
      liq += b.pos_status[p]! & POS_LIQUIDATABLE;
      zone += (b.pos_status[p]! & POS_CALL_ZONE) >> 2;
    }
    // both sides of both thresholds occur
    expect(liq).toBeGreaterThan(20);
    expect(liq).toBeLessThan(positions.length / 2);
    expect(zone).toBeGreaterThan(liq);
  });

  test("the call counter wraps: stamps are cleared and results stay exact", () => {
    const d = randomBook(new Prng(5), { positions: 600, instruments: 4, accounts: 150, edgy: 0.2 });
    const { kernel, ref } = engines();
    writeBook(kernel, d);
    writeBook(ref, d);
    expect(kernel.computeAll(600, 150)).toBe(ref.computeAll(600, 150));
    kernel.epochForTest(0xffffffff - 3);
    const r = new Prng(6);
    for (let round = 0; round < 8; round++) {
      const count = r.int(1, 600);
      const list = Int32Array.from({ length: 600 }, (_, j) => j).sort(() => r.int(-1, 1));
      expect(kernel.computeList(list, count), `round ${round}`).toBe(ref.computeList(list, count));
      expectSame(kernel, ref, d, `wrap round ${round} (epoch ${kernel.epochForTest()})`);
    }
    expect(kernel.epochForTest()).toBeLessThan(10);
  });

  test("duplicates in ascending, descending and mixed lists (the kernel skips stamps while a list ascends)", () => {
    const n = 400;
    const d = randomBook(new Prng(21), { positions: n, instruments: 2, accounts: 90, edgy: 0 });
    const asc = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, j) => from + j);
    const lists: number[][] = [
      [0, 1, 1],
      [0, 1, 2, 0],
      [5, 3, 3],
      [3, 5, 4, 5],
      [...asc(0, 127), 126], // adjacent duplicate at the end of the first chunk
      [...asc(0, 128), 127], // … at the start of the second chunk
      [...asc(0, 300), 299, 5],
      [...asc(10, 300), 3, ...asc(301, 350), 3],
      [...asc(0, 200), ...asc(150, 160)],
      [...asc(0, 399), 399], // ascending, no duplicate
      [399, ...asc(0, 399)], // one descent, no duplicate
    ];
    for (const list of lists) {
      const outcome = (e: MarginEngine): string => {
        writeBook(e, d);
        try {
          return String(e.computeList(Int32Array.from(list), list.length));
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          return `RangeError: ${err.message}`;
        }
      };
      const ref = outcome(createReferenceMarginEngine());
      expect(outcome(createKernelMarginEngine()), `list ${list.slice(0, 8).join(",")}… (${list.length})`).toBe(ref);
    }
  });

  test("long lists (many chunks): a list error after a position error wins, as in the reference", () => {
    const r = new Prng(11);
    for (let run = 0; run < 60; run++) {
      const n = r.int(300, 900);
      const d = randomBook(r, { positions: n, instruments: 3, accounts: 50, edgy: 0.1 });
      const list = Int32Array.from({ length: n }, (_, j) => j);
      const at = r.int(0, n - 1);
      const later = r.int(at, n - 1);
      switch (r.int(0, 4)) {
        case 0:
          d.positions[list[at]!]!.lev = 0;
          break;
        case 1:
          d.instruments[d.positions[list[at]!]!.inst]!.k = 0n;
          break;
        case 2:
          d.positions[list[at]!]!.mode = 5;
          break;
        default:
          break;
      }
      switch (r.int(0, 3)) {
        case 0:
          list[later] = list[r.int(0, later)]!; // a duplicate (or itself: fine only if later is its first place)
          break;
        case 1:
          list[later] = n + 5;
          break;
        case 2:
          d.positions[list[later]!]!.acct = 9999;
          break;
        default:
          break;
      }
      const outputs = r.chance(0.5) ? OUTPUTS_FULL : OUTPUTS_FLAGS;
      const outcome = (e: MarginEngine): string => {
        writeBook(e, d);
        try {
          return String(e.computeList(list, n, outputs));
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          return `RangeError: ${err.message}`;
        }
      };
      expect(outcome(createKernelMarginEngine()), `run ${run}`).toBe(outcome(createReferenceMarginEngine()));
    }
  });
});
