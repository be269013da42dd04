// The compact containers of the state (SmallMap for balances/positions, SeenIds for the
// idempotency ids) against the Map and Set they replace: same answers, same sizes, same
// iteration order after any sequence of operations (fast-check).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { SmallMap } from "../../src/aggregate/small-map.js";
import { CompactStringSet, SeenIds } from "../../src/aggregate/seen-ids.js";

// Few distinct keys so sets, deletes and re-adds of the same key are frequent; some wide
// (UTF-16 units > 255), some long (two-byte length header), an empty one.
const key = fc.oneof(
  fc.constantFrom("USDT", "BTC", "ETH", "a", "", "é", "€uro", "x".repeat(300), "ü".repeat(260)),
  fc.string({ maxLength: 6 }),
);

type Op = { op: "set" | "delete" | "get"; k: string; v: number };
const ops = fc.array(fc.record({ op: fc.constantFrom<Op["op"]>("set", "delete", "get"), k: key, v: fc.integer() }), { maxLength: 120 });

describe("SmallMap", () => {
  test("behaves as a Map (answers, size, iteration order)", () => {
    fc.assert(
      fc.property(ops, (seq) => {
        const m = new Map<string, number>();
        const s = new SmallMap<number>();
        for (const { op, k, v } of seq) {
          if (op === "set") {
            m.set(k, v);
            s.set(k, v);
          } else if (op === "delete") expect(s.delete(k)).toBe(m.delete(k));
          expect(s.get(k)).toBe(m.get(k));
          expect(s.has(k)).toBe(m.has(k));
          expect(s.size).toBe(m.size);
          expect([...s]).toEqual([...m]);
          expect([...s.keys()]).toEqual([...m.keys()]);
          expect([...s.values()]).toEqual([...m.values()]);
        }
        const seen: [string, number][] = [];
        s.forEach((v, k) => seen.push([k, v]));
        expect(seen).toEqual([...m.entries()]);
      }),
      { numRuns: 500 },
    );
  });

  test("clear empties it", () => {
    const s = new SmallMap<number>().set("a", 1).set("b", 2);
    s.clear();
    expect([s.size, [...s]]).toEqual([0, []]);
  });
});

describe("CompactStringSet and SeenIds", () => {
  test("CompactStringSet behaves as a Set of strings (answers, size, insertion order), across growth", () => {
    const many = fc.array(fc.record({ del: fc.boolean(), k: fc.oneof(key, fc.nat(3000).map((n) => `id${n}`)) }), { minLength: 100, maxLength: 2000 });
    fc.assert(
      fc.property(many, (seq) => {
        const ref = new Set<string>();
        const c = new CompactStringSet();
        for (const { del, k } of seq) {
          if (del) expect(c.delete(k)).toBe(ref.delete(k));
          else {
            const had = ref.has(k);
            ref.add(k);
            expect(c.add(k)).toBe(!had);
          }
          expect(c.has(k)).toBe(ref.has(k));
          expect(c.size).toBe(ref.size);
        }
        expect([...c]).toEqual([...ref]);
        for (const k of ref) expect(c.has(k)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  test("SeenIds behaves as a Set of `${type}:${id}` keys (iteration: by type, then insertion order; hasId, addId, deleteId as has, add, delete)", () => {
    const idKey = fc.tuple(fc.constantFrom("deposit", "withdraw", "trade", "", "x:y"), key).map(([t, id]) => (t === "x:y" ? id.replace(/:/g, "") : `${t}:${id}`));
    const seq = fc.array(fc.record({ del: fc.boolean(), k: idKey }), { maxLength: 300 });
    fc.assert(
      fc.property(seq, (steps) => {
        const ref = new Set<string>();
        const s = new SeenIds();
        for (const [j, { del, k }] of steps.entries()) {
          // Keys with a type also through addId/deleteId (every other step): the same set either way.
          const c0 = k.indexOf(":");
          const byId = c0 >= 0 && j % 2 === 1;
          if (del) expect(byId ? s.deleteId(k.slice(0, c0), k.slice(c0 + 1)) : s.delete(k)).toBe(ref.delete(k));
          else {
            const had = ref.has(k);
            ref.add(k);
            if (byId) expect(s.addId(k.slice(0, c0), k.slice(c0 + 1))).toBe(!had);
            else s.add(k);
          }
          expect(s.has(k)).toBe(ref.has(k));
          const c = k.indexOf(":");
          if (c >= 0) expect(s.hasId(k.slice(0, c), k.slice(c + 1))).toBe(ref.has(k));
          expect(s.size).toBe(ref.size);
        }
        expect([...s].sort()).toEqual([...ref].sort());
        // Within a type, insertion order is kept.
        const typeOf = (k: string): string => (k.includes(":") ? k.slice(0, k.indexOf(":")) : "\u0000plain");
        for (const t of new Set([...ref].map(typeOf))) {
          expect([...s].filter((k) => typeOf(k) === t)).toEqual([...ref].filter((k) => typeOf(k) === t));
        }
      }),
      { numRuns: 300 },
    );
  });

  test("a rolled-back add gives its arena bytes back; 100k short ids cost < 24 bytes each", () => {
    const c = new CompactStringSet();
    for (let i = 0; i < 100_000; i++) c.add(`t${i}`);
    const bytes = c.bytes();
    expect(bytes / 100_000).toBeLessThan(24);
    c.add("rolled-back");
    c.delete("rolled-back");
    c.add("again");
    expect(c.bytes()).toBe(bytes);
    expect([...c].slice(-2)).toEqual(["t99999", "again"]);
  });

  test("rejects strings longer than the arena encodes", () => {
    expect(() => new CompactStringSet().add("x".repeat(70_000))).toThrow(RangeError);
  });
});
