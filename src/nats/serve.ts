// `mmc serve`: a durable pull consumer on the input stream feeding the Core, with the
// journal as the source of truth for progress.
//
// Threads: the Core and the journal are the *core stage* (core-stage.ts), by default on a
// worker thread (worker-stage.ts, core-worker.ts; `coreThread: "main"` keeps it on this
// one). This thread keeps the NATS side: the pump, delivery checks, skip by stream seq,
// grouping and back-pressure, consumer recreation, output publishing, acks, the query
// service and metrics. A group's message bytes go to the stage; it decodes, applies,
// journals, fsyncs (and snapshots), and hands back the outputs. So the core applies group
// N+1 on its own core while this thread publishes and acks group N.
//
// Per group of messages (whatever arrived while the previous group was being applied):
//   1. each message: skip it if its stream seq is already journaled (ack it with the
//      group); else (in the stage) decode it (one JSON event or a binary batch; bad → a raw
//      entry), and for each entry `core.apply` → journal input record (with the stream
//      seq) → journal derived records (the core's output events, byte for byte: `mmc
//      replay` audits them);
//   2. journal.sync() — one fdatasync for the group (in the stage; a due snapshot is
//      written right after it, before the stage applies anything else: a durable boundary);
//   3. publish the group's outputs (msg ids `<seq>.<index>`, in order, awaiting acks);
//   4. ack the group's messages.
// Steps 3–4 of a group (its flush) run while the next group goes through 1–2: the core is
// busy while acks travel. Flushes are chained (group N+1's outputs and acks strictly after
// N's), and at most `groupsInFlight` (2) groups are between delivery and ack: the next one
// is taken only while fewer than that many are flushing. In-thread, applying yields to the
// event loop every 1000 entries so the flush in hand progresses meanwhile (the worker needs
// no yields). The stage applies every message it is given (or serve stops), so the stream
// seq of a group's last message counts as applied once the group is handed over.
// Deliveries wait in a queue bounded by bytes (queueMaxBytes): the pump stops taking from the
// client while it is full, which bounds how long a backlog's messages wait for their ack.
// A crash anywhere leaves: journal ⊇ acked messages, and output stream ⊆ journal outputs.
// Restart: replay the journal into a fresh Core; republish journaled outputs past the
// output stream's high-water mark; resume the consumer at the journal's position; skip
// redelivered messages whose stream seq is journaled (a batch cut by the crash resumes
// at its first unjournaled entry). Events with an `id` are also deduplicated by the Core
// (E_DUPLICATE), which covers a publisher that re-sends outside the duplicate window.
//
// Ordering: messages must be applied in stream order. A durable consumer can deliver out
// of order after a fault (messages delivered to a dead connection come back only after
// ack_wait, behind newer ones), so the consumer's delivery sequence is checked: a jump
// forward means we missed a delivery, and the consumer is recreated at the journal's
// position. At startup it is also recreated when its state disagrees with the journal.
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Service } from "@nats-io/services";
import type { Server } from "node:http";
import { setImmediate as setImmediatePromise, setTimeout as sleep } from "node:timers/promises";
import { Core } from "../pipeline.js";
import { Prng } from "../util/prng.js";
import { backoffMs, connectForever } from "./connect.js";
import { decodeMessage, messageEntryCount } from "./decode.js";
import { createLogger, type Logger } from "./log.js";
import { ServeMetrics, startMetricsServer } from "./metrics.js";
import { OutputPublisher, PublishAborted, type OutputPosition, type PendingOutput } from "./outputs.js";
import { startQueryService } from "./query.js";
import { FatalServeError, InThreadStage, type CoreStage, type CoreStageOptions, type GroupResult, type StageMessage } from "./core-stage.js";
import { DEFAULT_CORE_CALL_TIMEOUT_SECONDS, parseCoreCallTimeout, WorkerStage } from "./worker-stage.js";
import {
  consumerInfoOrNull,
  DEFAULT_CONSUMER,
  DEFAULT_INPUT_STREAM,
  DEFAULT_SETTINGS,
  ensureStreams,
  outputStreamFor,
  serveConsumerConfig,
  type PipelineSettings,
} from "./settings.js";
import type { OutputType } from "./subjects.js";

export { FatalServeError } from "./core-stage.js";
export { DEFAULT_CORE_CALL_TIMEOUT_SECONDS, parseCoreCallTimeout } from "./worker-stage.js";

/** Where the core and the journal run: a worker thread (default) or serve's own thread. */
export type CoreThread = "worker" | "main";
export const CORE_THREADS: readonly CoreThread[] = ["worker", "main"];

