// The query service: a NATS micro service (`@nats-io/services`) named "mmc", so it is
// discoverable (`$SRV.PING|INFO|STATS[.mmc]`, e.g. `nats micro ls`) and keeps per-endpoint
// stats. Endpoints:
//   mmc.query.account  request: an account name (or {"account": name}); reply: QueryReply
//   mmc.query.status   request: empty; reply: the serve status (seq, source seq, hash…)
// Account state is the SPEC §9 report's entry for the account, as of the last applied
// event (`seq`; `durableSeq` says how far the journal is fsync'd).
import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, ServiceError, type Service, type ServiceMsg } from "@nats-io/services";
import type { AccountReport } from "../outputs/report.js";
import type { AccountAnswer } from "./core-stage.js";
import { ACCOUNT_RE } from "../events/schema.js";
import type { Logger } from "./log.js";
import { QUERY_ACCOUNT_SUBJECT, QUERY_STATUS_SUBJECT } from "./subjects.js";

export const SERVICE_NAME = "mmc";
export const SERVICE_VERSION = "0.1.0";

export interface QueryReply {
  readonly account: string;
  readonly seq: number;
  readonly durableSeq: number;
  readonly stateHash: string;
  readonly marks: Record<string, string>;
  readonly state: AccountReport;
}

/** What the service asks serve (the core stage answers: on its thread, maybe a worker). */
export interface StatusSource {
  account(name: string): Promise<AccountAnswer | null>;
  durableSeq(): number;
  status(): Promise<Record<string, unknown>>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function parseAccount(data: Uint8Array): string {
  const text = dec.decode(data).trim();
  if (text.startsWith("{")) {
    try {
      const v = JSON.parse(text) as { account?: unknown };
      if (typeof v.account === "string") return v.account;
    } catch {
      // fall through: not JSON, treat as a name
    }
  }
  return text;
}

/**
 * Time from request to reply per endpoint. Answers are asynchronous (the core stage may be
 * a worker), and the library times only the handler's synchronous part (≈ 0): the reply
 * time is in each endpoint's stats `data` instead.
 */
export interface ReplyTimes {
  replies: number;
  reply_ns: number;
}

export async function startQueryService(nc: NatsConnection, src: StatusSource, log: Logger, metadata: Record<string, string> = {}): Promise<Service> {
  const times = new Map<string, ReplyTimes>([
    [QUERY_ACCOUNT_SUBJECT, { replies: 0, reply_ns: 0 }],
    [QUERY_STATUS_SUBJECT, { replies: 0, reply_ns: 0 }],
  ]);
  const timed = (subject: string, t0: number): void => {
    const t = times.get(subject)!;
    t.replies++;
    t.reply_ns += Math.max(1, Math.round((performance.now() - t0) * 1e6));
  };
  // @nats-io/services is built against its own copy of nats-core; the connection is the same protocol object.
  const svc = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: SERVICE_NAME,
    version: SERVICE_VERSION,
    description: "mmc margin core: account state as in the SPEC §9 report",
    metadata,
    statsHandler: (ep) => Promise.resolve({ ...times.get(ep.subject) }),
  });
  svc.addEndpoint("account", {
    subject: QUERY_ACCOUNT_SUBJECT,
    metadata: { request: "account name or {\"account\": name}", reply: "QueryReply JSON" },
    handler: (err: Error | null, msg: ServiceMsg) => {
      if (err !== null) {
        log.warn({ err: err.message }, "query: endpoint error");
        return;
      }
      const t0 = performance.now();
      const account = parseAccount(msg.data);
      if (!ACCOUNT_RE.test(account)) {
        msg.respondError(400, `not an account name: ${JSON.stringify(account.slice(0, 80))}`);
        return;
      }
      src.account(account).then(
        (a) => {
          if (a === null) {
            msg.respondError(404, `unknown account ${account}`);
            return;
          }
          const reply: QueryReply = { account, seq: a.seq, durableSeq: src.durableSeq(), stateHash: a.stateHash, marks: a.marks, state: a.state };
          msg.respond(enc.encode(JSON.stringify(reply)));
        },
        (e: unknown) => msg.respondError(500, (e as Error).message),
      ).finally(() => timed(QUERY_ACCOUNT_SUBJECT, t0));
    },
  });
  svc.addEndpoint("status", {
    subject: QUERY_STATUS_SUBJECT,
    metadata: { reply: "serve status JSON" },
    handler: (err: Error | null, msg: ServiceMsg) => {
      if (err !== null) return;
      const t0 = performance.now();
      src.status().then(
        (st) => msg.respond(enc.encode(JSON.stringify(st))),
        (e: unknown) => msg.respondError(500, (e as Error).message),
      ).finally(() => timed(QUERY_STATUS_SUBJECT, t0));
    },
  });
  log.info({ service: SERVICE_NAME, endpoints: [QUERY_ACCOUNT_SUBJECT, QUERY_STATUS_SUBJECT] }, "query service started");
  return svc;
}

export class QueryError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Client side: asks the service for an account's state. */
export async function queryAccount(nc: NatsConnection, account: string, timeoutMs = 5000): Promise<QueryReply> {
  const m = await nc.request(QUERY_ACCOUNT_SUBJECT, enc.encode(account), { timeout: timeoutMs });
  const se = ServiceError.toServiceError(m as unknown as Parameters<typeof ServiceError.toServiceError>[0]);
  if (se !== null) throw new QueryError(se.code, se.message);
  return JSON.parse(dec.decode(m.data)) as QueryReply;
}

export async function queryStatus(nc: NatsConnection, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const m = await nc.request(QUERY_STATUS_SUBJECT, new Uint8Array(0), { timeout: timeoutMs });
  return JSON.parse(dec.decode(m.data)) as Record<string, unknown>;
}

/** A readable rendering of a query reply. */
export function formatQueryReply(r: QueryReply): string {
  const s = r.state;
  const lines = [
    `${r.account}  (seq ${r.seq}, durable ${r.durableSeq})`,
    `  balances  ${Object.entries(s.balances).map(([a, v]) => `${a} ${v}`).join("  ") || "(none)"}`,
    `  equity ${s.equity}  IM ${s.initialMargin}  MM ${s.maintenanceMargin}  margin ratio ${s.marginRatio ?? "n/a"}`,
  ];
  const positions = Object.entries(s.positions);
  if (positions.length === 0) lines.push("  no open positions");
  for (const [sym, p] of positions) {
    const parts = [
      `  ${sym.padEnd(10)} ${p.mode.padEnd(8)} x${p.leverage}  qty ${p.qty}  entry ${p.entryPrice}`,
      `mark ${r.marks[sym] ?? "-"}  uPnL ${p.unrealizedPnl}  IM ${p.initialMargin}  MM ${p.maintenanceMargin}`,
      `liq ${p.liquidationPrice ?? "none"}`,
    ];
    if (p.mode === "isolated") parts.push(`margin ${p.isolatedMargin ?? "-"}  bankruptcy ${p.bankruptcyPrice ?? "none"}`);
    lines.push(parts.join("  "));
  }
  return lines.join("\n") + "\n";
}
