import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { crc32 } from "node:zlib";
import { crc32Aligned } from "../../src/journal/crc32.js";

describe("crc32Aligned", () => {
  test("equals zlib.crc32 for any bytes at any word-aligned start and length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat({ max: 16 }), (data, words) => {
        const at = words * 4;
        const buf = new Uint8Array(((at + data.length + 3) & ~3) + 4).fill(0xa5);
        buf.set(data, at);
        expect(crc32Aligned(buf, new Int32Array(buf.buffer), at, data.length)).toBe(crc32(data));
      }),
      { numRuns: 2000 },
    );
  });

  test("an unaligned start falls back to zlib (same value)", () => {
    const buf = Uint8Array.from({ length: 64 }, (_, i) => i * 37);
    expect(crc32Aligned(buf, new Int32Array(buf.buffer), 3, 50)).toBe(crc32(buf.subarray(3, 53)));
  });
});