/** Validates a `--core-thread` value. */
export function parseCoreThread(v: string): CoreThread {
  if ((CORE_THREADS as readonly string[]).includes(v)) return v as CoreThread;
  throw new RangeError(`core thread must be one of ${CORE_THREADS.join(", ")}, got ${JSON.stringify(v)}`);
}

export interface ServeOptions {
  /** NATS server URL(s). */
  readonly url: string;
  /** Input stream (default MMC_IN); the output stream is derived (MMC_OUT) unless given. */
  readonly stream?: string;
  readonly outStream?: string;
  /** Durable consumer name (default mmc-serve). */
  readonly consumer?: string;
  /** Journal file (created if missing). */
  readonly journal: string;
  /** Serve Prometheus metrics on this port (0 = a free port). */
  readonly metricsPort?: number;
  /** Stream/consumer settings (defaults: DEFAULT_SETTINGS). */
  readonly settings?: Partial<PipelineSettings>;
  /** Start the query micro service (default true). */
  readonly query?: boolean;
  /** Messages per pull request (the client's buffer). */
  readonly pullMaxMessages?: number;
  /** At most this many messages per group (one fsync each; default 512). */
  readonly groupMaxMessages?: number;
  /**
   * A group closes once it has applied this many entries (default 10,000; a message is
   * never split), which bounds the time from delivery to ack well under ack_wait.
   */
  readonly groupMaxEntries?: number;
  /**
   * Groups between delivery and ack (default 2): the next group is applied while the
   * previous one's outputs are published and acked. 1 = one group at a time.
   */
  readonly groupsInFlight?: number;
  /**
   * Bytes of delivered messages waiting for a group before the pump stops taking more from
   * the client (default DEFAULT_QUEUE_MAX_BYTES): bounds the time from delivery to ack
   * when a backlog arrives faster than the core applies it (docs/nats.md).
   */
  readonly queueMaxBytes?: number;
  readonly log?: Logger;
  /** Called after each group is flushed and acked. */
  readonly onGroup?: (g: GroupInfo) => void;
  /**
   * The Core to apply entries to (default: a new one, without history). Benchmarks pass
   * a stub to measure the transport and journal alone (no snapshots then).
   */
  readonly core?: Core;
  /**
   * Snapshot file (default `<journal>.snapshot`): written (atomically) every
   * `snapshotEvery` seqs after a group is fsync'd; a restart restores it and replays only
   * the journal records after it. A sidecar `<snapshot>.meta.json` holds the journal's
   * chain hash at the last two snapshots' seqs, so a snapshot of another journal is never
   * used, and a crash between writing the two files leaves the previous one usable.
   */
  readonly snapshot?: string;
  /** Seqs between snapshots (default 100,000; 0 = never). */
  readonly snapshotEvery?: number;
  /**
   * Where the core and the journal run (default "worker": their own thread, overlapping the
   * NATS I/O on this one; "main": this thread, as before). A stub `core` runs on "main".
   */
  readonly coreThread?: CoreThread;
  /**
   * Seconds a call to the core worker (applyGroup, recover, open, account, stateHash, close)
   * may go without a reply or a progress tick before serve fails fatally, terminating the
   * worker and acking nothing of the group in hand (default 300; docs/nats.md, *Failure
   * behaviour*). Not applicable with coreThread "main": a stuck core blocks this thread.
   */
  readonly coreCallTimeoutSeconds?: number;
  /** For tests: the core stage throws while applying the message with this stream seq. */
  readonly failAtSourceSeq?: number;
  /** For tests: the core stage spins forever before applying the message with this stream seq. */
  readonly spinAtSourceSeq?: number;
  /** For tests: the core stage busy-waits this long (ms) before applying the message with this stream seq. */
  readonly stallAtSourceSeq?: readonly [sourceSeq: number, ms: number];
}

export interface GroupInfo {
  readonly seq: number;
  readonly sourceSeq: number;
  readonly messages: number;
  readonly entries: number;
  readonly outputs: number;
}

export interface ServeStatus {
  readonly stream: string;
  readonly outStream: string;
  readonly consumer: string;
  readonly journal: string;
  readonly seq: number;
  readonly durableSeq: number;
  readonly sourceSeq: number;
  readonly applied: number;
  readonly skipped: number;
  readonly groups: number;
  /** Outputs produced (and stored) by the groups this instance processed. */
  readonly outputs: number;
  readonly consumerRecreated: number;
  /** Seq of the last snapshot written or restored (0: none). */
  readonly snapshotSeq: number;
  readonly outputsStored: OutputPosition | null;
  /** Delivered messages waiting for a group, and their payload bytes. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly stateHash?: string;
}

export const DEFAULT_SNAPSHOT_EVERY = 100_000;
/** Default queueMaxBytes: 4 MiB, some 40–100k events of binary batches (seconds of core work). */
export const DEFAULT_QUEUE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Delivered messages not yet taken into a group, with their payload bytes. The pump waits
 * for `room()` after each message: without that bound it would take everything the server
 * lets out (max_ack_pending messages), and with big batches and a slow core the last of
 * them would wait past ack_wait and be redelivered.
 */
class DeliveryQueue {
  private items: Queued[] = [];
  bytes = 0;
  private resume: (() => void) | null = null;

