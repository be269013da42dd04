// Groups in flight (serve applies the next group while the previous one's outputs are
// published and acked): an ack never precedes the fsync of its records, acks go out in
// stream order, the depth is bounded (with output publishing stalled, serve journals at most
// one more group and then waits), and once publishing resumes everything completes exactly
// once. Stalling is real: the nats-server process is stopped (SIGSTOP) under serve.
import { beforeAll, describe, expect, test, vi } from "vitest";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { readJournal, RECORD_KIND_INPUT } from "../../src/journal/index.js";
import { silentLogger } from "../../src/nats/log.js";
import { publishLog } from "../../src/nats/publish.js";
import { queryStatus } from "../../src/nats/query.js";
import { ServeHandle } from "../../src/nats/serve.js";
import { ensureBuilt, natsSuite, readStream, reference, tempDir, waitFor, writeMarket } from "./harness.js";

const log = silentLogger();

test("groupsInFlight must be an integer of at least 1 (0 would spin, NaN would not bound anything)", async () => {
  for (const groupsInFlight of [0, -1, 1.5, Number.NaN]) {
    await expect(ServeHandle.start({ url: "nats://127.0.0.1:1", journal: join(tempDir(), "j"), groupsInFlight, log })).rejects.toThrow(/groupsInFlight must be an integer/);
  }
});

describe("serve with two groups in flight", () => {
  let serve: ServeHandle | undefined;
  const suite = natsSuite(async ({ server }) => {
    if (server?.pid !== undefined) process.kill(server.pid, "SIGCONT");
    await serve?.stop();
    vi.restoreAllMocks();
  });

  test("outputs stalled: at most one more group is journaled, nothing past the fsync is acked early; then all exactly once", async () => {
    const { server, dir, nc } = suite;
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 5, accounts: 150, events: 8000 });
    const ref = await reference(file);
    expect(ref.outputs.length).toBeGreaterThan(500);
    // The whole log in the stream first, so serve has the next groups in hand at once.
    const pub = await publishLog(nc, file, { batch: 100, log });
    expect(pub.entries).toBe(ref.seq);

    // Every ack serve sends, with how far its journal was fsync'd at that instant.
    const probe = await (await jetstream(nc).consumers.get("MMC_IN")).next();
    const proto = Object.getPrototypeOf(probe) as { ack(this: JsMsg): void };
    const ack = proto.ack;
    const acks: { streamSeq: number; durableSeq: number }[] = [];
    vi.spyOn(proto, "ack").mockImplementation(function (this: JsMsg) {
      acks.push({ streamSeq: this.seq, durableSeq: serve!.status().durableSeq });
      ack.call(this);
    });

    const groupMaxEntries = 2000;
    let firstGroupSeq = 0;
    const journal = join(dir, "serve.journal");
    serve = await ServeHandle.start({
      url: server.url, journal, log, query: false, groupMaxEntries, groupsInFlight: 2,
      onGroup: (g) => {
        if (firstGroupSeq === 0) {
          // The first group is stored and acked: stall the server before any other is.
          firstGroupSeq = g.seq;
          process.kill(server.pid!, "SIGSTOP");
        }
      },
    });
    await waitFor("the first group", () => firstGroupSeq > 0);
    // Serve goes on with what it holds: at most one more group is applied and fsync'd, and
    // then it waits for the stalled one (its outputs cannot be stored). status().seq moves
    // per group (the core may be on its worker), and on a loaded machine a group can take
    // longer than the 400 ms below: first wait for the two groups the overlap allows.
    await waitFor("two groups after the first", () => serve!.status().seq - firstGroupSeq > groupMaxEntries, 30_000);
    let last = -1;
    await waitFor("serve to stop advancing", async () => {
      const s = serve!.status().seq;
      const still = s === last;
      last = s;
      return still;
    }, 30_000, 400);
    const stalled = serve.status();
    expect(stalled.groups).toBe(1);
    expect(stalled.durableSeq).toBe(stalled.seq);
    expect(stalled.seq).toBeGreaterThan(firstGroupSeq);
    // Two groups after the first (one would be the old one-group-at-a-time loop), each
    // closing once it reaches groupMaxEntries (a message of 100 entries is never split).
    expect(stalled.seq - firstGroupSeq).toBeGreaterThan(groupMaxEntries);
    expect(stalled.seq - firstGroupSeq).toBeLessThanOrEqual(2 * (groupMaxEntries + 99));
    const acksStalled = acks.length;

    process.kill(server.pid!, "SIGCONT");
    await waitFor("serve to apply the whole log", () => serve!.status().seq >= ref.seq && (serve!.status().outputsStored?.seq ?? 0) >= ref.outputs.at(-1)!.seq, 60_000);
    await waitFor("every message acked", async () => {
      const ci = await (await jetstreamManager(nc)).consumers.info("MMC_IN", "mmc-serve");
      return ci.num_ack_pending === 0 && ci.ack_floor.stream_seq === pub.lastStreamSeq;
    });
    expect(await serve.stateHash()).toBe(ref.hash);
    await serve.stop();
    serve = undefined;

    // An ack never precedes the fsync of its message's records, and acks go in stream order.
    const lastSeqOf = new Map<number, number>();
    for (const r of readJournal(journal)) if (r.kind === RECORD_KIND_INPUT) lastSeqOf.set(r.sourceSeq, r.seq);
    expect(acks.length).toBe(pub.messages);
    // While stalled, only the first group's messages were acked.
    expect(lastSeqOf.get(acks[acksStalled - 1]!.streamSeq)).toBe(firstGroupSeq);
    for (let i = 0; i < acks.length; i++) {
      const a = acks[i]!;
      expect(a.durableSeq).toBeGreaterThanOrEqual(lastSeqOf.get(a.streamSeq)!);
      if (i > 0) expect(a.streamSeq).toBeGreaterThan(acks[i - 1]!.streamSeq);
    }
    const stored = await readStream(nc, "MMC_OUT");
    expect(stored.map((m) => m.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
    expect(stored.map((m) => m.payload)).toEqual(ref.outputs.map((o) => o.payload));
  });
});

