// Output events → the output stream, exactly once and in order.
//
// Each output is one message on `mmc.out.<type>` whose JetStream msg id is `<seq>.<index>`
// (the input seq that caused it and its position among that input's outputs): a restart
// that publishes it again is dropped by the server's duplicate window.
//
// Beyond the window, order does the work: publishes are pipelined, each expecting the
// previous one as the stream's last msg id (`Nats-Expected-Last-Msg-Id`), so the stream
// can only ever hold a prefix of our sequence. After any failure the publisher re-reads
// the stream's last message (the high-water mark, from its Mmc-Seq/Mmc-Index headers),
// skips what is stored and continues. On startup `mmc serve` does the same with the
// outputs it finds in its journal past the high-water mark. One writer per output stream.
import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { setTimeout as sleep } from "node:timers/promises";
import type { OutputEvent } from "../outputs/events.js";
import type { ErrorCode } from "../events/errors.js";
import { Prng } from "../util/prng.js";
import { backoffMs, unlessReconnected } from "./connect.js";
import type { Logger } from "./log.js";
import { outputSubject, type OutputType } from "./subjects.js";

export const HDR_SEQ = "Mmc-Seq";
export const HDR_INDEX = "Mmc-Index";
export const HDR_TYPE = "Mmc-Type";
/** JetStream's own headers (what js.publish's msgID / expect.lastMsgID set). */
export const HDR_MSG_ID = "Nats-Msg-Id";
export const HDR_EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id";

export interface OutputPosition {
  readonly seq: number;
  readonly index: number;
}

export interface PendingOutput extends OutputPosition {
  readonly type: OutputType;
  /** The message body (JSON of the output event), also what the journal keeps. */
  readonly payload: Uint8Array;
}

export function outputMsgId(seq: number, index: number): string {
  return `${seq}.${index}`;
}

export function comparePositions(a: OutputPosition, b: OutputPosition): number {
  return a.seq !== b.seq ? a.seq - b.seq : a.index - b.index;
}

const enc = new TextEncoder();

export function encodeOutput(event: OutputEvent): Uint8Array {
  return enc.encode(JSON.stringify(event));
}

/**
 * The message body published for an output: the output as the core concluded it (what
 * the journal keeps, byte for byte), except that a rejection of an oversized message
 * carries E_TOO_LARGE (`sizeCode`, see decode.ts) where the core sees only a raw entry.
 */
export function publishedPayload(out: OutputEvent, sizeCode: ErrorCode | null): Uint8Array {
  if (out.type === "rejected" && sizeCode !== null && out.code !== sizeCode) {
    return encodeOutput({ ...out, code: sizeCode, message: `${sizeCode}: ${out.message}` });
  }
  return encodeOutput(out);
}

export class PublishAborted extends Error {
  constructor() {
    super("output publishing aborted");
  }
}

export interface OutputPublisherOptions {
  /** Outputs per chunk: published back to back, the last one awaited (default 1024). */
  readonly window?: number;
  /** Per-publish timeout (ms). */
  readonly timeoutMs?: number;
  /** Called with the count of newly stored outputs by type. */
  readonly onPublished?: (type: OutputType, n: number) => void;
}

