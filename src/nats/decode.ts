// Input message → log entries. A message carries one event as JSON text, or a batch in
// the binary encoding (codec.ts, recognised by its "MMCB" magic). Whatever arrives becomes
// entries, so it gets a seq and is journaled: a malformed message is kept as a raw entry
// (SPEC §8: a rejected event stays in the log) and Core rejects it with its code.
//
//   - JSON text (UTF-8; invalid bytes become U+FFFD like the NDJSON reader) of at most
//     EVENT_MESSAGE_MAX_BYTES: parsed exactly like one NDJSON line (lineToEntry).
//   - A JSON message over that size is never parsed: its raw entry keeps the first
//     OVERSIZE_HEAD_BYTES and a marker `…[mmc: message truncated from N bytes]` (never
//     valid JSON, so it is rejected again on every replay), and its `rejected` output says
//     E_TOO_LARGE.
//   - A batch that does not decode (bad magic/version, truncated, over BATCH_MAX_BYTES,
//     an entry the schema would not accept) is one raw entry describing the failure; a
//     batch over BATCH_MAX_BYTES is E_TOO_LARGE, any other failure is rejected as E_JSON
//     (the message is not an event).
// The same function serves `serve` and `replay --nats`, so both build the same log.
import { BATCH_MAGIC, BATCH_MAX_BYTES, BATCH_MAX_ENTRIES, CodecError, decodeBatchEncoded, type EncodedEntry } from "../events/codec.js";
import { lineToEntry, utf8Prefix } from "../events/ndjson.js";
import type { LogEntry } from "../events/types.js";
import type { ErrorCode } from "../events/errors.js";

/** A single-event JSON message larger than this is rejected E_TOO_LARGE (an event is < 2 KiB). */
export const EVENT_MESSAGE_MAX_BYTES = 64 * 1024;
/** How much of an oversized message the log keeps. */
export const OVERSIZE_HEAD_BYTES = 1024;

const MAGIC = Buffer.from(BATCH_MAGIC, "latin1");
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export interface DecodedMessage {
  readonly entries: LogEntry[];
  /**
   * For a batch: each entry's canonical bytes (views into the message), which the journal
   * takes as they are instead of encoding the entry again. Absent for other messages.
   */
  readonly encoded?: EncodedEntry[];
  /**
   * The code the `rejected` output must carry when it is not Core's own (an oversized
   * message: Core sees a raw entry and would say E_JSON). Null otherwise. Always equal to
   * sizeRejectionOf(entries[0]), which is what serve uses (it also works on journaled
   * entries, when outputs are republished).
   */
  readonly overrideCode: ErrorCode | null;
  readonly kind: "event" | "batch" | "bad-batch" | "oversize";
}

export function isBatch(data: Uint8Array): boolean {
  return data.length >= MAGIC.length && data[0] === MAGIC[0] && data[1] === MAGIC[1] && data[2] === MAGIC[2] && data[3] === MAGIC[3];
}

// The oversize markers are a property of raw log entries: the core reads them too.
export { sizeRejectionOf } from "../events/oversize.js";


export function decodeMessage(data: Uint8Array): DecodedMessage {
  if (isBatch(data)) {
    try {
      const { entries, encoded } = decodeBatchEncoded(data);
      return { entries, encoded, overrideCode: null, kind: "batch" };
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      const tooLarge = err.reason === "too-large" && data.length > BATCH_MAX_BYTES;
      const raw = `…[mmc: batch message of ${data.length} bytes rejected (${tooLarge ? "too-large" : err.reason}): ${err.message}]`;
      return { entries: [{ kind: "raw", raw }], overrideCode: tooLarge ? "E_TOO_LARGE" : null, kind: "bad-batch" };
    }
  }
  if (data.length > EVENT_MESSAGE_MAX_BYTES) {
    const head = utf8Prefix(utf8.decode(data.subarray(0, OVERSIZE_HEAD_BYTES + 4)), OVERSIZE_HEAD_BYTES);
    const raw = `${head}…[mmc: message truncated from ${data.length} bytes]`;
    return { entries: [{ kind: "raw", raw }], overrideCode: "E_TOO_LARGE", kind: "oversize" };
  }
  const text = utf8.decode(data);
  // An empty or blank message is not an event: keep it (JSON-quoted when blank, so the raw
  // text is non-empty and visible) and let Core reject it.
  const entry = lineToEntry(text, data.length) ?? { kind: "raw", raw: text === "" ? '""' : JSON.stringify(text) };
  return { entries: [entry], overrideCode: null, kind: "event" };
}

/**
 * The entries a message holds, from a batch's header alone (its count; a batch that will
 * not decode may hold fewer): serve sizes groups with it before the core stage decodes.
 */
export function messageEntryCount(data: Uint8Array): number {
  if (!isBatch(data)) return 1;
  let count = 0;
  let mul = 1;
  for (let i = MAGIC.length + 1; i < data.length && i < MAGIC.length + 9; i++) {
    const b = data[i]!;
    count += (b & 0x7f) * mul;
    if (b < 0x80) return Math.max(1, Math.min(count, BATCH_MAX_ENTRIES));
    mul *= 128;
  }
  return 1;
}
