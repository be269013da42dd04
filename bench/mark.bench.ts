// Mark-move benchmark (issue 3): an instrument with N positions (default 100k), a mark event
// from `Core.apply` to liquidation decisions — the whole per-event path: decide, evolve, the
// kernel pass over every account holding the instrument, liquidation, margin calls.
// Quiet marks (small moves, nothing liquidated), crash marks (each liquidates some accounts)
// and, after the crash, a random walk (steps up to ±0.05%) are measured separately; latencies
// are per event, p50/p99 from sorted samples. `markIntervals: false` measures the full path
// (every holder recomputed per mark, docs/incremental.md).
import { Core } from "../src/pipeline.js";
import { validateEvent } from "../src/events/schema.js";
import type { LogEntry } from "../src/events/types.js";
import { Prng } from "../src/util/prng.js";

export interface MarkBenchOptions {
  positions?: number;
  /** Quiet mark events measured. */
  marks?: number;
  /** Crash mark events measured after the quiet ones (default 40). */
  crashMarks?: number;
  /** Random-walk mark events measured after the crash (steps of up to ±0.05%, default 1000). */
  walkMarks?: number;
  seed?: number;
  /** Core option (default true): false measures the full path (every holder recomputed per mark). */
  markIntervals?: boolean;
}

export interface MarkBenchResult {
  positions: number;
  mark_intervals: boolean;
  setup_ms: number;
  /** Accounts whose mark intervals were derived again per quiet / crash mark (mean; 0 without intervals). */
  rederived_per_mark: { quiet: number; crash: number };
  quiet: { events: number; latency_ns_p50: number; latency_ns_p99: number; latency_ns_max: number };
  crash: { events: number; liquidations: number; latency_ns_p50: number; latency_ns_p99: number; latency_ns_max: number };
  /** After the crash: a random walk (steps up to ±0.05%), so some accounts leave their mark intervals. */
  walk: { events: number; liquidations: number; rederived_per_mark: number; latency_ns_p50: number; latency_ns_p99: number; latency_ns_max: number };
}

