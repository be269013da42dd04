// Pipeline benchmark: publish → nats-server (JetStream, file storage) → mmc serve → applied
// (journaled with one fdatasync per group, outputs stored in the output stream, input
// acked), against a nats-server it starts itself on this machine.
//
//   throughput  a seeded market (the demo generator) pre-encoded into MMCB batches, then
//               published back to back (a few batches in flight); timed from the first
//               publish to the group that applies the last event. events_per_s = N / time.
//   latency     a book of long accounts with staggered liquidation prices, then marks that
//               each liquidate exactly one account, published one JSON message at a time
//               every `latencyIntervalMs`; latency = publish of the mark → arrival of its
//               `liquidation` output on mmc.out.liquidation (core NATS subscription),
//               both read from the same monotonic clock. Optional background load: batches
//               of trades at `loadEventsPerS` in between the marks.
//   layer       the NATS + journal layer alone with a stub core (not end to end; see LayerResult).
//   steady      the throughput run again on the steady market (`calm`: no crash, rare
//               liquidations), end to end with the real core: an ordinary day.
// `mmc bench` wires this; run directly: node dist/bench/pipeline.bench.js [--events N] …
// [--groups-in-flight 1|2] (serve's default is 2; 1 = one group at a time, for A/B)
// [--core-thread worker|main] (serve's default is worker: the core on its own thread; A/B)
// [--warmup N] (the end-to-end runs apply their first N events, whole batches, before the
// clock starts: a fresh worker's isolate is not JIT-warm, the bench's own isolate is after
// its first run; docs/nats.md *Benchmark*).
import { pathToFileURL } from "node:url";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { generateMarketLines } from "../src/demo/generate.js";
import { encodeBatch } from "../src/events/codec.js";
import { lineToEntry } from "../src/events/ndjson.js";
import type { LogEntry } from "../src/events/types.js";
import { connectForever } from "../src/nats/connect.js";
import { LocalNatsServer } from "../src/nats/local-server.js";
import { silentLogger } from "../src/nats/log.js";
import { parseCoreThread, ServeHandle, type CoreThread } from "../src/nats/serve.js";
import { Core } from "../src/pipeline.js";
import type { OutputEvent } from "../src/outputs/events.js";
import { DEFAULT_SETTINGS, ensureStreams } from "../src/nats/settings.js";
import { BATCH_SUBJECT } from "../src/nats/subjects.js";

export interface PipelineBenchOptions {
  /** Events in the throughput run (default 100,000). */
  events?: number;
  accounts?: number;
  seed?: number;
  /** Entries per batch message (default 1000). */
  batch?: number;
  /** Batches in flight while publishing (default 8). */
  inflight?: number;
  /** Marks (= liquidations) in the latency run (default 1000; 0 skips it). */
  latencyMarks?: number;
  /** Pause between marks (default 2 ms). */
  latencyIntervalMs?: number;
  /** Background trade events per second during the latency run (default 0). */
  loadEventsPerS?: number;
  /** Stream storage (default file). */
  storage?: "file" | "memory";
  /**
   * "stub" replaces the Core in the throughput run by one that only counts (no margin
   * work): the ceiling of decode + journal + NATS, i.e. what the pipeline adds.
   */
  core?: "real" | "stub";
  /**
   * Also measure the layer alone (default true): see LayerResult. "recorded" makes its stub
   * core return the outputs the real core derives for these entries (computed once, before
   * timing), so the layer also journals and publishes a real output load.
   */
  layer?: boolean;
  layerOutputs?: "none" | "recorded";
  /** Also run end to end on the steady market (default true). */
  steady?: boolean;
  /** serve's groups between delivery and ack (default: serve's, 2; 1 = one group at a time). */
  groupsInFlight?: number;
  /** Where serve runs the core and the journal (default: serve's, worker). A stub core runs on main. */
  coreThread?: CoreThread;
  /**
   * Events (rounded up to whole batches) each end-to-end throughput run (storm, steady)
   * applies through the same serve before its clock starts (default 0): warms the isolate
   * the core runs in. Results count the timed events only.
   */
  warmupEvents?: number;
}

/**
 * The NATS ingest + journal layer alone — NOT the product's end-to-end number. The whole
 * input is published to the stream first; then `serve` starts with a stub core (no margin
 * work) and drains it: decode, journal (one fdatasync per group), outputs published and
 * stored, acks. This is the ceiling the layer puts on the pipeline once the core is fast.
 */
