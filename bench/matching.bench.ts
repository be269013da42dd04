// Order-book benchmark: FastOrderBook vs NaiveOrderBook on the same exchange-core-like
// stream, in the same run. The stream is generated up front (by simulating it on a fast
// book), starting from `resting` (~1k) orders around the touch: mostly moves (price
// replaces) and cancels, new passive orders, and a few percent of IOC/market takers.
//   - throughput: tinybench, each sample replays the stream on a freshly prefilled book;
//   - latency: one more warm replay timing every operation with process.hrtime.bigint()
//     (the figures include one timer read, ~tens of ns).
// The naive book is O(resting) per operation, so it replays only the first `naiveOps`
// operations of the same stream. (`mmc bench` wires this; it is not a vitest bench file.)
// Run directly: node <compiled>/bench/matching.bench.js [--ops N] [--resting N] [--seed N]
import { pathToFileURL } from "node:url";
import { Bench, type Task } from "tinybench";
import type { OrderBook } from "../src/matching/book.js";
import { FastOrderBook } from "../src/matching/fast-book.js";
import { NaiveOrderBook } from "../src/matching/naive-book.js";
import type { BookEvent, OrderRequest, ReplaceRequest, Side } from "../src/matching/types.js";
import { Prng } from "../src/util/prng.js";

export interface MatchingBenchOptions {
  /** Operations after the prefill (default 1,000,000). */
  ops?: number;
  /** Resting orders to prefill and hold the book near (default 1,000). */
  resting?: number;
  seed?: number;
  /** Operations replayed on the naive book (default min(ops, 100,000)). */
  naiveOps?: number;
  /** tinybench samples per book (default 5). */
  iterations?: number;
}

export interface BookBenchFigures {
  ops: number;
  ops_per_s: number;
  latency_ns_p50: number;
  latency_ns_p99: number;
  latency_ns_p999: number;
  latency_ns_max: number;
}

export interface MatchingBenchResult {
  fast: BookBenchFigures;
  naive: BookBenchFigures;
  /** fast ops/s ÷ naive ops/s. */
  ratio: number;
  stream: {
    seed: number;
    resting_target: number;
    /** Share of each operation kind in the measured stream. */
    mix: Record<OpKindName, number>;
    /** Share of operations that produced at least one trade. */
    trading_ops: number;
    resting_at_end: number;
  };
}

type OpKindName = "new" | "move" | "resize" | "cancel" | "ioc" | "market";

const NEW = 0;
const CANCEL = 1;
const REPLACE = 2;

/** One pre-built operation (one shape for all kinds keeps the replay loop monomorphic). */
class BenchOp {
  constructor(
    readonly kind: number,
    readonly order: OrderRequest | null,
    readonly account: string,
    readonly id: string,
    readonly change: ReplaceRequest | null,
  ) {}
}

interface Stream {
  readonly prefill: BenchOp[];
  readonly ops: BenchOp[];
  readonly mix: Record<OpKindName, number>;
  readonly tradingOps: number;
  readonly restingAtEnd: number;
}

const MID_TICKS = 1_000_000;
const ACCOUNTS = Array.from({ length: 64 }, (_, i) => `acct${i}`);

function apply(book: OrderBook, op: BenchOp): readonly BookEvent[] {
  if (op.kind === NEW) return book.place(op.order!);
  if (op.kind === CANCEL) return book.cancel(op.account, op.id);
  return book.replace(op.account, op.id, op.change!);
}

