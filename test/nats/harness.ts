// Test harness for the NATS pipeline: a real nats-server per suite (free port, temp store,
// killed in afterAll), seeded logs, the fault-free reference, and helpers to read streams.
import { execFileSync, execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { connectForever } from "../../src/nats/connect.js";
import { silentLogger } from "../../src/nats/log.js";
import { generateMarketLines, type MarketOptions } from "../../src/demo/generate.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { Core } from "../../src/pipeline.js";
import { readLog } from "../../src/replay.js";
import { publishedPayload } from "../../src/nats/outputs.js";
import { sizeRejectionOf } from "../../src/nats/decode.js";
import { findNatsServer, LocalNatsServer, NATS_SERVER_INSTALL_HINT, type LocalServerOptions } from "../../src/nats/local-server.js";
import type { OutputEvent } from "../../src/outputs/events.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

let installTried = false;

/** The nats-server binary; tries `apt-get install -y nats-server` once, else fails saying how to install it. */
export function natsServerBin(): string {
  let bin = findNatsServer();
  if (bin === null && !installTried) {
    installTried = true;
    try {
      execSync("apt-get install -y nats-server || (apt-get update && apt-get install -y nats-server)", { stdio: "ignore", timeout: 180_000 });
    } catch {
      // fall through to the message below
    }
    bin = findNatsServer();
  }
  if (bin === null) throw new Error(NATS_SERVER_INSTALL_HINT);
  return bin;
}

export async function startServer(opts: LocalServerOptions = {}): Promise<LocalNatsServer> {
  await useBuiltWorker();
  return await LocalNatsServer.start({ bin: natsServerBin(), ...opts });
}

/**
 * serve's core worker must be JavaScript: under vitest the sources are TypeScript, so the
 * in-process serves of the tests run this checkout's fresh build (the one the kill -9
 * children run) rather than whatever dist/ holds.
 */
export async function useBuiltWorker(): Promise<void> {
  if (process.env.MMC_CORE_WORKER !== undefined) return;
  process.env.MMC_CORE_WORKER = join(dirname(await ensureBuilt()), "core-worker.js");
}

/** A describe block's own nats-server, temp dir and client connection (see natsSuite). */
export interface NatsSuite {
  readonly server: LocalNatsServer;
  readonly dir: string;
  readonly nc: NatsConnection;
}

/**
 * Registers the block's setup: before its tests a nats-server on a free port with a temp
 * store, a temp dir and a connection; after them `cleanup` (stop what the tests started,
 * resume a stopped server), then the connection, the server and the dir go.
 */
export function natsSuite(cleanup?: (suite: NatsSuite) => Promise<void> | void): NatsSuite {
  const suite = {} as { server: LocalNatsServer; dir: string; nc: NatsConnection };
  beforeAll(async () => {
    suite.dir = tempDir();
    suite.server = await startServer();
    suite.nc = await connectForever({ url: suite.server.url, name: "test", log: silentLogger() });
  });
  afterAll(async () => {
    await cleanup?.(suite);
    await suite.nc?.close();
    await suite.server?.stop();
    if (suite.dir !== undefined) rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

export function tempDir(prefix = "mmc-nats-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A seeded market (the demo generator) as an NDJSON file. */
export function writeMarket(path: string, opts: MarketOptions): number {
  const lines = [...generateMarketLines(opts)];
  writeFileSync(path, lines.join("\n") + "\n");
  return lines.length;
}

export interface ReferenceOutput {
  readonly seq: number;
  readonly index: number;
  readonly type: string;
  readonly payload: string;
}

export interface Reference {
  readonly hash: string;
  readonly seq: number;
  readonly outputs: ReferenceOutput[];
  readonly core: Core;
}

/** The fault-free run: the file replayed in-process, with the outputs as serve publishes them. */
export async function reference(file: string): Promise<Reference> {
  const core = new Core();
  const outputs: ReferenceOutput[] = [];
  const td = new TextDecoder();
  for await (const rec of readLog(file)) {
    const r = core.apply(rec.entry, rec.ts);
    const code = sizeRejectionOf(rec.entry);
    r.outputs.forEach((o: OutputEvent, index) => {
      outputs.push({ seq: r.seq, index, type: o.type, payload: td.decode(publishedPayload(o, code)) });
    });
  }
  return { hash: stateHash(core.state), seq: core.state.seq, outputs, core };
}

export interface StoredOutput {
  readonly streamSeq: number;
  readonly msgId: string;
  readonly subject: string;
  readonly payload: string;
}

/** Every message of a stream, in order (ordered consumer). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredOutput[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: StoredOutput[] = [];
  if (info.state.messages === 0) return out;
  const c = await jetstream(nc).consumers.get(stream);
  const iter = await c.consume({ max_messages: 1000 });
  const td = new TextDecoder();
  for await (const m of iter) {
    out.push({ streamSeq: m.seq, msgId: m.headers?.get("Nats-Msg-Id") ?? "", subject: m.subject, payload: td.decode(m.data) });
    if (m.seq >= info.state.last_seq || m.info.pending === 0) break;
  }
  iter.stop();
  return out;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Compiles the project once per test run into a private directory (the kill -9 tests run
 * `mmc serve` as a child process), so a concurrent `npm run build` writing dist/ cannot
 * hand the child half-written files. The directory is inside this checkout (dist/ is
 * ignored; tsc never cleans it), not node_modules/: git worktrees may share node_modules,
 * and one worktree's tests must not run another's build. The kernel's WASM is
 * build/kernel.wasm of this checkout (found from the package root). A lock directory keeps
 * parallel workers from compiling at the same time.
 */
export async function ensureBuilt(): Promise<string> {
  const out = join(REPO, "dist/.nats-test");
  const entry = join(out, "src/nats/serve-main.js");
  const lock = `${out}.lock`;
  mkdirSync(dirname(out), { recursive: true });
  for (const deadline = performance.now() + 120_000; ; ) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (performance.now() > deadline) throw new Error("timed out waiting for the build lock");
      await sleep(200);
    }
  }
  try {
    const stamp = join(out, ".stamp");
    let fresh = false;
    try {
      // Built by this test run (or within a minute before it started).
      fresh = performance.timeOrigin - statSync(stamp).mtimeMs < 60_000;
    } catch {
      fresh = false;
    }
    if (!fresh) {
      try {
        execFileSync("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", out], { cwd: REPO, stdio: "pipe", timeout: 120_000 });
      } catch (err) {
        // tsc emits even with type errors elsewhere in the tree; only a missing entry is fatal.
        void err;
      }
      writeFileSync(stamp, "");
    }
    statSync(entry);
    return entry;
  } finally {
    rmdirSync(lock);
  }
}
