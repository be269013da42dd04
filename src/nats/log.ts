// Structured logs (pino, JSON lines on stderr): every NATS-facing action says what it is
// doing — connecting, reconnecting, creating streams, recovering, applying, publishing.
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export interface LogOptions {
  /** pino level (default $MMC_LOG_LEVEL or "info"); "silent" turns logging off. */
  readonly level?: string;
  /** Component name in every line. */
  readonly name?: string;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.MMC_LOG_LEVEL ?? "info";
  // Synchronous writes to fd 2: log lines survive a crash right after them (kill -9 tests).
  return pino({ level, name: opts.name ?? "mmc", base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (library callers that did not pass one). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