/** Generates the stream by running it on a fast book (to know what rests where). */
export function generateStream(opsCount: number, resting: number, seed: number): Stream {
  const r = new Prng(seed);
  const sim = new FastOrderBook("BENCH");
  const live: [string, string][] = [];
  const liveIndex = new Map<string, number>();
  let nextId = 0;
  const refresh = (account: string, id: string): void => {
    const key = `${account}\u0000${id}`;
    const rests = sim.order(account, id) !== undefined;
    const i = liveIndex.get(key);
    if (rests && i === undefined) {
      liveIndex.set(key, live.length);
      live.push([account, id]);
    } else if (!rests && i !== undefined) {
      const last = live.pop()!;
      if (i < live.length) {
        live[i] = last;
        liveIndex.set(`${last[0]}\u0000${last[1]}`, i);
      }
      liveIndex.delete(key);
    }
  };
  let traded = false;
  const run = (op: BenchOp): BenchOp => {
    traded = false;
    for (const e of apply(sim, op)) {
      if (e.type === "trade") {
        traded = true;
        refresh(e.taker === "buyer" ? e.seller : e.buyer, e.makerOrderId);
      } else if (e.type !== "order.rejected") {
        refresh(e.account, e.orderId);
      }
    }
    return op;
  };
  const best = (side: Side): number => (side === "buy" ? sim.bestBid() : sim.bestAsk()) ?? (side === "buy" ? MID_TICKS - 1 : MID_TICKS + 1);
  const passive = (side: Side, depth: number): OrderRequest => {
    // Price levels spread back from the touch (denser near it), never crossing.
    const touch = side === "buy" ? Math.min(best("buy"), best("sell") - 1) : Math.max(best("sell"), best("buy") + 1);
    const away = Math.floor(depth * r.float() * r.float());
    const price = side === "buy" ? touch - away : touch + away;
    return { id: `o${++nextId}`, account: r.pick(ACCOUNTS), side, orderType: "limit", price: Math.max(1, price), qty: r.int(1, 100), tif: "GTC" };
  };
  const newOp = (o: OrderRequest): BenchOp => new BenchOp(NEW, o, o.account, o.id, null);
  const side = (): Side => (r.chance(0.5) ? "buy" : "sell");

  const prefill: BenchOp[] = [];
  for (let i = 0; i < resting; i++) prefill.push(run(newOp(passive(side(), 60))));

  const mix: Record<OpKindName, number> = { new: 0, move: 0, resize: 0, cancel: 0, ioc: 0, market: 0 };
  let tradingOps = 0;
  const ops: BenchOp[] = [];
  for (let i = 0; i < opsCount; i++) {
    let kind: OpKindName;
    const x = r.float();
    if (live.length === 0 || live.length < resting * 0.95) kind = "new";
    else if (live.length > resting * 1.05) kind = "cancel";
    else if (x < 0.45) kind = "move";
    else if (x < 0.7) kind = "cancel";
    else if (x < 0.93) kind = "new";
    else if (x < 0.95) kind = "resize";
    else if (x < 0.99) kind = "ioc";
    else kind = "market";
    let op: BenchOp;
    if (kind === "new") {
      op = newOp(passive(side(), 60));
    } else if (kind === "ioc" || kind === "market") {
      const s = side();
      const opposite = best(s === "buy" ? "sell" : "buy");
      const o: OrderRequest =
        kind === "ioc"
          ? { id: `o${++nextId}`, account: r.pick(ACCOUNTS), side: s, orderType: "limit", price: Math.max(1, s === "buy" ? opposite + r.int(0, 3) : opposite - r.int(0, 3)), qty: r.int(1, 150), tif: "IOC" }
          : { id: `o${++nextId}`, account: r.pick(ACCOUNTS), side: s, orderType: "market", qty: r.int(1, 60), tif: "IOC" };
      op = newOp(o);
    } else {
      const [account, id] = r.pick(live);
      if (kind === "cancel") {
        op = new BenchOp(CANCEL, null, account, id, null);
      } else {
        const cur = sim.order(account, id)!;
        if (kind === "resize") {
          op = new BenchOp(REPLACE, null, account, id, { qty: Math.max(1, cur.qty - r.int(1, 10)) });
        } else {
          // A move: a few ticks either way, mostly staying passive (sometimes crossing).
          const price = Math.max(1, cur.price + (r.chance(0.5) ? 1 : -1) * r.int(1, 5));
          op = new BenchOp(REPLACE, null, account, id, { price });
        }
      }
    }
    ops.push(run(op));
    mix[kind] += 1;
    if (traded) tradingOps += 1;
  }
  for (const k of Object.keys(mix) as OpKindName[]) mix[k] = round4(mix[k] / Math.max(1, opsCount));
  return { prefill, ops, mix, tradingOps: round4(tradingOps / Math.max(1, opsCount)), restingAtEnd: sim.restingCount() };
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

type Factory = () => OrderBook;

function prefilled(create: Factory, stream: Stream): OrderBook {
  const book = create();
  for (const op of stream.prefill) apply(book, op);
  return book;
}

/** Replays ops[0, n) on `book`; returns the number of events (keeps the work observable). */
function replay(book: OrderBook, ops: readonly BenchOp[], n: number): number {
  let events = 0;
  for (let i = 0; i < n; i++) events += apply(book, ops[i]!).length;
  return events;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

async function measure(name: string, create: Factory, stream: Stream, n: number, iterations: number): Promise<BookBenchFigures> {
  let book = prefilled(create, stream);
  let events = -1;
  const bench = new Bench({ name: `matching ${name}`, iterations, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add(
    name,
    () => {
      const e = replay(book, stream.ops, n);
      if (events !== -1 && e !== events) throw new Error(`matching bench: ${name} replay is not deterministic`);
      events = e;
    },
    {
      beforeEach: () => {
        book = prefilled(create, stream);
      },
    },
  );
  await bench.run();
  const task: Task | undefined = bench.getTask(name);
  const res = task?.result;
  if (res === undefined || res.state !== "completed") {
    throw new Error(`matching bench: ${name} did not complete (${res?.state ?? "?"}${res?.state === "errored" ? `: ${res.error.message}` : ""})`);
  }
  const opsPerS = n / (res.latency.mean / 1000);

  // Per-operation latency on one more (warm) replay.
  book = prefilled(create, stream);
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const op = stream.ops[i]!;
    const t0 = process.hrtime.bigint();
    apply(book, op);
    lat[i] = Number(process.hrtime.bigint() - t0);
  }
  lat.sort();
  return {
    ops: n,
    ops_per_s: Math.round(opsPerS),
    latency_ns_p50: percentile(lat, 0.5),
    latency_ns_p99: percentile(lat, 0.99),
    latency_ns_p999: percentile(lat, 0.999),
    latency_ns_max: lat[n - 1] ?? 0,
  };
}

export async function runMatchingBench(opts: MatchingBenchOptions = {}): Promise<MatchingBenchResult> {
  const ops = opts.ops ?? 1_000_000;
  const resting = opts.resting ?? 1_000;
  const seed = opts.seed ?? 1;
  const naiveOps = Math.min(ops, opts.naiveOps ?? 100_000);
  const iterations = opts.iterations ?? 5;
  for (const [k, v] of [["ops", ops], ["resting", resting], ["naiveOps", naiveOps], ["iterations", iterations]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`runMatchingBench: ${k} must be a positive integer`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError("runMatchingBench: seed must be a safe integer");
  const stream = generateStream(ops, resting, seed);
  const fast = await measure("fast", () => new FastOrderBook("BENCH"), stream, ops, iterations);
  const naive = await measure("naive", () => new NaiveOrderBook("BENCH"), stream, naiveOps, Math.min(iterations, 3));
  return {
    fast,
    naive,
    ratio: Math.round((fast.ops_per_s / naive.ops_per_s) * 100) / 100,
    stream: { seed, resting_target: resting, mix: stream.mix, trading_ops: stream.tradingOps, resting_at_end: stream.restingAtEnd },
  };
}

// Direct run: print the figures as JSON.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : Number(process.argv[i + 1]);
  };
  const res = await runMatchingBench({ ops: arg("ops"), resting: arg("resting"), seed: arg("seed"), naiveOps: arg("naive-ops") });
  console.log(JSON.stringify(res, null, 2));
}
