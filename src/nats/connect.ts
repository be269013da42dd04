// Connections that never give up: the first connect retries with backoff until the
// server answers (or the caller aborts), and afterwards the client reconnects forever
// (maxReconnectAttempts −1) with a backoff that grows with the length of the outage.
// Every transition is logged.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import { Prng } from "../util/prng.js";
import type { Logger } from "./log.js";

export interface ConnectOptions {
  /** Server URL(s), comma-separated allowed. */
  readonly url: string;
  /** Client name shown by the server's monitoring. */
  readonly name: string;
  readonly log: Logger;
  /** Stops the first-connect loop. */
  readonly signal?: AbortSignal;
  /** Give up the first connect after this many attempts (default: never). */
  readonly maxFirstAttempts?: number;
  /** Called after every reconnect (the server may have restarted). */
  readonly onReconnect?: () => void;
}

/** Backoff bounds (ms). */
export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 5000;

/** Exponential backoff for attempt n (0-based) with ±20 % jitter. */
export function backoffMs(attempt: number, rng: Prng): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.8 + 0.4 * rng.float()));
}

interface ReconnectLatch {
  promise: Promise<"reconnected">;
  fire: () => void;
}
const reconnectLatches = new WeakMap<NatsConnection, ReconnectLatch>();

function newLatch(): ReconnectLatch {
  let fire!: () => void;
  const promise = new Promise<"reconnected">((resolve) => {
    fire = () => resolve("reconnected");
  });
  return { promise, fire };
}

/**
 * Resolves at the connection's next reconnect (one shared promise per outage, so waiting
 * costs nothing). A request in flight when the server died gets no reply; racing it
 * against this lets the caller resend at once instead of waiting for its timeout.
 * Never resolves for connections not made by connectForever.
 */
export function nextReconnect(nc: NatsConnection): Promise<"reconnected"> {
  let latch = reconnectLatches.get(nc);
  if (latch === undefined) reconnectLatches.set(nc, (latch = newLatch()));
  return latch.promise;
}

/** Rejects when the connection reconnects before `p` settles. */
export async function unlessReconnected<T>(nc: NatsConnection, p: Promise<T>): Promise<T> {
  const r = await Promise.race([p, nextReconnect(nc)]);
  if (r === "reconnected") {
    p.catch(() => {});
    throw new Error("reconnected while waiting for a reply");
  }
  return r as T;
}

export function serverList(url: string): string[] {
  return url.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

export async function connectForever(opts: ConnectOptions): Promise<NatsConnection> {
  const { log } = opts;
  const rng = new Prng(process.pid);
  let disconnectedAt = 0;
  // The client calls this before every dial while reconnecting (and again while it waits),
  // so the delay is a function of how long the outage has lasted: a quarter of it, within
  // [BACKOFF_MIN_MS, BACKOFF_MAX_MS], with jitter. A restart that takes a second is
  // noticed within ~0.3 s; a long outage is probed every ~5 s.
  let outageStart: number | null = null;
  let reconnectAttempts = 0;
  const reconnectDelayHandler = (): number => {
    const now = performance.now();
    outageStart ??= now;
    reconnectAttempts++;
    const base = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, (now - outageStart) / 4));
    return Math.round(base * (0.8 + 0.4 * rng.float()));
  };
  const servers = serverList(opts.url);
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw new Error("connect aborted");
    try {
      log.info({ servers, attempt }, "nats: connecting");
      const nc = await connect({
        servers,
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectDelayHandler,
        // Detect a dead server within ~10 s even when idle.
        pingInterval: 5000,
        maxPingOut: 2,
        timeout: 5000,
      });
      log.info({ server: nc.getServer(), maxPayload: nc.info?.max_payload, serverVersion: nc.info?.version }, "nats: connected");
      void (async () => {
        for await (const s of nc.status()) {
          switch (s.type) {
            case "disconnect":
              disconnectedAt = performance.now();
              log.warn({ server: s.server }, "nats: disconnected; reconnecting forever with backoff");
              break;
            case "reconnecting":
              log.info({ attempt: reconnectAttempts }, "nats: reconnecting");
              break;
            case "reconnect":
              log.info({ server: s.server, outageMs: Math.round(performance.now() - disconnectedAt) }, "nats: reconnected");
              reconnectAttempts = 0;
              outageStart = null;
              opts.onReconnect?.();
              reconnectLatches.get(nc)?.fire();
              reconnectLatches.set(nc, newLatch());
              break;
            case "error":
              log.warn({ err: String(s.error) }, "nats: server error");
              break;
            case "staleConnection":
              log.warn("nats: stale connection (missed pings); reconnecting");
              break;
            case "slowConsumer":
              log.warn({ sub: s.sub.getSubject(), pending: s.pending }, "nats: slow consumer");
              break;
            case "close":
              log.info("nats: connection closed");
              break;
            default:
              log.debug({ status: s.type }, "nats: status");
          }
        }
      })();
      return nc;
    } catch (err) {
      if (opts.maxFirstAttempts !== undefined && attempt + 1 >= opts.maxFirstAttempts) throw err;
      const wait = backoffMs(attempt, rng);
      log.warn({ err: (err as Error).message, retryInMs: wait }, "nats: connect failed; retrying");
      try {
        await sleep(wait, undefined, { signal: opts.signal });
      } catch {
        throw new Error("connect aborted");
      }
    }
  }
}