  constructor(private readonly maxBytes: number) {}

  get length(): number {
    return this.items.length;
  }

  push(q: Queued): void {
    this.items.push(q);
    this.bytes += q.msg.data.length;
  }

  /** Takes up to `n` messages from the front. */
  take(n: number): Queued[] {
    const out = this.items.splice(0, n);
    for (const q of out) this.bytes -= q.msg.data.length;
    if (this.bytes <= this.maxBytes) this.release();
    return out;
  }

  /** Puts messages taken but not used back at the front, in order. */
  putBack(qs: readonly Queued[]): void {
    this.items.unshift(...qs);
    for (const q of qs) this.bytes += q.msg.data.length;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
    this.release();
  }

  /** Null when there is room; else a promise resolved once there is (or on release()). */
  room(): Promise<void> | null {
    if (this.bytes <= this.maxBytes) return null;
    return new Promise<void>((resolve) => {
      this.resume = resolve;
    });
  }

  /** Lets a waiting pump go on (room made, or consumption ending). */
  release(): void {
    const r = this.resume;
    this.resume = null;
    r?.();
  }
}

interface Queued {
  readonly msg: JsMsg;
  readonly epoch: number;
}

/** A group applied and journaled (fsync'd), waiting for its outputs to be stored and its acks. */
interface AppliedGroup {
  readonly toAck: JsMsg[];
  readonly outs: PendingOutput[];
  readonly entries: number;
  /** Core seq and stream seq after the group's last entry. */
  readonly seq: number;
  readonly sourceSeq: number;
  readonly t0: number;
}

/** In-thread, applying a group yields to the event loop after this many entries (see applyGroup). */
const YIELD_EVERY_ENTRIES = 1000;

export class ServeHandle {
  readonly metrics: ServeMetrics;
  readonly stream: string;
  readonly outStream: string;
  readonly consumerName: string;
  /** Where the core stage runs ("main" also when a stub core was given). */
  readonly coreThread: CoreThread;
  /** Resolves when the service has stopped (rejects on a fatal error). */
  readonly done: Promise<void>;
  metricsPort: number | null = null;

  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private readonly stage: CoreStage;
  /** The core's seq, the journal's fsync'd seq (as of the last group or recovery). */
  private coreSeq = 0;
  private durableSeq = 0;
  private publisher!: OutputPublisher;
  private svc: Service | null = null;
  private httpServer: Server | null = null;
  private readonly settings: PipelineSettings;
  private readonly log: Logger;
  private readonly rng = new Prng(process.pid ^ 0x5e7e);

  /** Stream seq of the last message fully applied. */
  private appliedSource = 0;
  /** A message cut by a crash: its seq and how many of its entries are journaled. */
  private partialSeq = -1;
  private partialSkip = 0;
  private lastDseq = 0;
  private epoch = 0;
  private readonly queue: DeliveryQueue;
  private wake: (() => void) | null = null;
  private msgs: ConsumerMessages | null = null;
  private recreateRequested = false;
  private recreateReason = "";
  private fatal: Error | null = null;
  private pumping = false;
  /** Flushes (outputs, then acks) of applied groups, oldest first; each waits for its predecessor. */
  private flushing: Promise<void>[] = [];
  /** Set when serve fails: flushes still under way skip their acks. */
  private failed = false;
  private stopping = false;
  private applied = 0;
  private skipped = 0;
  private groups = 0;
  private outputsTotal = 0;
  private recreated = 0;
  private lastSnapshotSeq = 0;
  /**
   * Core seq and stream seq reported by the last flushed group (metrics, onGroup): never
   * lower than a predecessor's. A group of messages already journaled (redeliveries) has
   * nothing to apply and resolves at once with the seq of the groups applied *before it
   * was selected*, while a group selected earlier may still be in the worker; flushes run
   * in order, so it is flushed after that one, whose seq is higher.
   */
  private flushedSeq = 0;
  private flushedSource = 0;
  private resolveDone!: () => void;
  private rejectDone!: (e: unknown) => void;

