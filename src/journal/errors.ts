// Journal errors. A JournalError always locates the problem: the seq of the first bad
// record (the seq it should have had when its stored one is unreadable; 0 for the file
// header) and the file offset where that record starts.

export type JournalErrorReason =
  | "header" // bad or truncated file header
  | "truncated" // the file ends inside a record
  | "length" // a record length over JOURNAL_PAYLOAD_MAX_BYTES
  | "checksum" // CRC mismatch: the record's bytes were damaged
  | "kind" // unknown record kind
  | "seq" // seq gap, repeat or reordering
  | "range" // a u64 field beyond 2^53−1
  | "chain" // hash mismatch: the record or its predecessor was altered
  | "payload" // an input payload that does not decode as a log entry
  | "ts" // record ts differs from the event's own ts
  | "io"; // a write or fsync failed: the writer is unusable, reopen to recover

export class JournalError extends Error {
  constructor(
    readonly reason: JournalErrorReason,
    readonly seq: number,
    readonly offset: number,
    detail: string,
  ) {
    super(`journal ${reason} error at seq ${seq}, offset ${offset}: ${detail}`);
    this.name = "JournalError";
  }
}
