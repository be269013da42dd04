// The NATS commands as plain async functions (the CLI wires them into commander). Each
// returns a process exit code: 0 ok, 1 the work failed. Logs are JSON lines on stderr;
// results go to stdout.
import { buildReport } from "../outputs/report.js";
import { summarize } from "../cli/replay-cmd.js";
import { connectForever } from "./connect.js";
import { createLogger, type Logger } from "./log.js";
import { publishLog } from "./publish.js";
import { formatQueryReply, queryAccount, QueryError } from "./query.js";
import { replayStream } from "./replay-stream.js";
import { FatalServeError, ServeHandle, type CoreThread } from "./serve.js";
import { DEFAULT_CONSUMER, DEFAULT_INPUT_STREAM } from "./settings.js";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_JOURNAL = "mmc-serve.journal";

function natsUrl(v: string | undefined): string {
  return v ?? process.env.NATS_URL ?? DEFAULT_NATS_URL;
}

export interface ServeCommandOptions {
  /** NATS server URL(s), comma-separated. */
  nats: string;
  /** Input stream (default MMC_IN; the output stream is MMC_OUT, or <stream>_OUT). */
  stream?: string;
  /** Journal path (default ./mmc-serve.journal). */
  journal?: string;
  /** Prometheus metrics port (GET /metrics). */
  metrics?: number;
  /** Durable consumer name (default mmc-serve). */
  consumer?: string;
  /** Snapshot every this many seqs (default 100,000; 0 = never), to `<journal>.snapshot`. */
  snapshotEvery?: number;
  /** pino level (default info). */
  logLevel?: string;
  /** Where the core and the journal run (default worker). */
  coreThread?: CoreThread;
  /** Seconds a call to the core worker may go without a reply (default 300). */
  coreCallTimeout?: number;
}

/** `mmc serve`: runs until SIGINT/SIGTERM (exit 0) or a fatal error (exit 1). */
export async function serveCommand(opts: ServeCommandOptions): Promise<number> {
  const log = createLogger({ name: "mmc-serve", level: opts.logLevel });
  let handle: ServeHandle;
  try {
    handle = await ServeHandle.start({
      url: natsUrl(opts.nats),
      stream: opts.stream ?? DEFAULT_INPUT_STREAM,
      consumer: opts.consumer ?? DEFAULT_CONSUMER,
      journal: opts.journal ?? DEFAULT_JOURNAL,
      metricsPort: opts.metrics,
      snapshotEvery: opts.snapshotEvery,
      ...(opts.coreThread !== undefined ? { coreThread: opts.coreThread } : {}),
      ...(opts.coreCallTimeout !== undefined ? { coreCallTimeoutSeconds: opts.coreCallTimeout } : {}),
      log,
    });
  } catch (err) {
    log.error({ err: (err as Error).message }, "serve: could not start");
    process.stderr.write(`mmc serve: ${(err as Error).message}\n`);
    return 1;
  }
  const onSignal = (sig: string): void => {
    log.info({ signal: sig }, "serve: signal received");
    void handle.stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await handle.done;
    return 0;
  } catch (err) {
    process.stderr.write(`mmc serve: ${err instanceof FatalServeError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export interface PublishCommandOptions {
  nats: string;
  /** Input stream (default MMC_IN), created if missing. */
  stream?: string;
  /** Entries per batch message (default 1000). */
  batch?: number;
  /** Print the result as JSON. */
  json?: boolean;
  logLevel?: string;
}

/** `mmc publish <ndjson|journal>`: exit 0 once every batch is stored. */
export async function publishCommand(file: string, opts: PublishCommandOptions): Promise<number> {
  const log = createLogger({ name: "mmc-publish", level: opts.logLevel });
  const nc = await connectForever({ url: natsUrl(opts.nats), name: "mmc-publish", log });
  try {
    const r = await publishLog(nc, file, { stream: opts.stream, batch: opts.batch, log });
    process.stdout.write(
      opts.json
        ? JSON.stringify(r) + "\n"
        : `published ${r.entries} entries in ${r.messages} messages (${r.duplicates} already stored) to ${opts.stream ?? DEFAULT_INPUT_STREAM}` +
            (r.lastStreamSeq === null ? "" : `, stream seq ${r.firstStreamSeq}..${r.lastStreamSeq}`) + "\n",
    );
    return 0;
  } catch (err) {
    process.stderr.write(`mmc publish: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

export interface ReplayStreamCommandOptions {
  nats: string;
  /** Input stream (default MMC_IN). */
  stream?: string;
  /** Print exactly the SPEC §9 report as JSON. */
  json?: boolean;
  logLevel?: string;
}

/** `mmc replay --nats <url> --stream <name> [--json]`: the same report as replaying the file. */
export async function replayFromStream(opts: ReplayStreamCommandOptions): Promise<number> {
  const log = createLogger({ name: "mmc-replay", level: opts.logLevel ?? "warn" });
  let nc;
  try {
    nc = await connectForever({ url: natsUrl(opts.nats), name: "mmc-replay", log, maxFirstAttempts: 10 });
  } catch (err) {
    process.stderr.write(`mmc replay: cannot connect to ${natsUrl(opts.nats)}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const { core } = await replayStream(nc, { stream: opts.stream ?? DEFAULT_INPUT_STREAM, log });
    const report = buildReport(core);
    process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : summarize(report));
    return 0;
  } catch (err) {
    process.stderr.write(`mmc replay: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

export interface QueryCommandOptions {
  /** NATS URL (default $NATS_URL or nats://127.0.0.1:4222). */
  nats?: string;
  json?: boolean;
  /** Request timeout in ms (default 5000). */
  timeout?: number;
  logLevel?: string;
}

/** `mmc query <account> [--json]`: exit 0 with the account's state; 1 unknown account / no service. */
export async function queryCommand(account: string, opts: QueryCommandOptions): Promise<number> {
  const log: Logger = createLogger({ name: "mmc-query", level: opts.logLevel ?? "warn" });
  let nc;
  try {
    nc = await connectForever({ url: natsUrl(opts.nats), name: "mmc-query", log, maxFirstAttempts: 3 });
  } catch (err) {
    process.stderr.write(`mmc query: cannot connect to ${natsUrl(opts.nats)}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const r = await queryAccount(nc, account, opts.timeout ?? 5000);
    process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + "\n" : formatQueryReply(r));
    return 0;
  } catch (err) {
    const msg = err instanceof QueryError ? `${err.message} (${err.code})` : `no answer from the query service: ${(err as Error).message}`;
    process.stderr.write(`mmc query: ${msg}\n`);
    return 1;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}
