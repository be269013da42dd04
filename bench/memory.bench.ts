// Memory benchmark (issue 6): RSS per position with N positions held by the engine, built
// through the real pipeline (Core.apply), history off. Two shapes, each measured in its own
// child process (`node --expose-gc`, so the figures are after a full GC and one shape's freed
// pages do not hide the other's growth):
// - pairs (the figure, default 1M positions): 500k long/short pairs, one position per
//   account (1M accounts), a third of the longs isolated; 1.5M idempotency ids (a deposit per
//   account, a trade per pair). Every position carries a whole account.
// - multi (the kernel bench's shape): N positions over N/4 accounts (4 positions each, in 4 of
//   64 instruments with 8 tiers), 30% isolated, 10% of the accounts also holding BTC
//   collateral; ids: a deposit per account (+ the BTC ones) and a trade per 2 positions.
// Reports the RSS growth over the engine before the positions, divided by the positions, plus
// the V8 heap and the WASM memory separately. docs/kernel.md "Memory" has the breakdown.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Core } from "../src/pipeline.js";
import { KernelMarginEngine } from "../src/margin/kernel.js";
import { validateEvent } from "../src/events/schema.js";
import type { LogEntry } from "../src/events/types.js";
import { formatScaled } from "../src/numbers/decimal.js";
import { Prng } from "../src/util/prng.js";

export type MemoryShape = "pairs" | "multi";
export const MEMORY_SHAPES: readonly MemoryShape[] = ["pairs", "multi"];

export interface MemoryBenchOptions {
  /** Positions of the pairs shape (default 1M). */
  positions?: number;
  /** Positions of the multi shape (default: the same). */
  multiPositions?: number;
  seed?: number;
}

export interface ShapeResult {
  positions: number;
  accounts: number;
  instruments: number;
  /** Idempotency ids the state holds (SPEC §8: kept for the engine's lifetime). */
  ids: number;
  setup_ms: number;
  rss_bytes_per_position: number;
  heap_bytes_per_position: number;
  /** ArrayBuffers outside the V8 heap (typed-array indexes; process.memoryUsage() does not count the WASM memory here). */
  array_buffer_bytes_per_position: number;
  /** The WASM linear memory's size (address space: pages never written are not resident). */
  wasm_memory_bytes: number;
  /** Bytes of the WASM arrays up to their last nonzero byte, per position (≈ resident). */
  wasm_used_bytes_per_position: number;
  /** The V8 heap's committed size (heapTotal) growth per position: used plus free space. */
  heap_committed_bytes_per_position: number;
}

/** The pairs shape's figures at top level (the figure); the multi shape under `multi`. */
export interface MemoryBenchResult extends ShapeResult {
  shape: string;
  multi: ShapeResult & { shape: string };
}

const SHAPE_NOTES: Record<MemoryShape, string> = {
  pairs: "1 position per account (long/short pairs), 1 instrument, 1/6 isolated, 1.5 ids per position",
  multi: "4 positions per account, 64 instruments × 8 tiers, 30% isolated, 10% of accounts with BTC collateral, 0.78 ids per position",
};

function ev(o: Record<string, unknown>): LogEntry {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(`bench event rejected by schema: ${v.rejection.message}`);
  return { kind: "event", event: v.event };
}

interface Sample {
  rss: number;
  heap: number;
  arrayBuffers: number;
  heapTotal: number;
}

function settle(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, arrayBuffers: m.arrayBuffers, heapTotal: m.heapTotal };
}

/** A book being built: `setup` runs before the baseline sample, `fill` adds the positions. */
interface ShapeBuild {
  readonly core: Core;
  readonly instruments: number;
  fill(): number; // returns the number of ids
}

function applier(core: Core): (o: Record<string, unknown>) => void {
  return (o) => {
    const r = core.apply(ev(o));
    if (r.rejection !== null) throw new Error(`setup event rejected: ${r.rejection.message}`);
  };
}