  private constructor(private readonly opts: ServeOptions) {
    this.stream = opts.stream ?? DEFAULT_INPUT_STREAM;
    this.outStream = opts.outStream ?? outputStreamFor(this.stream);
    this.consumerName = opts.consumer ?? DEFAULT_CONSUMER;
    this.settings = { ...DEFAULT_SETTINGS, ...opts.settings };
    this.log = opts.log ?? createLogger({ name: "mmc-serve" });
    this.metrics = new ServeMetrics(opts.metricsPort !== undefined);
    const queueMaxBytes = opts.queueMaxBytes ?? DEFAULT_QUEUE_MAX_BYTES;
    if (!(Number.isSafeInteger(queueMaxBytes) && queueMaxBytes >= 0)) throw new RangeError(`queueMaxBytes must be a non-negative integer, got ${queueMaxBytes}`);
    this.queue = new DeliveryQueue(queueMaxBytes);
    if (opts.groupsInFlight !== undefined && !(Number.isInteger(opts.groupsInFlight) && opts.groupsInFlight >= 1)) {
      throw new RangeError(`groupsInFlight must be an integer ≥ 1, got ${opts.groupsInFlight}`);
    }
    parseCoreCallTimeout(opts.coreCallTimeoutSeconds ?? DEFAULT_CORE_CALL_TIMEOUT_SECONDS);
    const thread = parseCoreThread(opts.coreThread ?? "worker");
    this.coreThread = opts.core !== undefined ? "main" : thread;
    this.stage = this.createStage();
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Nobody may be waiting on `done` yet; a fatal error is still reported through it.
    this.done.catch(() => {});
  }

  /** Connects, recovers and starts consuming; resolves once the consumer is running. */
  static async start(opts: ServeOptions): Promise<ServeHandle> {
    const h = new ServeHandle(opts);
    try {
      await h.startup();
    } catch (err) {
      await h.shutdown().catch(() => {});
      throw err;
    }
    void h.run();
    return h;
  }

  /** The in-thread or worker core stage (a stub core always runs in-thread: it is an object here). */
  private createStage(): CoreStage {
    const opts = this.opts;
    const stageOpts: CoreStageOptions = {
      journal: opts.journal,
      snapshot: opts.snapshot ?? `${opts.journal}.snapshot`,
      snapshotEvery: opts.core !== undefined ? 0 : (opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY),
      yieldEvery: YIELD_EVERY_ENTRIES,
      ...(opts.failAtSourceSeq !== undefined ? { failAtSourceSeq: opts.failAtSourceSeq } : {}),
      ...(opts.spinAtSourceSeq !== undefined ? { spinAtSourceSeq: opts.spinAtSourceSeq } : {}),
      ...(opts.stallAtSourceSeq !== undefined ? { stallAtSourceSeq: opts.stallAtSourceSeq } : {}),
    };
    if (this.coreThread === "main") return new InThreadStage({ ...stageOpts, ...(opts.core !== undefined ? { core: opts.core } : {}) }, this.log);
    const { yieldEvery: _, ...workerOpts } = stageOpts;
    return new WorkerStage(
      { stage: workerOpts, logLevel: this.log.level },
      (err) => this.failFromStage(err),
      opts.coreCallTimeoutSeconds ?? DEFAULT_CORE_CALL_TIMEOUT_SECONDS,
      this.log,
    );
  }

  /** The core stage died outside a call (a worker's uncaught error or exit): serve stops. */
  private failFromStage(err: Error): void {
    if (this.fatal === null) this.fatal = err;
    this.stopping = true;
    this.stopConsuming();
    this.wake?.();
  }

  /** The state hash of the core (all applied entries; see status().seq). */
  stateHash(): Promise<string> {
    return this.stage.stateHash();
  }

  /** status() with the state hash. */
  async statusWithHash(): Promise<ServeStatus> {
    const hash = await this.stage.stateHash();
    return { ...this.status(), stateHash: hash };
  }

  status(): ServeStatus {
    return {
      stream: this.stream,
      outStream: this.outStream,
      consumer: this.consumerName,
      journal: this.opts.journal,
      seq: this.coreSeq,
      durableSeq: this.durableSeq,
      sourceSeq: this.appliedSource,
      applied: this.applied,
      skipped: this.skipped,
      groups: this.groups,
      outputs: this.outputsTotal,
      consumerRecreated: this.recreated,
      snapshotSeq: this.lastSnapshotSeq,
      outputsStored: this.publisher?.stored ?? null,
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.bytes,
    };
  }

