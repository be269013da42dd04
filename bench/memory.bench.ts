// Memory benchmark (issue 6): RSS per position with N positions held by the engine
// (default 1M: 500k long/short pairs, a third of the longs isolated), built through the
// real pipeline (Core.apply), history off. Reports the RSS growth over the empty engine
// divided by the positions, plus the V8 heap and the WASM memory separately.
import { Core } from "../src/pipeline.js";
import { validateEvent } from "../src/events/schema.js";
import type { LogEntry } from "../src/events/types.js";

export interface MemoryBenchOptions {
  positions?: number;
}

export interface MemoryBenchResult {
  positions: number;
  accounts: number;
  setup_ms: number;
  rss_bytes_per_position: number;
  heap_bytes_per_position: number;
  wasm_memory_bytes: number;
}

function ev(o: Record<string, unknown>): LogEntry {
  const v = validateEvent(o);
  if (!v.ok) throw new Error(`bench event rejected by schema: ${v.rejection.message}`);
  return { kind: "event", event: v.event };
}

function settle(): { rss: number; heap: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export async function runMemoryBench(opts: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const positions = opts.positions ?? 1_000_000;
  if (positions < 2 || positions % 2 !== 0) throw new RangeError("positions must be an even number ≥ 2");
  const core = new Core({ keepHistory: false });
  const must = (e: LogEntry): void => {
    const r = core.apply(e);
    if (r.rejection !== null) throw new Error(`setup event rejected: ${r.rejection.message}`);
  };
  must(ev({ type: "asset", asset: "USDT", decimals: 6, settlement: true }));
  must(ev({
    type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
    tiers: [{ maxNotional: "50000", mmr: "0.004", maxLeverage: 125 }, { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0.005", insuranceShare: "0.5",
  }));
  must(ev({ type: "mark", symbol: "BTC-PERP", price: "50000" }));
  const before = settle();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < positions / 2; i++) {
    must(ev({ type: "deposit", id: `l${i}`, account: `L${i}`, asset: "USDT", amount: "1000" }));
    must(ev({ type: "deposit", id: `s${i}`, account: `S${i}`, asset: "USDT", amount: "1000" }));
    if (i % 3 === 0) must(ev({ type: "margin.mode", account: `L${i}`, symbol: "BTC-PERP", mode: "isolated" }));
    must(ev({ type: "trade", id: `t${i}`, symbol: "BTC-PERP", price: "50000", qty: "0.01", buyer: `L${i}`, seller: `S${i}`, taker: "buyer" }));
  }
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = settle();
  return {
    positions,
    accounts: core.state.accountsBySlot.length,
    setup_ms: Math.round(setupMs),
    rss_bytes_per_position: Math.round((after.rss - before.rss) / positions),
    heap_bytes_per_position: Math.round((after.heap - before.heap) / positions),
    wasm_memory_bytes: core.margin.book.pos_qty_lots.buffer.byteLength,
  };
}