function pairsShape(positions: number): ShapeBuild {
  if (!Number.isSafeInteger(positions) || positions < 2 || positions % 2 !== 0) throw new RangeError("pairs: positions must be an even number ≥ 2");
  const core = new Core({ keepHistory: false });
  const must = applier(core);
  must({ type: "asset", asset: "USDT", decimals: 6, settlement: true });
  must({
    type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
    tiers: [{ maxNotional: "50000", mmr: "0.004", maxLeverage: 125 }, { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0.005", insuranceShare: "0.5",
  });
  must({ type: "mark", symbol: "BTC-PERP", price: "50000" });
  return {
    core,
    instruments: 1,
    fill() {
      for (let i = 0; i < positions / 2; i++) {
        must({ type: "deposit", id: `l${i}`, account: `L${i}`, asset: "USDT", amount: "1000" });
        must({ type: "deposit", id: `s${i}`, account: `S${i}`, asset: "USDT", amount: "1000" });
        if (i % 3 === 0) must({ type: "margin.mode", account: `L${i}`, symbol: "BTC-PERP", mode: "isolated" });
        must({ type: "trade", id: `t${i}`, symbol: "BTC-PERP", price: "50000", qty: "0.01", buyer: `L${i}`, seller: `S${i}`, taker: "buyer" });
      }
      return positions * 1.5;
    },
  };
}

const MULTI_INSTRUMENTS = 64;
const POSITIONS_PER_ACCOUNT = 4;

/**
 * The kernel bench's book (fillRealisticBook) through the pipeline: 64 instruments with 8
 * exchange-like tiers, marks log-uniform over 4 decades, notionals 100–100k USDT; accounts in
 * pairs, each pair trading 4 distinct instruments against each other at the mark.
 */
function multiShape(positions: number, seed: number): ShapeBuild {
  const per = 2 * POSITIONS_PER_ACCOUNT;
  if (!Number.isSafeInteger(positions) || positions < per || positions % per !== 0) throw new RangeError(`multi: positions must be a multiple of ${per}`);
  const r = new Prng(seed);
  const core = new Core({ keepHistory: false });
  const must = applier(core);
  must({ type: "asset", asset: "USDT", decimals: 6, settlement: true });
  must({ type: "asset", asset: "BTC", decimals: 8, haircut: "0.1" });
  must({ type: "collateral.price", asset: "BTC", price: "60000" });
  const maxUnits = [50_000, 250_000, 1_000_000, 5_000_000, 20_000_000, 50_000_000, 100_000_000, 200_000_000];
  const mmrs = ["0.004", "0.005", "0.01", "0.025", "0.05", "0.1", "0.125", "0.15"];
  const maxLev = [125, 100, 50, 20, 10, 5, 4, 2];
  const ticks = [{ s: "0.01", d: 2 }, { s: "0.1", d: 1 }, { s: "1", d: 0 }];
  const lots = [{ s: "0.001", d: 3 }, { s: "0.01", d: 2 }, { s: "0.1", d: 1 }];
  const inst: { symbol: string; markTicks: number; tickDecimals: number; lotDecimals: number; lotTickMinor: number }[] = [];
  for (let i = 0; i < MULTI_INSTRUMENTS; i++) {
    const tick = r.pick(ticks);
    const lot = r.pick(lots);
    const unit = r.pick([1, 10, 100]);
    const symbol = `I${i}-PERP`;
    must({
      type: "instrument", symbol, tickSize: tick.s, lotSize: lot.s,
      tiers: maxUnits.map((u, t) => ({ maxNotional: String(u * unit), mmr: mmrs[t]!, maxLeverage: maxLev[t]! })),
      makerFee: "0.0002", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
    });
    const markTicks = Math.floor(10 ** (3 + 4 * r.float()));
    must({ type: "mark", symbol, price: formatScaled(BigInt(markTicks), tick.d) });
    // minor units per lot·tick: 10^(6 − tickDecimals − lotDecimals)
    inst.push({ symbol, markTicks, tickDecimals: tick.d, lotDecimals: lot.d, lotTickMinor: 10 ** (6 - tick.d - lot.d) });
  }
  return {
    core,
    instruments: MULTI_INSTRUMENTS,
    fill() {
      const accounts = positions / POSITIONS_PER_ACCOUNT;
      let ids = 0;
      for (let a = 0; a < accounts; a++) {
        must({ type: "deposit", id: `d${a}`, account: `A${a}`, asset: "USDT", amount: "10000000" });
        ids++;
        if (a % 10 === 0) {
          must({ type: "deposit", id: `c${a}`, account: `A${a}`, asset: "BTC", amount: "0.5" });
          ids++;
        }
      }
      let trade = 0;
      for (let a = 0; a < accounts; a += 2) {
        const chosen = new Set<number>();
        while (chosen.size < POSITIONS_PER_ACCOUNT) chosen.add(r.int(0, MULTI_INSTRUMENTS - 1));
        for (const i of [...chosen].sort((x, y) => x - y)) {
          const it = inst[i]!;
          const [buyer, seller] = r.chance(0.5) ? [`A${a}`, `A${a + 1}`] : [`A${a + 1}`, `A${a}`];
          for (const who of [buyer, seller]) {
            if (r.chance(0.3)) must({ type: "margin.mode", account: who, symbol: it.symbol, mode: "isolated" });
          }
          const notionalMinor = 10 ** (8 + 3 * r.float());
          const qtyLots = Math.max(1, Math.round(notionalMinor / (it.markTicks * it.lotTickMinor)));
          must({
            type: "trade", id: `t${trade++}`, symbol: it.symbol, price: formatScaled(BigInt(it.markTicks), it.tickDecimals),
            qty: formatScaled(BigInt(qtyLots), it.lotDecimals), buyer, seller, taker: r.chance(0.5) ? "buyer" : "seller",
          });
          ids++;
        }
      }
      return ids;
    },
  };
}

export function buildShape(shape: MemoryShape, positions: number, seed = 1): ShapeBuild {
  return shape === "pairs" ? pairsShape(positions) : multiShape(positions, seed);
}

/** Builds one shape in this process and measures it (gc must be exposed for stable figures). */
export function measureShape(shape: MemoryShape, positions: number, seed = 1): ShapeResult {
  const build = buildShape(shape, positions, seed);
  const before = settle();
  const t0 = process.hrtime.bigint();
  const ids = build.fill();
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = settle();
  const core = build.core;
  const wasm = core.margin.book.pos_qty_lots.buffer.byteLength;
  const wasmUsed = core.margin instanceof KernelMarginEngine ? core.margin.memoryBytes().used : 0;
  const positionsHeld = core.state.positionsBySlot.length;
  if (positionsHeld !== positions) throw new Error(`memory bench: ${positionsHeld} positions, expected ${positions}`);
  return {
    positions,
    accounts: core.state.accountsBySlot.length,
    instruments: build.instruments,
    ids,
    setup_ms: Math.round(setupMs),
    rss_bytes_per_position: Math.round((after.rss - before.rss) / positions),
    heap_bytes_per_position: Math.round((after.heap - before.heap) / positions),
    array_buffer_bytes_per_position: Math.round((after.arrayBuffers - before.arrayBuffers) / positions),
    wasm_memory_bytes: wasm,
    wasm_used_bytes_per_position: Math.round(wasmUsed / positions),
    heap_committed_bytes_per_position: Math.round((after.heapTotal - before.heapTotal) / positions),
  };
}

const SELF = fileURLToPath(import.meta.url);
const CHILD_FLAG = "--memory-bench-child";

/** One shape in a fresh `node --expose-gc` (compiled bench only; under vitest: in this process). */
function measureIsolated(shape: MemoryShape, positions: number, seed: number): ShapeResult {
  if (!SELF.endsWith(".js")) return measureShape(shape, positions, seed);
  const r = spawnSync(process.execPath, ["--expose-gc", SELF, CHILD_FLAG, shape, String(positions), String(seed)], {
    encoding: "utf8", maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`memory bench (${shape}) failed: ${r.stderr || String(r.error)}`);
  return JSON.parse(r.stdout) as ShapeResult;
}

export async function runMemoryBench(opts: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const positions = opts.positions ?? 1_000_000;
  const multiPositions = opts.multiPositions ?? positions;
  const seed = opts.seed ?? 1;
  const pairs = measureIsolated("pairs", positions, seed);
  const multi = measureIsolated("multi", multiPositions, seed);
  return { shape: SHAPE_NOTES.pairs, ...pairs, multi: { shape: SHAPE_NOTES.multi, ...multi } };
}

if (process.argv[1] === SELF && process.argv[2] === CHILD_FLAG) {
  const shape = process.argv[3] as MemoryShape;
  if (!MEMORY_SHAPES.includes(shape)) throw new Error(`memory bench child: unknown shape ${shape}`);
  process.stdout.write(JSON.stringify(measureShape(shape, Number(process.argv[4]), Number(process.argv[5]))) + "\n");
}
