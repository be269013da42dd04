// `mmc replay --nats <url> --stream <name>`: rebuilds the state from the input stream with
// an ordered consumer (no durable state, recreated by the client on any gap) and the same
// message decoding as `mmc serve`, up to the stream's last seq at the start.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Core } from "../pipeline.js";
import { decodeMessage } from "./decode.js";
import type { Logger } from "./log.js";
import { streamInfoOrNull } from "./settings.js";

export interface StreamReplayOptions {
  readonly stream: string;
  readonly log: Logger;
  /** Stop after this stream seq (default: the stream's last seq when the replay starts). */
  readonly untilStreamSeq?: number;
  /** Keep the history (the report lists rejections, liquidations…; default true). */
  readonly keepHistory?: boolean;
  readonly onProgress?: (streamSeq: number, seq: number) => void;
}

export interface StreamReplayResult {
  readonly core: Core;
  readonly messages: number;
  readonly lastStreamSeq: number;
}

export async function replayStream(nc: NatsConnection, opts: StreamReplayOptions): Promise<StreamReplayResult> {
  const jsm = await jetstreamManager(nc);
  const info = await streamInfoOrNull(jsm, opts.stream);
  if (info === null) throw new Error(`stream ${opts.stream} not found`);
  const last = opts.untilStreamSeq ?? info.state.last_seq;
  const core = new Core({ keepHistory: opts.keepHistory ?? true });
  opts.log.info({ stream: opts.stream, firstSeq: info.state.first_seq, lastSeq: last, messages: info.state.messages }, "replay: reading the stream");
  let messages = 0;
  let lastSeen = 0;
  if (info.state.messages > 0 && last >= info.state.first_seq) {
    const consumer = await jetstream(nc).consumers.get(opts.stream);
    const iter = await consumer.consume({ max_messages: 512 });
    for await (const m of iter) {
      if (m.seq > last) break;
      for (const entry of decodeMessage(m.data).entries) core.apply(entry);
      messages++;
      lastSeen = m.seq;
      opts.onProgress?.(m.seq, core.state.seq);
      // Past the end (or nothing left: a trimmed tail).
      if (m.seq >= last || m.info.pending === 0) break;
    }
    iter.stop();
  }
  opts.log.info({ stream: opts.stream, messages, lastStreamSeq: lastSeen, seq: core.state.seq }, "replay: done");
  return { core, messages, lastStreamSeq: lastSeen };
}