export interface LayerResult {
  note: string;
  outputs_mode: "none" | "recorded";
  events: number;
  outputs: number;
  groups: number;
  seconds: number;
  events_per_s: number;
  /** CPU of this process (serve alone during the drain) per event: robust on a shared machine. */
  serve_cpu_ns_per_event: number;
  /** CPU of the nats-server process during the drain, per event. */
  server_cpu_ns_per_event: number | null;
}

export interface SteadyResult {
  market: "steady";
  /** Events timed (after the warm-up). */
  events: number;
  warmup_events: number;
  seconds: number;
  events_per_s: number;
  outputs: number;
  core_only_events_per_s: number;
}

export interface PipelineBenchResult {
  /** Events timed in the throughput run (after the warm-up). */
  events: number;
  warmup_events: number;
  messages: number;
  batch: number;
  seconds: number;
  events_per_s: number;
  /** Publishing alone (stored in the stream, acked by the server). */
  publish_events_per_s: number;
  outputs: number;
  groups: number;
  latency_samples: number;
  latency_ns_p50: number;
  latency_ns_p99: number;
  latency_ns_max: number;
  latency_load_events_per_s: number;
  /** The same entries applied to a Core in-process, no NATS, no journal (real core only). */
  core_only_events_per_s: number | null;
  /** The layer alone with a stub core (null when not run): not an end-to-end figure. */
  layer: LayerResult | null;
  /**
   * The same end-to-end throughput run on the steady market (the generator's `calm`: no
   * crash, rare liquidations) — an ordinary day, next to the storm above (null: skipped).
   */
  steady: SteadyResult | null;
  server_version: string;
  /** serve's core thread in the end-to-end runs. */
  core_thread: CoreThread;
}

/** serve settings under test (A/B within one build). */
type ServeTuning = { groupsInFlight?: number; coreThread?: CoreThread };

function percentile(sorted: readonly bigint[], p: number): number {
  if (sorted.length === 0) return 0;
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
}

/** How many leading batches make the warm-up (whole batches covering `events`). */
function warmupBatches(events: number, batch: number): number {
  return events <= 0 ? 0 : Math.ceil(events / batch);
}

async function publishBatches(js: JetStreamClient, batches: readonly Uint8Array[], inflight: number): Promise<void> {
  // The bench is the only writer and nothing fails: a window of publishes keeps order.
  const window: Promise<unknown>[] = [];
  for (const b of batches) {
    window.push(js.publish(BATCH_SUBJECT, b, { timeout: 30_000 }));
    if (window.length >= inflight) await window.shift();
  }
  await Promise.all(window);
}

function toEntries(lines: Iterable<string>): LogEntry[] {
  const out: LogEntry[] = [];
  for (const l of lines) {
    const e = lineToEntry(l);
    if (e !== null) out.push(e);
  }
  return out;
}