  /** Stops consuming, finishes the group in hand, closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    this.log.info("serve: stopping");
    this.stopConsuming();
    this.wake?.();
    await this.done.catch(() => {});
  }

  // ---- startup

  private async startup(): Promise<void> {
    const log = this.log;
    log.info({ stream: this.stream, outStream: this.outStream, consumer: this.consumerName, journal: this.opts.journal, settings: this.settings }, "serve: starting");
    // After a reconnect the server may have restarted: its consumer state can lag the
    // journal and messages it delivered to the old connection would only come back after
    // ack_wait. Recreating the consumer at the journal's position resumes at once, in order.
    this.nc = await connectForever({ url: this.opts.url, name: "mmc-serve", log, onReconnect: () => this.requestRecreate("reconnected") });
    this.js = jetstream(this.nc);
    this.jsm = await this.retry("jetstream manager", () => jetstreamManager(this.nc));
    const streams = await this.retry("ensure streams", () => ensureStreams(this.jsm, this.stream, this.outStream, this.settings, log));
    this.publisher = new OutputPublisher(this.nc, this.js, this.jsm, this.outStream, log, {
      onPublished: (type: OutputType, n: number) => this.metrics.outputs.inc({ type }, n),
    });

    const { head, truncatedBytes } = await this.stage.open();
    if (truncatedBytes > 0) log.warn({ bytes: truncatedBytes }, "journal: cut a torn tail left by a crash");
    log.info({ seq: head.seq, sourceSeq: head.sourceSeq, records: head.records, hash: head.hash }, "journal: opened");

    const inLast = streams.input.state.last_seq;
    if (head.sourceSeq > inLast) {
      throw new FatalServeError(
        `journal ${this.opts.journal} has applied stream seq ${head.sourceSeq} but stream ${this.stream} ends at ${inLast}: ` +
          "the stream lost acknowledged messages or is not the one this journal came from. Restore the stream, or start with a new journal.",
      );
    }
    const hw = await this.publisher.readHighWater();
    if (hw !== null && hw.seq > head.seq) {
      throw new FatalServeError(
        `output stream ${this.outStream} holds outputs up to seq ${hw.seq} but journal ${this.opts.journal} ends at seq ${head.seq}: ` +
          "the journal was lost or replaced. Restore it, or purge the output stream to start over.",
      );
    }

    await this.recover(hw);
    await this.prepareConsumer();

    if (this.opts.query !== false) {
      this.svc = await startQueryService(
        this.nc,
        { account: (name: string) => this.stage.account(name), durableSeq: () => this.durableSeq, status: async () => ({ ...(await this.statusWithHash()) }) },
        log,
        { stream: this.stream, consumer: this.consumerName },
      );
    }
    if (this.opts.metricsPort !== undefined) {
      const { server, port } = await startMetricsServer(this.metrics, this.opts.metricsPort);
      this.httpServer = server;
      this.metricsPort = port;
      log.info({ port }, "metrics: serving /metrics");
    }
  }

  /**
   * The stage replays the journal (after a snapshot) and hands over the journaled outputs
   * the output stream lacks; here they are republished, and the last journaled message is
   * checked against the stream: a batch cut by a crash resumes at its first unjournaled entry.
   */
  private async recover(hw: OutputPosition | null): Promise<void> {
    const r = await this.stage.recover(hw, (outs) => this.publisher.publish(outs));
    this.coreSeq = r.seq;
    this.durableSeq = r.seq;
    this.lastSnapshotSeq = r.snapshotSeq;
    this.appliedSource = r.lastSource;
    if (r.lastSource > 0) {
      // Was the last message applied whole? Count its entries in the stream.
      const total = await this.entriesIn(r.lastSource);
      if (total !== null && r.countAtLast < total) {
        this.partialSeq = r.lastSource;
        this.partialSkip = r.countAtLast;
        this.appliedSource = r.lastSource - 1;
        this.log.warn({ sourceSeq: r.lastSource, journaled: r.countAtLast, entries: total }, "recovery: the last message was cut by a crash; resuming inside it");
      }
    }
    this.flushedSeq = r.seq;
    this.flushedSource = this.appliedSource;
    this.metrics.seq.set(r.seq);
    this.metrics.sourceSeq.set(this.appliedSource);
    if (r.pending.length > 0) {
      await this.publisher.publish(r.pending);
      this.log.info({ outputs: r.pending.length }, "recovery: republished journaled outputs missing from the output stream");
    }
  }

  private async entriesIn(seq: number): Promise<number | null> {
    try {
      const m = await this.retry("get message", () => this.jsm.streams.getMessage(this.stream, { seq }));
      return m === null ? null : decodeMessage(m.data).entries.length;
    } catch {
      return null;
    }
  }

