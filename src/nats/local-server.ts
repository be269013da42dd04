// A nats-server child process on 127.0.0.1, a free port and its own store directory:
// what the NATS tests and the pipeline benchmark run against. Never the shared :4222.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BATCH_MAX_BYTES } from "../events/codec.js";

export const NATS_SERVER_CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

export const NATS_SERVER_INSTALL_HINT =
  "nats-server not found. Install it (Debian/Ubuntu: `apt-get install -y nats-server`; or download a release from " +
  "https://github.com/nats-io/nats-server/releases and put it on PATH), or set NATS_SERVER_BIN to its path.";

/** The nats-server binary: $NATS_SERVER_BIN, a usual location, or the first on PATH; null if none. */
export function findNatsServer(): string | null {
  const env = process.env.NATS_SERVER_BIN;
  if (env !== undefined && env !== "" && existsSync(env)) return env;
  for (const c of NATS_SERVER_CANDIDATES) if (existsSync(c)) return c;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const p = join(dir, "nats-server");
    if (existsSync(p)) return p;
  }
  return null;
}

/** A port that was free a moment ago (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LocalServerOptions {
  /** Port to listen on (default: a free one). Restarts reuse it. */
  readonly port?: number;
  /** JetStream store directory (default: a new temp dir, removed by stop()). */
  readonly storeDir?: string;
  /** max_payload (default BATCH_MAX_BYTES, so a full batch fits). */
  readonly maxPayload?: number;
  /** Extra config text appended to the generated config file (e.g. `mappings { … }`). */
  readonly extraConfig?: string;
  /** Binary to run (default findNatsServer()). */
  readonly bin?: string;
  /** Where the server's own log lines go (default: dropped). */
  readonly onLog?: (line: string) => void;
}

export class LocalNatsServer {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly bin: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly ownsStore: boolean,
    readonly configPath: string,
    private readonly onLog: ((line: string) => void) | undefined,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  static async start(opts: LocalServerOptions = {}): Promise<LocalNatsServer> {
    const bin = opts.bin ?? findNatsServer();
    if (bin === null) throw new Error(NATS_SERVER_INSTALL_HINT);
    const port = opts.port ?? (await freePort());
    const ownsStore = opts.storeDir === undefined;
    const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "mmc-nats-"));
    const configPath = join(storeDir, `nats-${port}.conf`);
    const maxPayload = opts.maxPayload ?? BATCH_MAX_BYTES;
    const config = [
      `listen: "127.0.0.1:${port}"`,
      `max_payload: ${maxPayload}`,
      // A pending-bytes limit above the largest batch so a slow reader is not cut off at once.
      `max_pending: ${Math.max(64 * 1024 * 1024, 4 * maxPayload)}`,
      `jetstream { store_dir: ${JSON.stringify(join(storeDir, "js"))} }`,
      opts.extraConfig ?? "",
      "",
    ].join("\n");
    writeFileSync(configPath, config);
    const s = new LocalNatsServer(bin, port, storeDir, ownsStore, configPath, opts.onLog);
    await s.launch();
    return s;
  }

  private async launch(): Promise<void> {
    const proc = spawn(this.bin, ["-c", this.configPath], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    let log = "";
    const onData = (b: Buffer): void => {
      const text = b.toString("utf8");
      if (log.length < 64 * 1024) log += text;
      if (this.onLog !== undefined) for (const line of text.split("\n")) if (line !== "") this.onLog(line);
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    let exitCode: number | null | undefined;
    this.exited = new Promise<void>((resolve) => {
      proc.once("exit", (code) => {
        exitCode = code;
        if (this.proc === proc) this.proc = null;
        resolve();
      });
    });
    const deadline = performance.now() + 15_000;
    for (;;) {
      if (exitCode !== undefined) throw new Error(`nats-server exited (code ${String(exitCode)}) before accepting connections:\n${log}`);
      // JetStream is ready once the server logs it; the port must accept connections too.
      if (log.includes("Server is ready") && (await canConnect(this.port))) return;
      if (performance.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`nats-server did not become ready on port ${this.port} within 15 s:\n${log}`);
      }
      await sleep(25);
    }
  }

  /** kill -9: no shutdown, no flush — what a crash looks like. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    p.kill("SIGKILL");
    await this.exited;
  }

  /** Starts the server again on the same port and store. */
  async restart(): Promise<void> {
    if (this.proc !== null) await this.kill9();
    // The port is ours again only once the kernel has released it.
    const deadline = performance.now() + 10_000;
    while (await canConnect(this.port)) {
      if (performance.now() > deadline) throw new Error(`port ${this.port} still in use`);
      await sleep(25);
    }
    await this.launch();
  }

  /** Graceful stop (SIGTERM, then SIGKILL after 5 s); removes the store if it made it. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p !== null) {
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const sock = tcpConnect({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
