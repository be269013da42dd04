// ADL's fast paths decide exactly what the exact rules decide: the float sign test of U and
// the float-prefiltered score comparison (SPEC §5: score = U·N/E² descending, E ≤ 0 first,
// ties by account name). Given random and adversarial (near-tie, near-zero, > 2^53) inputs,
// when the fast path decides, then it agrees with BigInt arithmetic.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { adlApprox, adlBetter, type AdlCandidate } from "../../src/liquidation/adl.js";
import { OpenSide, upnlSign } from "../../src/liquidation/open-positions.js";
import type { Position } from "../../src/aggregate/state.js";

/** A one-entry side holding (q, C), and its position. */
function entry(q: bigint, c: bigint): { side: OpenSide; pos: Position } {
  const pos = { account: "a", symbol: "X", slot: 0, qtyLots: q, costLotTicks: c, isolatedMarginMinor: 0n, mode: "cross", leverage: 10, callLatched: false } as Position;
  const side = new OpenSide();
  side.add(pos);
  return { side, pos };
}

const sign = (q: bigint, m: bigint, c: bigint): number => {
  const { side, pos } = entry(q, c);
  return upnlSign(side, 0, pos, m, Number(m));
};

const exactSign = (q: bigint, m: bigint, c: bigint): number => {
  const x = q * m - c;
  return x > 0n ? 1 : x < 0n ? -1 : 0;
};

const I63 = 2n ** 63n - 1n;
const mag = fc.oneof(
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
  fc.bigInt({ min: -I63, max: I63 }),
);

describe("upnlSign: the sign of q·M − C", () => {
  it("agrees with BigInt on random magnitudes", () => {
    fc.assert(fc.property(mag, fc.bigInt({ min: 1n, max: 2n ** 40n }), mag, (q, m, c) => {
      expect(sign(q, m, c)).toBe(exactSign(q, m, c));
    }), { numRuns: 3000 });
  });

  it("agrees at and around zero (C = q·M + δ), where floats cannot decide", () => {
    fc.assert(fc.property(
      fc.bigInt({ min: -(2n ** 30n), max: 2n ** 30n }), fc.bigInt({ min: 1n, max: 2n ** 30n }), fc.bigInt({ min: -3n, max: 3n }),
      (q, m, delta) => {
        const c = q * m + delta;
        expect(sign(q, m, c)).toBe(exactSign(q, m, c));
      },
    ), { numRuns: 3000 });
  });

  it("is exact beyond 2^53, where q or C are not floats", () => {
    const q = 2n ** 53n + 1n;
    const m = 3n;
    for (const delta of [-1n, 0n, 1n]) expect(sign(q, m, q * m + delta)).toBe(exactSign(q, m, q * m + delta));
  });
});

function candidate(account: string, u: bigint, n: bigint, e: bigint): AdlCandidate {
  const p = { account } as Position;
  return { p, u, n, e, approx: adlApprox(u, n, e) };
}

/** The rule itself, in BigInt only. */
function exactBetter(a: AdlCandidate, b: AdlCandidate): boolean {
  const aInf = a.e <= 0n;
  const bInf = b.e <= 0n;
  if (aInf !== bInf) return aInf;
  if (!aInf) {
    const l = a.u * a.n * b.e * b.e;
    const r = b.u * b.n * a.e * a.e;
    if (l !== r) return l > r;
  }
  return a.p.account < b.p.account;
}

describe("adlBetter: score order with a float prefilter", () => {
  const pos = fc.bigInt({ min: 1n, max: I63 });
  const small = fc.bigInt({ min: 1n, max: 10_000n });
  const eq = fc.oneof(fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }), fc.bigInt({ min: -I63, max: I63 }));

  it("agrees with the exact rule on random candidates", () => {
    fc.assert(fc.property(fc.oneof(pos, small), fc.oneof(pos, small), eq, fc.oneof(pos, small), fc.oneof(pos, small), eq, fc.boolean(), (u1, n1, e1, u2, n2, e2, nameOrder) => {
      const a = candidate(nameOrder ? "a" : "b", u1, n1, e1);
      const b = candidate(nameOrder ? "b" : "a", u2, n2, e2);
      expect(adlBetter(a, b)).toBe(exactBetter(a, b));
      expect(adlBetter(b, a)).toBe(exactBetter(b, a));
    }), { numRuns: 3000 });
  });

  it("agrees on exact ties and on scores one unit apart (the floats cannot tell)", () => {
    fc.assert(fc.property(fc.bigInt({ min: 2n ** 40n, max: 2n ** 60n }), fc.bigInt({ min: 2n ** 40n, max: 2n ** 60n }), fc.bigInt({ min: 1n, max: 2n ** 60n }), fc.bigInt({ min: -1n, max: 1n }), (u, n, e, d) => {
      // Same E: the scores compare as U·N; U·N and U·N + d·N differ by less than the float slack.
      const a = candidate("a", u, n, e);
      const b = candidate("b", u + d, n, e);
      expect(adlBetter(a, b)).toBe(exactBetter(a, b));
      expect(adlBetter(b, a)).toBe(exactBetter(b, a));
      // Scaled: (2U)·(2N)/(2E)² is the same score; ties go by name.
      const c = candidate("c", 2n * u, 2n * n, 2n * e);
      expect(adlBetter(a, c)).toBe(exactBetter(a, c));
      expect(adlBetter(c, a)).toBe(exactBetter(c, a));
    }), { numRuns: 2000 });
  });
});
