// The margin engine contract (SPEC §3), as one suite run against both engines.
import { describe, expect, test } from "vitest";
import {
  ACCT_CALL_ZONE,
  ACCT_HAS_CROSS,
  ACCT_LIQUIDATABLE,
  ACCT_OVERFLOW,
  MAX_TIERS,
  MODE_CROSS,
  MODE_ISOLATED,
  POS_CALL_ZONE,
  POS_LIQUIDATABLE,
  POS_OVERFLOW,
  type MarginEngine,
} from "../../src/margin/engine.js";
import { I64_MAX, I64_MIN } from "../../src/numbers/int.js";
import { ENGINES, specCums, writeBook, type BookData, type PositionData, type TierData } from "./helpers.js";

// SPEC worked example: tick 0.1, lot 0.001, USDT with 6 decimals → k = 0.1 × 0.001 × 10^6 = 100.
const USDT = 1_000_000n; // minor units per USDT
const K = 100n;
const SPEC_TIERS: TierData[] = (() => {
  const tiers = [
    { maxNotional: 50_000n * USDT, mmr: 400_000n }, // 0.004
    { maxNotional: 250_000n * USDT, mmr: 500_000n }, // 0.005
  ];
  const cums = specCums(tiers);
  return tiers.map((t, n) => ({ ...t, cum: cums[n]! }));
})();

function btcLong(over: Partial<PositionData> = {}): PositionData {
  // 1 BTC = 1000 lots bought at 50000.0 = 500000 ticks, isolated with 2500 USDT, leverage 20.
  return { q: 1000n, cost: 1000n * 500_000n, margin: 2500n * USDT, inst: 0, acct: 0, lev: 20, mode: MODE_ISOLATED, ...over };
}

function book(positions: PositionData[], opts: { mark?: bigint; bases?: bigint[]; tiers?: TierData[] } = {}): BookData {
  return {
    instruments: [{ mark: opts.mark ?? 500_000n, k: K, tiers: opts.tiers ?? SPEC_TIERS }],
    accountBase: opts.bases ?? [0n],
    positions,
  };
}

function setup(create: () => MarginEngine, d: BookData): MarginEngine {
  const e = create();
  writeBook(e, d);
  return e;
}

function computeAll(e: MarginEngine, d: BookData): number {
  return e.computeAll(d.positions.length, d.accountBase.length);
}

