// The core stage of `mmc serve`: everything done with the Core and the journal — recovery
// (snapshot restore, journal replay, completing a cut input's derived records, the journaled
// outputs the output stream lacks), applying a group (decode, core, journal, fsync,
// snapshot), account reports and the state hash — behind one async interface. serve.ts keeps
// the NATS side (pump, delivery checks, grouping, publishing, acks).
//
// Two implementations: InThreadStage (here; runs on the caller's thread) and WorkerStage
// (worker-stage.ts: the same InThreadStage inside a worker_threads Worker, so the core and
// the journal run on their own core while the main thread does the NATS I/O).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import { docToState, stateHash } from "../aggregate/snapshot.js";
import { readSnapshotFile, writeSnapshotFile, type SnapshotFile } from "../snapshot-file.js";
import { JournalWriter, readJournal, RECORD_KIND_DERIVED, RECORD_KIND_INPUT, type JournalHead, type JournalRecord } from "../journal/index.js";
import type { LogEntry } from "../events/types.js";
import type { EncodedEntry } from "../events/codec.js";
import type { ErrorCode } from "../events/errors.js";
import { Core, type ApplyResult } from "../pipeline.js";
import { decodeDerived, encodeDerived } from "../outputs/derived.js";
import { buildReport, type AccountReport, type Report } from "../outputs/report.js";
import { decodeMessage, sizeRejectionOf } from "./decode.js";
import type { Logger } from "./log.js";
import { comparePositions, publishedPayload, type OutputPosition, type PendingOutput } from "./outputs.js";

/** Raised for a state serve must not go on from (the CLI prints its message alone). */
export class FatalServeError extends Error {}

/** One input message for the stage: its bytes, its stream seq, entries already journaled. */
export interface StageMessage {
  readonly data: Uint8Array;
  readonly sourceSeq: number;
  /** Entries at its start to skip (a message cut by a crash: journaled before it). */
  readonly skip: number;
}

/** A group applied, journaled and fsync'd. */
export interface GroupResult {
  /** Core seq after the group's last entry (= the durable journal seq). */
  readonly seq: number;
  readonly durableSeq: number;
  readonly entries: number;
  /** Outputs in journal order, with their msg positions and published payloads. */
  readonly outs: PendingOutput[];
  /** Rejections by code (labelled counter increments, done by the caller). */
  readonly rejected: [string, number][];
  readonly fsyncSeconds: number;
  /** Seq of the snapshot written after the group's fsync (null: none). */
  readonly snapshotSeq: number | null;
}

export interface OpenedJournal {
  readonly head: JournalHead;
  readonly truncatedBytes: number;
}

export interface Recovered {
  /** Core seq after replay. */
  readonly seq: number;
  /** Stream seq of the last journaled input, and how many of its entries are journaled. */
  readonly lastSource: number;
  readonly countAtLast: number;
  readonly snapshotSeq: number;
  readonly inputs: number;
  /** Journaled outputs past the high-water mark not handed to `publish` yet. */
  readonly pending: PendingOutput[];
}

export interface AccountAnswer {
  readonly seq: number;
  readonly stateHash: string;
  readonly marks: Record<string, string>;
  readonly state: AccountReport;
}

/** Publishes outputs found in the journal during recovery (in order, awaiting storage). */
export type RecoveryPublish = (outs: PendingOutput[]) => Promise<void>;

export interface CoreStage {
  open(): Promise<OpenedJournal>;
  recover(hw: OutputPosition | null, publish: RecoveryPublish): Promise<Recovered>;
  /** Applies, journals and fsyncs the messages; then a snapshot if one is due. */
  applyGroup(msgs: StageMessage[]): Promise<GroupResult>;
  /** The account's entry of the SPEC §9 report (null: unknown account). */
  account(name: string): Promise<AccountAnswer | null>;
  stateHash(): Promise<string>;
  /** Syncs and closes the journal (idempotent). */
  close(): Promise<void>;
}

