// The journal: append-only, checksummed, hash-chained, fsync'd (format: format.ts,
// docs/journal.md).
export {
  JOURNAL_MAGIC,
  JOURNAL_FORMAT_VERSION,
  JOURNAL_HEADER_BYTES,
  JOURNAL_PAYLOAD_MAX_BYTES,
  JOURNAL_RECORD_MAX_BYTES,
  RECORD_OVERHEAD_BYTES,
  RECORD_KIND_INPUT,
  RECORD_KIND_DERIVED,
  GENESIS_HASH,
  type RecordKind,
} from "./format.js";
export { JournalError, type JournalErrorReason } from "./errors.js";
export { readJournal, verifyJournal, JOURNAL_READ_CHUNK_BYTES, type JournalRecord, type ReadJournalOptions, type VerifyResult } from "./reader.js";
export {
  JournalWriter,
  DEFAULT_FSYNC_EVERY_BYTES,
  DEFAULT_FSYNC_EVERY_RECORDS,
  WRITE_BUFFER_BYTES,
  type JournalHead,
  type JournalWriterOptions,
  type DurablePoint,
} from "./writer.js";
export { importNdjson, exportJournal, IMPORT_PROGRESS_EVERY_RECORDS, type ImportOptions, type LineSink } from "./ndjson-io.js";