export class OutputPublisher {
  /** Msg id of the last output this publisher knows is the stream's last message. */
  private lastId: string | null = null;
  private highWater: OutputPosition | null = null;
  private aborted = false;
  private readonly rng = new Prng(process.pid ^ 0x5eed);
  private readonly window: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly log: Logger,
    private readonly opts: OutputPublisherOptions = {},
  ) {
    this.window = opts.window ?? 1024;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  get stored(): OutputPosition | null {
    return this.highWater;
  }

  abort(): void {
    this.aborted = true;
  }

  /**
   * The position of the stream's last message (null when the stream is empty or its last
   * message is not one of ours); retries until the server answers.
   */
  async readHighWater(): Promise<OutputPosition | null> {
    for (let attempt = 0; ; attempt++) {
      if (this.aborted) throw new PublishAborted();
      try {
        const info = await this.jsm.streams.info(this.stream);
        const last = info.state.last_seq;
        let pos: OutputPosition | null = null;
        if (info.state.messages > 0 && last > 0) {
          const m = await this.jsm.streams.getMessage(this.stream, { seq: last });
          pos = m === null ? null : positionOf(m.header);
        }
        this.highWater = pos;
        this.lastId = pos === null ? null : outputMsgId(pos.seq, pos.index);
        return pos;
      } catch (err) {
        const wait = backoffMs(attempt, this.rng);
        this.log.warn({ stream: this.stream, err: (err as Error).message, retryInMs: wait }, "outputs: cannot read the output stream's high-water mark; retrying");
        await sleep(wait);
      }
    }
  }

  /**
   * Stores every item (in order) that is not stored yet; retries until done or aborted.
   * Per chunk of `window` items, all but the last go out without waiting for an answer;
   * the last is a request. Each message expects its predecessor as the stream's last msg
   * id, and a connection's messages reach the stream in order, so an ack for the last one
   * proves the whole chunk is stored, in order: one round trip per chunk.
   */
  async publish(items: readonly PendingOutput[]): Promise<void> {
    let i = 0;
    // Skip what the stream is known to hold already.
    if (this.highWater !== null) while (i < items.length && comparePositions(items[i]!, this.highWater) <= 0) i++;
    let chainValid = this.lastId !== null;
    let failures = 0;
    while (i < items.length) {
      if (this.aborted) throw new PublishAborted();
      const end = Math.min(items.length, i + this.window);
      let prev = chainValid ? this.lastId : null;
      let ack: Promise<{ duplicate: boolean }> | null = null;
      for (let k = i; k < end; k++) {
        const it = items[k]!;
        const id = outputMsgId(it.seq, it.index);
        // append, not set: the headers are fresh, and set() first searches for the key to
        // delete (measured ~1/3 of the client's per-output header work).
        const h: MsgHdrs = headers();
        h.append(HDR_SEQ, String(it.seq));
        h.append(HDR_INDEX, String(it.index));
        h.append(HDR_TYPE, it.type);
        if (k < end - 1) {
          h.append(HDR_MSG_ID, id);
          if (prev !== null) h.append(HDR_EXPECTED_LAST_MSG_ID, prev);
          this.nc.publish(outputSubject(it.type), it.payload, { headers: h });
        } else {
          ack = unlessReconnected(
            this.nc,
            this.js.publish(outputSubject(it.type), it.payload, {
              msgID: id,
              headers: h,
              timeout: this.timeoutMs,
              ...(prev === null ? {} : { expect: { lastMsgID: prev } }),
            }),
          );
        }
        prev = id;
      }
      try {
        await ack!;
        if (this.opts.onPublished !== undefined) {
          // One call per type and chunk: a labelled counter costs ~1 µs per call.
          const counts = new Map<OutputType, number>();
          for (let k = i; k < end; k++) counts.set(items[k]!.type, (counts.get(items[k]!.type) ?? 0) + 1);
          for (const [type, n] of counts) this.opts.onPublished(type, n);
        }
        const last = items[end - 1]!;
        this.highWater = { seq: last.seq, index: last.index };
        this.lastId = outputMsgId(last.seq, last.index);
        chainValid = true;
        failures = 0;
        i = end;
      } catch (err) {
        // Some prefix of the chunk may be stored: find where it ends and go on from there.
        const wait = backoffMs(failures++, this.rng);
        this.log.warn(
          { stream: this.stream, err: (err as Error).message, from: outputMsgId(items[i]!.seq, items[i]!.index), retryInMs: wait },
          "outputs: publish failed; resyncing with the stream",
        );
        await sleep(wait);
        const hw = await this.readHighWater();
        if (hw !== null) while (i < items.length && comparePositions(items[i]!, hw) <= 0) i++;
        // The server may not know its last msg id after a restart: start the chain afresh.
        chainValid = false;
      }
    }
  }
}

function positionOf(h: MsgHdrs | undefined): OutputPosition | null {
  if (h === undefined) return null;
  const seq = Number(h.get(HDR_SEQ));
  const index = Number(h.get(HDR_INDEX));
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isSafeInteger(index) || index < 0) return null;
  return { seq, index };
}
