// Test helpers: build a Core from wire events (exactly what NDJSON would carry) and read
// its state in the units the SPEC uses. Both margin engines can back it.
import { Core } from "../../src/pipeline.js";
import { validateEvent } from "../../src/events/schema.js";
import type { LogEntry } from "../../src/events/types.js";
import type { ApplyResult } from "../../src/pipeline.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { createKernelMarginEngine } from "../../src/margin/kernel.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import type { MarginEngine } from "../../src/margin/engine.js";

export type Wire = Record<string, unknown>;

export function entry(e: Wire | string): LogEntry {
  if (typeof e === "string") {
    try {
      const v = validateEvent(JSON.parse(e));
      return v.ok ? { kind: "event", event: v.event } : { kind: "raw", raw: e };
    } catch {
      return { kind: "raw", raw: e };
    }
  }
  const v = validateEvent(JSON.parse(JSON.stringify(e)));
  return v.ok ? { kind: "event", event: v.event } : { kind: "raw", raw: JSON.stringify(e) };
}

export type EngineName = "kernel" | "reference";

export function makeEngine(name: EngineName): MarginEngine {
  return name === "kernel" ? createKernelMarginEngine() : createReferenceMarginEngine();
}

/** A Core after `events`; throws if any of them was rejected (givens must be valid). */
export function given(events: (Wire | string)[], engine: EngineName = "kernel"): Core {
  const core = new Core({ margin: makeEngine(engine) });
  for (const e of events) {
    const r = core.apply(entry(e));
    if (r.rejection !== null) throw new Error(`given event ${JSON.stringify(e)} was rejected: ${r.rejection.code} ${r.rejection.message}`);
  }
  return core;
}

export function when(core: Core, e: Wire | string): ApplyResult {
  return core.apply(entry(e));
}

/** Applies and asserts the rejection code, and that nothing but seq/ts changed. */
export function expectRejected(core: Core, e: Wire | string, code: string, field?: string): ApplyResult {
  const before = hashIgnoringSeq(core);
  const r = core.apply(entry(e));
  if (r.rejection === null) throw new Error(`expected ${code}, event was accepted: ${JSON.stringify(e)}`);
  if (r.rejection.code !== code) throw new Error(`expected ${code}, got ${r.rejection.code}: ${r.rejection.message}`);
  if (field !== undefined && !r.rejection.message.startsWith(`${field}:`)) {
    throw new Error(`expected the message to name ${field}: ${r.rejection.message}`);
  }
  const after = hashIgnoringSeq(core);
  if (before !== after) throw new Error(`rejected event changed the state: ${JSON.stringify(e)}`);
  return r;
}

function hashIgnoringSeq(core: Core): string {
  const s = core.state;
  const seq = s.seq;
  const ts = s.ts;
  s.seq = 0;
  s.ts = 0;
  const h = stateHash(s);
  s.seq = seq;
  s.ts = ts;
  return h;
}

export function balance(core: Core, account: string, asset = "USDT"): bigint {
  return core.state.accounts.get(account)?.balances.get(asset) ?? 0n;
}

export function position(core: Core, account: string, symbol = "BTC-PERP") {
  const p = core.state.accounts.get(account)?.positions.get(symbol);
  return {
    qty: p?.qtyLots ?? 0n,
    cost: p?.costLotTicks ?? 0n,
    margin: p?.isolatedMarginMinor ?? 0n,
    mode: p?.mode ?? "cross",
    leverage: p?.leverage ?? 10,
  };
}

// ---- common fixtures (SPEC worked example units: USDT 6 decimals, tick 0.1, lot 0.001 ⇒ k = 100)

export const USDT: Wire = { type: "asset", asset: "USDT", decimals: 6, settlement: true };
export const BTC_ASSET: Wire = { type: "asset", asset: "BTC", decimals: 8, haircut: "0.1" };

export function btcPerp(over: Partial<Wire> = {}): Wire {
  return {
    type: "instrument", symbol: "BTC-PERP", tickSize: "0.1", lotSize: "0.001",
    tiers: [{ maxNotional: "50000", mmr: "0.004", maxLeverage: 125 }, { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0",
    ...over,
  };
}

let idCounter = 0;
export function deposit(account: string, amount: string, asset = "USDT"): Wire {
  return { type: "deposit", id: `dep-${++idCounter}`, account, asset, amount };
}
export function trade(buyer: string, seller: string, price: string, qty: string, over: Partial<Wire> = {}): Wire {
  return { type: "trade", id: `tr-${++idCounter}`, symbol: "BTC-PERP", price, qty, buyer, seller, taker: "buyer", ...over };
}
export function mark(price: string, symbol = "BTC-PERP"): Wire {
  return { type: "mark", symbol, price };
}