describe("kill -9 of serve with two groups in flight", () => {
  let entry: string;
  let child: ChildProcess | null = null;
  const suite = natsSuite(({ server }) => {
    child?.kill("SIGKILL");
    if (server?.pid !== undefined) process.kill(server.pid, "SIGCONT");
  });
  beforeAll(async () => {
    entry = await ensureBuilt();
  });

  function startServe(journal: string, logFile: string, level: string): ChildProcess {
    const fd = openSync(logFile, "a");
    const p = spawn(process.execPath, [entry, "--nats", suite.server.url, "--journal", journal, "--log-level", level], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    return p;
  }

  /** The child's log lines with this msg, in order. */
  function logged(logFile: string, msg: string): { seq: number; inFlight?: number }[] {
    if (!existsSync(logFile)) return [];
    return readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as { seq: number; inFlight?: number });
  }

  test("killed while a second group is journaled and the first one's outputs are not all stored: the restart completes exactly once", async () => {
    const { server, dir, nc } = suite;
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 17, accounts: 150, events: 30_000 });
    const ref = await reference(file);
    const pub = await publishLog(nc, file, { batch: 100, log });
    expect(pub.entries).toBe(ref.seq);

    const journal = join(dir, "serve.journal");
    const logFile = join(dir, "serve.log");
    child = startServe(journal, logFile, "debug");
    // After the first group is stored and acked, stall the server: serve journals the next
    // groups it holds (two in flight) but can store none of their outputs nor ack them.
    await waitFor("the first group flushed", () => logged(logFile, "group flushed").length > 0, 90_000, 2);
    process.kill(server.pid!, "SIGSTOP");
    const flushed = logged(logFile, "group flushed");
    const pendingGroups = (): { seq: number; inFlight?: number }[] => logged(logFile, "group journaled").filter((g) => g.seq > flushed.at(-1)!.seq);
    await waitFor("two groups journaled past the last one flushed", () => pendingGroups().length >= 2, 90_000, 20);
    // And no third one: the next group waits for the stalled flush.
    await sleep(1000);
    const pending = pendingGroups();
    expect(logged(logFile, "group flushed")).toEqual(flushed);
    const c = child;
    c.kill("SIGKILL");
    await new Promise((resolve) => c.once("exit", resolve));
    child = null;
    process.kill(server.pid!, "SIGCONT");
    // At the kill: two groups journaled (fsync'd) past the last one flushed, none acked.
    expect(pending.length).toBe(2);
    expect(pending[1]!.inFlight).toBe(2);
    const ci = await (await jetstreamManager(nc)).consumers.info("MMC_IN", "mmc-serve");
    let lastSource = 0;
    for (const r of readJournal(journal)) if (r.kind === RECORD_KIND_INPUT) lastSource = r.sourceSeq;
    expect(ci.ack_floor.stream_seq).toBeLessThan(lastSource);

    child = startServe(journal, logFile, "info");
    let st: Record<string, unknown> | null = null;
    await waitFor("serve to catch up after the restart", async () => {
      st = await queryStatus(nc, 1000).catch(() => null);
      const stored = (st?.outputsStored as { seq: number } | null | undefined)?.seq ?? 0;
      return st !== null && (st.seq as number) >= ref.seq && stored >= ref.outputs.at(-1)!.seq;
    }, 90_000);
    expect(st!.seq).toBe(ref.seq);
    expect(st!.stateHash).toBe(ref.hash);
    const c2 = child;
    c2.kill("SIGTERM");
    expect(await new Promise<number | null>((resolve) => c2.once("exit", (x) => resolve(x)))).toBe(0);
    child = null;
    let inputs = 0;
    let prevSeq = 0;
    for (const r of readJournal(journal)) {
      if (r.kind !== RECORD_KIND_INPUT) continue;
      inputs++;
      expect(r.seq).toBe(prevSeq + 1);
      prevSeq = r.seq;
    }
    expect(inputs).toBe(ref.seq);
    const stored = await readStream(nc, "MMC_OUT");
    expect(stored.map((m) => m.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
    expect(stored.map((m) => m.payload)).toEqual(ref.outputs.map((o) => o.payload));
  });
});