  /** Reuses the durable consumer when its state agrees with the journal, else recreates it there. */
  private async prepareConsumer(): Promise<void> {
    const resume = this.appliedSource + 1;
    const ci = await this.retry("consumer info", () => consumerInfoOrNull(this.jsm, this.stream, this.consumerName));
    let reason: string | null = null;
    if (ci === null) reason = "missing";
    else if (ci.num_ack_pending > 0) reason = `${ci.num_ack_pending} messages delivered but unacknowledged (a previous instance died): they would come back out of order`;
    else if (ci.delivered.stream_seq >= resume) reason = `consumer acknowledged up to stream seq ${ci.delivered.stream_seq} but the journal ends at ${this.appliedSource}`;
    if (reason === null) {
      const want = serveConsumerConfig(this.consumerName, resume, this.settings);
      const c = ci!.config;
      if (c.ack_wait !== want.ack_wait || c.max_ack_pending !== want.max_ack_pending) {
        await this.retry("consumer update", () =>
          this.jsm.consumers.update(this.stream, this.consumerName, { ack_wait: want.ack_wait, max_ack_pending: want.max_ack_pending }),
        );
      }
      this.lastDseq = ci!.delivered.consumer_seq;
      this.log.info({ consumer: this.consumerName, delivered: ci!.delivered.stream_seq, deliverySeq: this.lastDseq, resume }, "consumer: resuming from its state");
      return;
    }
    await this.recreateConsumer(reason);
  }

  private async recreateConsumer(reason: string): Promise<void> {
    const start = this.partialSeq > 0 ? this.partialSeq : this.appliedSource + 1;
    this.log.warn({ consumer: this.consumerName, startSeq: start, reason }, "consumer: (re)creating at the journal's position");
    await this.retry("consumer recreate", async () => {
      const si = await this.jsm.streams.info(this.stream);
      if (si.state.last_seq < this.appliedSource) {
        throw new FatalServeError(
          `stream ${this.stream} ends at seq ${si.state.last_seq} but the journal has applied seq ${this.appliedSource}: ` +
            "the stream was recreated or lost acknowledged messages; new messages would reuse applied sequence numbers.",
        );
      }
      const ci = await consumerInfoOrNull(this.jsm, this.stream, this.consumerName);
      if (ci !== null) await this.jsm.consumers.delete(this.stream, this.consumerName);
      await this.jsm.consumers.add(this.stream, serveConsumerConfig(this.consumerName, start, this.settings));
    });
    this.lastDseq = 0;
    this.recreated++;
    this.metrics.consumerResets.inc();
  }

  // ---- running

  private requestRecreate(why: string): void {
    if (this.stopping || this.recreateRequested || !this.pumping) return;
    this.log.info({ why }, "consumer: will recreate at the journal's position");
    this.recreateReason = why;
    this.recreateRequested = true;
    this.stopConsuming();
  }

  private async run(): Promise<void> {
    const pump = this.pump();
    try {
      await this.processLoop();
      await pump;
      await this.shutdown();
      this.resolveDone();
    } catch (err) {
      this.stopping = true;
      this.failed = true;
      this.stopConsuming();
      this.log.error({ err: (err as Error).stack ?? String(err) }, "serve: fatal error; stopping without acknowledging the groups in hand");
      this.publisher?.abort();
      await this.drainFlushes();
      await this.shutdown().catch(() => {});
      this.rejectDone(err);
    }
  }

  /** Ends the current consumption (the pump then recreates it or stops); a pump waiting for room goes on. */
  private stopConsuming(): void {
    this.msgs?.stop();
    this.queue.release();
  }

  /** Feeds the queue from the consumer; restarts consumption after errors and recreations. */
  private async pump(): Promise<void> {
    this.pumping = true;
    let failures = 0;
    while (!this.stopping) {
      if (this.recreateRequested) {
        // The processing loop has journaled everything before the break (flushes may still be
        // under way: their acks are for messages at or below the new start); drop what follows it.
        this.epoch++;
        this.queue.clear();
        try {
          await this.recreateConsumer(this.recreateReason);
        } catch (err) {
          if (!this.stopping) {
            this.fatal = err as Error;
            this.stopping = true;
            this.wake?.();
          }
          break;
        }
        this.recreateRequested = false;
      }
      const epoch = this.epoch;
      try {
        const consumer = await this.js.consumers.get(this.stream, this.consumerName);
        const msgs = await consumer.consume({ max_messages: this.opts.pullMaxMessages ?? 256 });
        this.msgs = msgs;
        // A stop or recreation requested while consume() was starting.
        if (this.stopping || this.recreateRequested) msgs.stop();
        void (async () => {
          for await (const s of msgs.status()) {
            if (s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found") {
              this.log.warn({ status: s.type }, "consumer: gone");
              this.requestRecreate(s.type);
            } else if (s.type === "heartbeats_missed") {
              this.log.warn({ status: s.type }, "consumer: status");
            } else this.log.debug({ status: s.type }, "consumer: status");
          }
        })().catch(() => {});
        this.log.info({ consumer: this.consumerName, epoch }, "consumer: consuming");
        for await (const m of msgs) {
          this.queue.push({ msg: m, epoch });
          this.wake?.();
          // Back-pressure: the client stops pulling while this loop waits.
          const room = this.queue.room();
          if (room !== null) await room;
        }
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        const wait = backoffMs(failures++, this.rng);
        this.log.warn({ err: (err as Error).message, retryInMs: wait }, "consumer: consume failed; retrying");
        await sleep(wait);
      }
    }
  }

