// Crash stress: `mmc serve` killed -9 at random moments and nats-server killed -9 now and
// then, while a publisher feeds the log; afterwards the state, the journal and the output
// stream must equal the fault-free run. The default suite runs a short version (3 rounds over
// 10k events); MMC_STRESS=<rounds> runs the long one (40k events, as many rounds as asked).
// The bounded, deterministic versions are in faults.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { readJournal } from "../../src/journal/index.js";
import { replayLog } from "../../src/replay.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { connectForever } from "../../src/nats/connect.js";
import { silentLogger } from "../../src/nats/log.js";
import { publishLog } from "../../src/nats/publish.js";
import { queryStatus } from "../../src/nats/query.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";
import { Prng } from "../../src/util/prng.js";
import { ensureBuilt, readStream, reference, startServer, tempDir, waitFor, writeMarket } from "./harness.js";

const LONG = process.env.MMC_STRESS !== undefined && process.env.MMC_STRESS !== "";
const ROUNDS = LONG ? Number(process.env.MMC_STRESS) : 3;
const EVENTS = LONG ? 40_000 : 10_000;
const log = silentLogger();

describe("crash stress", () => {
  let server: LocalNatsServer;
  let dir: string;
  let nc: NatsConnection;
  let entry: string;

  beforeAll(async () => {
    dir = tempDir();
    [server, entry] = await Promise.all([startServer(), ensureBuilt()]);
    nc = await connectForever({ url: server.url, name: "stress", log });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${ROUNDS} rounds of random kills over ${EVENTS} events`, { timeout: 600_000 }, async () => {
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 99, accounts: 300, events: EVENTS, badLineRate: 0.002 });
    const ref = await reference(file);
    const journal = join(dir, "serve.journal");
    const logFile = process.env.MMC_STRESS_LOG ?? join(dir, "serve.log");
    const rng = new Prng(Number(process.env.MMC_STRESS_SEED ?? 1234));
    let child: ChildProcess | null = null;
    const start = (): ChildProcess => {
      const fd = openSync(logFile, "a");
      const p = spawn(process.execPath, [entry, "--nats", server.url, "--journal", journal, "--snapshot-every", "3000", "--log-level", "info"], { stdio: ["ignore", fd, fd] });
      closeSync(fd);
      return p;
    };
    const published = publishLog(nc, file, { batch: rng.int(20, 300), log, onProgress: () => sleep(rng.int(0, 20)) });
    const say = (m: string): void => {
      if (process.env.MMC_STRESS_LOG) process.stderr.write(`[stress] ${m}\n`);
    };
    for (let r = 0; r < ROUNDS; r++) {
      child = start();
      say(`round ${r} pid ${child.pid}`);
      await sleep(rng.int(200, 1500));
      if (rng.chance(0.25)) {
        say("kill server");
        await server.kill9();
        await sleep(rng.int(50, 500));
        await server.restart();
        await sleep(rng.int(0, 500));
      }
      const c = child;
      c.kill("SIGKILL");
      await new Promise((resolve) => c.once("exit", resolve));
    }
    await published;
    say("published");
    child = start();
    const last = ref.outputs[ref.outputs.length - 1]!;
    let st: { seq: number; stateHash: string; outputsStored: { seq: number } | null } | null = null;
    await waitFor(
      "catch-up",
      async () => {
        st = (await queryStatus(nc, 2000).catch(() => null)) as typeof st;
        return st !== null && st.seq >= ref.seq && (st.outputsStored?.seq ?? 0) >= last.seq;
      },
      300_000,
      200,
    );
    expect(st!.stateHash).toBe(ref.hash);
    child.kill("SIGTERM");
    await new Promise((resolve) => child!.once("exit", resolve));
    let inputs = 0;
    for (const rec of readJournal(journal)) if (rec.kind === 0) inputs++;
    expect(inputs).toBe(ref.seq);
    const audited = await replayLog(journal, { audit: true });
    expect(stateHash(audited.state)).toBe(ref.hash);
    const ids = (await readStream(nc, "MMC_OUT")).map((m) => m.msgId);
    expect(ids).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
  });
});
