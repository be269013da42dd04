// The core stage on its own (no broker): a group that fails midway leaves the core and the
// journal with part of it, so the stage refuses every later group — with the core on a
// worker, serve hands over the next group before the previous one's result is back.
import { afterAll, describe, expect, test } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { InThreadStage, type StageMessage } from "../../src/nats/core-stage.js";
import { silentLogger } from "../../src/nats/log.js";
import { readJournal, RECORD_KIND_INPUT } from "../../src/journal/index.js";
import { tempDir } from "./harness.js";

const dir = tempDir("mmc-core-stage-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (event: object): Uint8Array => new TextEncoder().encode(JSON.stringify(event));
const deposit = (id: string, sourceSeq: number): StageMessage => ({
  data: bytes({ type: "deposit", id, account: "alice", asset: "USDT", amount: "10" }),
  sourceSeq,
  skip: 0,
});

describe("core stage", () => {
  test("given a group that fails midway, when later groups arrive, then they are refused and nothing is journaled after the failure", async () => {
    const journal = join(dir, "fail.journal");
    const stage = new InThreadStage({ journal, snapshot: `${journal}.snapshot`, snapshotEvery: 0, yieldEvery: 0, failAtSourceSeq: 4 }, silentLogger());
    await stage.open();
    await stage.recover(null, async () => {});
    const setup = { data: bytes({ type: "asset", asset: "USDT", decimals: 6, settlement: true }), sourceSeq: 1, skip: 0 };
    const first = await stage.applyGroup([setup, deposit("d1", 2)]);
    expect(first.seq).toBe(2);
    // Stream seq 3 is applied and journaled, then seq 4 throws: the group is cut midway.
    await expect(stage.applyGroup([deposit("d2", 3), deposit("d3", 4)])).rejects.toThrow(/injected core failure at stream seq 4/);
    await expect(stage.applyGroup([deposit("d4", 5)])).rejects.toThrow(/an earlier group failed: injected core failure/);
    await stage.close();
    const sources: number[] = [];
    for (const r of readJournal(journal)) if (r.kind === RECORD_KIND_INPUT) sources.push(r.sourceSeq);
    expect(sources).toEqual([1, 2, 3]);
  });
});