export interface CoreStageOptions {
  readonly journal: string;
  readonly snapshot: string;
  /** Seqs between snapshots (0 = never). */
  readonly snapshotEvery: number;
  /** The Core (a bench stub); default a new one without history. */
  readonly core?: Core;
  /** Yield to the event loop every this many entries while applying (0 = never). */
  readonly yieldEvery: number;
  /** For tests: throw while applying the message with this stream seq (a core bug). */
  readonly failAtSourceSeq?: number;
  /** For tests: spin forever before applying the message with this stream seq (a hung core). */
  readonly spinAtSourceSeq?: number;
  /** For tests: busy-wait this long (ms) before applying the message with this stream seq (a slow core). */
  readonly stallAtSourceSeq?: readonly [sourceSeq: number, ms: number];
}

/** Journal records replayed between two progress calls in recovery (a worker's watchdog ticks). */
const PROGRESS_EVERY_RECORDS = 50_000;

interface SnapshotMeta {
  readonly seq: number;
  /** The journal's chain hash after the snapshot's last record. */
  readonly journalHash: string;
  readonly sourceSeq: number;
}

/** The journal positions recorded for snapshots (`<snapshot>.meta.json`), oldest first. */
function readSnapshotMetas(snapshotPath: string): SnapshotMeta[] {
  try {
    const doc = JSON.parse(readFileSync(`${snapshotPath}.meta.json`, "utf8")) as { snapshots?: SnapshotMeta[] };
    return Array.isArray(doc.snapshots) ? doc.snapshots : [];
  } catch {
    return [];
  }
}

function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Caches the full report per seq: building it recomputes every account. */
class ReportCache {
  private seq = -1;
  private report: Report | null = null;

  constructor(private readonly core: Core) {}

  get(): Report {
    if (this.report === null || this.seq !== this.core.state.seq) {
      this.report = buildReport(this.core);
      this.seq = this.core.state.seq;
    }
    return this.report;
  }
}

/** The stage on the caller's thread: the code serve ran inline before the worker. */
export class InThreadStage implements CoreStage {
  /** The error of a group that failed midway (see applyGroup). */
  private broken: Error | null = null;
  private core: Core;
  private journal!: JournalWriter;
  private reports: ReportCache;
  /** Stream seq of the last message applied (a snapshot's meta records it). */
  private appliedSource = 0;
  private lastSnapshotSeq = 0;
  /** Rejections by code in the group being applied (a labelled counter costs ~1 µs per call). */
  private readonly rejectedCounts = new Map<string, number>();

  /** `progress`: called every PROGRESS_EVERY_RECORDS journal records in recovery (a sign of life). */
  constructor(
    private readonly opts: CoreStageOptions,
    private readonly log: Logger,
    private readonly progress: () => void = () => {},
  ) {
    this.core = opts.core ?? new Core({ keepHistory: false });
    this.reports = new ReportCache(this.core);
  }

  open(): Promise<OpenedJournal> {
    this.journal = JournalWriter.open(this.opts.journal, { fsyncEveryRecords: Number.MAX_SAFE_INTEGER, fsyncEveryBytes: Number.MAX_SAFE_INTEGER });
    return Promise.resolve({ head: this.journal.head, truncatedBytes: this.journal.truncatedBytes });
  }

  /** Restores the snapshot, if it belongs to this journal; null otherwise. */
  private loadSnapshot(): { file: SnapshotFile; meta: SnapshotMeta } | null {
    if (this.opts.snapshotEvery === 0 || !existsSync(this.opts.snapshot)) return null;
    try {
      const file = readSnapshotFile(this.opts.snapshot);
      const meta = readSnapshotMetas(this.opts.snapshot).find((m) => m.seq === file.state.seq);
      if (meta === undefined) throw new Error(`no journal hash recorded for the snapshot's seq ${file.state.seq}`);
      return { file, meta };
    } catch (err) {
      this.log.warn({ snapshot: this.opts.snapshot, err: (err as Error).message }, "snapshot: unreadable; replaying the whole journal");
      return null;
    }
  }

