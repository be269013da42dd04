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

export function decodeDerived(payload: Uint8Array): OutputEvent {
  return JSON.parse(decoder.decode(payload)) as OutputEvent;
}

/** Applies an entry and journals it with its outputs (input record, then derived records). */
export function applyAndJournal(core: Core, writer: JournalWriter, entry: LogEntry, sourceSeq = 0, ts?: number): ApplyResult {
  const r = core.apply(entry, ts);
  writer.appendInput(entry, r.ts, sourceSeq);
  for (const o of r.outputs) writer.appendDerived(r.seq, r.ts, encodeDerived(o));
  return r;
}

export class AuditError extends Error {
  constructor(readonly seq: number, readonly detail: string) {
    super(`audit: seq ${seq}: ${detail}`);
  }
}
