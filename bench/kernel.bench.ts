// Kernel benchmark: computeAll over a realistic book — the WASM kernel (every output, and
// statuses only), the BigInt reference, and a plain-JS float64 loop as a peer — measured with
// tinybench in the same run, reported as median ns per position (wall), plus CPU-time medians
// (process.cpuUsage) for the kernel and the JS loop. docs/kernel.md explains the figures.
// (The `mmc bench kernel` CLI wires this; it is not a vitest bench file.)
import os from "node:os";
import { Bench, type Task } from "tinybench";
import { BOOK_FIELDS, BOOK_INPUT_FIELD_COUNT } from "../src/margin/book.js";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, OUTPUTS_FLAGS, OUTPUTS_FULL, type MarginBook } from "../src/margin/engine.js";
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
  accounts: number;
  instruments: number;
  /** computeAll, every output (OUTPUTS_FULL): tinybench median wall time per position. */
  wasm_ns_per_position: number;
  /** computeAll, statuses/summary/lists only (OUTPUTS_FLAGS). */
  wasm_flags_ns_per_position: number;
  /** The BigInt reference engine's computeAll. */
  reference_ns_per_position: number;
  /** A plain-JS float64 loop over the same data (inexact; a peer comparison, see jsNumberPass). */
  js_number_ns_per_position: number;
  /** Median process CPU time per position (process.cpuUsage), less sensitive to other load. */
  wasm_cpu_ns_per_position: number;
  wasm_flags_cpu_ns_per_position: number;
  js_number_cpu_ns_per_position: number;
  /** reference / wasm: how many times faster the kernel is. */
  ratio: number;
  /** Positions the kernel computed on its checked (slow) path (0 for this book). */
  wasm_checked_positions: number;
  loadavg_1m: number;
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

/** The book's inputs as float64 arrays, for the plain-JS baseline. */
interface NumberBook {
  q: Float64Array;
  cost: Float64Array;
  margin: Float64Array;
  inst: Int32Array;
  acct: Int32Array;
  lev: Int32Array;
  mode: Int32Array;
  mark: Float64Array;
  k: Float64Array;
  tierCount: Int32Array;
  tierMax: Float64Array;
  tierRate: Float64Array; // mmr / 1e8
  tierCum: Float64Array;
  base: Float64Array;
  // outputs
  n: Float64Array;
  u: Float64Array;
  mm: Float64Array;
  im: Float64Array;
  e: Float64Array;
  status: Int32Array;
  acctE: Float64Array;
  acctMM: Float64Array;
  acctIM: Float64Array;
  acctStatus: Int32Array;
}

function numberBook(b: MarginBook, positions: number, accounts: number, instruments: number): NumberBook {
  const f = (a: BigInt64Array, n: number): Float64Array => Float64Array.from(a.subarray(0, n), Number);
  const tiers = instruments * MAX_TIERS;
  return {
    q: f(b.pos_qty_lots, positions),
    cost: f(b.pos_cost_lot_ticks, positions),
    margin: f(b.pos_isolated_margin_minor, positions),
    inst: b.pos_instrument.slice(0, positions),
    acct: b.pos_account.slice(0, positions),
    lev: b.pos_leverage.slice(0, positions),
    mode: b.pos_mode.slice(0, positions),
    mark: f(b.inst_mark_ticks, instruments),
    k: f(b.inst_k_minor, instruments),
    tierCount: b.inst_tier_count.slice(0, instruments),
    tierMax: f(b.tier_max_notional_minor, tiers),
    tierRate: Float64Array.from(b.tier_mmr_e8.subarray(0, tiers), (x) => Number(x) / 1e8),
    tierCum: f(b.tier_cum_minor, tiers),
    base: f(b.acct_base_minor, accounts),
    n: new Float64Array(positions),
    u: new Float64Array(positions),
    mm: new Float64Array(positions),
    im: new Float64Array(positions),
    e: new Float64Array(positions),
    status: new Int32Array(positions),
    acctE: new Float64Array(accounts),
    acctMM: new Float64Array(accounts),
    acctIM: new Float64Array(accounts),
    acctStatus: new Int32Array(accounts),
  };
}

/**
 * The same computation as computeAll in plain JS numbers (float64): figures, tier search,
 * statuses, account sums. Inexact by design (no overflow detection, float rounding): it is the
 * speed of a naive float implementation, the peer the exact kernel is compared with.
 */
