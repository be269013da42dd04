// publish → serve against a real nats-server: same state as replaying the file, outputs on
// their subjects exactly once, replay from the stream, the query service, re-publishing,
// malformed and oversized messages.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { buildReport } from "../../src/outputs/report.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { readJournal } from "../../src/journal/index.js";
import { replayLog } from "../../src/replay.js";
import { encodeBatch } from "../../src/events/codec.js";
import { connectForever } from "../../src/nats/connect.js";
import { silentLogger } from "../../src/nats/log.js";
import { publishLog } from "../../src/nats/publish.js";
import { ServeHandle } from "../../src/nats/serve.js";
import { replayStream } from "../../src/nats/replay-stream.js";
import { queryAccount, queryStatus, QueryError, SERVICE_NAME } from "../../src/nats/query.js";
import { EVENT_MESSAGE_MAX_BYTES } from "../../src/nats/decode.js";
import { publishCommand, queryCommand, replayFromStream } from "../../src/nats/commands.js";
import { replayCommand } from "../../src/cli/replay-cmd.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";
import { reference, readStream, startServer, tempDir, waitFor, writeMarket, type Reference } from "./harness.js";

const log = silentLogger();

async function captureStdout(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => {
    chunks.push(typeof c === "string" ? c : new TextDecoder().decode(c));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await f();
    return { code, out: chunks.join("") };
  } finally {
    process.stdout.write = orig;
  }
}

