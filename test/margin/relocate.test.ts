// Kernel book growth (kernel.ts usedBytes / relocateFields): moving only each array's used
// prefix and zeroing only old data must give exactly the book a full copy gives, and the
// engine must keep every field (inputs, outputs, scratch) across growth.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createKernelMarginEngine, relocateFields, usedBytes } from "../../src/margin/kernel.js";
import { BOOK_FIELDS } from "../../src/margin/book.js";

function naiveUsed(bytes: Uint8Array, offset: number, length: number): number {
  for (let n = length; n > 0; n--) if (bytes[offset + n - 1] !== 0) return n;
  return 0;
}

describe("usedBytes", () => {
  test("equals the naive last-nonzero scan at every alignment", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.nat(40), fc.nat(40), fc.nat(3),
        (data, a, b, shift) => {
          // Mostly zeros with a few nonzero bytes, on a subarray with an odd byteOffset.
          const buf = new Uint8Array(data.length + 4);
          data.forEach((v, i) => { if (v % 5 === 0) buf[i + shift] = v; });
          const view = buf.subarray(1);
          const offset = Math.min(a, view.length);
          const length = Math.min(b, view.length - offset);
          expect(usedBytes(view, offset, length)).toBe(naiveUsed(view, offset, length));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("relocateFields", () => {
  test("gives exactly the full-copy result (prefixes moved, everything else zero)", () => {
    const layouts = fc
      .array(fc.record({ oldLen: fc.nat(24), grow: fc.nat(24), gapOld: fc.nat(8), gapNew: fc.nat(8), fill: fc.nat(24), seed: fc.nat(255) }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(layouts, (fields) => {
        const from: number[] = [];
        const to: number[] = [];
        let o = 0;
        let t = 0;
        for (const f of fields) {
          o += f.gapOld;
          t = Math.max(t + f.gapNew, o); // never moves down
          from.push(o);
          to.push(t);
          o += f.oldLen;
          t += f.oldLen + f.grow;
        }
        const bytes = new Uint8Array(Math.max(o, t) + 8);
        const expected = new Uint8Array(bytes.length);
        const used: number[] = [];
        fields.forEach((f, j) => {
          const n = Math.min(f.fill, f.oldLen);
          for (let i = 0; i < n; i++) bytes[from[j]! + i] = (f.seed + 7 * i) % 256;
          used.push(usedBytes(bytes, from[j]!, f.oldLen));
        });
        fields.forEach((_, j) => expected.set(bytes.subarray(from[j]!, from[j]! + used[j]!), to[j]!));
        relocateFields(bytes, from, to, used);
        expect([...bytes]).toEqual([...expected]);
      }),
      { numRuns: 1000 },
    );
  });

  test("rejects a field that moves down", () => {
    expect(() => relocateFields(new Uint8Array(16), [4], [0], [2])).toThrow(RangeError);
  });
});

describe("kernel ensureCapacity", () => {
  test("keeps every book field's data across repeated growth; new slots are zero", () => {
    const e = createKernelMarginEngine({ positions: 4, accounts: 2, instruments: 1 });
    const fill = (k: number): void => {
      const b = e.book;
      for (const f of BOOK_FIELDS) {
        const a = b[f.name];
        for (let i = 0; i < a.length; i++) a[i] = typeof a[0] === "bigint" ? BigInt(k * 1000 + i + 1) : (k + i + 1) % 200;
      }
    };
    fill(1);
    const snapshot = (): Record<string, string[]> =>
      Object.fromEntries(BOOK_FIELDS.map((f) => [f.name, [...e.book[f.name]].map(String)]));
    let before = snapshot();
    for (let step = 0; step < 6; step++) {
      const cap = e.book.capacity;
      e.ensureCapacity({ positions: cap.positions + 1, accounts: cap.accounts + (step % 2), instruments: cap.instruments + (step % 3 === 0 ? 1 : 0) });
      const after = snapshot();
      for (const f of BOOK_FIELDS) {
        const old = before[f.name]!;
        const now = after[f.name]!;
        expect(now.slice(0, old.length), f.name).toEqual(old);
        expect(now.slice(old.length).every((v) => v === "0"), f.name).toBe(true);
      }
      before = after;
    }
  });
});
