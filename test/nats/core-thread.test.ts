// serve's core stage on a worker thread (the default) and on the main thread: the same log
// gives the same journal, state and outputs; a core failure in the worker stops serve
// without acking its group; snapshots are of fsync'd group boundaries; --core-thread is
// validated.
import { describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { MessageChannel } from "node:worker_threads";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { docToState, stateHash } from "../../src/aggregate/snapshot.js";
import { replayLog } from "../../src/replay.js";
import { readSnapshotFile } from "../../src/snapshot-file.js";
import { silentLogger } from "../../src/nats/log.js";
import { publishLog } from "../../src/nats/publish.js";
import { parseCoreCallTimeout, parseCoreThread, ServeHandle, type CoreThread, type GroupInfo } from "../../src/nats/serve.js";
import { Rpc } from "../../src/nats/stage-rpc.js";
import { DEFAULT_INPUT_STREAM } from "../../src/nats/settings.js";
import { main } from "../../src/cli/program.js";
import { ensureBuilt, natsSuite, readStream, reference, waitFor, writeMarket, type Reference, type StoredOutput } from "./harness.js";

const log = silentLogger();

describe("serve's core thread", () => {
  let serve: ServeHandle | undefined;
  const suite = natsSuite(async () => {
    await serve?.stop();
  });

  /** Empty streams (the output streams of two runs would share subjects). */
  async function freshStreams(): Promise<void> {
    const jsm = await jetstreamManager(suite.nc);
    for (const s of [DEFAULT_INPUT_STREAM, "MMC_OUT"]) await jsm.streams.delete(s).catch(() => false);
  }

  async function runOnce(thread: CoreThread, file: string, ref: Reference, name: string): Promise<{ journal: Buffer; hash: string; outputs: StoredOutput[] }> {
    await freshStreams();
    const journal = join(suite.dir, `${name}.journal`);
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false, coreThread: thread, groupMaxEntries: 1500 });
    expect(serve.coreThread).toBe(thread);
    await publishLog(suite.nc, file, { batch: 200, log });
    await waitFor("serve to apply the whole log", () => serve!.status().seq >= ref.seq && (serve!.status().outputsStored?.seq ?? 0) >= ref.outputs.at(-1)!.seq);
    const hash = await serve.stateHash();
    const outputs = await readStream(suite.nc, serve.outStream);
    await serve.stop();
    serve = undefined;
    return { journal: readFileSync(journal), hash, outputs };
  }

  /**
   * After serve stopped on a fault at stream seq `faultSeq`: nothing of that group is acked (not
   * `faultSeq`, nor what was grouped with it) and no output past the last flushed group is
   * stored; then the same journal without the fault applies every event once, stores every
   * output once and ends in the fault-free state.
   */
  async function expectGroupUnackedThenRestartOnce(faultSeq: number, groups: GroupInfo[], journal: string, ref: Reference): Promise<void> {
    const jsm = await jetstreamManager(suite.nc);
    const ci = await jsm.consumers.info(DEFAULT_INPUT_STREAM, "mmc-serve");
    const flushed = groups.at(-1)?.sourceSeq ?? 0;
    expect(flushed).toBeLessThan(faultSeq);
    expect(ci.ack_floor.stream_seq).toBe(flushed);
    expect(ci.num_ack_pending).toBeGreaterThan(0);
    const stored = await readStream(suite.nc, "MMC_OUT");
    expect(stored.every((o) => Number(o.msgId.split(".")[0]) <= (groups.at(-1)?.seq ?? 0))).toBe(true);
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false });
    await waitFor("the restart to apply the whole log", () => serve!.status().seq >= ref.seq && (serve!.status().outputsStored?.seq ?? 0) >= ref.outputs.at(-1)!.seq);
    expect(serve.status().seq).toBe(ref.seq);
    expect(await serve.stateHash()).toBe(ref.hash);
    expect((await readStream(suite.nc, "MMC_OUT")).map((o) => o.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
    await serve.stop();
    serve = undefined;
  }

  /** A bad serve option: `mmc serve` exits 2 naming it on stderr, and so does serve-main (the child). */
  async function expectOptionRejected(cliArgs: string[], childArgs: string[], message: RegExp): Promise<void> {
    const errs: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string | Uint8Array) => {
      errs.push(typeof c === "string" ? c : new TextDecoder().decode(c));
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(["node", "mmc", "serve", "--nats", suite.server.url, ...cliArgs]);
    } finally {
      process.stderr.write = orig;
    }
    expect(code).toBe(2);
    expect(errs.join("")).toMatch(message);
    const child = spawnSync(process.execPath, [await ensureBuilt(), "--nats", suite.server.url, ...childArgs], { encoding: "utf8" });
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(message);
  }

  test("main and worker: the same journal (byte for byte), state hash and outputs for the same log", async () => {
    const file = join(suite.dir, "ab.ndjson");
    writeMarket(file, { seed: 11, accounts: 100, events: 5000, badLineRate: 0.002 });
    const ref = await reference(file);
    const onMain = await runOnce("main", file, ref, "main");
    const onWorker = await runOnce("worker", file, ref, "worker");
    expect(onMain.hash).toBe(ref.hash);
    expect(onWorker.hash).toBe(ref.hash);
    expect(onWorker.journal.equals(onMain.journal)).toBe(true);
    expect(onWorker.outputs.map((o) => [o.msgId, o.subject, o.payload])).toEqual(onMain.outputs.map((o) => [o.msgId, o.subject, o.payload]));
    expect(onWorker.outputs.map((o) => o.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
  });

  test("a core failure in the worker stops serve with an error, without acking its group; a restart completes once", async () => {
    await freshStreams();
    const file = join(suite.dir, "fail.ndjson");
    writeMarket(file, { seed: 12, accounts: 60, events: 3000 });
    const ref = await reference(file);
    const journal = join(suite.dir, "fail.journal");
    const groups: GroupInfo[] = [];
    // Stream seq 6 (the 6th batch of 500) throws inside the worker.
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false, failAtSourceSeq: 6, onGroup: (g) => groups.push(g) });
    expect(serve.coreThread).toBe("worker");
    await publishLog(suite.nc, file, { batch: 500, log });
    await expect(serve.done).rejects.toThrow(/injected core failure at stream seq 6/);
    serve = undefined;
    await expectGroupUnackedThenRestartOnce(6, groups, journal, ref);
  });

  test("a hung core worker: the call's time limit stops serve, terminates the worker, acks nothing of its group; a restart completes once", async () => {
    await freshStreams();
    const file = join(suite.dir, "hang.ndjson");
    writeMarket(file, { seed: 15, accounts: 60, events: 3000 });
    const ref = await reference(file);
    const journal = join(suite.dir, "hang.journal");
    const groups: GroupInfo[] = [];
    // Stream seq 4 (the 4th batch of 500) makes the worker spin forever before applying it.
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false, spinAtSourceSeq: 4, coreCallTimeoutSeconds: 1.5, onGroup: (g) => groups.push(g) });
    expect(serve.coreThread).toBe("worker");
    const t0 = performance.now();
    await publishLog(suite.nc, file, { batch: 500, log });
    await expect(serve.done).rejects.toThrow(/core worker: no reply to applyGroup within 1\.5 s \(--core-call-timeout\): the worker hangs; terminated it/);
    // The limit, not some other stop: it waited at least 1.5 s (and not for ever).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
    serve = undefined;
    await expectGroupUnackedThenRestartOnce(4, groups, journal, ref);
  });

  test("the watchdog's clock: restarted by every reply and progress tick, stopped while the caller serves a call", async () => {
    // Two in-process ports (no worker): the far side answers when told to.
    const { port1, port2 } = new MessageChannel();
    const timeouts: string[] = [];
    const near = new Rpc(port1, { ms: 600, onTimeout: (op) => timeouts.push(op) });
    const far = new Rpc(port2);
    const release: (() => void)[] = [];
    far.handle("slow", () => new Promise<string>((resolve) => release.push(() => resolve("done"))));
    far.handle("ticking", async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(200);
        far.tick();
      }
      return "ticked";
    });
    far.handle("asks", async () => (await far.call<string>("back", [])) + "!");
    near.handle("back", async () => {
      await sleep(1500); // the near side's own work: not the far side's time
      return "served";
    });
    try {
      // Ticks every 200 ms keep a 1 s call alive under a 600 ms limit.
      expect(await near.call("ticking", [])).toBe("ticked");
      // Time spent serving the far side's call does not count.
      expect(await near.call("asks", [])).toBe("served!");
      expect(timeouts).toEqual([]);
      // Two calls in a row: the second's clock starts at the first's reply.
      const a = near.call("slow", []);
      const b = near.call("slow", []);
      await sleep(400);
      release.shift()!();
      expect(await a).toBe("done");
      await sleep(300); // 700 ms after b was sent, 300 ms after a's reply
      expect(timeouts).toEqual([]);
      await sleep(600);
      expect(timeouts).toEqual(["slow"]);
      release.shift()!();
      expect(await b).toBe("done");
    } finally {
      port1.close();
      port2.close();
    }
  });

  test("a core worker that dies (exits) stops serve with an error, without acking its group", async () => {
    await freshStreams();
    const file = join(suite.dir, "exit.ndjson");
    writeMarket(file, { seed: 14, accounts: 40, events: 2000 });
    // The real worker (imported first: its listener runs first), except that it exits (as
    // after a fatal V8 error) once it has applied and fsync'd a group, before replying.
    const real = process.env.MMC_CORE_WORKER!;
    const dying = join(suite.dir, "dying-worker.mjs");
    writeFileSync(dying, [
      'import { parentPort } from "node:worker_threads";',
      `import ${JSON.stringify(pathToFileURL(real).href)};`,
      'parentPort.on("message", (m) => { if (m.kind === "call" && m.op === "applyGroup") process.exit(3); });',
    ].join("\n"));
    process.env.MMC_CORE_WORKER = dying;
    try {
      serve = await ServeHandle.start({ url: suite.server.url, journal: join(suite.dir, "exit.journal"), log, query: false });
    } finally {
      process.env.MMC_CORE_WORKER = real;
    }
    await publishLog(suite.nc, file, { batch: 500, log });
    await expect(serve.done).rejects.toThrow(/core worker exited \(code 3\)/);
    serve = undefined;
    const ci = await (await jetstreamManager(suite.nc)).consumers.info(DEFAULT_INPUT_STREAM, "mmc-serve");
    expect(ci.ack_floor.stream_seq).toBe(0);
    expect(ci.num_ack_pending).toBeGreaterThan(0);
    expect(await readStream(suite.nc, "MMC_OUT")).toEqual([]);
  });

  test("worker snapshots are of fsync'd group boundaries: snapshot + the rest of the journal = the same state", async () => {
    await freshStreams();
    const file = join(suite.dir, "snap.ndjson");
    writeMarket(file, { seed: 13, accounts: 80, events: 4000 });
    const ref = await reference(file);
    const journal = join(suite.dir, "snap.journal");
    const groups: GroupInfo[] = [];
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false, snapshotEvery: 700, groupMaxEntries: 450, onGroup: (g) => groups.push(g) });
    await publishLog(suite.nc, file, { batch: 150, log });
    await waitFor("serve to apply the whole log", () => serve!.status().seq >= ref.seq);
    const written = serve.status().snapshotSeq;
    await serve.stop();
    serve = undefined;
    expect(written).toBeGreaterThan(0);
    // Taken right after a group's fsync, before the next group was applied.
    expect(groups.map((g) => g.seq)).toContain(written);
    // The snapshot is the journal's state at its seq.
    const snap = readSnapshotFile(`${journal}.snapshot`);
    expect(snap.state.seq).toBe(written);
    const upTo = await replayLog(journal, { untilSeq: written });
    expect(stateHash(docToState(snap.state))).toBe(stateHash(upTo.state));
    // Restore + replay of the rest (a restart) = the full replay.
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false, snapshotEvery: 700 });
    expect(serve.status().snapshotSeq).toBe(written);
    expect(serve.status().seq).toBe(ref.seq);
    expect(await serve.stateHash()).toBe(ref.hash);
    await serve.stop();
    serve = undefined;
  });

  test("recovery on the worker republishes journaled outputs the output stream lost, in chunks through the main thread", async () => {
    await freshStreams();
    // 12,000 malformed events: one `rejected` output each, more than one recovery chunk (10,000).
    const file = join(suite.dir, "rejects.ndjson");
    writeFileSync(file, Array.from({ length: 12_000 }, (_, i) => `{"type":"nonsense","n":${i}}`).join("\n") + "\n");
    const ref = await reference(file);
    expect(ref.outputs.length).toBe(12_000);
    const journal = join(suite.dir, "rejects.journal");
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false });
    await publishLog(suite.nc, file, { batch: 1000, log });
    await waitFor("serve to store every output", () => (serve!.status().outputsStored?.seq ?? 0) >= ref.seq);
    await serve.stop();
    serve = undefined;
    const jsm = await jetstreamManager(suite.nc);
    await jsm.streams.delete("MMC_OUT");
    serve = await ServeHandle.start({ url: suite.server.url, journal, log, query: false });
    const stored = await readStream(suite.nc, "MMC_OUT");
    expect(stored.map((o) => o.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
    expect(stored.map((o) => o.payload)).toEqual(ref.outputs.map((o) => o.payload));
    expect(serve.status().seq).toBe(ref.seq);
    await serve.stop();
    serve = undefined;
  });

  test("the seq gauge and onGroup's seq never step back: a group of redeliveries flushed behind a group still in the worker", async () => {
    await freshStreams();
    const file = join(suite.dir, "mono.ndjson");
    writeMarket(file, { seed: 16, accounts: 50, events: 3000 });
    const ref = await reference(file);
    const groups: GroupInfo[] = [];
    // 12 messages of 250 events; the last one takes the worker 2.5 s, past ack_wait (1 s):
    // it is redelivered meanwhile, and its redelivery (already applied) makes a group of its
    // own, selected while the group that applies it is still in the worker.
    serve = await ServeHandle.start({
      url: suite.server.url, journal: join(suite.dir, "mono.journal"), log, query: false, settings: { ackWaitMs: 1000 },
      stallAtSourceSeq: [12, 2500], onGroup: (g) => groups.push(g),
    });
    await publishLog(suite.nc, file, { batch: 250, log });
    await waitFor("the redelivery's group", () => serve!.status().seq >= ref.seq && groups.some((g) => g.entries === 0 && g.messages > 0));
    const redelivered = groups.findIndex((g) => g.entries === 0);
    // It came after the group that applied seq 12's message (flushes keep group order) ...
    expect(groups.slice(0, redelivered).some((g) => g.sourceSeq === 12 && g.seq === ref.seq)).toBe(true);
    // ... and reports that group's seq, not the one it was selected at.
    expect(groups[redelivered]).toMatchObject({ seq: ref.seq, sourceSeq: 12 });
    for (let i = 1; i < groups.length; i++) {
      expect(groups[i]!.seq).toBeGreaterThanOrEqual(groups[i - 1]!.seq);
      expect(groups[i]!.sourceSeq).toBeGreaterThanOrEqual(groups[i - 1]!.sourceSeq);
    }
    expect((await serve.metrics.seq.get()).values[0]!.value).toBe(ref.seq);
    expect((await serve.metrics.sourceSeq.get()).values[0]!.value).toBe(12);
    expect(await serve.stateHash()).toBe(ref.hash);
    await serve.stop();
    serve = undefined;
  });

  test("the worker's log records go through the caller's logger (its destination, its level)", async () => {
    await freshStreams();
    const lines: Record<string, unknown>[] = [];
    const dest = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const callerLog = pino({ level: "info", name: "caller" }, dest);
    serve = await ServeHandle.start({ url: suite.server.url, journal: join(suite.dir, "logs.journal"), log: callerLog, query: false });
    expect(serve.coreThread).toBe("worker");
    await serve.stop();
    serve = undefined;
    // Logged by the worker (core-stage.ts's recovery), written by the caller's logger.
    const replayed = lines.filter((l) => l.msg === "recovery: journal replayed");
    expect(replayed).toHaveLength(1);
    expect(replayed[0]).toMatchObject({ name: "caller", thread: "core", level: 30, seq: 0, inputs: 0 });
    // The main thread's own lines are there too, unmarked.
    expect(lines.some((l) => l.msg === "serve: stopped" && l.thread === undefined)).toBe(true);
    // The caller's level holds for the worker: nothing below info crossed.
    expect(lines.every((l) => (l.level as number) >= 30)).toBe(true);
  });

  test("--core-call-timeout is validated (API, CLI, serve-main)", async () => {
    expect(parseCoreCallTimeout(0.5)).toBe(0.5);
    expect(parseCoreCallTimeout(300)).toBe(300);
    for (const bad of [0, -1, NaN, Infinity, 3e6]) expect(() => parseCoreCallTimeout(bad)).toThrow(/core call timeout must be a number of seconds > 0/);
    await expect(ServeHandle.start({ url: suite.server.url, journal: join(suite.dir, "t.journal"), log, coreCallTimeoutSeconds: 0 })).rejects.toThrow(/core call timeout must be/);
    await expectOptionRejected(["--core-call-timeout", "soon"], ["--core-call-timeout", "0"], /core call timeout must be a number of seconds > 0/);
  });

  test("--core-thread is validated (API, CLI, serve-main)", async () => {
    expect(parseCoreThread("worker")).toBe("worker");
    expect(parseCoreThread("main")).toBe("main");
    expect(() => parseCoreThread("both")).toThrow(/core thread must be one of worker, main, got "both"/);
    await expect(ServeHandle.start({ url: suite.server.url, journal: join(suite.dir, "v.journal"), log, coreThread: "gpu" as CoreThread })).rejects.toThrow(/core thread must be one of/);
    await expectOptionRejected(["--core-thread", "both"], ["--core-thread", "both"], /core thread must be one of worker, main/);
  });
});
