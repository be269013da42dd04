// Crash tests against a real nats-server: kill -9 of the server mid-stream (restart on the
// same store) and kill -9 of `mmc serve` mid-stream (restart on the same journal). After
// catch-up the state hash equals the fault-free run, the journal holds every entry of the
// log exactly once and in order, and the output stream holds every output exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeEntry } from "../../src/events/codec.js";
import { readJournal } from "../../src/journal/index.js";
import { readLog, replayLog } from "../../src/replay.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { connectForever } from "../../src/nats/connect.js";
import { silentLogger } from "../../src/nats/log.js";
import { pino } from "pino";
import { publishLog } from "../../src/nats/publish.js";
import { queryStatus } from "../../src/nats/query.js";
import { ServeHandle } from "../../src/nats/serve.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";
import { ensureBuilt, readStream, reference, startServer, tempDir, waitFor, writeMarket, type Reference } from "./harness.js";

const log = silentLogger();
// MMC_TEST_LOG=<file>: the in-process serve logs there (debugging the timeline).
const serveLog = process.env.MMC_TEST_LOG ? pino({ level: "debug" }, pino.destination({ dest: process.env.MMC_TEST_LOG, sync: true })) : log;

/** The journal's input entries equal the file's, one for one; source seqs never go back. */
async function expectJournalIsTheLog(journal: string, file: string): Promise<void> {
  const want: string[] = [];
  for await (const rec of readLog(file)) want.push(Buffer.from(encodeEntry(rec.entry)).toString("base64"));
  const got: string[] = [];
  let lastSource = 0;
  for (const r of readJournal(journal)) {
    if (r.kind !== 0) continue;
    got.push(Buffer.from(encodeEntry(r.entry!)).toString("base64"));
    expect(r.sourceSeq).toBeGreaterThanOrEqual(lastSource);
    lastSource = r.sourceSeq;
  }
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
  // And `mmc replay` of it (chain, and every derived record re-derived) ends in the same state.
  const core = await replayLog(journal, { audit: true });
  expect(stateHash(core.state)).toBe(stateHash((await replayLog(file)).state));
}

