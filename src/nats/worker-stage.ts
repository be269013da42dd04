// The core stage in a worker_threads Worker (core-worker.ts): the Core and the journal on
// their own thread, so applying group N+1 overlaps the main thread publishing and acking
// group N. Message bytes go over in one transferred buffer; outputs come back the same way.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { FatalServeError, type AccountAnswer, type CoreStage, type CoreStageOptions, type GroupResult, type OpenedJournal, type Recovered, type RecoveryPublish, type StageMessage } from "./core-stage.js";
import { packMessages, Rpc, unpackOutputs, type PackedOutputs } from "./stage-rpc.js";
import type { OutputPosition } from "./outputs.js";
import { relayLog, type Logger, type PortLogRecord } from "./log.js";

/** What the worker is started with (workerData). */
export interface CoreWorkerInit {
  readonly stage: Omit<CoreStageOptions, "core" | "yieldEvery">;
  /** pino level of the worker's logger (the main logger's: records below it never cross). */
  readonly logLevel: string;
}

/**
 * Default limit for a call to the worker (seconds without a reply or a sign of progress):
 * see WorkerStage and docs/nats.md (*Failure behaviour*).
 */
export const DEFAULT_CORE_CALL_TIMEOUT_SECONDS = 300;

/** Validates a core call time limit in seconds (> 0; at most setTimeout's ~24 days). */
export function parseCoreCallTimeout(v: number): number {
  if (!(Number.isFinite(v) && v > 0 && v * 1000 <= 2 ** 31 - 1)) {
    throw new RangeError(`core call timeout must be a number of seconds > 0 (at most ${Math.floor((2 ** 31 - 1) / 1000)}), got ${v}`);
  }
  return v;
}

export type WireGroupResult = Omit<GroupResult, "outs"> & { readonly outs: PackedOutputs };
export type WireRecovered = Omit<Recovered, "pending"> & { readonly pending: PackedOutputs };

/**
 * The worker's script: $MMC_CORE_WORKER if set; else core-worker.js next to this module (a
 * build); else, when running from the TypeScript sources (vitest), the build's copy in dist/.
 */
export function coreWorkerEntry(): string {
  const env = process.env.MMC_CORE_WORKER;
  if (env !== undefined && env !== "") {
    if (!existsSync(env)) throw new FatalServeError(`MMC_CORE_WORKER=${env}: no such file`);
    return env;
  }
  const here = fileURLToPath(new URL("./core-worker.js", import.meta.url));
  if (existsSync(here)) return here;
  const built = fileURLToPath(new URL("../../dist/src/nats/core-worker.js", import.meta.url));
  if (existsSync(built)) return built;
  throw new FatalServeError(`the core worker script is missing (looked for ${here} and ${built}): run \`npm run build\`, set MMC_CORE_WORKER, or use --core-thread main`);
}

export class WorkerStage implements CoreStage {
  private readonly worker: Worker;
  private readonly rpc: Rpc;
  private publish: RecoveryPublish | null = null;
  private closing = false;
  /** Terminated by the watchdog: not waited for again (a thread stuck in a syscall may never end). */
  private killed = false;

  /**
   * `onDead`: the worker failed (an uncaught exception, an exit) outside a call's reply, or
   * hung: a call got no reply (nor a progress tick) within `callTimeoutSeconds`, and the
   * worker was terminated. The calls in flight fail with the same error.
   */
  constructor(init: CoreWorkerInit, onDead: (err: Error) => void, callTimeoutSeconds = DEFAULT_CORE_CALL_TIMEOUT_SECONDS, log: Logger | null = null) {
    this.worker = new Worker(coreWorkerEntry(), { workerData: init });
    if (log !== null) {
      // The worker's log records, written by the caller's logger.
      const coreLog = log.child({ thread: "core" });
      this.worker.on("message", (m: { kind?: string; record?: PortLogRecord }) => {
        if (m.kind === "log" && m.record !== undefined) relayLog(coreLog, m.record);
      });
    }
    const onTimeout = (op: string): void => {
      const err = new FatalServeError(
        `core worker: no reply to ${op} within ${callTimeoutSeconds} s (--core-call-timeout): the worker hangs; terminated it, nothing of the group in hand is acknowledged`,
      );
      this.killed = true;
      this.rpc.fail(err);
      if (!this.closing) onDead(err);
      this.worker.terminate().catch(() => {});
    };
    this.rpc = new Rpc(this.worker, { ms: callTimeoutSeconds * 1000, onTimeout });
    this.rpc.handle("publish", async ([packed]) => {
      if (this.publish === null) throw new Error("publish outside recovery");
      await this.publish(unpackOutputs(packed as PackedOutputs));
    });
    const dead = (err: Error): void => {
      if (this.killed) return;
      this.rpc.fail(err);
      if (!this.closing) onDead(err);
    };
    this.worker.on("error", (err) => dead(new FatalServeError(`core worker failed: ${err.stack ?? err.message}`)));
    this.worker.on("exit", (code) => dead(new FatalServeError(`core worker exited (code ${code})`)));
  }

  open(): Promise<OpenedJournal> {
    return this.rpc.call("open", []);
  }

  async recover(hw: OutputPosition | null, publish: RecoveryPublish): Promise<Recovered> {
    this.publish = publish;
    try {
      const r = await this.rpc.call<WireRecovered>("recover", [hw]);
      return { ...r, pending: unpackOutputs(r.pending) };
    } finally {
      this.publish = null;
    }
  }

  async applyGroup(msgs: StageMessage[]): Promise<GroupResult> {
    const packed = packMessages(msgs);
    const r = await this.rpc.call<WireGroupResult>("applyGroup", [packed.value], packed.list);
    return { ...r, outs: unpackOutputs(r.outs) };
  }

  account(name: string): Promise<AccountAnswer | null> {
    return this.rpc.call("account", [name]);
  }

  stateHash(): Promise<string> {
    return this.rpc.call("stateHash", []);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    try {
      await this.rpc.call("close", []);
    } finally {
      this.closing = true;
      if (!this.killed) await this.worker.terminate();
    }
  }
}
