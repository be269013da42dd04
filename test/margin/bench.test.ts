// The kernel benchmark runs and reports sane figures (no timing thresholds here).
import { expect, test } from "vitest";
import { runKernelBench } from "../../bench/kernel.bench.js";

test("runKernelBench at 10k positions: result shape, and the kernel beats the reference", async () => {
  const r = await runKernelBench({ positions: 10_000, time_ms: 50, seed: 3 });
  expect(Object.keys(r).sort()).toEqual(
    [
      "accounts",
      "instruments",
      "js_number_cpu_ns_per_position",
      "js_number_ns_per_position",
      "loadavg_1m",
      "positions",
      "ratio",
      "reference_ns_per_position",
      "wasm_checked_positions",
      "wasm_cpu_ns_per_position",
      "wasm_flags_cpu_ns_per_position",
      "wasm_flags_ns_per_position",
      "wasm_ns_per_position",
    ].sort(),
  );
  expect(r.positions).toBe(10_000);
  expect(r.wasm_ns_per_position).toBeGreaterThan(0);
  expect(r.wasm_flags_ns_per_position).toBeGreaterThan(0);
  expect(r.js_number_ns_per_position).toBeGreaterThan(0);
  expect(r.reference_ns_per_position).toBeGreaterThan(0);
  expect(r.ratio).toBeCloseTo(r.reference_ns_per_position / r.wasm_ns_per_position, 9);
  expect(r.ratio).toBeGreaterThan(1);
  // the realistic book never needs the checked path
  expect(r.wasm_checked_positions).toBe(0);
});
