// NDJSON input → log entries, and log entries → NDJSON lines.
//
// Reading: every line (split on "\n" only, so a "\r" of a CRLF file stays in the line,
// where JSON.parse treats it as whitespace) that is not blank (only spaces, tabs, CRs)
// becomes one LogEntry: `{kind:"event"}` when parseEventLine accepts it, else
// `{kind:"raw", raw: line}` so the log stays complete (SPEC §8: a rejected event is kept).
// A UTF-8 byte-order mark at the very start of the input is dropped. Invalid UTF-8 bytes
// become U+FFFD.
//
// Oversized lines: a line longer than NDJSON_LINE_MAX_BYTES is never parsed (an event is
// a few hundred bytes; a megabyte line is garbage or an attack). It becomes a raw entry
// whose text is the line's first bytes (cut at a character boundary) followed by a
// marker, `…[mmc: line truncated from N bytes]`, all within NDJSON_LINE_MAX_BYTES. We keep
// the head rather than the whole line so memory and journal records stay bounded, and
// the marker makes the cut visible to whoever reads the log. The marker starts with a
// non-JSON character and contains no quote, so the capped text can never parse as JSON:
// re-importing it yields the same raw entry.
//
// Writing (`entryToJsonLine`): an event as canonical JSON (eventToJson: decimals as
// strings, schema field order); a raw entry as its text. Reading those lines back gives
// the same entries, so export → import is the identity. The one exception is raw text that
// is not a single NDJSON line (contains "\n", is blank, starts with U+FEFF, is too long,
// or holds a lone surrogate, which UTF-8 cannot carry; only possible for entries that did
// not come from an NDJSON file, e.g. a NATS message or the string reader):
// it is written JSON-quoted, which keeps the content visible and re-imports as a raw
// entry (holding the quoted text) rather than splitting into several lines or vanishing.
import { open } from "node:fs/promises";
import { eventToJson, parseEventLine } from "./schema.js";
import { RAW_TEXT_MAX_BYTES, hasLoneSurrogate, wtf8Length } from "./codec.js";
import type { LogEntry } from "./types.js";

/** Lines longer than this (UTF-8 bytes, without the "\n") are kept raw and capped. */
export const NDJSON_LINE_MAX_BYTES = RAW_TEXT_MAX_BYTES;
/** File read size for readNdjsonEntries. */
export const NDJSON_READ_CHUNK_BYTES = 1024 * 1024;

const BLANK_RE = /^[ \t\r]*$/;
const BOM = 0xfeff;

function isBlank(s: string): boolean {
  return BLANK_RE.test(s);
}

function truncationMarker(lineBytes: number): string {
  return `…[mmc: line truncated from ${lineBytes} bytes]`;
}

/**
 * Caps raw text to NDJSON_LINE_MAX_BYTES: returns it unchanged when it fits, else its
 * longest prefix (never splitting a surrogate pair) that leaves room for the truncation
 * marker, plus the marker. `lineBytes` is the original line's size, reported in the marker.
 */
export function capRawText(text: string, lineBytes: number = wtf8Length(text)): string {
  if (lineBytes <= NDJSON_LINE_MAX_BYTES && wtf8Length(text) <= NDJSON_LINE_MAX_BYTES) return text;
  const marker = truncationMarker(lineBytes);
  return utf8Prefix(text, NDJSON_LINE_MAX_BYTES - wtf8Length(marker)) + marker;
}

/** The longest prefix of s within `budget` UTF-8 bytes, never splitting a surrogate pair. */
export function utf8Prefix(s: string, budget: number): string {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    let units = 1;
    let size: number;
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      size = 4;
      units = 2;
    } else size = 3;
    if (bytes + size > budget) break;
    bytes += size;
    i += units;
  }
  return s.slice(0, i);
}

/** The entry for one line of at most NDJSON_LINE_MAX_BYTES bytes, or null when blank. */
function entryForLine(line: string): LogEntry | null {
  if (isBlank(line)) return null;
  const r = parseEventLine(line);
  if (r.ok) return { kind: "event", event: r.event };
  // Invalid UTF-8 can decode to more bytes than it had (U+FFFD is 3 bytes): cap again.
  return { kind: "raw", raw: capRawText(line) };
}

/**
 * Turns one NDJSON line (without its "\n") into an entry; null for a blank line.
 * `lineBytes` is its UTF-8 size when the caller already knows it.
 */
