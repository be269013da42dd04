// Snapshot files: the canonical state document plus the output history, as JSON, written
// atomically (temp file, fsync, rename) so a crash never leaves a half snapshot.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, stateToDoc, type StateDoc } from "./aggregate/snapshot.js";
import type { Core, History } from "./pipeline.js";

export interface SnapshotFile {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: typeof SNAPSHOT_VERSION;
  readonly state: StateDoc;
  readonly history: History;
}

export function snapshotOf(core: Core): SnapshotFile {
  return { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, state: stateToDoc(core.state), history: structuredClone(core.history) };
}

export function writeSnapshotFile(path: string, core: Core): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, JSON.stringify(snapshotOf(core)));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function readSnapshotFile(path: string): SnapshotFile {
  const doc = JSON.parse(readFileSync(path, "utf8")) as SnapshotFile;
  if (doc.format !== SNAPSHOT_FORMAT || doc.version !== SNAPSHOT_VERSION) {
    throw new Error(`${path}: not an mmc snapshot (format ${String(doc.format)} v${String(doc.version)})`);
  }
  return doc;
}
