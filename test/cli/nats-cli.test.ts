// The NATS commands as a user runs them: publish a log, serve it, query an account, rebuild
// from the stream — one state hash everywhere, equal to replaying the file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { startServer, tempDir, waitFor } from "../nats/harness.js";
import type { LocalNatsServer } from "../../src/nats/local-server.js";

const BIN = resolve(import.meta.dirname, "../../bin/mmc.js");
const dir = tempDir("mmc-nats-cli-");
let server: LocalNatsServer;
let serve: ChildProcess | null = null;

function mmc(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  server = await startServer(); // its own temp store, removed by stop()
});

afterAll(async () => {
  serve?.kill("SIGTERM");
  await server.stop();
});

describe("mmc publish | serve | query | replay --nats", () => {
  it("ends in the same state hash as replaying the file", async () => {
    const log = join(dir, "orders.ndjson");
    expect(mmc("generate", "--seed", "9", "--accounts", "40", "--events", "2500", "--order-flow", "--out", log).code).toBe(0);
    const pub = mmc("publish", log, "--nats", server.url, "--json");
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ entries: 2500, duplicates: 0 });
    // Publishing the same file again stores nothing new.
    expect(JSON.parse(mmc("publish", log, "--nats", server.url, "--json").stdout).duplicates).toBeGreaterThan(0);

    const fileReport = JSON.parse(mmc("replay", log, "--json").stdout) as { stateHash: string; seq: number };
    serve = spawn(process.execPath, [BIN, "serve", "--nats", server.url, "--journal", join(dir, "serve.journal")], { stdio: "ignore" });
    let answer: { seq?: number; stateHash?: string } = {};
    await waitFor("serve to apply the whole log", () => {
      const q = mmc("query", "acct-00001", "--nats", server.url, "--json", "--timeout", "2000");
      if (q.code !== 0) return false;
      answer = JSON.parse(q.stdout) as typeof answer;
      return answer.seq === 2500;
    }, 90_000, 500);
    expect(answer.stateHash).toBe(fileReport.stateHash);

    const fromStream = JSON.parse(mmc("replay", "--nats", server.url, "--json").stdout) as { stateHash: string };
    expect(fromStream.stateHash).toBe(fileReport.stateHash);
    serve.kill("SIGTERM");
    serve = null;
    const journalReport = JSON.parse(mmc("replay", join(dir, "serve.journal"), "--json").stdout) as { stateHash: string };
    expect(journalReport.stateHash).toBe(fileReport.stateHash);
  });

  it("usage errors exit 2", () => {
    expect(mmc("serve").code).toBe(2); // --nats is required
    expect(mmc("replay", "x.ndjson", "--nats", server.url).code).toBe(2);
  });
});