export function jsNumberPass(d: NumberBook, positions: number, accounts: number): number {
  const { acctE, acctMM, acctIM } = d;
  for (let a = 0; a < accounts; a++) {
    acctE[a] = d.base[a]!;
    acctMM[a] = 0;
    acctIM[a] = 0;
  }
  let liquidatable = 0;
  for (let p = 0; p < positions; p++) {
    const i = d.inst[p]!;
    const q = d.q[p]!;
    const mark = d.mark[i]!;
    const k = d.k[i]!;
    const n = Math.abs(q) * mark * k;
    const u = k * (q * mark - d.cost[p]!);
    const last = d.tierCount[i]! - 1;
    let t = 0;
    while (t < last && n > d.tierMax[i * MAX_TIERS + t]!) t++;
    const mm = Math.ceil(n * d.tierRate[i * MAX_TIERS + t]!) - d.tierCum[i * MAX_TIERS + t]!;
    const im = Math.ceil(n / d.lev[p]!);
    const isolated = d.mode[p] === MODE_ISOLATED;
    const e = isolated ? d.margin[p]! + u : u;
    d.n[p] = n;
    d.u[p] = u;
    d.mm[p] = mm;
    d.im[p] = im;
    d.e[p] = e;
    const active = isolated && q !== 0;
    const liq = active && e < mm;
    d.status[p] = (liq ? 1 : 0) | (active && 4 * e <= 5 * mm ? 4 : 0);
    if (liq) liquidatable++;
    if (!isolated) {
      const a = d.acct[p]!;
      acctE[a] = acctE[a]! + u;
      acctMM[a] = acctMM[a]! + mm;
      acctIM[a] = acctIM[a]! + im;
    }
  }
  for (let a = 0; a < accounts; a++) {
    const liq = acctE[a]! < acctMM[a]!;
    d.acctStatus[a] = (liq ? 1 : 0) | (4 * acctE[a]! <= 5 * acctMM[a]! ? 4 : 0);
    if (liq) liquidatable++;
  }
  return liquidatable;
}

/** Median process CPU time (user + system) of `reps` calls, in ns per position. */
function cpuNsPerPosition(fn: () => void, reps: number, positions: number): number {
  fn();
  const xs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    xs.push(((c.user + c.system) * 1e3) / positions);
  }
  xs.sort((x, y) => x - y);
  return xs[xs.length >> 1]!;
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
  if (kernel.computeAll(positions, accounts, OUTPUTS_FLAGS) !== liquidatable) throw new Error("kernel bench: FLAGS disagrees");
  const checked = kernel.checkedPositions();
  const nb = numberBook(kernel.book, positions, accounts, instruments);

  // Separate benches: the kernel can afford many samples, the reference only a few.
  const fast = new Bench({ name: "kernel", time, iterations: 10, warmupIterations: 3, warmupTime: 0 });
  fast.add("wasm computeAll", () => {
    kernel.computeAll(positions, accounts, OUTPUTS_FULL);
  });
  fast.add("wasm computeAll flags", () => {
    kernel.computeAll(positions, accounts, OUTPUTS_FLAGS);
  });
  fast.add("js number", () => {
    jsNumberPass(nb, positions, accounts);
  });
  const slow = new Bench({ name: "reference", time, iterations: 3, warmupIterations: 1, warmupTime: 0 });
  slow.add("reference computeAll", () => {
    reference.computeAll(positions, accounts);
  });
  await fast.run();
  await slow.run();
  const perPosition = (task: Task | undefined): number => (medianMs(task) * 1e6) / positions;
  const wasm = perPosition(fast.tasks[0]);
  const ref = perPosition(slow.tasks[0]);
  // CPU-time medians: enough calls for about `time` ms each (at least 5).
  const reps = Math.max(5, Math.round((time * 1e6) / Math.max(1, wasm * positions)));
  return {
    positions,
    accounts,
    instruments,
    wasm_ns_per_position: wasm,
    wasm_flags_ns_per_position: perPosition(fast.tasks[1]),
    reference_ns_per_position: ref,
    js_number_ns_per_position: perPosition(fast.tasks[2]),
    wasm_cpu_ns_per_position: cpuNsPerPosition(() => kernel.computeAll(positions, accounts, OUTPUTS_FULL), reps, positions),
    wasm_flags_cpu_ns_per_position: cpuNsPerPosition(() => kernel.computeAll(positions, accounts, OUTPUTS_FLAGS), reps, positions),
    js_number_cpu_ns_per_position: cpuNsPerPosition(() => jsNumberPass(nb, positions, accounts), reps, positions),
    ratio: ref / wasm,
    wasm_checked_positions: checked,
    loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
