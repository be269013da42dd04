// Raw entries cut because their input was too large carry a marker (written by the NDJSON
// reader for long lines and by the NATS decoder for oversized messages and batches). The
// core rejects such an entry E_TOO_LARGE, so the report, a journal replay and the published
// `rejected` output all give the same code.
import type { ErrorCode } from "./errors.js";
import type { LogEntry } from "./types.js";

const OVERSIZE_MARK_RE = /…\[mmc: (?:message|line) truncated from \d+ bytes\]$/;
const BAD_BATCH_RE = /^…\[mmc: batch message of \d+ bytes rejected \((too-large)\)/;

/** E_TOO_LARGE for a raw entry made from an oversized input; null for any other entry. */
export function sizeRejectionOf(entry: LogEntry): ErrorCode | null {
  if (entry.kind !== "raw") return null;
  return OVERSIZE_MARK_RE.test(entry.raw) || BAD_BATCH_RE.test(entry.raw) ? "E_TOO_LARGE" : null;
}