  private setCore(core: Core): void {
    this.core = core;
    this.reports = new ReportCache(core);
  }

  /**
   * Replays the journal (after the snapshot, if any) into a fresh Core; hands the journaled
   * outputs the output stream lacks to `publish` in chunks (the rest come back in
   * `pending`). A snapshot whose journal hash does not match the journal at its seq is
   * dropped and the whole journal replayed.
   */
  async recover(hw: OutputPosition | null, publish: RecoveryPublish, allowSnapshot = true): Promise<Recovered> {
    const t0 = performance.now();
    const snap = allowSnapshot ? this.loadSnapshot() : null;
    if (snap !== null && snap.meta.seq > this.journal.head.seq) {
      this.log.warn({ snapshot: this.opts.snapshot, seq: snap.meta.seq, journalSeq: this.journal.head.seq }, "snapshot: past the journal's end; replaying the whole journal");
      return this.recover(hw, publish, false);
    }
    const snapSeq = snap?.meta.seq ?? 0;
    this.setCore(
      snap !== null
        ? new Core({ state: docToState(snap.file.state), history: snap.file.history, keepHistory: false })
        : (this.opts.core ?? new Core({ keepHistory: false })),
    );
    const mismatch = (): Promise<Recovered> => {
      this.log.warn({ snapshot: this.opts.snapshot, seq: snapSeq }, "snapshot: not of this journal (chain hash differs); replaying the whole journal");
      return this.recover(hw, publish, false);
    };
    const pending: PendingOutput[] = [];
    let lastSource = 0;
    let countAtLast = 0;
    let outIndex = 0;
    let inputs = 0;
    let derivedSeq = 0;
    let sizeCode: ErrorCode | null = null;
    // The record read last: its chain hash (as hex) is compared with a snapshot's, made only then.
    let lastRec: JournalRecord | null = null;
    const lastHash = (): string => (lastRec === null ? "" : Buffer.from(lastRec.hash).toString("hex"));
    let lastApplied: ApplyResult | null = null;
    const lastDerived: Uint8Array[] = [];
    let records = 0;
    for (const rec of readJournal(this.opts.journal)) {
      if (++records % PROGRESS_EVERY_RECORDS === 0) this.progress();
      if (rec.kind === RECORD_KIND_INPUT) {
        if (snap !== null && rec.seq === snapSeq + 1 && lastHash() !== snap.meta.journalHash) return mismatch();
        if (rec.seq > snapSeq) {
          const r = this.core.apply(rec.entry!, rec.ts);
          if (r.seq !== rec.seq) throw new FatalServeError(`journal replay: record seq ${rec.seq} applied as ${r.seq}`);
          inputs++;
          lastApplied = r;
        } else lastApplied = null;
        if (rec.sourceSeq > 0) {
          if (rec.sourceSeq === lastSource) countAtLast++;
          else {
            lastSource = rec.sourceSeq;
            countAtLast = 1;
          }
        }
        outIndex = 0;
        derivedSeq = rec.seq;
        sizeCode = sizeRejectionOf(rec.entry!);
        lastDerived.length = 0;
      } else if (rec.kind === RECORD_KIND_DERIVED) {
        if (rec.seq !== derivedSeq) throw new FatalServeError(`journal: derived record for seq ${rec.seq} after input ${derivedSeq}`);
        lastDerived.push(rec.payload);
        const pos = { seq: rec.seq, index: outIndex++ };
        if (hw === null || comparePositions(pos, hw) > 0) {
          const out = decodeDerived(rec.payload);
          const payload = sizeCode === null ? Uint8Array.from(rec.payload) : publishedPayload(out, sizeCode);
          pending.push({ ...pos, type: out.type, payload });
          if (pending.length >= 10_000) await publish(pending.splice(0));
        }
      }
      lastRec = rec;
    }
    if (snap !== null && this.journal.head.seq === snapSeq && lastHash() !== snap.meta.journalHash) return mismatch();
    if (lastApplied !== null) this.completeCutInput(lastApplied, lastDerived, sizeCode, hw, pending);
    if (snap !== null) {
      this.lastSnapshotSeq = snapSeq;
      this.log.info({ snapshot: this.opts.snapshot, seq: snapSeq }, "snapshot: restored");
    }
    this.appliedSource = lastSource;
    this.log.info(
      { snapshotSeq: this.lastSnapshotSeq, inputs, seq: this.core.state.seq, sourceSeq: lastSource, republish: pending.length, ms: Math.round(performance.now() - t0) },
      "recovery: journal replayed",
    );
    return { seq: this.core.state.seq, lastSource, countAtLast, snapshotSeq: this.lastSnapshotSeq, inputs, pending };
  }

