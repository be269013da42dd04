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

/** A log record crossing threads: pino's numeric level, its message, its other fields. */
export interface PortLogRecord {
  readonly level: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** Fields every pino line carries that the receiving logger adds again itself. */
const OWN_FIELDS = new Set(["level", "msg", "time", "pid", "hostname", "name"]);

/**
 * A logger whose records go to `post` instead of a file (serve's core worker: the main
 * thread writes them with its own logger, to the caller's destination; see relayLog).
 */
export function portLogger(level: string, post: (r: PortLogRecord) => void): Logger {
  const sink = {
    write(line: string): void {
      const rec = JSON.parse(line) as Record<string, unknown>;
      const fields: Record<string, unknown> = {};
      for (const k of Object.keys(rec)) if (!OWN_FIELDS.has(k)) fields[k] = rec[k];
      post({ level: rec.level as number, msg: typeof rec.msg === "string" ? rec.msg : "", fields });
    },
  };
  return pino({ level, base: null, timestamp: false }, sink);
}

/** Writes a record from portLogger with `log`, at its level. */
export function relayLog(log: Logger, r: PortLogRecord): void {
  const label = log.levels.labels[r.level];
  if (label === undefined) return;
  const fn = (log as unknown as Record<string, ((obj: object, msg: string) => void) | undefined>)[label];
  fn?.call(log, r.fields, r.msg);
}
