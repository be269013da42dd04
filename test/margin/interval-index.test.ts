// The interval index (src/margin/interval-index.ts) against a plain model: after any sequence
// of sets (the same interval again, empty and unbounded ones included), price queries inside
// transactions that commit or roll back, and bulk loads, every query reports exactly the slots
// whose current interval does not contain the price and that were not reported since their
// last set (or were restored by a rollback); an empty interval is reported by every query of
// its group, whatever was reported before. Sets of an unchanged interval with its entries in
// place are skipped by the index (no new version): the answers must not show it. `keeps`
// holds only for a live interval inside the given one and at least the given share of its width.
// A slot may move to another group (a position slot reused for another instrument): its
// entries leave the old group, and `setUnlessKept` never keeps an interval of another group. After every step the heaps are ordered and indexed (`check`).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { IntervalIndex } from "../../src/margin/interval-index.js";

type Op =
  | { kind: "set"; slot: number; group: number; lo: number; hi: number }
  | { kind: "place"; slot: number; group: number; lo: number; hi: number }
  | { kind: "query"; group: number; point: number; commit: boolean }
  | { kind: "bulk"; sets: { slot: number; group: number; lo: number; hi: number }[] };

const SLOTS = 8;
// Few distinct bounds so identical re-sets are frequent; infinities for unbounded sides and lo > hi for empty.
const bound = fc.constantFrom(-Infinity, 0, 5, 10, 15, 20, Infinity);
// Mostly the slot's usual group (slot % 2); now and then the other one.
const setArb = fc.record({ slot: fc.integer({ min: 0, max: SLOTS - 1 }), moved: fc.integer({ min: 0, max: 7 }), lo: bound, hi: bound })
  .map(({ slot, moved, lo, hi }) => ({ slot, group: moved === 0 ? 1 - (slot % 2) : slot % 2, lo, hi }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: setArb.map((s) => ({ kind: "set" as const, ...s })) },
  { weight: 2, arbitrary: setArb.filter((s) => s.lo <= s.hi).map((s) => ({ kind: "place" as const, ...s })) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("query" as const), group: fc.integer({ min: 0, max: 1 }), point: fc.integer({ min: -2, max: 22 }), commit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bulk" as const), sets: fc.array(setArb, { maxLength: 6 }) }) },
);

/**
 * Model: each slot's interval and its two bounds' entries (an empty interval has one, on the
 * lo side, that every price crosses and no query consumes; an infinite side has none), a
 * bound's entry dropped once a query reports the slot through it (a slot may be reported
 * twice, once per side, as the index documents).
 */
interface Slot { group: number; lo: number; hi: number; loLive: boolean; hiLive: boolean }

function slotOf(group: number, lo: number, hi: number): Slot {
  if (lo > hi) return { group, lo, hi, loLive: true, hiLive: false };
  return { group, lo, hi, loLive: lo !== -Infinity, hiLive: hi !== Infinity };
}

describe("IntervalIndex", () => {
  it("reports exactly the slots a price leaves, through repeated sets, commits, rollbacks and bulk loads", () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
      const index = new IntervalIndex();
      const model = new Map<number, Slot>();
      const set = (slot: number, group: number, lo: number, hi: number): void => {
        index.set(slot, group, lo, hi);
        model.set(slot, slotOf(group, lo, hi));
      };
      for (const op of ops) {
        if (op.kind === "set") set(op.slot, op.group, op.lo, op.hi);
        else if (op.kind === "place") {
          // setUnlessKept: the current interval stays when it is live in the same group, inside
          // the new one and at least half as wide; otherwise the new one is set.
          const s = model.get(op.slot);
          const kept = s !== undefined && s.group === op.group && s.lo <= s.hi && s.loLive && s.hiLive &&
            s.lo >= op.lo && s.hi <= op.hi && s.hi - s.lo >= (op.hi - op.lo) * 0.5;
          index.setUnlessKept(op.slot, op.group, op.lo, op.hi, 0.5);
          if (!kept) model.set(op.slot, slotOf(op.group, op.lo, op.hi));
        }
        else if (op.kind === "bulk") {
          index.beginBulk();
          for (const s of op.sets) set(s.slot, s.group, s.lo, s.hi);
          index.endBulk();
        } else {
          const got = new Set<number>();
          const kept = new Set<number>();
          index.leavers(op.group, op.point, (s, k) => {
            got.add(s);
            if (k) kept.add(s);
          });
          const want = new Set<number>();
          const wantKept = new Set<number>();
          const crossed: [Slot, "lo" | "hi"][] = [];
          for (const [slot, s] of model) {
            if (s.group !== op.group) continue;
            if (s.loLive && s.lo > s.hi) {
              // Empty: reported as kept (its entry stays for the next query).
              want.add(slot);
              wantKept.add(slot);
            }
            else if (s.loLive && s.lo > op.point) {
              want.add(slot);
              crossed.push([s, "lo"]);
            }
            if (s.hiLive && s.hi < op.point) {
              want.add(slot);
              crossed.push([s, "hi"]);
            }
          }
          expect([...got].sort()).toEqual([...want].sort());
          expect([...kept].sort()).toEqual([...wantKept].sort());
          if (op.commit) {
            for (const [s, side] of crossed) s[side === "lo" ? "loLive" : "hiLive"] = false;
            index.commit();
          } else index.rollback();
        }
        expect(index.check()).toBeNull();
        for (const [slot, s] of model) {
          // Bounded on both sides, both entries in place: `keeps` of itself and of anything twice as wide around it.
          const live = s.lo <= s.hi && s.loLive && s.hiLive;
          expect(index.keeps(slot, s.lo, s.hi, 1)).toBe(live);
          expect(index.keeps(slot, s.lo - 1, s.hi + 1, 0)).toBe(live);
          if (live) {
            const w = s.hi - s.lo;
            expect(index.keeps(slot, s.lo - w - 1, s.hi + w + 1, 0.5)).toBe(false); // less than half of the wider one
            expect(index.keeps(slot, s.lo + 1, s.hi, 0)).toBe(false); // not inside
          }
        }
      }
    }), { numRuns: 300 });
  });

  it("setUnlessKept keeps an interval only in its own group (a reused slot moves to its new group)", () => {
    const index = new IntervalIndex();
    index.set(1, 0, 10, 20);
    index.setUnlessKept(1, 0, 5, 25, 0.5); // inside, half as wide, same group: kept
    expect(index.intervalOfForTest(1)).toEqual({ lo: 10, hi: 20 });
    index.setUnlessKept(1, 1, 5, 25, 0.5); // same bounds, another group: set there
    expect(index.intervalOfForTest(1)).toEqual({ lo: 5, hi: 25 });
    const got: number[][] = [[], []];
    index.leavers(0, 30, (slot) => got[0]!.push(slot));
    index.leavers(1, 30, (slot) => got[1]!.push(slot));
    expect(got).toEqual([[], [1]]);
    expect(index.check()).toBeNull();
  });
});
