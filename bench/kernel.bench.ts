// Kernel benchmark: computeAll over a realistic book, WASM kernel vs the BigInt reference,
// measured with tinybench in the same run. Reported as median ns per position.
// (The `mmc bench kernel` CLI wires this; it is not a vitest bench file.)
import { Bench, type Task } from "tinybench";
import { BOOK_FIELDS, BOOK_INPUT_FIELD_COUNT } from "../src/margin/book.js";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, type MarginBook } from "../src/margin/engine.js";
import { createKernelMarginEngine } from "../src/margin/kernel.js";
import { createReferenceMarginEngine } from "../src/margin/reference.js";
import { Prng } from "../src/util/prng.js";

export interface KernelBenchOptions {
  /** Positions in the book (default 1,000,000 is the reference size). */
  positions: number;
  instruments?: number;
  /** Tiers per instrument, at most 8. */
  tiers?: number;
  seed?: number;
  /** Minimum measuring time per engine. */
  time_ms?: number;
}

export interface KernelBenchResult {
  positions: number;
  wasm_ns_per_position: number;
  reference_ns_per_position: number;
  /** reference / wasm: how many times faster the kernel is. */
  ratio: number;
}

const RATE = 100_000_000n;

/**
 * Fills a realistic book: `instruments` perps with exchange-like tiers (0.4% … 15% mmr, cum
 * per SPEC), positions spread log-uniformly in size, entries within ±10% of the mark, 70%
 * cross / 30% isolated, about four positions per account.
 */
export function fillRealisticBook(b: MarginBook, r: Prng, o: { positions: number; accounts: number; instruments: number; tiers: number }): void {
  const maxUnits = [50_000n, 250_000n, 1_000_000n, 5_000_000n, 20_000_000n, 50_000_000n, 100_000_000n, 200_000_000n];
  const mmrs = [400_000n, 500_000n, 1_000_000n, 2_500_000n, 5_000_000n, 10_000_000n, 12_500_000n, 15_000_000n];
  for (let i = 0; i < o.instruments; i++) {
    b.inst_k_minor[i] = r.pick([1n, 10n, 100n, 1000n]);
    b.inst_mark_ticks[i] = BigInt(Math.floor(10 ** (3 + 4 * r.float())));
    const unitMinor = r.pick([10_000n, 100_000n, 1_000_000n]);
    b.inst_tier_count[i] = o.tiers;
    let cum = 0n;
    for (let t = 0; t < o.tiers; t++) {
      const j = i * MAX_TIERS + t;
      if (t > 0) cum += (maxUnits[t - 1]! * unitMinor * (mmrs[t]! - mmrs[t - 1]!)) / RATE;
      b.tier_max_notional_minor[j] = maxUnits[t]! * unitMinor;
      b.tier_mmr_e8[j] = mmrs[t]!;
      b.tier_cum_minor[j] = cum;
    }
  }
  for (let a = 0; a < o.accounts; a++) b.acct_base_minor[a] = BigInt(r.int(0, 1_000_000_000)) * 1000n;
  for (let p = 0; p < o.positions; p++) {
    const i = r.int(0, o.instruments - 1);
    const mark = Number(b.inst_mark_ticks[i]!);
    const qty = BigInt(Math.max(1, Math.floor(10 ** (5 * r.float())))) * (r.chance(0.5) ? 1n : -1n);
    const entry = BigInt(Math.max(1, Math.round(mark * (0.9 + 0.2 * r.float()))));
    const lev = r.pick([1, 2, 3, 5, 10, 20, 25, 50, 75, 100, 125]);
    const notional = (qty < 0n ? -qty : qty) * entry * b.inst_k_minor[i]!;
    b.pos_qty_lots[p] = qty;
    b.pos_cost_lot_ticks[p] = qty * entry;
    b.pos_instrument[p] = i;
    b.pos_account[p] = r.int(0, o.accounts - 1);
    b.pos_leverage[p] = lev;
    const isolated = r.chance(0.3);
    b.pos_mode[p] = isolated ? MODE_ISOLATED : MODE_CROSS;
    b.pos_isolated_margin_minor[p] = isolated ? (notional / BigInt(lev)) * BigInt(r.int(100, 200)) / 100n : 0n;
  }
}

function medianMs(task: Task | undefined): number {
  const res = task?.result;
  if (res === undefined || res.state !== "completed") throw new Error(`kernel bench: task ${task?.name ?? "?"} did not complete`);
  return res.latency.p50;
}

export async function runKernelBench(opts: KernelBenchOptions): Promise<KernelBenchResult> {
  const positions = opts.positions;
  const instruments = opts.instruments ?? 64;
  const tiers = opts.tiers ?? MAX_TIERS;
  const seed = opts.seed ?? 1;
  const time = opts.time_ms ?? 1000;
  if (!Number.isSafeInteger(positions) || positions < 1) throw new RangeError(`kernel bench: positions must be >= 1, got ${positions}`);
  if (!Number.isSafeInteger(instruments) || instruments < 1) throw new RangeError(`kernel bench: bad instruments ${instruments}`);
  if (!Number.isSafeInteger(tiers) || tiers < 1 || tiers > MAX_TIERS) throw new RangeError(`kernel bench: tiers must be in [1, ${MAX_TIERS}]`);
  if (!(time >= 0)) throw new RangeError(`kernel bench: bad time_ms ${time}`);

  const accounts = Math.max(1, Math.floor(positions / 4));
  const cap = { positions, accounts, instruments };
  const kernel = createKernelMarginEngine(cap);
  const reference = createReferenceMarginEngine(cap);
  fillRealisticBook(kernel.book, new Prng(seed), { positions, accounts, instruments, tiers });
  for (const f of BOOK_FIELDS.slice(0, BOOK_INPUT_FIELD_COUNT)) {
    (reference.book[f.name] as { set(a: ArrayLike<unknown>): void }).set(kernel.book[f.name] as ArrayLike<unknown>);
  }
  // Same answer from both, or the comparison is meaningless.
  const liquidatable = kernel.computeAll(positions, accounts);
  if (reference.computeAll(positions, accounts) !== liquidatable) throw new Error("kernel bench: engines disagree");

  // Separate benches: the kernel can afford many samples, the reference only a few.
  const fast = new Bench({ name: "kernel", time, iterations: 10, warmupIterations: 3, warmupTime: 0 });
  fast.add("wasm computeAll", () => {
    kernel.computeAll(positions, accounts);
  });
  const slow = new Bench({ name: "reference", time, iterations: 3, warmupIterations: 1, warmupTime: 0 });
  slow.add("reference computeAll", () => {
    reference.computeAll(positions, accounts);
  });
  await fast.run();
  await slow.run();
  const wasm = (medianMs(fast.tasks[0]) * 1e6) / positions;
  const ref = (medianMs(slow.tasks[0]) * 1e6) / positions;
  return { positions, wasm_ns_per_position: wasm, reference_ns_per_position: ref, ratio: ref / wasm };
}