  private async processLoop(): Promise<void> {
    const groupMax = this.opts.groupMaxMessages ?? 512;
    const inFlight = this.opts.groupsInFlight ?? 2;
    for (;;) {
      while (this.queue.length === 0 && !this.stopping) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
      }
      if (this.stopping) {
        // Finish the groups in hand (a failed one makes the rest skip their acks).
        await this.drainFlushes();
        if (this.fatal !== null) throw this.fatal;
        return;
      }
      if (this.recreateRequested) {
        // Waiting for the pump to recreate the consumer; nothing from the old epoch counts.
        this.queue.clear();
        await sleep(5);
        continue;
      }
      // Back-pressure: at most `inFlight` groups between delivery and ack (the one about
      // to be applied and those whose outputs and acks are still under way).
      while (this.flushing.length >= inFlight) await this.flushing[0];
      // One event-loop turn first: a wake-up runs as soon as the first message is queued,
      // and without the turn each group would hold that one message (one fsync each).
      // The turn lets the client hand over what it has already read (measured: ~10× fewer
      // fsyncs under load, docs/nats.md *Throughput*); at low load it costs microseconds.
      await setImmediatePromise();
      if (this.stopping || this.recreateRequested) continue;
      const batch = this.queue.take(groupMax).filter((q) => q.epoch === this.epoch);
      if (batch.length === 0) continue;
      // The group's messages are selected (and its stream seqs counted as applied) before
      // applyGroup's first await, so the checks below see them.
      const applied = this.applyGroup(batch);
      // In-thread the next group waits for this one (the stage yields mid-group). A worker
      // takes calls in order, one at a time: the next group is handed over at once and waits
      // there, so the worker goes from group to group without a round trip through this
      // thread (which may be busy publishing); the groupsInFlight bound counts it.
      if (this.coreThread === "main") await applied.catch(() => {});
      // A delivery-sequence break: the pump recreates the consumer after the journal's end.
      if (this.recreateRequested) this.stopConsuming();
      this.startFlush(applied);
    }
  }

  /**
   * Takes a group's messages (delivery checks, skip by stream seq, the entries bound) and
   * has the core stage apply, journal and fsync them: nothing of the group leaves before
   * that (outputs, acks). Returns null when no message was taken.
   */
  private async applyGroup(batch: Queued[]): Promise<AppliedGroup | null> {
    const t0 = performance.now();
    const { toAck, apply, entries } = this.selectGroup(batch);
    if (toAck.length === 0) return null;
    // Read before the await: with a worker, later groups are handed over meanwhile.
    const sourceSeq = this.appliedSource;
    let result: GroupResult | null = null;
    if (apply.length > 0) {
      result = await this.stage.applyGroup(apply);
      this.metrics.fsyncSeconds.observe(result.fsyncSeconds);
      for (const [code, n] of result.rejected) this.metrics.rejected.inc({ code }, n);
      this.coreSeq = result.seq;
      this.durableSeq = result.durableSeq;
      if (result.snapshotSeq !== null) this.lastSnapshotSeq = result.snapshotSeq;
    }
    return { toAck, outs: result?.outs ?? [], entries: result?.entries ?? entries, seq: this.coreSeq, sourceSeq, t0 };
  }

  /**
   * The messages of the next group, in delivery order: `toAck` all of them, `apply` those
   * not journaled yet. Messages past the entries bound go back to the queue's front.
   */
  private selectGroup(batch: Queued[]): { toAck: JsMsg[]; apply: StageMessage[]; entries: number } {
    const toAck: JsMsg[] = [];
    const apply: StageMessage[] = [];
    let entries = 0;
    const maxEntries = this.opts.groupMaxEntries ?? 10_000;
    for (let b = 0; b < batch.length; b++) {
      if (entries >= maxEntries) {
        // Full: the rest goes back to the front of the queue for the next group.
        this.queue.putBack(batch.slice(b));
        break;
      }
      const { msg } = batch[b]!;
      const dseq = msg.info.deliverySequence;
      // Every delivery of this consumer must reach us, in order: a fresh consumer starts at
      // 1, a resumed one right after its last delivery. Anything else — a delivery that went
      // to a stale pull request, a lost one, a server that restarted with older state —
      // means a message may come back later out of order: start over from the journal.
      if (dseq !== this.lastDseq + 1) {
        this.log.warn({ expected: this.lastDseq + 1, got: dseq, streamSeq: msg.seq }, "consumer: delivery sequence broken; will recreate the consumer at the journal position");
        this.recreateReason = `delivery sequence ${dseq} after ${this.lastDseq}`;
        this.recreateRequested = true;
        break;
      }
      this.lastDseq = dseq;
      this.metrics.pending.set(msg.info.pending);
      const sseq = msg.seq;
      if (sseq <= this.appliedSource) {
        toAck.push(msg);
        this.skipped++;
        this.metrics.messages.inc({ outcome: "skipped" });
        continue;
      }
      let skip = 0;
      if (sseq === this.partialSeq) {
        skip = this.partialSkip;
        this.partialSeq = -1;
        this.log.info({ sourceSeq: sseq, skip }, "recovery: resuming a cut message");
      }
      apply.push({ data: msg.data, sourceSeq: sseq, skip });
      entries += Math.max(0, messageEntryCount(msg.data) - skip);
      // Taken = applied: the stage applies every message it is given, or serve stops.
      this.appliedSource = sseq;
      toAck.push(msg);
      this.metrics.messages.inc({ outcome: "applied" });
    }
    return { toAck, apply, entries };
  }

