// Recovery paths of `mmc serve`, each forced deliberately: a batch cut by a crash, a
// delivery the consumer lost (sequence gap), the consumer deleted under it, and the
// states it must refuse (journal ahead of the stream, outputs ahead of the journal).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { importNdjson, JournalWriter, readJournal } from "../../src/journal/index.js";
import { Core } from "../../src/pipeline.js";
import { readLog, replayLog } from "../../src/replay.js";
import { encodeDerived } from "../../src/outputs/derived.js";
import { connectForever } from "../../src/nats/connect.js";
import { silentLogger } from "../../src/nats/log.js";
import { pino } from "pino";
import { publishLog } from "../../src/nats/publish.js";
import { FatalServeError, ServeHandle } from "../../src/nats/serve.js";
import { DEFAULT_SETTINGS, ensureStream, inputStreamConfig } from "../../src/nats/settings.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";
import { readStream, reference, startServer, tempDir, waitFor, writeMarket, type Reference } from "./harness.js";

const log = silentLogger();
const serveLog = process.env.MMC_TEST_LOG ? pino({ level: "debug" }, pino.destination({ dest: process.env.MMC_TEST_LOG, sync: true })) : log;
const enc = new TextEncoder();

async function expectComplete(nc: NatsConnection, serve: ServeHandle, ref: Reference, journal: string): Promise<void> {
  await waitFor("serve to apply the whole log", () => serve.status().seq >= ref.seq, 60_000);
  expect(serve.status().seq).toBe(ref.seq);
  expect(await serve.stateHash()).toBe(ref.hash);
  const last = ref.outputs[ref.outputs.length - 1]!;
  await waitFor("outputs stored", () => (serve.status().outputsStored?.seq ?? 0) >= last.seq, 30_000);
  const stored = await readStream(nc, serve.outStream);
  expect(stored.map((m) => m.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
  let inputs = 0;
  for (const r of readJournal(journal)) if (r.kind === 0) inputs++;
  expect(inputs).toBe(ref.seq);
  // `mmc replay` of the journal audits every derived record.
  const ledger = await replayLog(journal, { audit: true });
  expect(stateHash(ledger.state)).toBe(ref.hash);
}

describe("serve recovery", () => {
  let server: LocalNatsServer;
  let dir: string;
  let nc: NatsConnection;
  let file: string;
  let ref: Reference;
  let serve: ServeHandle | undefined;

  beforeAll(async () => {
    dir = tempDir();
    server = await startServer();
    nc = await connectForever({ url: server.url, name: "test", log });
    file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 5, accounts: 80, events: 4000 });
    ref = await reference(file);
  });
  afterEach(async () => {
    await serve?.stop();
    serve = undefined;
    // Fresh streams and consumer for the next test.
    const jsm = await jetstreamManager(nc);
    for (const s of ["MMC_IN", "MMC_OUT"]) await jsm.streams.delete(s).catch(() => {});
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a batch cut by a crash resumes at its first unjournaled entry; a cut in an input's derived records is completed", async () => {
    const pub = await publishLog(nc, file, { batch: 500, log });
    expect(pub.firstStreamSeq).toBe(1);
    // The journal a crash would leave: whole messages, then a message cut after an input
    // with outputs, of which only the first derived record (or none) made it to disk.
    const perSeq = new Map<number, number>();
    for (const o of ref.outputs) perSeq.set(o.seq, (perSeq.get(o.seq) ?? 0) + 1);
    const inMiddle = (seq: number): boolean => seq % 500 > 1 && seq % 500 < 499;
    const cut = [...perSeq].find(([seq, n]) => n >= 2 && inMiddle(seq))?.[0] ?? [...perSeq].find(([seq]) => inMiddle(seq))![0];
    const message = Math.ceil(cut / 500);
    const journal = join(dir, "cut.journal");
    const w = JournalWriter.open(journal);
    const core = new Core();
    for await (const rec of readLog(file)) {
      const r = core.apply(rec.entry);
      w.appendInput(rec.entry, r.ts, Math.ceil(r.seq / 500));
      const outs = r.outputs.map((o) => encodeDerived(o));
      for (const d of r.seq === cut ? outs.slice(0, outs.length - 1) : outs) w.appendDerived(r.seq, r.ts, d);
      if (r.seq === cut) break;
    }
    w.close();
    serve = await ServeHandle.start({ url: server.url, journal, log });
    await expectComplete(nc, serve, ref, journal);
    // The cut message's remaining entries carry its stream seq.
    const sources = [...readJournal(journal)].filter((r) => r.kind === 0).map((r) => r.sourceSeq);
    expect(sources.filter((s) => s === message).length).toBe(Math.min(500, ref.seq - (message - 1) * 500));
  });

  test("a delivery taken by someone else (consumer sequence gap) → consumer recreated, nothing lost", async () => {
    const journal = join(dir, "gap.journal");
    serve = await ServeHandle.start({ url: server.url, journal, log: serveLog, pullMaxMessages: 2, settings: { ackWaitMs: 5000 } });
    // Another client pulls one message from serve's durable consumer and never acks it:
    // its pull request queues behind serve's, so it is served by a later publish.
    let stealing: Promise<boolean> | null = null;
    const js = jetstream(nc);
    await publishLog(nc, file, {
      batch: 40,
      log,
      onProgress: async (k) => {
        await sleep(5);
        if (stealing === null && k >= 1000) {
          const c = await js.consumers.get("MMC_IN", "mmc-serve");
          stealing = c.next({ expires: 20_000 }).then((m) => m !== null);
        }
      },
    });
    const stolen = await stealing!;
    expect(stolen).toBe(true);
    await expectComplete(nc, serve, ref, journal);
    expect(serve.status().consumerRecreated).toBeGreaterThanOrEqual(2); // created at start, recreated after the gap
  });

  test("a resumed consumer whose next delivery goes to a stale pull request: detected, nothing lost", async () => {
    const journal = join(dir, "stale.journal");
    const half = join(dir, "half.ndjson");
    const all = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
    writeFileSync(half, all.slice(0, 2000).join("\n") + "\n");
    writeFileSync(join(dir, "rest.ndjson"), all.slice(2000).join("\n") + "\n");
    serve = await ServeHandle.start({ url: server.url, journal, log });
    await publishLog(nc, half, { batch: 100, log });
    await waitFor("first half applied", () => serve!.status().seq >= 2000);
    await serve.stop();
    // A pull request left waiting on the durable consumer (e.g. by a client that died).
    const c = await jetstream(nc).consumers.get("MMC_IN", "mmc-serve");
    const stale = c.next({ expires: 30_000 });
    await sleep(100);
    serve = await ServeHandle.start({ url: server.url, journal, log });
    expect(serve.status().consumerRecreated).toBe(0); // its state agreed with the journal: resumed
    await publishLog(nc, join(dir, "rest.ndjson"), { batch: 100, log });
    expect(await stale).not.toBeNull();
    await expectComplete(nc, serve, ref, journal);
    expect(serve.status().consumerRecreated).toBe(1);
  });

  test("the consumer deleted under a running serve is recreated at the journal's position", async () => {
    const journal = join(dir, "deleted.journal");
    serve = await ServeHandle.start({ url: server.url, journal, log });
    const jsm = await jetstreamManager(nc);
    let deleted = false;
    await publishLog(nc, file, {
      batch: 40,
      log,
      onProgress: async (k) => {
        await sleep(5);
        // (nats-server 2.9 may refuse a delete racing the consumer's own state write: try again.)
        if (!deleted && k >= 2000) deleted = await jsm.consumers.delete("MMC_IN", "mmc-serve").catch(() => false);
      },
    });
    expect(deleted).toBe(true);
    await expectComplete(nc, serve, ref, journal);
  });

  test("snapshots: a restart restores the last one and replays only the journal after it; a foreign one is ignored", async () => {
    const journal = join(dir, "snap.journal");
    serve = await ServeHandle.start({ url: server.url, journal, log, snapshotEvery: 1000 });
    await publishLog(nc, file, { batch: 250, log });
    await expectComplete(nc, serve, ref, journal);
    const written = serve.status().snapshotSeq;
    expect(written).toBeGreaterThanOrEqual(3000);
    await serve.stop();
    serve = await ServeHandle.start({ url: server.url, journal, log, snapshotEvery: 1000 });
    expect(serve.status().snapshotSeq).toBe(written);
    expect(serve.status().seq).toBe(ref.seq);
    expect(await serve.stateHash()).toBe(ref.hash);
    await serve.stop();
    // The same snapshot next to a journal with different history: not used.
    const other = join(dir, "other.journal");
    const w = JournalWriter.open(other);
    const core = new Core();
    for await (const rec of readLog(file)) {
      const r = core.apply(rec.entry);
      w.appendInput(rec.entry, r.ts, 0);
    }
    w.close();
    copyFileSync(`${journal}.snapshot`, `${other}.snapshot`);
    copyFileSync(`${journal}.snapshot.meta.json`, `${other}.snapshot.meta.json`);
    serve = await ServeHandle.start({ url: server.url, journal: other, log, snapshotEvery: 1000 });
    expect(serve.status().snapshotSeq).toBe(0);
    expect(await serve.stateHash()).toBe(ref.hash);
  });

  test("the input stream recreated empty under a running serve: stops with an error instead of reusing sequence numbers", async () => {
    const journal = join(dir, "regress.journal");
    serve = await ServeHandle.start({ url: server.url, journal, log });
    await publishLog(nc, file, { batch: 500, log });
    await waitFor("applied", () => serve!.status().seq >= ref.seq);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete("MMC_IN");
    await ensureStream(jsm, inputStreamConfig("MMC_IN", DEFAULT_SETTINGS), log);
    await expect(serve.done).rejects.toBeInstanceOf(FatalServeError);
    serve = undefined;
  });

  test("mmc publish of a journal (not NDJSON) feeds the same log", async () => {
    const source = join(dir, "source.journal");
    await importNdjson(file, source);
    const journal = join(dir, "from-journal.journal");
    serve = await ServeHandle.start({ url: server.url, journal, log });
    const pub = await publishLog(nc, source, { batch: 333, log });
    expect(pub.entries).toBe(ref.seq);
    await expectComplete(nc, serve, ref, journal);
  });

  test("refuses to start when the journal is ahead of the stream, or the outputs ahead of the journal", async () => {
    // Journal claims stream seq 5; the stream is empty.
    const j1 = join(dir, "ahead.journal");
    const w = JournalWriter.open(j1);
    const core = new Core();
    for await (const rec of readLog(file)) {
      const r = core.apply(rec.entry);
      w.appendInput(rec.entry, r.ts, 5);
      break;
    }
    w.close();
    await expect(ServeHandle.start({ url: server.url, journal: j1, log })).rejects.toBeInstanceOf(FatalServeError);
    // Outputs up to seq 10 in the output stream; an empty journal.
    const js = jetstream(nc);
    const { headers } = await import("@nats-io/transport-node");
    const h = headers();
    h.set("Mmc-Seq", "10");
    h.set("Mmc-Index", "0");
    await js.publish("mmc.out.rejected", enc.encode("{}"), { headers: h, msgID: "10.0" });
    await expect(ServeHandle.start({ url: server.url, journal: join(dir, "empty.journal"), log })).rejects.toThrow(/journal was lost or replaced/);
  });
});