function chunks<T>(a: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

/**
 * A Core stand-in that applies nothing: every entry is accepted, with no outputs or, when
 * given, the outputs recorded for its seq (`recorded[seq - 1]`).
 */
function stubCore(recorded?: readonly (readonly OutputEvent[])[]): Core {
  const state = { seq: 0, ts: 0 };
  const none: readonly OutputEvent[] = [];
  const stub = {
    state,
    apply(entry: LogEntry, ts?: number) {
      state.seq++;
      state.ts = ts ?? (entry.kind === "event" ? (entry.event.ts ?? state.ts) : state.ts);
      return { seq: state.seq, ts: state.ts, rejection: null, outputs: recorded?.[state.seq - 1] ?? none };
    },
  };
  return stub as unknown as Core;
}

/** CPU seconds (user + system) a process has used, from /proc; null where unavailable. */
function procCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 (utime, stime) in clock ticks; 100 Hz on Linux.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** See LayerResult. Uses fresh streams; `server` is the bench's nats-server. */
/** End to end on the steady market: fresh streams and journal, publish, serve drains, real core. */
async function runSteady(
  server: LocalNatsServer, nc: NatsConnection, dir: string, events: number, accounts: number, seed: number, batch: number,
  inflight: number, settings: { storage: "file" | "memory" }, serveOpts: ServeTuning, warmupEvents: number,
): Promise<SteadyResult> {
  const log = silentLogger();
  const entries = toEntries(generateMarketLines({ seed, accounts, events, calm: true }));
  const batches = chunks(entries, batch).map((c) => encodeBatch(c));
  const jsm = await jetstreamManager(nc);
  for (const s of ["MMC_IN", "MMC_OUT"]) await jsm.streams.delete(s).catch(() => false);
  const warm = Math.min(warmupBatches(warmupEvents, batch), batches.length - 1);
  const warmEntries = Math.min(warm * batch, entries.length);
  let target = warmEntries;
  let reached: () => void = () => {};
  let done = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const serve = await ServeHandle.start({
    ...serveOpts, url: server.url, journal: join(dir, "steady.journal"), log, query: false, settings,
    onGroup: (g) => {
      if (g.seq >= target) reached();
    },
  });
  if (warm > 0) {
    await publishBatches(jetstream(nc), batches.slice(0, warm), inflight);
    await done;
    target = entries.length;
    done = new Promise<void>((resolve) => {
      reached = resolve;
    });
  } else target = entries.length;
  const outputs0 = serve.status().outputs;
  const t0 = process.hrtime.bigint();
  await publishBatches(jetstream(nc), batches.slice(warm), inflight);
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const outputs = serve.status().outputs - outputs0;
  await serve.stop();
  const core = new Core({ keepHistory: false });
  const c0 = process.hrtime.bigint();
  for (const e of entries) core.apply(e);
  const coreOnly = Math.round(entries.length / (Number(process.hrtime.bigint() - c0) / 1e9));
  const timed = entries.length - warmEntries;
  return { market: "steady", events: timed, warmup_events: warmEntries, seconds, events_per_s: Math.round(timed / seconds), outputs, core_only_events_per_s: coreOnly };
}

async function runLayer(
  server: LocalNatsServer, nc: NatsConnection, dir: string, entries: readonly LogEntry[], batches: readonly Uint8Array[],
  inflight: number, settings: { storage: "file" | "memory" }, outputsMode: "none" | "recorded", serveOpts: ServeTuning,
): Promise<LayerResult> {
  const log = silentLogger();
  let recorded: (readonly OutputEvent[])[] | undefined;
  if (outputsMode === "recorded") {
    const core = new Core({ keepHistory: false });
    recorded = entries.map((e) => core.apply(e).outputs);
  }
  const jsm = await jetstreamManager(nc);
  for (const s of ["MMC_IN", "MMC_OUT"]) await jsm.streams.delete(s).catch(() => false);
  await ensureStreams(jsm, "MMC_IN", "MMC_OUT", { ...DEFAULT_SETTINGS, ...settings }, log);
  await publishBatches(jetstream(nc), batches, inflight);
  let groups = 0;
  let reached: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const serve = await ServeHandle.start({
    ...serveOpts, url: server.url, journal: join(dir, "layer.journal"), log, query: false, settings, core: stubCore(recorded),
    onGroup: (g) => {
      groups++;
      if (g.seq >= entries.length) reached();
    },
  });
  const c0 = process.cpuUsage();
  const s0 = procCpuSeconds(server.pid);
  const t0 = process.hrtime.bigint();
  await done;
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  const s1 = procCpuSeconds(server.pid);
  const outputs = serve.status().outputs;
  await serve.stop();
  const seconds = Number(t1 - t0) / 1e9;
  return {
    note: "NATS ingest + journal layer alone, stub core (no margin work), stream pre-filled: not the product's end-to-end number",
    outputs_mode: outputsMode,
    events: entries.length,
    outputs,
    groups,
    seconds,
    events_per_s: Math.round(entries.length / seconds),
    serve_cpu_ns_per_event: Math.round(((c.user + c.system) * 1000) / entries.length),
    server_cpu_ns_per_event: s0 === null || s1 === null ? null : Math.round(((s1 - s0) * 1e9) / entries.length),
  };
}

const USD = 1_000_000n;

/** Setup for the latency run: accounts L0… long 1 BTC at 50000 with deposits 1000, 1010, … */
function latencySetup(n: number): string[] {
  const ev: object[] = [
    { type: "asset", asset: "USDT", decimals: 6, settlement: true, ts: 1 },
    {
      type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
      tiers: [{ maxNotional: "1000000000", mmr: "0.005", maxLeverage: 100 }],
      makerFee: "0", takerFee: "0", liquidationFee: "0.005", insuranceShare: "0.5",
    },
    { type: "mark", symbol: "BTC-PERP", price: "50000" },
    { type: "deposit", id: "ins", account: "@insurance", asset: "USDT", amount: "1000000000" },
    { type: "deposit", id: "whale", account: "whale", asset: "USDT", amount: "1000000000" },
    { type: "deposit", id: "f1", account: "f1", asset: "USDT", amount: "1000000000" },
    { type: "deposit", id: "f2", account: "f2", asset: "USDT", amount: "1000000000" },
  ];
  for (let i = 0; i < n; i++) {
    ev.push({ type: "deposit", id: `d${i}`, account: `L${i}`, asset: "USDT", amount: String(1000 + 10 * i) });
    ev.push({ type: "trade", id: `t${i}`, symbol: "BTC-PERP", price: "50000", qty: "1", buyer: `L${i}`, seller: "whale", taker: "buyer" });
  }
  return ev.map((e) => JSON.stringify(e));
}

/** The mark that liquidates L_i and no one after it: (50000 − d_i)/0.995 − 1, down to a tick. */
function latencyMark(i: number): string {
  const d = BigInt(1000 + 10 * i) * USD;
  const ticks = (((50_000n * USD - d) * 1000n) / 995n - USD) / 100_000n; // 0.1 USDT ticks
  return `{"type":"mark","symbol":"BTC-PERP","price":"${ticks / 10n}.${ticks % 10n}"}`;
}

export async function runPipelineBench(opts: PipelineBenchOptions = {}): Promise<PipelineBenchResult> {
  const events = opts.events ?? 100_000;
  const batch = opts.batch ?? 1000;
  const inflight = opts.inflight ?? 8;
  const marks = opts.latencyMarks ?? 1000;
  const serveOpts: ServeTuning = {
    ...(opts.groupsInFlight === undefined ? {} : { groupsInFlight: opts.groupsInFlight }),
    ...(opts.coreThread === undefined ? {} : { coreThread: opts.coreThread }),
  };
  const log = silentLogger();
  const dir = mkdtempSync(join(tmpdir(), "mmc-bench-"));
  const server = await LocalNatsServer.start();
  let nc: NatsConnection | null = null;
  try {
    nc = await connectForever({ url: server.url, name: "bench", log });
    const js = jetstream(nc);
    const settings = { storage: opts.storage ?? "file" } as const;

    // ---- throughput
    const entries = toEntries(generateMarketLines({ seed: opts.seed ?? 42, accounts: opts.accounts ?? 2000, events }));
    const batches = chunks(entries, batch).map((c) => encodeBatch(c));
    const warm = Math.min(warmupBatches(opts.warmupEvents ?? 0, batch), batches.length - 1);
    const warmEntries = Math.min(warm * batch, entries.length);
    const timedEntries = entries.length - warmEntries;
    let groups = 0;
    let target = warmEntries;
    let reached: (() => void) | null = null;
    const serve = await ServeHandle.start({
      ...serveOpts, url: server.url, journal: join(dir, "bench.journal"), log, query: false, settings,
      ...(opts.core === "stub" ? { core: stubCore() } : {}),
      onGroup: (g) => {
        groups++;
        if (g.seq >= target && reached !== null) reached();
      },
    });
    if (warm > 0) {
      const warmed = new Promise<void>((resolve) => {
        reached = resolve;
      });
      await publishBatches(js, batches.slice(0, warm), inflight);
      await warmed;
    }
    target = entries.length;
    const done = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const groups0 = groups;
    const outputs0 = serve.status().outputs;
    const t0 = process.hrtime.bigint();
    await publishBatches(js, batches.slice(warm), inflight);
    const tPub = process.hrtime.bigint();
    await done;
    const t1 = process.hrtime.bigint();
    const seconds = Number(t1 - t0) / 1e9;
    const outputs = serve.status().outputs - outputs0;
    groups -= groups0;
    await serve.stop();
    let coreOnly: number | null = null;
    if (opts.core !== "stub") {
      const core = new Core({ keepHistory: false });
      const c0 = process.hrtime.bigint();
      for (const e of entries) core.apply(e);
      coreOnly = Math.round(entries.length / (Number(process.hrtime.bigint() - c0) / 1e9));
    }

    // ---- latency (fresh streams and journal)
    let lat: bigint[] = [];
    let loadRate = 0;
    if (marks > 0) {
      const jsm = await jetstreamManager(nc);
      for (const s of ["MMC_IN", "MMC_OUT"]) await jsm.streams.delete(s);
      const setup = toEntries(latencySetup(marks));
      target = setup.length;
      const setupDone = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const serve2 = await ServeHandle.start({
        ...serveOpts, url: server.url, journal: join(dir, "latency.journal"), log, query: false, settings,
        onGroup: (g) => {
          if (g.seq >= target && reached !== null) reached();
        },
      });
      await publishBatches(js, chunks(setup, batch).map((c) => encodeBatch(c)), inflight);
      await setupDone;
      const sentAt = new Map<number, bigint>();
      const got = new Map<number, bigint>();
      const td = new TextDecoder();
      const sub = nc.subscribe("mmc.out.liquidation", {
        callback: (_err, m) => {
          const now = process.hrtime.bigint();
          const seq = Number(m.headers?.get("Mmc-Seq") ?? (JSON.parse(td.decode(m.data)) as { seq: number }).seq);
          if (!got.has(seq)) got.set(seq, now);
        },
      });
      await nc.flush();
      let seq = setup.length;
      const loadPerMark = Math.round(((opts.loadEventsPerS ?? 0) * (opts.latencyIntervalMs ?? 2)) / 1000);
      let fill = 0;
      const enc = new TextEncoder();
      const tl0 = process.hrtime.bigint();
      for (let i = 0; i < marks; i++) {
        if (loadPerMark > 0) {
          const trades: LogEntry[] = [];
          for (let k = 0; k < loadPerMark; k++) {
            const line = `{"type":"trade","id":"x${fill++}","symbol":"BTC-PERP","price":"50000","qty":"0.001","buyer":"f${1 + (k % 2)}","seller":"f${2 - (k % 2)}","taker":"buyer"}`;
            trades.push(lineToEntry(line)!);
          }
          void js.publish(BATCH_SUBJECT, encodeBatch(trades), { timeout: 30_000 });
          seq += loadPerMark;
        }
        seq += 1;
        sentAt.set(seq, process.hrtime.bigint());
        await js.publish("mmc.in.all.all.mark", enc.encode(latencyMark(i)), { timeout: 30_000 });
        if ((opts.latencyIntervalMs ?? 2) > 0) await sleep(opts.latencyIntervalMs ?? 2);
      }
      const lastSeq = seq;
      for (let w = 0; w < 600 && !got.has(lastSeq); w++) await sleep(50);
      const tl1 = process.hrtime.bigint();
      loadRate = loadPerMark === 0 ? 0 : Math.round((loadPerMark * marks) / (Number(tl1 - tl0) / 1e9));
      sub.unsubscribe();
      lat = [...sentAt].filter(([s]) => got.has(s)).map(([s, t]) => got.get(s)! - t);
      lat.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      await serve2.stop();
    }

    const layer = opts.layer === false ? null : await runLayer(server, nc, dir, entries, batches, inflight, settings, opts.layerOutputs ?? "none", serveOpts);
    const steady = opts.steady === false || opts.core === "stub"
      ? null
      : await runSteady(server, nc, dir, events, opts.accounts ?? 2000, opts.seed ?? 42, batch, inflight, settings, serveOpts, opts.warmupEvents ?? 0);

    return {
      events: timedEntries,
      warmup_events: warmEntries,
      messages: batches.length - warm,
      batch,
      seconds,
      events_per_s: Math.round(timedEntries / seconds),
      publish_events_per_s: Math.round(timedEntries / (Number(tPub - t0) / 1e9)),
      outputs,
      groups,
      latency_samples: lat.length,
      latency_ns_p50: percentile(lat, 0.5),
      latency_ns_p99: percentile(lat, 0.99),
      latency_ns_max: lat.length === 0 ? 0 : Number(lat[lat.length - 1]!),
      latency_load_events_per_s: loadRate,
      core_only_events_per_s: coreOnly,
      layer,
      steady,
      server_version: nc.info?.version ?? "?",
      core_thread: opts.core === "stub" ? "main" : (opts.coreThread ?? "worker"),
    };
  } finally {
    await nc?.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      events: { type: "string" }, accounts: { type: "string" }, seed: { type: "string" }, batch: { type: "string" },
      marks: { type: "string" }, interval: { type: "string" }, load: { type: "string" }, storage: { type: "string" },
      core: { type: "string" }, layer: { type: "string" }, "layer-outputs": { type: "string" }, steady: { type: "string" },
      "groups-in-flight": { type: "string" }, "core-thread": { type: "string" }, warmup: { type: "string" },
    },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const r = await runPipelineBench({
    events: num(values.events), accounts: num(values.accounts), seed: num(values.seed), batch: num(values.batch),
    latencyMarks: num(values.marks), latencyIntervalMs: num(values.interval), loadEventsPerS: num(values.load),
    storage: values.storage === "memory" ? "memory" : "file",
    core: values.core === "stub" ? "stub" : "real",
    layer: values.layer !== "off",
    layerOutputs: values["layer-outputs"] === "recorded" ? "recorded" : "none",
    steady: values.steady !== "off",
    groupsInFlight: num(values["groups-in-flight"]),
    warmupEvents: num(values.warmup),
    ...(values["core-thread"] === undefined ? {} : { coreThread: parseCoreThread(values["core-thread"]) }),
  });
  process.stdout.write(JSON.stringify(r, null, 2) + "\n");
}