describe.each(ENGINES)("$name engine", ({ create }) => {
  describe("SPEC §3 worked example (isolated long 1 BTC at 50000.0, 2500 USDT, 20x)", () => {
    const d = book([btcLong()]);

    test("tier cum per SPEC: cum_1 = floor(50000 USDT × (0.005 − 0.004)) = 50 USDT", () => {
      expect(SPEC_TIERS.map((t) => t.cum)).toEqual([0n, 50n * USDT]);
    });

    test("figures at mark 50000.0: N = 50000 USDT (tier 0, at its bound), MM = 200, IM = 2500 USDT", () => {
      const e = setup(create, d);
      expect(computeAll(e, d)).toBe(0);
      const b = e.book;
      expect(b.pos_notional_minor[0]).toBe(50_000n * USDT);
      expect(b.pos_tier[0]).toBe(0);
      expect(b.pos_mm_minor[0]).toBe(200n * USDT);
      expect(b.pos_im_minor[0]).toBe(2500n * USDT);
      expect(b.pos_upnl_minor[0]).toBe(0n);
      expect(b.pos_equity_minor[0]).toBe(2500n * USDT);
      expect(b.pos_status[0]).toBe(0);
    });

    test("liquidation price 47690.7 (476907 ticks), bankruptcy price 47500.0 (475000 ticks)", () => {
      const e = setup(create, d);
      computeAll(e, d);
      expect(e.liquidationPrice(0)).toBe(476_907n);
      expect(e.bankruptcyPrice(0)).toBe(475_000n);
    });

    test("the position is liquidatable at the liquidation price and not one tick above", () => {
      const e = setup(create, d);
      e.book.inst_mark_ticks[0] = 476_907n;
      expect(computeAll(e, d)).toBe(1);
      expect(e.book.pos_status[0]! & POS_LIQUIDATABLE).toBe(POS_LIQUIDATABLE);
      e.book.inst_mark_ticks[0] = 476_908n;
      expect(computeAll(e, d)).toBe(0);
      expect(e.book.pos_status[0]! & POS_LIQUIDATABLE).toBe(0);
    });
  });

  describe("position figures", () => {
    test("tier: first with N <= maxNotional; N = max + 1 selects the next; beyond the last, the last", () => {
      const k = 1n;
      const tiers: TierData[] = [
        { maxNotional: 1000n, mmr: 1_000_000n, cum: 0n },
        { maxNotional: 2000n, mmr: 2_000_000n, cum: 10n },
        { maxNotional: 3000n, mmr: 3_000_000n, cum: 30n },
      ];
      const pos = (q: bigint): PositionData => ({ q, cost: q, margin: 0n, inst: 0, acct: 0, lev: 1, mode: MODE_CROSS });
      const d: BookData = {
        instruments: [{ mark: 1n, k, tiers }],
        accountBase: [0n],
        positions: [pos(1000n), pos(1001n), pos(-2000n), pos(2001n), pos(3001n), pos(10n ** 15n)],
      };
      const e = setup(create, d);
      computeAll(e, d);
      expect(Array.from(e.book.pos_tier.subarray(0, 6))).toEqual([0, 1, 1, 2, 2, 2]);
      // MM = ceil(N·mmr/1e8) − cum: 1001 × 2% = 20.02 → 21, minus 10
      expect(e.book.pos_mm_minor[1]).toBe(11n);
    });

    test("MM rounds up unless N·mmr is a multiple of 1e8; IM rounds up unless L divides N", () => {
      const tiers: TierData[] = [{ maxNotional: I64_MAX, mmr: 1_000_000n, cum: 0n }]; // 1%
      const pos = (q: bigint, lev: number): PositionData => ({ q, cost: q, margin: 0n, inst: 0, acct: 0, lev, mode: MODE_ISOLATED });
      const d: BookData = {
        instruments: [{ mark: 1n, k: 1n, tiers }],
        accountBase: [0n],
        positions: [pos(300n, 3), pos(301n, 3), pos(-299n, 7)],
      };
      const e = setup(create, d);
      computeAll(e, d);
      const b = e.book;
      expect([b.pos_mm_minor[0], b.pos_im_minor[0]]).toEqual([3n, 100n]);
      expect([b.pos_mm_minor[1], b.pos_im_minor[1]]).toEqual([4n, 101n]);
      expect([b.pos_mm_minor[2], b.pos_im_minor[2]]).toEqual([3n, 43n]);
    });

    test("mmr 0 and mmr 1e8 (100%)", () => {
      const tiers: TierData[] = [
        { maxNotional: 100n, mmr: 0n, cum: 0n },
        { maxNotional: I64_MAX, mmr: 100_000_000n, cum: 100n }, // cum = floor(100 × 1) per SPEC
      ];
      const pos = (q: bigint): PositionData => ({ q, cost: q, margin: 0n, inst: 0, acct: 0, lev: 1, mode: MODE_ISOLATED });
      const d: BookData = { instruments: [{ mark: 1n, k: 1n, tiers }], accountBase: [0n], positions: [pos(100n), pos(101n)] };
      const e = setup(create, d);
      computeAll(e, d);
      expect([e.book.pos_mm_minor[0], e.book.pos_mm_minor[1]]).toEqual([0n, 1n]);
    });

    test("isolated: liquidatable iff E < MM (strict); call zone iff E <= 1.25·MM", () => {
      // mark 500000: MM = 200 USDT, U = 0, so E = m.
      const d = book([
        btcLong({ margin: 200n * USDT }), // E = MM: not liquidatable, in call zone
        btcLong({ margin: 200n * USDT - 1n }), // E < MM
        btcLong({ margin: 250n * USDT }), // 4E = 5MM: call zone
        btcLong({ margin: 250n * USDT + 1n }), // above the call zone
        btcLong({ q: 0n, cost: 0n, margin: -5n }), // q = 0: never liquidatable
      ]);
      const e = setup(create, d);
      expect(computeAll(e, d)).toBe(1);
      expect(Array.from(e.book.pos_status.subarray(0, 5))).toEqual([
        POS_CALL_ZONE,
        POS_LIQUIDATABLE | POS_CALL_ZONE,
        POS_CALL_ZONE,
        0,
        0,
      ]);
    });

    test("a short gains when the mark falls", () => {
      const d = book([btcLong({ q: -1000n, cost: -1000n * 500_000n })], { mark: 490_000n });
      const e = setup(create, d);
      computeAll(e, d);
      // U = k·(qM − C) = 100 × (−1000 × 490000 + 1000 × 500000) = 1000 USDT
      expect(e.book.pos_upnl_minor[0]).toBe(1000n * USDT);
      expect(e.book.pos_equity_minor[0]).toBe(3500n * USDT);
    });
  });

  describe("cross accounts", () => {
    const cross = (over: Partial<PositionData>): PositionData => btcLong({ mode: MODE_CROSS, margin: 0n, ...over });

    test("E = base + Σ U, MM = Σ MM, IM = Σ IM over cross positions only; isolated ones add nothing", () => {
      const d: BookData = {
        instruments: [
          { mark: 490_000n, k: K, tiers: SPEC_TIERS },
          { mark: 3_000n, k: 10n, tiers: SPEC_TIERS },
        ],
        accountBase: [1000n * USDT, 7n],
        positions: [
          cross({ acct: 0 }), // U = −1000 USDT, N = 49000 USDT
          cross({ acct: 0, inst: 1, q: -50n, cost: -50n * 3_100n, lev: 5 }), // U = 50000 minor
          btcLong({ acct: 0, margin: 1n }), // isolated: excluded
        ],
      };
      const e = setup(create, d);
      computeAll(e, d);
      const b = e.book;
      expect(b.pos_equity_minor[0]).toBe(b.pos_upnl_minor[0]); // cross: E is the position's U
      expect(b.acct_equity_minor[0]).toBe(1000n * USDT + b.pos_upnl_minor[0]! + b.pos_upnl_minor[1]!);
      expect(b.acct_mm_minor[0]).toBe(b.pos_mm_minor[0]! + b.pos_mm_minor[1]!);
      expect(b.acct_im_minor[0]).toBe(b.pos_im_minor[0]! + b.pos_im_minor[1]!);
      expect(b.acct_status[0]! & ACCT_HAS_CROSS).toBe(ACCT_HAS_CROSS);
      // an account without positions: E = base, no margin, no status
      expect([b.acct_equity_minor[1], b.acct_mm_minor[1], b.acct_im_minor[1], b.acct_status[1]]).toEqual([7n, 0n, 0n, 0]);
    });

    test("liquidatable iff it has a cross position with q != 0 and E < MM; call zone at 4E = 5MM", () => {
      // Each account: one cross BTC long at mark 500000 (U = 0, MM = 200 USDT); E = base.
      const bases = [200n * USDT, 200n * USDT - 1n, 250n * USDT, 250n * USDT + 1n, -1n];
      const positions = bases.map((_, a) => cross({ acct: a }));
      positions.push(cross({ acct: 4, q: 0n, cost: 0n })); // account 4: only q = 0 → no cross exposure
      positions[4] = btcLong({ acct: 4 }); // …and an isolated one
      const d = book(positions, { bases });
      const e = setup(create, d);
      expect(computeAll(e, d)).toBe(1);
      expect(Array.from(e.book.acct_status.subarray(0, 5))).toEqual([
        ACCT_HAS_CROSS | ACCT_CALL_ZONE,
        ACCT_HAS_CROSS | ACCT_LIQUIDATABLE | ACCT_CALL_ZONE,
        ACCT_HAS_CROSS | ACCT_CALL_ZONE,
        ACCT_HAS_CROSS,
        0,
      ]);
      expect(Array.from(e.book.pos_status.subarray(0, 4))).toEqual([0, 0, 0, 0]); // cross positions carry no liq bits
    });

    test("cross liquidation price: the mark at which the account (other positions fixed) becomes liquidatable", () => {
      const d: BookData = {
        instruments: [
          { mark: 500_000n, k: K, tiers: SPEC_TIERS },
          { mark: 3_000n, k: 10n, tiers: SPEC_TIERS },
        ],
        accountBase: [2500n * USDT],
        positions: [cross({}), cross({ inst: 1, q: -50n, cost: -50n * 3_100n })],
      };
      const e = setup(create, d);
      computeAll(e, d);
      const liq = e.liquidationPrice(0)!;
      for (const [mark, liquidatable] of [
        [liq, true],
        [liq + 1n, false],
      ] as const) {
        e.book.inst_mark_ticks[0] = mark;
        computeAll(e, d);
        expect((e.book.acct_status[0]! & ACCT_LIQUIDATABLE) !== 0).toBe(liquidatable);
      }
      // the same account with only the BTC position would liquidate at 47690.7; the short
      // ETH leg in profit (+50000 minor, MM 6000 minor) lowers it.
      expect(liq).toBeLessThanOrEqual(476_907n);
      expect(e.bankruptcyPrice(0)).toBeNull(); // cross: no bankruptcy price
    });
  });

  describe("overflow is flagged, never wrapped", () => {
    const big = (over: Partial<PositionData>): PositionData => ({ q: 1n, cost: 0n, margin: 0n, inst: 0, acct: 0, lev: 1, mode: MODE_CROSS, ...over });
    const tiers: TierData[] = [{ maxNotional: I64_MAX, mmr: 0n, cum: 0n }];

    test("a notional beyond i64: POS_OVERFLOW alone, figures zero, its account ACCT_OVERFLOW", () => {
      const d: BookData = {
        instruments: [{ mark: 2n, k: 1n, tiers }],
        accountBase: [0n],
        positions: [big({ q: I64_MAX / 2n + 1n, cost: I64_MAX })],
      };
      const e = setup(create, d);
      expect(computeAll(e, d)).toBe(0);
      const b = e.book;
      expect(b.pos_status[0]).toBe(POS_OVERFLOW);
      expect([b.pos_notional_minor[0], b.pos_upnl_minor[0], b.pos_mm_minor[0], b.pos_im_minor[0], b.pos_equity_minor[0], b.pos_tier[0]]).toEqual([
        0n, 0n, 0n, 0n, 0n, 0,
      ]);
      expect(b.acct_status[0]).toBe(ACCT_OVERFLOW | ACCT_HAS_CROSS);
      expect([b.acct_equity_minor[0], b.acct_mm_minor[0], b.acct_im_minor[0]]).toEqual([0n, 0n, 0n]);
    });

    test("N exactly at the bound fits; |q| of i64 min does not", () => {
      const d: BookData = {
        instruments: [{ mark: 1n, k: 1n, tiers }],
        accountBase: [0n, 0n],
        positions: [big({ q: I64_MAX, cost: I64_MAX, mode: MODE_ISOLATED }), big({ q: I64_MIN, cost: I64_MIN, acct: 1 })],
      };
      const e = setup(create, d);
      computeAll(e, d);
      expect(e.book.pos_status[0]).toBe(POS_CALL_ZONE); // E = MM = 0
      expect(e.book.pos_notional_minor[0]).toBe(I64_MAX);
      expect(e.book.pos_status[1]).toBe(POS_OVERFLOW);
    });

    test("isolated E = m + U beyond i64 overflows the position only", () => {
      const d: BookData = {
        instruments: [{ mark: 10n, k: 1n, tiers }],
        accountBase: [0n],
        positions: [big({ q: 1n, cost: 0n, margin: I64_MAX - 9n, mode: MODE_ISOLATED }), big({ q: 1n, cost: 0n, margin: I64_MAX - 10n, mode: MODE_ISOLATED, acct: 0 })],
      };
      const e = setup(create, d);
      computeAll(e, d);
      expect(e.book.pos_status[0]).toBe(POS_OVERFLOW);
      expect(e.book.pos_equity_minor[1]).toBe(I64_MAX);
      expect(e.book.acct_status[0]).toBe(0); // isolated positions are not part of the account figures
    });

    test("account sums are exact: partial sums may leave i64 as long as the total fits", () => {
      const third = I64_MAX / 3n;
      const d: BookData = {
        instruments: [{ mark: 1n, k: 1n, tiers }],
        accountBase: [I64_MAX, I64_MAX],
        positions: [
          // account 0: base + 2·third − 2·third = base
          big({ q: 1n, cost: 1n - third }),
          big({ q: 1n, cost: 1n - third }),
          big({ q: 1n, cost: 1n + third }),
          big({ q: 1n, cost: 1n + third }),
          // account 1: base + 1 does not fit
          big({ q: 1n, cost: 0n, acct: 1 }),
        ],
      };
      const e = setup(create, d);
      computeAll(e, d);
      expect(e.book.acct_status[0]).toBe(ACCT_HAS_CROSS);
      expect(e.book.acct_equity_minor[0]).toBe(I64_MAX);
      expect(e.book.acct_status[1]).toBe(ACCT_OVERFLOW | ACCT_HAS_CROSS);
    });

    test("MM = ceil(N·mmr) − cum below i64 min overflows", () => {
      const d: BookData = {
        instruments: [{ mark: 1n, k: 1n, tiers: [{ maxNotional: I64_MAX, mmr: 1n, cum: I64_MIN }] }],
        accountBase: [0n],
        positions: [big({ q: 0n }), big({ q: 1n })],
      };
      const e = setup(create, d);
      computeAll(e, d);
      // q = 0: ceil(0) − min → overflow too (MM = 2^63)
      expect([e.book.pos_status[0], e.book.pos_status[1]]).toEqual([POS_OVERFLOW, POS_OVERFLOW]);
    });
  });

  describe("computeList", () => {
    const d: BookData = {
      instruments: [{ mark: 490_000n, k: K, tiers: SPEC_TIERS }],
      accountBase: [100n * USDT, 200n * USDT, 0n],
      positions: [
        btcLong({ mode: MODE_CROSS, acct: 0 }),
        btcLong({ mode: MODE_CROSS, acct: 1 }),
        btcLong({ mode: MODE_CROSS, acct: 1, q: 2000n, cost: 2000n * 500_000n }),
        btcLong({ acct: 2, margin: 1n }),
      ],
    };

    test("recomputes the listed positions and their accounts, from the listed positions only", () => {
      const e = setup(create, d);
      computeAll(e, d);
      const all = {
        e1: e.book.acct_equity_minor[1],
        mm1: e.book.acct_mm_minor[1],
        u2: e.book.pos_upnl_minor[2],
      };
      e.book.pos_upnl_minor[0] = 12345n; // unlisted: must stay as is
      e.book.acct_equity_minor[0] = 777n;
      const n = e.computeList(Int32Array.from([2, 3, 99]), 2);
      expect(n).toBe(2); // account 1 (base 200 < MM of the 2-BTC position) and isolated position 3
      expect(e.book.pos_upnl_minor[2]).toBe(all.u2);
      expect(e.book.acct_equity_minor[1]).toBe(200n * USDT + all.u2!);
      expect(e.book.acct_mm_minor[1]).toBe(e.book.pos_mm_minor[2]);
      expect(e.book.acct_mm_minor[1]).not.toBe(all.mm1);
      expect(e.book.acct_equity_minor[2]).toBe(0n); // account of an isolated position: base only
      expect(e.book.pos_upnl_minor[0]).toBe(12345n);
      expect(e.book.acct_equity_minor[0]).toBe(777n);
      // listing every position of account 1 gives the computeAll figures back
      e.computeList(Int32Array.from([1, 2]), 2);
      expect([e.book.acct_equity_minor[1], e.book.acct_mm_minor[1]]).toEqual([all.e1, all.mm1]);
    });

    test("rejects bad entries, duplicates and counts with RangeError", () => {
      const e = setup(create, d);
      expect(() => e.computeList(Int32Array.from([0, 1]), 3)).toThrow(RangeError);
      expect(() => e.computeList(Int32Array.from([0, -1]), 2)).toThrow(/list entry 1: position index out of range/);
      expect(() => e.computeList(Int32Array.from([1, 2, 1]), 3)).toThrow(/list entry 2: duplicate position/);
      // a rejected list leaves no trace: the same positions can be listed again
      expect(e.computeList(Int32Array.from([1, 2]), 2)).toBe(1);
      expect(e.computeList(new Int32Array(0), 0)).toBe(0);
    });
  });

  describe("book and arguments", () => {
    test("ensureCapacity keeps inputs (and replaces the views); never shrinks", () => {
      const d = book([btcLong(), btcLong({ acct: 0, q: -3n, cost: -3n * 499_999n })]);
      const e = setup(create, d);
      const before = e.book;
      e.ensureCapacity({ positions: 50_000, accounts: 3_000, instruments: 70 });
      const b = e.book;
      expect(b === before).toBe(false); // (the old views may be detached: re-read `book`)
      expect(b.capacity.positions).toBeGreaterThanOrEqual(50_000);
      expect(b.capacity.instruments).toBeGreaterThanOrEqual(70);
      expect([b.pos_qty_lots[0], b.pos_qty_lots[1], b.pos_cost_lot_ticks[1], b.pos_isolated_margin_minor[0]]).toEqual([
        1000n, -3n, -3n * 499_999n, 2500n * USDT,
      ]);
      expect([b.pos_leverage[0], b.pos_mode[0], b.inst_k_minor[0], b.inst_tier_count[0]]).toEqual([20, MODE_ISOLATED, K, 2]);
      expect(b.tier_cum_minor[1]).toBe(50n * USDT);
      expect(b.pos_qty_lots[2]).toBe(0n); // new slots are zero
      expect(b.tier_mmr_e8[MAX_TIERS * 69]).toBe(0n);
      b.pos_qty_lots[49_999] = 5n;
      e.ensureCapacity({ positions: 10, accounts: 1, instruments: 1 });
      expect(e.book.capacity.positions).toBe(b.capacity.positions);
      expect(e.book.pos_qty_lots[49_999]).toBe(5n);
      e.computeAll(2, 1);
      expect(e.liquidationPrice(0)).toBe(476_907n);
    });

    test("growing one slot at a time is amortized", () => {
      const e = create();
      let grows = 0;
      const start = e.book.capacity.positions;
      let cap = start;
      for (let n = start; n < start * 20; n += 1) {
        e.ensureCapacity({ positions: n, accounts: 1, instruments: 1 });
        if (e.book.capacity.positions !== cap) {
          grows++;
          cap = e.book.capacity.positions;
        }
      }
      expect(grows).toBeLessThan(10);
    });

    test("bad capacities, counts and indices throw RangeError", () => {
      const e = create();
      expect(() => e.ensureCapacity({ positions: -1, accounts: 1, instruments: 1 })).toThrow(RangeError);
      expect(() => e.ensureCapacity({ positions: 1.5, accounts: 1, instruments: 1 })).toThrow(RangeError);
      expect(() => e.computeAll(e.book.capacity.positions + 1, 0)).toThrow(RangeError);
      expect(() => e.computeAll(0, -1)).toThrow(RangeError);
      expect(() => e.liquidationPrice(-1)).toThrow(RangeError);
      expect(() => e.bankruptcyPrice(e.book.capacity.positions)).toThrow(RangeError);
    });

    test.each([
      ["instrument index", (d: BookData) => void (d.positions[1]!.inst = 1000), /position 1: pos_instrument/],
      ["account index", (d: BookData) => void (d.positions[1]!.acct = 1), /position 1: pos_account/],
      ["mode", (d: BookData) => void (d.positions[1]!.mode = 2), /position 1: pos_mode/],
      ["leverage", (d: BookData) => void (d.positions[1]!.lev = 0), /position 1: pos_leverage/],
      ["k", (d: BookData) => void (d.instruments[0]!.k = 0n), /position 0: inst_k_minor/],
      ["mark", (d: BookData) => void (d.instruments[0]!.mark = -1n), /position 0: inst_mark_ticks/],
      ["tier count", (d: BookData) => void (d.instruments[0]!.tiers = []), /position 0: inst_tier_count/],
      ["mmr", (d: BookData) => void (d.instruments[0]!.tiers[0]!.mmr = 100_000_001n), /position 0: tier_mmr_e8/],
    ])("invalid %s: RangeError naming the position and field", (_what, spoil, message) => {
      const d = book([btcLong(), btcLong()]);
      d.instruments[0]!.tiers = SPEC_TIERS.map((t) => ({ ...t }));
      spoil(d);
      const e = setup(create, d);
      expect(() => computeAll(e, d)).toThrow(message);
    });

    test("price functions: null for q = 0; bankruptcy null when cross or not positive", () => {
      const d = book([btcLong({ q: 0n, cost: 0n }), btcLong({ margin: 100n * 500_000n * 1000n }), btcLong({ mode: MODE_CROSS })]);
      const e = setup(create, d);
      computeAll(e, d);
      expect(e.liquidationPrice(0)).toBeNull();
      expect(e.bankruptcyPrice(0)).toBeNull();
      expect(e.bankruptcyPrice(1)).toBeNull(); // margin covers the whole entry: E > 0 at every positive mark
      expect(e.liquidationPrice(1)).toBeNull(); // …and it is never liquidatable
      expect(e.bankruptcyPrice(2)).toBeNull();
    });
  });
});
