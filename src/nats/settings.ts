// Stream and consumer settings, and their creation. docs/nats.md explains each choice.
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { BATCH_MAX_BYTES } from "../events/codec.js";
import type { Logger } from "./log.js";
import { INPUT_SUBJECTS, OUTPUT_SUBJECTS } from "./subjects.js";

export const DEFAULT_INPUT_STREAM = "MMC_IN";
export const DEFAULT_OUTPUT_STREAM = "MMC_OUT";
export const DEFAULT_CONSUMER = "mmc-serve";

/** The output stream paired with an input stream: MMC_IN → MMC_OUT, X → X_OUT. */
export function outputStreamFor(input: string): string {
  return input === DEFAULT_INPUT_STREAM ? DEFAULT_OUTPUT_STREAM : `${input}_OUT`;
}

export interface PipelineSettings {
  /** "file" (survives server restarts) or "memory" (benchmarks only). */
  readonly storage: "file" | "memory";
  readonly replicas: number;
  /** Msg-id deduplication window of both streams. */
  readonly duplicateWindowMs: number;
  /** Redelivery timeout of the serve consumer. */
  readonly ackWaitMs: number;
  /** Unacknowledged messages the server lets the serve consumer have outstanding. */
  readonly maxAckPending: number;
  /** Largest message either stream accepts. */
  readonly maxMsgBytes: number;
  /** Output stream age limit (0 = keep forever). */
  readonly outputMaxAgeMs: number;
}

export const DEFAULT_SETTINGS: PipelineSettings = {
  storage: "file",
  replicas: 1,
  duplicateWindowMs: 10 * 60_000,
  ackWaitMs: 30_000,
  // Above the client's pull buffer (256) plus two groups in flight (≤ 512 messages each),
  // so delivery never waits for acks even with one-event messages.
  maxAckPending: 2048,
  maxMsgBytes: BATCH_MAX_BYTES,
  outputMaxAgeMs: 0,
};

export function inputStreamConfig(name: string, s: PipelineSettings): Partial<StreamConfig> & { name: string } {
  return {
    name,
    description: "mmc input log: events (JSON) and event batches (MMCB binary)",
    subjects: [INPUT_SUBJECTS],
    storage: s.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: s.replicas,
    // The stream is the log: kept (limits retention, no limits by default), never a work
    // queue, so `mmc replay --nats` can rebuild from it and a lost journal can be re-fed.
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msg_size: s.maxMsgBytes,
    duplicate_window: nanos(s.duplicateWindowMs),
    // Removing one message from the middle of the log would change every later state.
    deny_delete: true,
    allow_direct: true,
  };
}

export function outputStreamConfig(name: string, s: PipelineSettings): Partial<StreamConfig> & { name: string } {
  return {
    name,
    description: "mmc outputs: liquidation, adl, margin.call, rejected",
    subjects: [OUTPUT_SUBJECTS],
    storage: s.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: s.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs: -1,
    max_bytes: -1,
    max_age: s.outputMaxAgeMs === 0 ? 0 : nanos(s.outputMaxAgeMs),
    max_msg_size: s.maxMsgBytes,
    duplicate_window: nanos(s.duplicateWindowMs),
    allow_direct: true,
  };
}

/** The durable pull consumer of `mmc serve`, starting at stream seq `startSeq` (1 = all). */
export function serveConsumerConfig(name: string, startSeq: number, s: PipelineSettings): Partial<ConsumerConfig> {
  const base: Partial<ConsumerConfig> = {
    durable_name: name,
    description: "mmc serve: applies the input log; the journal is the source of truth for progress",
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(s.ackWaitMs),
    max_ack_pending: s.maxAckPending,
    // Every payload is a valid input (a bad one is applied as a rejection), so redelivery
    // never needs to stop: no poison-message cap.
    max_deliver: -1,
    replay_policy: ReplayPolicy.Instant,
    // Pull requests: allow many outstanding and large ones (a fetch of whole batches).
    max_waiting: 512,
  };
  return startSeq <= 1
    ? { ...base, deliver_policy: DeliverPolicy.All }
    : { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq };
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  const code = (err as { api_error?: { err_code?: number } })?.api_error?.err_code;
  return code === 10059 || code === 10014 || /not found/i.test(e?.message ?? "");
}

export async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export async function consumerInfoOrNull(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | null> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Creates the stream when missing; an existing stream is used as it is (logged). */
export async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }, log: Logger): Promise<StreamInfo> {
  const existing = await streamInfoOrNull(jsm, cfg.name);
  if (existing !== null) {
    log.debug({ stream: cfg.name, subjects: existing.config.subjects, messages: existing.state.messages, lastSeq: existing.state.last_seq }, "stream exists");
    return existing;
  }
  log.info({ stream: cfg.name, subjects: cfg.subjects, storage: cfg.storage, duplicateWindowNs: cfg.duplicate_window }, "creating stream");
  try {
    return await jsm.streams.add(cfg);
  } catch (err) {
    // Another process created it meanwhile.
    const again = await streamInfoOrNull(jsm, cfg.name);
    if (again !== null) return again;
    throw err;
  }
}

export async function ensureStreams(
  jsm: JetStreamManager,
  input: string,
  output: string,
  s: PipelineSettings,
  log: Logger,
): Promise<{ input: StreamInfo; output: StreamInfo }> {
  return {
    input: await ensureStream(jsm, inputStreamConfig(input, s), log),
    output: await ensureStream(jsm, outputStreamConfig(output, s), log),
  };
}