async function expectOutputsExactlyOnce(nc: NatsConnection, stream: string, ref: Reference): Promise<void> {
  const stored = await readStream(nc, stream);
  const ids = stored.map((m) => m.msgId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
  expect(stored.map((m) => m.payload)).toEqual(ref.outputs.map((o) => o.payload));
}

describe("kill -9 of nats-server mid-stream", () => {
  let server: LocalNatsServer;
  let dir: string;
  let nc: NatsConnection;
  let serve: ServeHandle | undefined;

  beforeAll(async () => {
    dir = tempDir();
    server = await startServer();
  });
  afterAll(async () => {
    await serve?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("after a restart on the same store and catch-up: same state hash, nothing applied twice or lost", async () => {
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 11, accounts: 150, events: 12_000, badLineRate: 0.002 });
    const ref = await reference(file);
    const journal = join(dir, "serve.journal");
    nc = await connectForever({ url: server.url, name: "test-publisher", log });
    serve = await ServeHandle.start({ url: server.url, journal, log: serveLog });

    let killed: Promise<void> | null = null;
    let killedAtPublished = 0;
    let killedAtApplied = 0;
    const pub = publishLog(nc, file, {
      batch: 100,
      log,
      onProgress: (n) => {
        if (killed === null && n >= ref.seq / 2) {
          killedAtPublished = n;
          killedAtApplied = serve!.status().seq;
          killed = (async () => {
            await server.kill9();
            await sleep(300);
            await server.restart();
          })();
        }
      },
    });
    const published = await pub;
    await killed;
    expect(killedAtPublished).toBeGreaterThan(0);
    expect(killedAtPublished).toBeLessThan(ref.seq);
    expect(published.entries).toBe(ref.seq);
    await waitFor("serve to catch up after the server restart", () => serve!.status().seq >= ref.seq, 90_000);
    expect(serve.status().seq).toBe(ref.seq);
    expect(await serve.stateHash()).toBe(ref.hash);
    await waitFor("outputs stored", () => (serve!.status().outputsStored?.seq ?? 0) >= ref.outputs[ref.outputs.length - 1]!.seq, 30_000);
    await serve.stop();
    serve = undefined;
    await expectJournalIsTheLog(journal, file);
    await expectOutputsExactlyOnce(nc, "MMC_OUT", ref);
    // Where the kill landed (for the record: the publisher was mid-file, serve mid-log).
    expect(killedAtApplied).toBeLessThan(ref.seq);
  });
});

describe("kill -9 of mmc serve mid-stream", () => {
  let server: LocalNatsServer;
  let dir: string;
  let nc: NatsConnection;
  let entry: string;
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    dir = tempDir();
    [server, entry] = await Promise.all([startServer(), ensureBuilt()]);
    nc = await connectForever({ url: server.url, name: "test", log });
  });
  afterEach(() => {
    child?.kill("SIGKILL");
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let exited: string | null = null;

  function startServe(journal: string, logFile: string): ChildProcess {
    const fd = openSync(logFile, "a");
    const p = spawn(process.execPath, [entry, "--nats", server.url, "--journal", journal, "--snapshot-every", "2500", "--log-level", "info"], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    exited = null;
    p.once("exit", (code, signal) => {
      if (signal !== "SIGKILL" && signal !== "SIGTERM") exited = `serve exited on its own (code ${code}):\n${readFileSync(logFile, "utf8").slice(-3000)}`;
    });
    return p;
  }

  async function status(): Promise<{ seq: number; stateHash: string; outputsStored: { seq: number } | null } | null> {
    if (exited !== null) throw new Error(exited);
    try {
      return (await queryStatus(nc, 1000)) as { seq: number; stateHash: string; outputsStored: { seq: number } | null };
    } catch {
      return null;
    }
  }

  test("restart on the same journal: same state hash, outputs not duplicated", async () => {
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 23, accounts: 150, events: 15_000, badLineRate: 0.002 });
    const ref = await reference(file);
    const journal = join(dir, "serve.journal");
    const logFile = join(dir, "serve.log");
    // Publish while serve runs, paced, so the kills land mid-stream (serve applies small
    // groups as they arrive rather than the whole log at once). The publisher is also gated:
    // it stops at `allowed` entries until the test moves the gate, so a fast serve (or a slow
    // restart under load) can never get to the end of the log before a kill.
    let allowed = Math.floor(ref.seq * 0.4);
    const published = publishLog(nc, file, {
      batch: 100, log,
      onProgress: async (entries) => {
        await sleep(15);
        while (entries >= allowed && allowed < ref.seq) await sleep(5);
      },
    });

    const kills: number[] = [];
    for (const fraction of [0.25, 0.6]) {
      child = startServe(journal, logFile);
      let seen = 0;
      await waitFor(
        `serve to pass ${fraction} of the log`,
        async () => {
          const s = await status();
          seen = s?.seq ?? 0;
          return seen >= ref.seq * fraction;
        },
        90_000,
        5,
      );
      const c = child;
      c.kill("SIGKILL");
      await new Promise((resolve) => c.once("exit", resolve));
      kills.push(seen);
      child = null;
      allowed = fraction === 0.25 ? Math.floor(ref.seq * 0.8) : ref.seq;
    }
    await published;
    expect(kills[0]!).toBeLessThan(ref.seq);
    expect(kills[1]!).toBeLessThan(ref.seq);

    child = startServe(journal, logFile);
    let last: Awaited<ReturnType<typeof status>> = null;
    await waitFor(
      "serve to catch up after the restarts",
      async () => {
        last = await status();
        return last !== null && last.seq >= ref.seq && (last.outputsStored?.seq ?? 0) >= ref.outputs[ref.outputs.length - 1]!.seq;
      },
      90_000,
    );
    expect(last!.seq).toBe(ref.seq);
    expect(last!.stateHash).toBe(ref.hash);
    const c = child;
    if (process.env.MMC_TEST_LOG) writeFileSync(process.env.MMC_TEST_LOG + ".child", readFileSync(logFile));
    c.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => c.once("exit", (x) => resolve(x)));
    child = null;
    expect(code, readFileSync(logFile, "utf8").slice(-4000)).toBe(0);
    await expectJournalIsTheLog(journal, file);
    await expectOutputsExactlyOnce(nc, "MMC_OUT", ref);
  });
});