  /**
   * A crash can cut the journal between an input and its derived records (the writer
   * writes out its buffer whenever it fills). The core derives them again: complete the
   * journal, so it audits and the outputs get published.
   */
  private completeCutInput(last: ApplyResult, journaled: Uint8Array[], sizeCode: ErrorCode | null, hw: OutputPosition | null, pending: PendingOutput[]): void {
    const outs = last.outputs;
    for (let i = 0; i < journaled.length; i++) {
      if (i >= outs.length || Buffer.compare(Buffer.from(journaled[i]!), Buffer.from(encodeDerived(outs[i]!))) !== 0) {
        throw new FatalServeError(`journal: derived record ${i} of seq ${last.seq} differs from what the core derives on replay`);
      }
    }
    if (journaled.length >= outs.length) return;
    for (let i = journaled.length; i < outs.length; i++) {
      const out = outs[i]!;
      const derived = encodeDerived(out);
      this.journal.appendDerived(last.seq, last.ts, derived);
      const pos = { seq: last.seq, index: i };
      if (hw === null || comparePositions(pos, hw) > 0) {
        pending.push({ ...pos, type: out.type, payload: sizeCode === null ? derived : publishedPayload(out, sizeCode) });
      }
    }
    this.journal.sync();
    this.log.warn({ seq: last.seq, journaled: journaled.length, derived: outs.length }, "recovery: completed the derived records of the last input (cut by a crash)");
  }

  async applyGroup(msgs: StageMessage[]): Promise<GroupResult> {
    // A group that failed midway left the core and the journal with part of it: nothing may
    // be applied after it (a later group would journal past the missing entries). serve
    // stops on the failure; groups already handed to the worker fail here.
    if (this.broken !== null) throw new FatalServeError(`an earlier group failed: ${this.broken.message}`);
    try {
      return await this.applyGroupUnchecked(msgs);
    } catch (err) {
      this.broken = err as Error;
      throw err;
    }
  }

