// Subject design (docs/nats.md has the full plan).
//
// Input — stream MMC_IN, subjects `mmc.in.>`:
//
//   mmc.in.<pa>.<pb>.<kind>
//
//   <pa>, <pb>  partition tokens of the (at most two) accounts the message touches: the
//               decimal partition number `partition(n, account)` — FNV-1a 32 of the account
//               token modulo n, the same function as nats-server's `{{partition(n, i)}}`
//               subject-mapping transform, so a server mapping can compute them — or `all`
//               for messages every partition must see (mark, funding, instrument, asset,
//               collateral.price, mixed batches, and for now order events: matching can
//               touch any resting order's account). Single-account events: pa = pb.
//               A trade: pa = partition(buyer), pb = partition(seller).
//   <kind>      the event type with "." → "_" (`margin_mode`), `batch` for a binary batch
//               (codec.ts), `event` when the publisher does not say.
//
//   Publishers that do not want to compute partitions publish account events on
//   `mmc.ingest.<kind>.<accountA>.<accountB>` and let the server map them (see
//   partitionMapping below); global events go straight to `mmc.in.all.all.<kind>`.
//   Today one `mmc serve` consumes all of `mmc.in.>` in stream order: the tokens cost
//   nothing now and let a later version give each instance its own filter.
//
// Output — stream MMC_OUT, subjects `mmc.out.>`: `mmc.out.<type>` for every output event
// type: mmc.out.liquidation, .adl, .margin.call, .insurance.cover, .rejected, and from the
// matching engine .trade, .order.accepted|cancelled|replaced|rejected.
//
// Query — NATS micro service "mmc" (`$SRV.*` discovery and stats), endpoint
//   `mmc.query.account` (request: an account name; reply: its report JSON) and
//   `mmc.query.status`.
import type { InputEvent } from "../events/types.js";
import type { OutputEvent } from "../outputs/events.js";

export const INPUT_PREFIX = "mmc.in";
export const INGEST_PREFIX = "mmc.ingest";
export const OUTPUT_PREFIX = "mmc.out";
export const QUERY_PREFIX = "mmc.query";

/** Partition token for messages every partition must see. */
export const ALL_PARTITIONS = "all";

export const INPUT_SUBJECTS = `${INPUT_PREFIX}.>`;
export const OUTPUT_SUBJECTS = `${OUTPUT_PREFIX}.>`;
/** Where `mmc publish` sends binary batches (mixed accounts: every partition reads them). */
export const BATCH_SUBJECT = `${INPUT_PREFIX}.${ALL_PARTITIONS}.${ALL_PARTITIONS}.batch`;

export const QUERY_ACCOUNT_SUBJECT = `${QUERY_PREFIX}.account`;
export const QUERY_STATUS_SUBJECT = `${QUERY_PREFIX}.status`;

/** An output event's type (OutputEvent["type"], or a newer type read back from a journal). */
export type OutputType = OutputEvent["type"] | (string & {});

/** `mmc.out.<type>` for every output type (liquidation, adl, margin.call, insurance.cover, rejected, trade, order.*…). */
export function outputSubject(type: OutputType): string {
  return `${OUTPUT_PREFIX}.${type}`;
}

/**
 * An account name as one subject token. Accounts may contain "." (SPEC §1), a token
 * separator; "~" never occurs in an account, so "." → "~" is reversible.
 */
export function accountToken(account: string): string {
  return account.replaceAll(".", "~");
}

export function kindToken(type: string): string {
  return type.replaceAll(".", "_");
}

/** FNV-1a 32-bit over the UTF-8 bytes of s (Go's hash/fnv New32a). */
export function fnv1a32(s: string): number {
  const bytes = Buffer.from(s, "utf8");
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The partition of an account among n, exactly as nats-server's `partition(n, i)` mapping
 * computes it for the subject token `accountToken(account)`.
 */
export function partitionOf(account: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`partitions must be a positive integer, got ${n}`);
  return fnv1a32(accountToken(account)) % n;
}

/** The accounts an event touches ([] for events that touch every account). */
export function accountsOf(e: InputEvent): string[] {
  switch (e.type) {
    case "deposit":
    case "withdraw":
    case "leverage":
    case "margin.mode":
    case "margin.transfer":
      return [e.account];
    case "trade":
      return [e.buyer, e.seller];
    default:
      return [];
  }
}

/** The input subject for one event among `partitions` partitions. */
export function inputSubject(e: InputEvent, partitions = 1): string {
  const accts = accountsOf(e);
  const kind = kindToken(e.type);
  if (accts.length === 0) return `${INPUT_PREFIX}.${ALL_PARTITIONS}.${ALL_PARTITIONS}.${kind}`;
  const pa = partitionOf(accts[0]!, partitions);
  const pb = partitionOf(accts[accts.length - 1]!, partitions);
  return `${INPUT_PREFIX}.${pa}.${pb}.${kind}`;
}

/** The subject a publisher uses to let the server compute partitions (see partitionMapping). */
export function ingestSubject(e: InputEvent): string | null {
  const accts = accountsOf(e);
  if (accts.length === 0) return null;
  return `${INGEST_PREFIX}.${kindToken(e.type)}.${accountToken(accts[0]!)}.${accountToken(accts[accts.length - 1]!)}`;
}

/**
 * The nats-server subject mapping that turns ingest subjects into partitioned input
 * subjects (server config `mappings { … }`; mappings are account/server configuration,
 * not something a client can create).
 */
export function partitionMapping(partitions: number): { from: string; to: string } {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError("partitions must be a positive integer");
  return {
    from: `${INGEST_PREFIX}.*.*.*`,
    to: `${INPUT_PREFIX}.{{partition(${partitions},2)}}.{{partition(${partitions},3)}}.{{wildcard(1)}}`,
  };
}

/**
 * The consumer filter subjects of partition p among n in the scale-out plan: every message
 * whose first or second partition token is p, plus the broadcast ones. Listed literally
 * (p.q for every q, q.p for q ≠ p) because nats-server refuses overlapping filters such as
 * `p.*.>` with `*.p.>`. Several filter subjects need nats-server ≥ 2.10; a single instance
 * uses INPUT_SUBJECTS.
 */
export function partitionFilters(p: number, n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(p) || p < 0 || p >= n) throw new RangeError(`partition ${p} out of [0, ${n})`);
  const out: string[] = [];
  for (let q = 0; q < n; q++) out.push(`${INPUT_PREFIX}.${p}.${q}.>`);
  for (let q = 0; q < n; q++) if (q !== p) out.push(`${INPUT_PREFIX}.${q}.${p}.>`);
  out.push(`${INPUT_PREFIX}.${ALL_PARTITIONS}.${ALL_PARTITIONS}.>`);
  return out;
}