describe("back-pressure: a backlog is taken from the client only as fast as it is applied", () => {
  let serve: ServeHandle | undefined;
  const suite = natsSuite(async () => {
    await serve?.stop();
  });

  test("the messages waiting for a group stay within queueMaxBytes (plus the one that crossed it); all applied once", async () => {
    const { server, dir, nc } = suite;
    const file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 7, accounts: 100, events: 6000 });
    const ref = await reference(file);
    // The whole log in the stream first: without the bound, serve would take in at once all
    // the server lets out (max_ack_pending messages).
    const pub = await publishLog(nc, file, { batch: 50, log });
    expect(pub.messages).toBeGreaterThan(100);
    const jsm = await jetstreamManager(nc);
    const sizes: number[] = [];
    const lastStreamSeq = pub.lastStreamSeq ?? 0;
    for (let seq = 1; seq <= lastStreamSeq; seq++) sizes.push((await jsm.streams.getMessage("MMC_IN", { seq }))!.data.length);
    const messageMaxBytes = Math.max(...sizes);
    const backlogBytes = sizes.reduce((n, b) => n + b, 0);
    const queueMaxBytes = 4 * messageMaxBytes;
    expect(backlogBytes).toBeGreaterThan(10 * (queueMaxBytes + messageMaxBytes));

    let queuedBytesMax = 0;
    let queuedMessagesMax = 0;
    const sample = (): void => {
      const s = serve?.status();
      if (s === undefined) return;
      queuedBytesMax = Math.max(queuedBytesMax, s.queuedBytes);
      queuedMessagesMax = Math.max(queuedMessagesMax, s.queuedMessages);
    };
    const timer = setInterval(sample, 2);
    try {
      serve = await ServeHandle.start({ url: server.url, journal: join(dir, "serve.journal"), log, query: false, groupMaxEntries: 300, queueMaxBytes, onGroup: sample });
      await waitFor("serve to apply the whole log", () => serve!.status().seq >= ref.seq, 60_000, 5);
    } finally {
      clearInterval(timer);
    }
    expect(queuedMessagesMax).toBeGreaterThan(0);
    expect(queuedBytesMax).toBeLessThanOrEqual(queueMaxBytes + messageMaxBytes);
    await waitFor("every message acked", async () => {
      const ci = await (await jetstreamManager(nc)).consumers.info("MMC_IN", "mmc-serve");
      return ci.num_ack_pending === 0 && ci.ack_floor.stream_seq === pub.lastStreamSeq;
    });
    expect(await serve.stateHash()).toBe(ref.hash);
    expect(serve.status().outputs).toBe(ref.outputs.length);
  });
});
