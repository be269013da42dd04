// derivedView / derivedEquals (the audit's comparison) agree exactly with encodeDerived.
import { describe, expect, it } from "vitest";
import { derivedEquals, derivedView, encodeDerived } from "../../src/outputs/derived.js";
import type { OutputEvent } from "../../src/outputs/events.js";

const samples: OutputEvent[] = [
  { type: "rejected", seq: 1, code: "E_MARGIN", message: "insufficient margin" },
  { type: "rejected", seq: 2, code: "E_SCHEMA", message: "account: naïve €uro 𝄞 \u2028 \"quoted\" \\ lone \ud800 surrogate" },
  { type: "rejected", seq: 3, code: "E_SCHEMA", message: "x".repeat(10_000) + "é".repeat(5_000) },
];

describe("derived records", () => {
  it("derivedView has encodeDerived's bytes", () => {
    for (const o of samples) expect(Buffer.from(derivedView(o)).equals(Buffer.from(encodeDerived(o)))).toBe(true);
  });

  it("derivedEquals is byte equality with encodeDerived", () => {
    for (const o of samples) {
      const bytes = encodeDerived(o);
      expect(derivedEquals(o, bytes)).toBe(true);
      expect(derivedEquals(o, bytes.subarray(0, bytes.length - 1))).toBe(false);
      const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]);
      expect(derivedEquals(o, withBom)).toBe(false);
      const flipped = bytes.slice();
      flipped[flipped.length >> 1]! ^= 1;
      expect(derivedEquals(o, flipped)).toBe(false);
      for (const other of samples) if (other !== o) expect(derivedEquals(other, bytes)).toBe(false);
    }
  });
});
