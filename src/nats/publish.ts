// `mmc publish <ndjson|journal>`: the log's entries → the input stream, in binary batches.
//
// Each batch's msg id is `<file id>:<index of its first entry>` where the file id is the
// first 16 hex digits of the SHA-256 of the file, so publishing the same file again (with
// the same batch size) inside the stream's duplicate window stores nothing new. Beyond the
// window the batches would be stored again; `mmc serve` then rejects every event with an
// id as E_DUPLICATE (deposits, withdrawals, trades change nothing), but marks, funding and
// other id-less events would apply again — so do not re-publish a log after the window.
//
// Batches are published one at a time, each awaited (retried forever with the same msg id
// on failure), so the stream holds them in file order even across server restarts: a
// pipelined publisher could have batch k+1 stored before a retried batch k.
import type { JetStreamClient } from "@nats-io/jetstream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { BATCH_MAX_ENTRIES, encodeBatch } from "../events/codec.js";
import type { LogEntry } from "../events/types.js";
import { readLog } from "../replay.js";
import { Prng } from "../util/prng.js";
import { backoffMs, unlessReconnected } from "./connect.js";
import type { Logger } from "./log.js";
import { DEFAULT_INPUT_STREAM, DEFAULT_SETTINGS, ensureStream, inputStreamConfig, type PipelineSettings } from "./settings.js";
import { BATCH_SUBJECT } from "./subjects.js";

export const DEFAULT_PUBLISH_BATCH = 1000;
/** Room left in a message for headers and protocol overhead. */
const HEADER_ROOM_BYTES = 4096;

export const HDR_FILE = "Mmc-File";
export const HDR_FIRST = "Mmc-First";
export const HDR_COUNT = "Mmc-Count";

export interface PublishOptions {
  /** Input stream (created if missing). */
  readonly stream?: string;
  /** Entries per batch message (default 1000). */
  readonly batch?: number;
  readonly settings?: Partial<PipelineSettings>;
  readonly log: Logger;
  /** Called after each stored batch with the entries published so far (awaited: it may pace). */
  readonly onProgress?: (entries: number) => void | Promise<void>;
}

export interface PublishResult {
  readonly fileId: string;
  readonly entries: number;
  readonly messages: number;
  /** Batches the server already had (msg id inside the duplicate window). */
  readonly duplicates: number;
  readonly firstStreamSeq: number | null;
  readonly lastStreamSeq: number | null;
}

/** First 16 hex digits of the file's SHA-256. */
export async function fileId(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex").slice(0, 16);
}

export function batchMsgId(file: string, firstIndex: number): string {
  return `${file}:${firstIndex}`;
}

/** Encodes entries as one batch, or several when it would exceed maxBytes (split in halves). */
export function encodeBatches(entries: readonly LogEntry[], maxBytes: number, first: number): { first: number; count: number; data: Uint8Array }[] {
  const data = encodeBatch(entries);
  if (data.length <= maxBytes || entries.length === 1) return [{ first, count: entries.length, data }];
  const mid = Math.ceil(entries.length / 2);
  return [...encodeBatches(entries.slice(0, mid), maxBytes, first), ...encodeBatches(entries.slice(mid), maxBytes, first + mid)];
}

/** Publishes one message, retrying forever with the same msg id; returns the PubAck. */
export async function publishDurably(
  nc: NatsConnection,
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  msgID: string,
  log: Logger,
  rng: Prng,
  hdrs?: Record<string, string>,
): Promise<{ seq: number; duplicate: boolean }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const h = headers();
      for (const [k, v] of Object.entries(hdrs ?? {})) h.set(k, v);
      const ack = await unlessReconnected(nc, js.publish(subject, data, { msgID, headers: h, timeout: 10_000 }));
      if (attempt > 0) log.info({ msgID, seq: ack.seq, duplicate: ack.duplicate }, "publish: stored after retry");
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      const wait = backoffMs(attempt, rng);
      log.warn({ msgID, err: (err as Error).message, retryInMs: wait }, "publish: failed; retrying with the same msg id");
      await sleep(wait);
    }
  }
}

export async function publishLog(nc: NatsConnection, file: string, opts: PublishOptions): Promise<PublishResult> {
  const { log } = opts;
  const batchSize = opts.batch ?? DEFAULT_PUBLISH_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > BATCH_MAX_ENTRIES) {
    throw new RangeError(`batch must be an integer in [1, ${BATCH_MAX_ENTRIES}]`);
  }
  const stream = opts.stream ?? DEFAULT_INPUT_STREAM;
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, inputStreamConfig(stream, settings), log);
  const js = jetstream(nc);
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const maxBytes = Math.min(settings.maxMsgBytes, maxPayload) - HEADER_ROOM_BYTES;
  const id = await fileId(file);
  const rng = new Prng(process.pid ^ 0x9b);
  log.info({ file, fileId: id, stream, batch: batchSize, maxBytes }, "publish: starting");

  let entries = 0;
  let messages = 0;
  let duplicates = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  let buf: LogEntry[] = [];
  let bufFirst = 1;
  const flush = async (): Promise<void> => {
    if (buf.length === 0) return;
    for (const b of encodeBatches(buf, maxBytes, bufFirst)) {
      const msgID = batchMsgId(id, b.first);
      const ack = await publishDurably(nc, js, BATCH_SUBJECT, b.data, msgID, log, rng, {
        [HDR_FILE]: id, [HDR_FIRST]: String(b.first), [HDR_COUNT]: String(b.count),
      });
      messages++;
      if (ack.duplicate) duplicates++;
      firstSeq ??= ack.seq;
      lastSeq = ack.seq;
      entries += b.count;
    }
    await opts.onProgress?.(entries);
    bufFirst += buf.length;
    buf = [];
  };
  for await (const rec of readLog(file)) {
    buf.push(rec.entry);
    if (buf.length >= batchSize) await flush();
  }
  await flush();
  log.info({ file, entries, messages, duplicates, firstStreamSeq: firstSeq, lastStreamSeq: lastSeq }, "publish: done");
  return { fileId: id, entries, messages, duplicates, firstStreamSeq: firstSeq, lastStreamSeq: lastSeq };
}