describe("publish → serve", () => {
  let server: LocalNatsServer;
  let dir: string;
  let nc: NatsConnection;
  let file: string;
  let ref: Reference;
  let serve: ServeHandle;
  let journal: string;

  beforeAll(async () => {
    dir = tempDir();
    server = await startServer();
    nc = await connectForever({ url: server.url, name: "test", log });
    file = join(dir, "market.ndjson");
    writeMarket(file, { seed: 7, accounts: 120, events: 6000, badLineRate: 0.003 });
    ref = await reference(file);
    journal = join(dir, "serve.journal");
  });

  afterAll(async () => {
    await serve?.stop();
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the same log through publish + serve and through replay ends in the same state hash", async () => {
    serve = await ServeHandle.start({ url: server.url, journal, log, metricsPort: 0 });
    const pub = await publishLog(nc, file, { batch: 250, log });
    expect(pub.entries).toBe(ref.seq);
    await waitFor("serve to apply the whole log", () => serve.status().seq >= ref.seq);
    expect(serve.status().seq).toBe(ref.seq);
    expect(await serve.stateHash()).toBe(ref.hash);
    // The journal holds every entry once, in order, with its source stream seq.
    let inputs = 0;
    let lastSource = 0;
    for (const r of readJournal(journal)) {
      if (r.kind !== 0) continue;
      inputs++;
      expect(r.sourceSeq).toBeGreaterThanOrEqual(lastSource);
      lastSource = r.sourceSeq;
    }
    expect(inputs).toBe(ref.seq);
    expect(lastSource).toBe(pub.lastStreamSeq);
  });

  test("outputs are on their subjects, each once, in order, with deterministic msg ids", async () => {
    await waitFor("all outputs stored", () => {
      const s = serve.status();
      const last = ref.outputs[ref.outputs.length - 1]!;
      return s.outputsStored !== null && s.outputsStored.seq === last.seq && s.outputsStored.index === last.index;
    });
    const stored = await readStream(nc, serve.outStream);
    expect(stored.map((m) => m.msgId)).toEqual(ref.outputs.map((o) => `${o.seq}.${o.index}`));
    expect(stored.map((m) => m.payload)).toEqual(ref.outputs.map((o) => o.payload));
    expect(stored.map((m) => m.subject)).toEqual(ref.outputs.map((o) => `mmc.out.${o.type}`));
    const types = new Set(ref.outputs.map((o) => o.type));
    expect(types.has("liquidation")).toBe(true);
    expect(types.has("rejected")).toBe(true);
  });

  test("replay from the stream prints the same report as replaying the file", async () => {
    const { core } = await replayStream(nc, { stream: serve.stream, log });
    expect(JSON.stringify(buildReport(core))).toBe(JSON.stringify(buildReport(ref.core)));
  });

  test("publishing the same file again stores nothing new (msg ids inside the duplicate window)", async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(serve.stream)).state.messages;
    const again = await publishLog(nc, file, { batch: 250, log });
    expect(again.duplicates).toBe(again.messages);
    expect((await jsm.streams.info(serve.stream)).state.messages).toBe(before);
    expect(serve.status().seq).toBe(ref.seq);
  });

  test("query service: account state as in the report; discoverable with stats", async () => {
    const report = buildReport(ref.core);
    const name = Object.keys(report.accounts).find((a) => !a.startsWith("@") && Object.keys(report.accounts[a]!.positions).length > 0)!;
    const r = await queryAccount(nc, name);
    expect(r.seq).toBe(ref.seq);
    expect(r.stateHash).toBe(ref.hash);
    expect(r.state).toEqual(report.accounts[name]);
    await expect(queryAccount(nc, "nobody-here")).rejects.toBeInstanceOf(QueryError);
    const st = await queryStatus(nc);
    expect(st.seq).toBe(ref.seq);
    expect(st.stateHash).toBe(ref.hash);
    const client = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client();
    const infos = [];
    for await (const i of await client.info(SERVICE_NAME)) infos.push(i);
    expect(infos.length).toBe(1);
    expect(infos[0]!.endpoints.map((e) => e.subject).sort()).toEqual(["mmc.query.account", "mmc.query.status"]);
    const stats = [];
    for await (const s of await client.stats(SERVICE_NAME)) stats.push(s);
    const account = stats[0]!.endpoints!.find((e) => e.name === "account")!;
    expect(account.num_requests).toBeGreaterThanOrEqual(2);
    // Answers are asynchronous (through the core stage): the time to reply is in `data`.
    expect((account.data as { reply_ns: number }).reply_ns).toBeGreaterThan(0);
  });

  test("commands: replay --nats --json prints exactly what `mmc replay <file> --json` prints; query; publish", async () => {
    const fromFile = await captureStdout(() => replayCommand(file, { json: true, progress: false }));
    const fromStream = await captureStdout(() => replayFromStream({ nats: server.url, stream: "MMC_IN", json: true }));
    expect(fromStream.code).toBe(0);
    expect(fromStream.out).toBe(fromFile.out);
    const text = await captureStdout(() => replayFromStream({ nats: server.url, json: false }));
    expect(text.out).toContain(`seq ${ref.seq}  state ${ref.hash}`);
    const q = await captureStdout(() => queryCommand("@insurance", { nats: server.url, json: true }));
    expect(q.code).toBe(0);
    expect((JSON.parse(q.out) as { account: string }).account).toBe("@insurance");
    const human = await captureStdout(() => queryCommand("@insurance", { nats: server.url }));
    expect(human.out).toMatch(/^@insurance {2}\(seq \d+, durable \d+\)/);
    expect((await captureStdout(() => queryCommand("nobody", { nats: server.url }))).code).toBe(1);
    const p = await captureStdout(() => publishCommand(file, { nats: server.url, batch: 250, json: true, logLevel: "silent" }));
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out)).toMatchObject({ entries: ref.seq, duplicates: Math.ceil(ref.seq / 250) });
  });

  test("serve metrics on /metrics", async () => {
    const body = await (await fetch(`http://127.0.0.1:${serve.metricsPort}/metrics`)).text();
    expect(body).toMatch(new RegExp(`mmc_journal_seq ${serve.status().seq}\\b`));
    expect(body).toMatch(/mmc_events_applied_total \d+/);
    expect(body).toMatch(/mmc_outputs_published_total\{type="liquidation"\} \d+/);
    expect(body).toContain("mmc_process_cpu_seconds_total");
  });

  test("malformed and oversized messages become rejected outputs with codes; the service keeps going", async () => {
    const js = jetstream(nc);
    const base = serve.status().seq;
    const enc = new TextEncoder();
    const big = `{"type":"mark","symbol":"BTC-PERP","price":"1","pad":"${"x".repeat(EVENT_MESSAGE_MAX_BYTES)}"}`;
    const bad: [string, Uint8Array, string][] = [
      ["mmc.in.all.all.mark", enc.encode('{"type":"mark","symbol":'), "E_JSON"],
      ["mmc.in.all.all.event", enc.encode('{"type":"teleport"}'), "E_SCHEMA"],
      ["mmc.in.all.all.event", enc.encode("[1,2,3]"), "E_JSON"],
      ["mmc.in.all.all.event", new Uint8Array(0), "E_JSON"],
      ["mmc.in.all.all.mark", enc.encode(big), "E_TOO_LARGE"],
      ["mmc.in.all.all.batch", Uint8Array.from([0x4d, 0x4d, 0x43, 0x42, 1, 5, 1, 2]), "E_JSON"],
      ["mmc.in.all.all.mark", enc.encode('{"type":"mark","symbol":"NOPE-PERP","price":"1"}'), "E_UNKNOWN"],
    ];
    for (const [subj, data] of bad) await js.publish(subj, data);
    // A good batch after the bad ones is applied.
    const good = encodeBatch([{ kind: "event", event: { type: "funding", symbol: "BTC-PERP", rate: { mantissa: 1n, scale: 8 } } as never }]);
    await js.publish("mmc.in.all.all.batch", good);
    await waitFor("the bad messages and the good batch", () => serve.status().seq >= base + bad.length + 1);
    expect(serve.status().seq).toBe(base + bad.length + 1);
    await waitFor("their outputs", () => (serve.status().outputsStored?.seq ?? 0) >= base + bad.length);
    const stored = await readStream(nc, serve.outStream);
    const rejected = stored.filter((m) => m.subject === "mmc.out.rejected").map((m) => JSON.parse(m.payload) as { seq: number; code: string });
    const codes = bad.map((_, i) => rejected.find((r) => r.seq === base + 1 + i)?.code);
    expect(codes).toEqual(bad.map(([, , code]) => code));
    expect(rejected.some((r) => r.seq === base + bad.length + 1)).toBe(false);
  });

  test("the serve journal passes `mmc replay`'s audit (every derived record re-derived byte for byte)", async () => {
    const hash = await serve.stateHash();
    const seq = serve.status().seq;
    await serve.stop();
    const core = await replayLog(journal, { audit: true });
    expect(core.state.seq).toBe(seq);
    expect(stateHash(core.state)).toBe(hash);
    expect(core.history.rejected.length).toBeGreaterThan(0);
  });
});