function ev(o: Record<string, unknown>): LogEntry {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(`bench event rejected by schema: ${v.rejection.message}`);
  return { kind: "event", event: v.event };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function runMarkBench(opts: MarkBenchOptions = {}): Promise<MarkBenchResult> {
  const positions = opts.positions ?? 100_000;
  const marks = opts.marks ?? 1000;
  if (positions < 2 || positions % 2 !== 0) throw new RangeError("positions must be an even number ≥ 2");
  const rng = new Prng(opts.seed ?? 1);
  const markIntervals = opts.markIntervals ?? true;
  const core = new Core({ keepHistory: false, markIntervals });
  const t0 = process.hrtime.bigint();
  const must = (e: LogEntry): void => {
    const r = core.apply(e);
    if (r.rejection !== null) throw new Error(`setup event rejected: ${r.rejection.message}`);
  };
  must(ev({ type: "asset", asset: "USDT", decimals: 6, settlement: true }));
  must(ev({
    type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
    tiers: [{ maxNotional: "50000", mmr: "0.004", maxLeverage: 125 }, { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 }, { maxNotional: "1000000", mmr: "0.01", maxLeverage: 50 }],
    makerFee: "0.0002", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
  }));
  must(ev({ type: "mark", symbol: "BTC-PERP", price: "50000" }));
  must(ev({ type: "deposit", id: "ins", account: "@insurance", asset: "USDT", amount: "100000000" }));
  // Pairs of a long and a short with varied size and margin; a third isolated.
  for (let i = 0; i < positions / 2; i++) {
    const long = `L${i}`;
    const short = `S${i}`;
    const lots = rng.int(1, 2000);
    const notional = (lots * 50_000) / 1000;
    must(ev({ type: "deposit", id: `dl${i}`, account: long, asset: "USDT", amount: String(Math.ceil(notional * (0.02 + rng.float() * 0.3))) }));
    must(ev({ type: "deposit", id: `ds${i}`, account: short, asset: "USDT", amount: String(Math.ceil(notional * 1.5)) }));
    if (i % 3 === 0) must(ev({ type: "margin.mode", account: long, symbol: "BTC-PERP", mode: "isolated" }));
    must(ev({ type: "trade", id: `t${i}`, symbol: "BTC-PERP", price: "50000", qty: (lots / 1000).toFixed(3), buyer: long, seller: short, taker: "buyer" }));
  }
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const quiet: number[] = [];
  const derived0 = core.intervalDerivations;
  let tick = 500_000;
  for (let i = 0; i < marks; i++) {
    tick += i % 2 === 0 ? 1 : -1; // ±0.1: moves every figure, liquidates nobody
    const e = ev({ type: "mark", symbol: "BTC-PERP", price: (tick / 10).toFixed(1) });
    const s = process.hrtime.bigint();
    core.apply(e);
    quiet.push(Number(process.hrtime.bigint() - s));
  }
  const derived1 = core.intervalDerivations;
  const crash: number[] = [];
  let liquidations = 0;
  for (let i = 0; i < (opts.crashMarks ?? 40); i++) {
    tick = Math.round(tick * 0.997); // a slide: each step liquidates the thinnest longs
    const e = ev({ type: "mark", symbol: "BTC-PERP", price: (tick / 10).toFixed(1) });
    const s = process.hrtime.bigint();
    const r = core.apply(e);
    crash.push(Number(process.hrtime.bigint() - s));
    liquidations += r.outputs.filter((o) => o.type === "liquidation").length;
  }
  const derived2 = core.intervalDerivations;
  const walk: number[] = [];
  let walkLiquidations = 0;
  const base = tick;
  for (let i = 0; i < (opts.walkMarks ?? 1000); i++) {
    const step = rng.int(-Math.round(base * 0.0005), Math.round(base * 0.0005));
    tick = Math.abs(tick + step - base) > base * 0.01 ? tick - step : tick + step; // reflect at ±1%
    const e = ev({ type: "mark", symbol: "BTC-PERP", price: (tick / 10).toFixed(1) });
    const s = process.hrtime.bigint();
    const r = core.apply(e);
    walk.push(Number(process.hrtime.bigint() - s));
    walkLiquidations += r.outputs.filter((o) => o.type === "liquidation").length;
  }
  const derived3 = core.intervalDerivations;
  walk.sort((a, b) => a - b);
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  const rederived = { quiet: round2((derived1 - derived0) / Math.max(1, quiet.length)), crash: round2((derived2 - derived1) / Math.max(1, crash.length)) };
  if (process.env.MMC_BENCH_TRACE === "1") process.stderr.write(`crash latencies (ms, in order): ${crash.map((x) => (x / 1e6).toFixed(1)).join(" ")}\n`);
  quiet.sort((a, b) => a - b);
  crash.sort((a, b) => a - b);
  return {
    positions,
    mark_intervals: markIntervals,
    rederived_per_mark: rederived,
    setup_ms: Math.round(setupMs),
    quiet: { events: quiet.length, latency_ns_p50: percentile(quiet, 0.5), latency_ns_p99: percentile(quiet, 0.99), latency_ns_max: quiet.at(-1)! },
    crash: crash.length === 0
      ? { events: 0, liquidations: 0, latency_ns_p50: 0, latency_ns_p99: 0, latency_ns_max: 0 }
      : { events: crash.length, liquidations, latency_ns_p50: percentile(crash, 0.5), latency_ns_p99: percentile(crash, 0.99), latency_ns_max: crash.at(-1)! },
    walk: walk.length === 0
      ? { events: 0, liquidations: 0, rederived_per_mark: 0, latency_ns_p50: 0, latency_ns_p99: 0, latency_ns_max: 0 }
      : {
        events: walk.length, liquidations: walkLiquidations, rederived_per_mark: round2((derived3 - derived2) / walk.length),
        latency_ns_p50: percentile(walk, 0.5), latency_ns_p99: percentile(walk, 0.99), latency_ns_max: walk.at(-1)!,
      },
  };
}