export function lineToEntry(line: string, lineBytes: number = wtf8Length(line)): LogEntry | null {
  if (lineBytes > NDJSON_LINE_MAX_BYTES) return isBlank(line) ? null : { kind: "raw", raw: capRawText(line, lineBytes) };
  return entryForLine(line);
}

/** Synchronous variant over a whole string (tests, small inputs). */
export function* parseNdjsonEntries(text: string): Generator<LogEntry> {
  let start = text.charCodeAt(0) === BOM ? 1 : 0;
  while (start <= text.length) {
    let nl = text.indexOf("\n", start);
    if (nl < 0) nl = text.length;
    const entry = lineToEntry(text.slice(start, nl));
    if (entry !== null) yield entry;
    start = nl + 1;
  }
}

export interface ReadNdjsonOptions {
  /** Read size in bytes (tests use small values to exercise chunk boundaries). */
  readonly chunkBytes?: number;
}

/**
 * Streams the entries of an NDJSON file. Memory is bounded by the chunk size plus one
 * line of at most NDJSON_LINE_MAX_BYTES (longer lines keep only their head).
 */
export async function* readNdjsonEntries(path: string, opts: ReadNdjsonOptions = {}): AsyncGenerator<LogEntry> {
  const chunkBytes = opts.chunkBytes ?? NDJSON_READ_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > 64 * NDJSON_READ_CHUNK_BYTES) {
    throw new RangeError(`readNdjsonEntries: chunkBytes must be an integer in [1, ${64 * NDJSON_READ_CHUNK_BYTES}]`);
  }
  // Keep a few bytes past the limit so the cut can land on a character boundary.
  const keepMaxBytes = NDJSON_LINE_MAX_BYTES + 4;
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(Math.max(chunkBytes, 3));
    // A byte-order mark at the start of the file is not content.
    const head = await fh.read(buf, 0, 3, 0);
    let filePos = head.bytesRead === 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    // The current line when it spans chunks: a copied head (≤ keepMaxBytes) and its size.
    const parts: Buffer[] = [];
    let keptBytes = 0;
    let lineBytes = 0;
    let blank = true;

    const carry = (seg: Buffer): void => {
      lineBytes += seg.length;
      if (blank) {
        for (const b of seg) {
          if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
            blank = false;
            break;
          }
        }
      }
      const room = keepMaxBytes - keptBytes;
      if (room > 0) {
        const kept = seg.length <= room ? seg : seg.subarray(0, room);
        parts.push(Buffer.from(kept)); // copy: `buf` is reused by the next read
        keptBytes += kept.length;
      }
    };

    const finishCarried = (): LogEntry | null => {
      const text = Buffer.concat(parts, keptBytes).toString("utf8");
      const bytes = lineBytes;
      const wasBlank = blank;
      parts.length = 0;
      keptBytes = 0;
      lineBytes = 0;
      blank = true;
      if (bytes <= NDJSON_LINE_MAX_BYTES) return lineToEntry(text, bytes);
      // Only the head was kept: blankness comes from the byte scan.
      return wasBlank ? null : { kind: "raw", raw: capRawText(text, bytes) };
    };

    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, filePos);
      if (bytesRead === 0) break;
      filePos += bytesRead;
      const chunk = buf.subarray(0, bytesRead);
      let start = 0;
      while (start < bytesRead) {
        const nl = chunk.indexOf(10, start);
        if (nl < 0) {
          carry(chunk.subarray(start));
          break;
        }
        let entry: LogEntry | null;
        if (lineBytes === 0) {
          // Common case: the whole line is inside this chunk.
          entry = lineToEntry(chunk.toString("utf8", start, nl), nl - start);
        } else {
          carry(chunk.subarray(start, nl));
          entry = finishCarried();
        }
        if (entry !== null) yield entry;
        start = nl + 1;
      }
    }
    if (lineBytes > 0) {
      const entry = finishCarried();
      if (entry !== null) yield entry;
    }
  } finally {
    await fh.close();
  }
}

function isSingleLine(raw: string): boolean {
  return (
    !raw.includes("\n") &&
    !isBlank(raw) &&
    raw.charCodeAt(0) !== BOM &&
    wtf8Length(raw) <= NDJSON_LINE_MAX_BYTES &&
    !hasLoneSurrogate(raw)
  );
}

/** The NDJSON line (without "\n") for an entry; see the header for the raw-text rule. */
export function entryToJsonLine(entry: LogEntry): string {
  if (entry.kind === "event") return JSON.stringify(eventToJson(entry.event));
  return isSingleLine(entry.raw) ? entry.raw : JSON.stringify(entry.raw);
}