  private async applyGroupUnchecked(msgs: StageMessage[]): Promise<GroupResult> {
    const outs: PendingOutput[] = [];
    let entries = 0;
    let sinceYield = 0;
    for (const m of msgs) {
      if (this.opts.yieldEvery > 0 && sinceYield >= this.opts.yieldEvery) {
        // Lets the previous group's publishes and acks progress (in-thread only).
        sinceYield = 0;
        await setImmediatePromise();
      }
      if (m.sourceSeq === this.opts.failAtSourceSeq) throw new Error(`injected core failure at stream seq ${m.sourceSeq}`);
      if (m.sourceSeq === this.opts.stallAtSourceSeq?.[0]) {
        const until = performance.now() + this.opts.stallAtSourceSeq[1];
        while (performance.now() < until) {
          // a slow core (tests: redeliveries after ack_wait)
        }
      }
      if (m.sourceSeq === this.opts.spinAtSourceSeq) {
        for (;;) {
          // a hung core (tests: the worker's watchdog)
        }
      }
      const decoded = decodeMessage(m.data);
      const n0 = entries;
      for (let k = m.skip; k < decoded.entries.length; k++) {
        this.applyOne(decoded.entries[k]!, decoded.encoded?.[k], m.sourceSeq, outs);
        entries++;
      }
      sinceYield += entries - n0;
      this.appliedSource = m.sourceSeq;
    }
    // The group's records are fsync'd before anything of it leaves (outputs, acks).
    const t1 = performance.now();
    this.journal.sync();
    const fsyncSeconds = (performance.now() - t1) / 1000;
    const snapshotSeq = this.maybeSnapshot();
    const rejected = [...this.rejectedCounts];
    this.rejectedCounts.clear();
    return { seq: this.core.state.seq, durableSeq: this.journal.durable.seq, entries, outs, rejected, fsyncSeconds, snapshotSeq };
  }

  /** `encoded`: the entry's bytes when it came in a batch (journaled as they are, not re-encoded). */
  private applyOne(entry: LogEntry, encoded: EncodedEntry | undefined, sourceSeq: number, outs: PendingOutput[]): void {
    const r = this.core.apply(entry);
    const seq = encoded !== undefined ? this.journal.appendInputEncoded(encoded, r.ts, sourceSeq) : this.journal.appendInput(entry, r.ts, sourceSeq);
    if (seq !== r.seq) throw new FatalServeError(`journal seq ${seq} differs from core seq ${r.seq}`);
    const sizeCode = sizeRejectionOf(entry);
    for (let i = 0; i < r.outputs.length; i++) {
      const out = r.outputs[i]!;
      if (out.type === "rejected") {
        const code = sizeCode ?? out.code;
        this.rejectedCounts.set(code, (this.rejectedCounts.get(code) ?? 0) + 1);
      }
      // The journal keeps the core's conclusion exactly (replay audits it); the message may
      // differ only in the oversized-message code.
      const derived = encodeDerived(out);
      this.journal.appendDerived(r.seq, r.ts, derived);
      outs.push({ seq: r.seq, index: i, type: out.type, payload: sizeCode === null ? derived : publishedPayload(out, sizeCode) });
    }
  }

  /** Writes a snapshot of the (fsync'd) state and its journal position; returns its seq. */
  private maybeSnapshot(): number | null {
    if (this.opts.snapshotEvery === 0 || this.core.state.seq - this.lastSnapshotSeq < this.opts.snapshotEvery) return null;
    const t0 = performance.now();
    const head = this.journal.head;
    if (head.seq !== this.core.state.seq) return null;
    const meta: SnapshotMeta = { seq: head.seq, journalHash: head.hash, sourceSeq: this.appliedSource };
    // The meta file keeps the last two snapshots' entries and is written first, so a crash
    // between the two writes leaves the previous snapshot usable.
    const metas = [...readSnapshotMetas(this.opts.snapshot).filter((m) => m.seq !== meta.seq).slice(-1), meta];
    writeFileAtomic(`${this.opts.snapshot}.meta.json`, JSON.stringify({ snapshots: metas }));
    writeSnapshotFile(this.opts.snapshot, this.core);
    this.lastSnapshotSeq = head.seq;
    this.log.info({ seq: head.seq, ms: Math.round(performance.now() - t0) }, "snapshot: written");
    return head.seq;
  }

  account(name: string): Promise<AccountAnswer | null> {
    const report = this.reports.get();
    const state = report.accounts[name];
    return Promise.resolve(state === undefined ? null : { seq: report.seq, stateHash: report.stateHash, marks: report.marks, state });
  }

  stateHash(): Promise<string> {
    return Promise.resolve(stateHash(this.core.state));
  }

  close(): Promise<void> {
    this.journal?.close();
    return Promise.resolve();
  }
}
