// Shared by the journal tests: a valid event entry from wire JSON (throws if the schema
// rejects it: fixtures must be valid), and fresh file paths in one temp directory per suite.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateEvent } from "../../../src/events/schema.js";
import type { LogEntry } from "../../../src/events/types.js";

export function ev(json: Record<string, unknown>): LogEntry {
  const r = validateEvent(json);
  if (!r.ok) throw new Error(r.rejection.message);
  return { kind: "event", event: r.event };
}

/** A generator of unused journal paths under a new temp directory named after `prefix`. */
export function tempPaths(prefix: string): () => string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return () => join(dir, `j-${n++}.mmcj`);
}