  /**
   * Queues a group's flush behind the previous one: publish its outputs (awaiting the
   * stream's acks), then ack its messages. Its journal records are fsync'd already, so an
   * ack never precedes the fsync of its records; chaining keeps outputs and acks in journal
   * order. Never rejects: a failure stops serve, and the later groups skip their acks.
   */
  private startFlush(applied: Promise<AppliedGroup | null>): void {
    const prev = this.flushing.length > 0 ? this.flushing[this.flushing.length - 1]! : null;
    // Assigned before the body below passes its first await (where it is read); `let`
    // because TypeScript cannot see that order.
    let p!: Promise<void>;
    // eslint-disable-next-line prefer-const
    p = (async () => {
      // A failed apply stops serve at once, even while the previous flush is under way.
      const g = await applied;
      // inFlight: this group and those before it not yet acked.
      if (g !== null) this.log.debug({ seq: g.seq, sourceSeq: g.sourceSeq, inFlight: this.flushing.indexOf(p) + 1 }, "group journaled");
      if (prev !== null) await prev;
      if (g !== null) await this.flushGroup(g);
    })()
      .catch((err: unknown) => {
        if (this.fatal === null) this.fatal = err as Error;
        this.stopping = true;
        this.stopConsuming();
        this.wake?.();
      })
      .finally(() => {
        this.flushing.splice(this.flushing.indexOf(p), 1);
      });
    this.flushing.push(p);
  }

  private async flushGroup(g: AppliedGroup): Promise<void> {
    if (this.fatal !== null || this.failed) return;
    try {
      await this.publisher.publish(g.outs);
    } catch (err) {
      if (err instanceof PublishAborted) return; // stopping: the restart republishes from the journal
      throw err;
    }
    if (this.fatal !== null || this.failed) return;
    for (const m of g.toAck) m.ack();
    this.applied += g.entries;
    this.groups++;
    this.outputsTotal += g.outs.length;
    this.metrics.entries.inc(g.entries);
    this.flushedSeq = Math.max(this.flushedSeq, g.seq);
    this.flushedSource = Math.max(this.flushedSource, g.sourceSeq);
    this.metrics.seq.set(this.flushedSeq);
    this.metrics.sourceSeq.set(this.flushedSource);
    this.metrics.groupMessages.observe(g.toAck.length);
    this.metrics.groupSeconds.observe((performance.now() - g.t0) / 1000);
    const info: GroupInfo = { seq: this.flushedSeq, sourceSeq: this.flushedSource, messages: g.toAck.length, entries: g.entries, outputs: g.outs.length };
    this.log.debug({ ...info, ms: Math.round(performance.now() - g.t0) }, "group flushed");
    this.opts.onGroup?.(info);
  }

  /** Waits until every group handed to startFlush is flushed (or skipped after a failure). */
  private async drainFlushes(): Promise<void> {
    while (this.flushing.length > 0) await this.flushing[this.flushing.length - 1];
  }

  private async shutdown(): Promise<void> {
    this.publisher?.abort();
    try {
      await this.stage.close();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "journal: close failed");
    }
    if (this.svc !== null) await this.svc.stop().catch(() => {});
    if (this.httpServer !== null) await new Promise<void>((resolve) => this.httpServer!.close(() => resolve()));
    if (this.nc !== undefined && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
    this.log.info(this.status(), "serve: stopped");
  }

  /** Retries an operation against the server forever with backoff (server restarts, leader moves). */
  private async retry<T>(what: string, f: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (err) {
        if (err instanceof FatalServeError) throw err;
        if (this.stopping) throw err;
        const wait = backoffMs(attempt, this.rng);
        this.log.warn({ what, err: (err as Error).message, retryInMs: wait }, "nats: request failed; retrying");
        await sleep(wait);
      }
    }
  }
}
