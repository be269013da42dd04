// Calls between serve's main thread and the core worker (worker-stage.ts, core-worker.ts):
// request/reply by id in both directions over a worker port, and the packing of message and
// output bytes into one transferable buffer each (a Uint8Array view would otherwise be
// cloned with its whole underlying buffer).
import type { TransferListItem } from "node:worker_threads";
import type { OutputType } from "./subjects.js";
import type { PendingOutput } from "./outputs.js";
import { FatalServeError, type StageMessage } from "./core-stage.js";

interface WireError {
  readonly message: string;
  readonly stack: string;
  readonly fatal: boolean;
}

type Wire =
  | { readonly kind: "call"; readonly id: number; readonly op: string; readonly args: unknown[] }
  | { readonly kind: "reply"; readonly id: number; readonly result?: unknown; readonly error?: WireError }
  | { readonly kind: "tick" };

export interface RpcPort {
  postMessage(value: unknown, transfer?: readonly TransferListItem[]): void;
  on(event: "message", listener: (value: unknown) => void): unknown;
}

/** A result sent with its buffers moved, not copied. */
export class Transfer<T> {
  constructor(
    readonly value: T,
    readonly list: TransferListItem[],
  ) {}
}

type Handler = (args: unknown[]) => Promise<unknown>;

/**
 * A time limit on the other side's calls: `onTimeout` runs (once) when a call has been
 * outstanding for `ms` without a sign of life from the other side. The clock restarts at
 * every reply (the other side takes calls in order: the next one starts then) and every
 * tick (progress inside a long call), and stops while one of our handlers runs for the
 * other side (it waits for us then, as recovery waits for its publishes).
 */
export interface CallWatchdog {
  readonly ms: number;
  readonly onTimeout: (op: string) => void;
}

export class Rpc {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<string, Handler>();
  private dead: Error | null = null;
  /** Ops of the calls awaiting a reply, by id (in call order). */
  private readonly ops = new Map<number, string>();
  /** Our handlers running for the other side (the watchdog's clock stops meanwhile). */
  private serving = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly port: RpcPort,
    private readonly watchdog: CallWatchdog | null = null,
  ) {
    port.on("message", (m) => this.onMessage(m as Wire));
  }

  /** Tells the other side's watchdog that a long call is progressing. */
  tick(): void {
    this.port.postMessage({ kind: "tick" } satisfies Wire);
  }

  /** (Re)starts the watchdog's clock when a call is outstanding and we serve none. */
  private arm(): void {
    if (this.watchdog === null) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.dead !== null || this.ops.size === 0 || this.serving > 0) return;
    const { ms, onTimeout } = this.watchdog;
    this.timer = setTimeout(() => {
      this.timer = null;
      const op = this.ops.values().next().value;
      if (op !== undefined && this.dead === null) onTimeout(op);
    }, ms);
  }

  handle(op: string, fn: Handler): void {
    this.handlers.set(op, fn);
  }

  call<T>(op: string, args: unknown[], transfer: TransferListItem[] = []): Promise<T> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ops.set(id, op);
      // Behind other calls it starts when they are answered (the clock restarts then).
      if (this.ops.size === 1) this.arm();
      this.port.postMessage({ kind: "call", id, op, args } satisfies Wire, transfer);
    });
  }

  /** The other side is gone: every call in flight and every later one fails with `err`. */
  fail(err: Error): void {
    if (this.dead !== null) return;
    this.dead = err;
    this.arm();
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.ops.clear();
  }

  private onMessage(m: Wire): void {
    if (m.kind === "tick") {
      this.arm();
      return;
    }
    if (m.kind !== "reply" && m.kind !== "call") return; // not ours (worker-stage.ts: log records)
    if (m.kind === "reply") {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      this.ops.delete(m.id);
      this.arm();
      if (m.error === undefined) w.resolve(m.result);
      else w.reject(fromWire(m.error));
      return;
    }
    const fn = this.handlers.get(m.op);
    this.serving++;
    this.arm();
    const run = (fn !== undefined ? fn(m.args) : Promise.reject(new Error(`no handler for ${m.op}`))).finally(() => {
      this.serving--;
      this.arm();
    });
    run.then(
      (r) => {
        if (r instanceof Transfer) this.port.postMessage({ kind: "reply", id: m.id, result: r.value as unknown } satisfies Wire, r.list);
        else this.port.postMessage({ kind: "reply", id: m.id, result: r } satisfies Wire);
      },
      (err: unknown) => this.port.postMessage({ kind: "reply", id: m.id, error: toWire(err) } satisfies Wire),
    );
  }
}

function toWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, stack: e.stack ?? e.message, fatal: e instanceof FatalServeError };
}

function fromWire(w: WireError): Error {
  const e = w.fatal ? new FatalServeError(w.message) : new Error(w.message);
  e.stack = w.stack;
  return e;
}

/** Byte arrays laid end to end in one buffer. */
interface PackedBytes {
  readonly buf: Uint8Array;
  readonly ends: number[];
}

function packBytes(parts: readonly Uint8Array[]): PackedBytes {
  let total = 0;
  for (const p of parts) total += p.length;
  const buf = new Uint8Array(total);
  const ends: number[] = [];
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
    ends.push(at);
  }
  return { buf, ends };
}

function partOf(p: PackedBytes, i: number): Uint8Array {
  return p.buf.subarray(i === 0 ? 0 : p.ends[i - 1]!, p.ends[i]!);
}

export interface PackedMessages {
  readonly bytes: PackedBytes;
  readonly sourceSeqs: number[];
  readonly skips: number[];
}

export function packMessages(msgs: readonly StageMessage[]): Transfer<PackedMessages> {
  const bytes = packBytes(msgs.map((m) => m.data));
  return new Transfer({ bytes, sourceSeqs: msgs.map((m) => m.sourceSeq), skips: msgs.map((m) => m.skip) }, [bytes.buf.buffer as ArrayBuffer]);
}

export function unpackMessages(p: PackedMessages): StageMessage[] {
  return p.sourceSeqs.map((sourceSeq, i) => ({ data: partOf(p.bytes, i), sourceSeq, skip: p.skips[i]! }));
}

export interface PackedOutputs {
  readonly bytes: PackedBytes;
  readonly seqs: number[];
  readonly indexes: number[];
  readonly types: string[];
}

export function packOutputs(outs: readonly PendingOutput[]): Transfer<PackedOutputs> {
  const bytes = packBytes(outs.map((o) => o.payload));
  const value = { bytes, seqs: outs.map((o) => o.seq), indexes: outs.map((o) => o.index), types: outs.map((o) => o.type) };
  return new Transfer(value, [bytes.buf.buffer as ArrayBuffer]);
}

export function unpackOutputs(p: PackedOutputs): PendingOutput[] {
  return p.seqs.map((seq, i) => ({ seq, index: p.indexes[i]!, type: p.types[i] as OutputType, payload: partOf(p.bytes, i) }));
}
