// Subject design and message decoding: the local partition function agrees with the
// server's `partition(n, …)` mapping; partition filters never overlap; every message
// decodes to entries (bad ones to raw entries with the right code).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeBatch, BATCH_MAX_BYTES } from "../../src/events/codec.js";
import { parseEventLine } from "../../src/events/schema.js";
import type { InputEvent } from "../../src/events/types.js";
import { Core } from "../../src/pipeline.js";
import { connectForever } from "../../src/nats/connect.js";
import { decodeMessage, EVENT_MESSAGE_MAX_BYTES, sizeRejectionOf } from "../../src/nats/decode.js";
import { silentLogger } from "../../src/nats/log.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";
import { ServeMetrics, startMetricsServer } from "../../src/nats/metrics.js";
import {
  accountToken,
  fnv1a32,
  ingestSubject,
  inputSubject,
  partitionFilters,
  partitionMapping,
  partitionOf,
} from "../../src/nats/subjects.js";
import { startServer, waitFor } from "./harness.js";

const log = silentLogger();
const PARTITIONS = 8;

function ev(line: string): InputEvent {
  const r = parseEventLine(line);
  if (!r.ok) throw new Error(r.rejection.message);
  return r.event;
}

describe("partitioned subjects", () => {
  let server: LocalNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    const m = partitionMapping(PARTITIONS);
    server = await startServer({ extraConfig: `mappings { ${JSON.stringify(m.from)}: ${JSON.stringify(m.to)} }` });
    nc = await connectForever({ url: server.url, name: "test", log });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  test("FNV-1a 32 matches the reference vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  test("the server's partition() mapping puts every account where partitionOf says", async () => {
    const accounts = ["alice", "bob", "acct-00017", "a.b.c", "@insurance", "@fees", "x_y-z", "Z9", ...Array.from({ length: 40 }, (_, i) => `acct-${i}`)];
    const seen = new Map<string, string>();
    const sub = nc.subscribe("mmc.in.>", {
      callback: (_e, m) => {
        seen.set(new TextDecoder().decode(m.data), m.subject);
      },
    });
    for (const a of accounts) {
      const e = ev(JSON.stringify({ type: "deposit", id: `d-${a}`, account: a, asset: "USDT", amount: "1" }));
      nc.publish(ingestSubject(e)!, a);
    }
    const t = ev('{"type":"trade","id":"t1","symbol":"BTC-PERP","price":"1","qty":"1","buyer":"alice","seller":"a.b.c","taker":"buyer"}');
    nc.publish(ingestSubject(t)!, "trade");
    await nc.flush();
    await waitFor("mapped messages", () => seen.size === accounts.length + 1, 10_000);
    sub.unsubscribe();
    for (const a of accounts) {
      const e = ev(JSON.stringify({ type: "deposit", id: `d-${a}`, account: a, asset: "USDT", amount: "1" }));
      expect(seen.get(a), a).toBe(inputSubject(e, PARTITIONS));
    }
    expect(seen.get("trade")).toBe(`mmc.in.${partitionOf("alice", PARTITIONS)}.${partitionOf("a.b.c", PARTITIONS)}.trade`);
    expect(seen.get("trade")).toBe(inputSubject(t, PARTITIONS));
  });

  test("global events go to every partition; account tokens never contain a separator", () => {
    expect(inputSubject(ev('{"type":"mark","symbol":"BTC-PERP","price":"1"}'), PARTITIONS)).toBe("mmc.in.all.all.mark");
    expect(inputSubject(ev('{"type":"margin.mode","account":"a","symbol":"S","mode":"cross"}'), 1)).toBe("mmc.in.0.0.margin_mode");
    expect(accountToken("a.b")).toBe("a~b");
    expect(ingestSubject(ev('{"type":"funding","symbol":"S","rate":"0"}'))).toBeNull();
  });

  test("partition filters cover each two-account subject exactly once per partition, without overlaps", () => {
    const n = 4;
    const all = Array.from({ length: n }, (_, p) => partitionFilters(p, n));
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const subj = `mmc.in.${a}.${b}.trade`;
        const owners = all.map((fs, p) => [p, fs.filter((f) => f === `mmc.in.${a}.${b}.>`).length] as const).filter(([, c]) => c > 0);
        expect(owners.map(([p]) => p).sort(), subj).toEqual([...new Set([a, b])].sort());
        for (const [, c] of owners) expect(c).toBe(1);
      }
    }
    for (const fs of all) expect(new Set(fs).size).toBe(fs.length);
  });
});

describe("message decoding", () => {
  const enc = new TextEncoder();

  test("one JSON event, a batch, and what is neither", () => {
    const one = decodeMessage(enc.encode('{"type":"mark","symbol":"BTC-PERP","price":"50000"}'));
    expect(one.kind).toBe("event");
    expect(one.entries[0]!.kind).toBe("event");
    const lines = ['{"type":"mark","symbol":"A","price":"1"}', '{"type":"mark","symbol":"B","price":"2"}'];
    const batch = decodeMessage(encodeBatch(lines.map((l) => ({ kind: "event", event: ev(l) }))));
    expect(batch.kind).toBe("batch");
    expect(batch.entries.length).toBe(2);
    const bad = decodeMessage(Uint8Array.from([0x4d, 0x4d, 0x43, 0x42, 9]));
    expect(bad.kind).toBe("bad-batch");
    expect(bad.entries[0]!.kind).toBe("raw");
    expect(bad.overrideCode).toBeNull();
  });

  test("Core rejects each decoded bad message with its code; oversized ones are E_TOO_LARGE", () => {
    const core = new Core();
    const code = (data: Uint8Array): string => {
      const d = decodeMessage(data);
      const r = core.apply(d.entries[0]!);
      return d.overrideCode ?? sizeRejectionOf(d.entries[0]!) ?? r.rejection?.code ?? "ok";
    };
    expect(code(enc.encode("{nope"))).toBe("E_JSON");
    expect(code(enc.encode('{"type":"teleport"}'))).toBe("E_SCHEMA");
    expect(code(enc.encode("   "))).toBe("E_JSON");
    expect(code(Uint8Array.from([0xff, 0xfe, 0x00]))).toBe("E_JSON");
    const big = enc.encode(`{"type":"mark","symbol":"A","price":"1","x":"${"y".repeat(EVENT_MESSAGE_MAX_BYTES)}"}`);
    const d = decodeMessage(big);
    expect(d.kind).toBe("oversize");
    expect(d.overrideCode).toBe("E_TOO_LARGE");
    expect(sizeRejectionOf(d.entries[0]!)).toBe("E_TOO_LARGE");
    expect((d.entries[0] as { raw: string }).raw.length).toBeLessThan(2048);
    // A batch over the batch limit (possible only with a larger server max_payload).
    const huge = new Uint8Array(BATCH_MAX_BYTES + 10);
    huge.set([0x4d, 0x4d, 0x43, 0x42, 1]);
    expect(decodeMessage(huge).overrideCode).toBe("E_TOO_LARGE");
  });

  test("metrics are served on /metrics", async () => {
    const m = new ServeMetrics(false);
    m.entries.inc(5);
    m.rejected.inc({ code: "E_JSON" });
    const { server, port } = await startMetricsServer(m, 0, "127.0.0.1");
    try {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(body).toContain("mmc_events_applied_total 5");
      expect(body).toContain('mmc_events_rejected_total{code="E_JSON"} 1');
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
