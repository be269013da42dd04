// Derived records: the outputs of each input event (liquidations, ADL, margin calls,
// insurance covers, rejections), journaled right after the input that caused them so an
// auditor sees why each happened — and, on replay, checks that the engine still concludes
// exactly the same (a mismatch is an audit failure, not a silent difference).
import type { OutputEvent } from "./events.js";
import type { Core, ApplyResult } from "../pipeline.js";
import type { LogEntry } from "../events/types.js";
import type { JournalWriter } from "../journal/index.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeDerived(o: OutputEvent): Uint8Array {
  return encoder.encode(JSON.stringify(o));
}

/** Scratch for derivedView (grown on demand; one UTF-16 code unit is at most 3 UTF-8 bytes). */
let scratch = Buffer.allocUnsafe(4096);

/**
 * encodeDerived's bytes as a view of a shared scratch buffer, valid until the next call (no
 * allocation): for callers that copy or compare at once. Same bytes: the UTF-8 encoding of a
 * string is unique, and JSON.stringify's output is well-formed (lone surrogates are escaped).
 */
export function derivedView(o: OutputEvent): Uint8Array {
  const json = JSON.stringify(o);
  if (json.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(json.length * 3);
  return scratch.subarray(0, scratch.write(json, 0, "utf8"));
}

/** Whether `payload` is exactly encodeDerived(o), byte for byte. */
export function derivedEquals(o: OutputEvent, payload: Uint8Array): boolean {
  const mine = derivedView(o);
  return mine.length === payload.length && Buffer.compare(mine, payload) === 0;
}

export function decodeDerived(payload: Uint8Array): OutputEvent {
  return JSON.parse(decoder.decode(payload)) as OutputEvent;
}

/** Applies an entry and journals it with its outputs (input record, then derived records). */
export function applyAndJournal(core: Core, writer: JournalWriter, entry: LogEntry, sourceSeq = 0, ts?: number): ApplyResult {
  const r = core.apply(entry, ts);
  writer.appendInput(entry, r.ts, sourceSeq);
  for (const o of r.outputs) writer.appendDerived(r.seq, r.ts, derivedView(o)); // the writer copies it
  return r;
}

export class AuditError extends Error {
  constructor(readonly seq: number, readonly detail: string) {
    super(`audit: seq ${seq}: ${detail}`);
  }
}
