// The matching benchmark runs and reports figures of the right shape (no timing thresholds).
import { describe, expect, it } from "vitest";
import { generateStream, runMatchingBench } from "../../bench/matching.bench.js";

describe("runMatchingBench", () => {
  it("reports ops/s and latency percentiles for both books and their ratio", async () => {
    const res = await runMatchingBench({ ops: 3_000, resting: 200, seed: 7, iterations: 2 });
    for (const book of [res.fast, res.naive]) {
      expect(book.ops).toBe(3_000);
      for (const k of ["ops_per_s", "latency_ns_p50", "latency_ns_p99"] as const) {
        expect(Number.isFinite(book[k]) && book[k] > 0).toBe(true);
      }
      expect(book.latency_ns_p50).toBeLessThanOrEqual(book.latency_ns_p99);
    }
    expect(res.ratio).toBeCloseTo(res.fast.ops_per_s / res.naive.ops_per_s, 1);
    expect(res.stream.resting_target).toBe(200);
  });

  it("generates an exchange-core-like mix that keeps the book near its target size", () => {
    const s = generateStream(20_000, 1_000, 3);
    expect(s.prefill).toHaveLength(1_000);
    expect(s.mix.move).toBeGreaterThan(0.35);
    expect(s.mix.cancel).toBeGreaterThan(0.2);
    expect(s.tradingOps).toBeGreaterThan(0.01);
    expect(s.tradingOps).toBeLessThan(0.15);
    expect(s.restingAtEnd).toBeGreaterThan(900);
    expect(s.restingAtEnd).toBeLessThan(1_100);
  });
});
