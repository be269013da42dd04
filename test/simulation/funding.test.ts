// Funding (SPEC §6) without a Draft: decideFunding writes each holder's effect directly. This
// compares it with the plain Draft version (kept here as the reference) over arbitrary
// states: cross and isolated holders, @insurance holding a position or absent, balances and
// isolated margins at the edge of i64 (overflow rejections with the same message), rates
// from −1 to 1. Same effects in the same order, or the same rejection.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Core } from "../../src/pipeline.js";
import { decide, type MarginView } from "../../src/aggregate/decide.js";
import { Draft } from "../../src/aggregate/draft.js";
import type { Effect } from "../../src/aggregate/effects.js";
import { INSURANCE, type State } from "../../src/aggregate/state.js";
import { divCeil, divFloor, OverflowError, RATE_SCALE } from "../../src/numbers/int.js";
import { btcPerp, entry, type Wire } from "../helpers/core.js";

/** The Draft version of decideFunding (the implementation before the fast path). */
function fundingWithDraft(state: State, symbol: string, rateE8: bigint): Effect[] {
  const inst = state.instruments.get(symbol)!;
  const s = state.settlementAsset!;
  const d = new Draft(state);
  let paid = 0n;
  let received = 0n;
  for (const pos of inst.positions) {
    if (pos.qtyLots === 0n) continue;
    const scaled = pos.qtyLots * inst.markTicks * inst.kMinor * rateE8;
    if (scaled === 0n) continue;
    const delta = scaled > 0n ? -divCeil(scaled, RATE_SCALE) : divFloor(-scaled, RATE_SCALE);
    if (delta < 0n) paid -= delta;
    else received += delta;
    if (pos.mode === "isolated") {
      const p = d.position(pos.account, inst.symbol);
      d.setPosition(pos.account, inst.symbol, { ...p, isolatedMarginMinor: p.isolatedMarginMinor + delta });
    } else {
      d.addBalance(pos.account, s, delta);
    }
  }
  d.addBalance(INSURANCE, s, paid - received, "insurance fund balance");
  return d.effects();
}

const NO_VIEW: MarginView = {
  cross: () => ({ equityMinor: 0n, imMinor: 0n }),
  isolated: () => ({ equityMinor: 0n, imMinor: 0n }),
};

const TRADERS = ["a", "b", "c", "d", INSURANCE];
const trader = fc.constantFrom(...TRADERS);
const price = fc.integer({ min: 40_000_0, max: 60_000_0 }).map((t) => (t / 10).toFixed(1));
const qty = fc.integer({ min: 1, max: 3000 }).map((l) => (l / 1000).toFixed(3));
/** Ordinary amounts, and amounts that leave a balance a little below 2^63 − 1 minor units. */
const amount = fc.oneof(
  fc.integer({ min: 1, max: 400_000 }).map(String),
  fc.constantFrom("9223372036854.775807", "9223372036854.7", "9223372036800", "9223372030000"),
);
let ids = 0;

const event: fc.Arbitrary<Wire> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ account: trader, amount }).map(({ account, amount }) => ({ type: "deposit", id: `d${ids++}`, account, asset: "USDT", amount })) },
  { weight: 6, arbitrary: fc.record({ b: trader, s: trader, p: price, q: qty }).map(({ b, s, p, q }) => ({ type: "trade", id: `t${ids++}`, symbol: "BTC-PERP", price: p, qty: q, buyer: b, seller: s, taker: "buyer" })) },
  { weight: 3, arbitrary: price.map((p) => ({ type: "mark", symbol: "BTC-PERP", price: p })) },
  { weight: 2, arbitrary: fc.record({ account: trader, mode: fc.constantFrom("cross", "isolated") }).map(({ account, mode }) => ({ type: "margin.mode", account, symbol: "BTC-PERP", mode })) },
  { weight: 2, arbitrary: fc.record({ account: trader, amount: fc.oneof(fc.integer({ min: -3000, max: 3000 }).map(String), fc.constantFrom("9223372036800", "9223372030000")) }).map(({ account, amount }) => ({ type: "margin.transfer", account, symbol: "BTC-PERP", amount })) },
);

/** Rates in 1e-8 units, −1 to 1, with the extremes and tiny ones (receivers' floor(|P|) = 0). */
const rateE8 = fc.oneof(fc.integer({ min: -100_000_000, max: 100_000_000 }), fc.constantFrom(-100_000_000, 100_000_000, -1, 1, 0));

function rateString(e8: number): string {
  const sign = e8 < 0 ? "-" : "";
  const a = Math.abs(e8);
  return `${sign}${Math.floor(a / 1e8)}.${String(a % 1e8).padStart(8, "0")}`;
}

/** Both versions' outcome for a funding at `rate` (effects, or the overflow message). */
function outcomes(core: Core, rate: string): { draft: unknown; direct: unknown } {
  const ev = entry({ type: "funding", symbol: "BTC-PERP", rate });
  if (ev.kind !== "event") throw new Error("funding event invalid");
  let draft: unknown;
  try {
    draft = fundingWithDraft(core.state, "BTC-PERP", BigInt(Math.round(Number(rate) * 1e8)));
  } catch (err) {
    if (!(err instanceof OverflowError)) throw err;
    draft = err.message;
  }
  const got = decide(core.state, ev.event, NO_VIEW);
  return { draft, direct: got.ok ? got.effects : got.rejection.message };
}

function market(events: Wire[]): Core {
  const core = new Core();
  for (const e of [{ type: "asset", asset: "USDT", decimals: 6, settlement: true }, btcPerp(), { type: "mark", symbol: "BTC-PERP", price: "50000" }, ...events]) {
    const r = core.apply(entry(e));
    if (r.rejection !== null) throw new Error(`${JSON.stringify(e)}: ${r.rejection.message}`);
  }
  return core;
}

describe("funding without a Draft", () => {
  it("rejects an isolated margin pushed past 2^63 − 1 with the Draft version's message", () => {
    const core = market([
      { type: "deposit", id: "a", account: "a", asset: "USDT", amount: "9223372036800" },
      { type: "deposit", id: "b", account: "b", asset: "USDT", amount: "1000000" },
      { type: "margin.mode", account: "a", symbol: "BTC-PERP", mode: "isolated" },
      { type: "margin.transfer", account: "a", symbol: "BTC-PERP", amount: "9223372036000" },
      { type: "trade", id: "t", symbol: "BTC-PERP", price: "50000", qty: "3", buyer: "a", seller: "b", taker: "buyer" },
    ]);
    const { draft, direct } = outcomes(core, "-1"); // longs receive 150,000 USDT
    expect(direct).toBe("isolated margin of a in BTC-PERP overflows the 64-bit representation");
    expect(draft).toBe(direct);
  });

  it("rejects an insurance fund pushed past 2^63 − 1 by the rounding surplus", () => {
    const core = market([
      { type: "deposit", id: "i", account: INSURANCE, asset: "USDT", amount: "9223372036854.775807" },
      { type: "deposit", id: "a", account: "a", asset: "USDT", amount: "1000000" },
      { type: "deposit", id: "b", account: "b", asset: "USDT", amount: "1000000" },
      { type: "trade", id: "t", symbol: "BTC-PERP", price: "50000", qty: "0.001", buyer: "a", seller: "b", taker: "buyer" },
    ]);
    // P = 1 lot · 500000 ticks · 100 minor · 3e-8 = 1.5 minor units: the long pays 2, the short gets 1.
    const { draft, direct } = outcomes(core, "0.00000003");
    expect(direct).toBe("insurance fund balance overflows the 64-bit representation");
    expect(draft).toBe(direct);
  });

  it("opens @insurance for the surplus when it does not exist yet, as the Draft version does", () => {
    const core = market([
      { type: "deposit", id: "a", account: "a", asset: "USDT", amount: "1000000" },
      { type: "deposit", id: "b", account: "b", asset: "USDT", amount: "1000000" },
      { type: "trade", id: "t", symbol: "BTC-PERP", price: "50000", qty: "0.001", buyer: "a", seller: "b", taker: "buyer" },
    ]);
    expect(core.state.accounts.has(INSURANCE)).toBe(false);
    // P = 1.5 minor units: the long pays 2, the short gets 1, the new @insurance 1.
    const { draft, direct } = outcomes(core, "0.00000003");
    expect(direct).toEqual([
      { t: "account.open", account: INSURANCE },
      { t: "balance", account: "a", asset: "USDT", valueMinor: 1_000_000_000_000n - 2n },
      { t: "balance", account: "b", asset: "USDT", valueMinor: 1_000_000_000_000n + 1n },
      { t: "balance", account: INSURANCE, asset: "USDT", valueMinor: 1n },
    ]);
    expect(draft).toEqual(direct);
  });
});

describe("funding without a Draft (property)", () => {
  it("gives the Draft version's effects, in order, or its rejection", () => {
    let compared = 0;
    let overflows = 0;
    let insuranceHolds = 0;
    fc.assert(fc.property(fc.array(event, { maxLength: 60 }), fc.array(rateE8, { minLength: 1, maxLength: 4 }), (events, rates) => {
      const core = new Core();
      for (const e of [{ type: "asset", asset: "USDT", decimals: 6, settlement: true }, btcPerp(), { type: "mark", symbol: "BTC-PERP", price: "50000" }, ...events]) {
        core.apply(entry(e));
      }
      for (const r of rates) {
        const ev = entry({ type: "funding", symbol: "BTC-PERP", rate: rateString(r) });
        if (ev.kind !== "event") throw new Error("funding event invalid");
        let expected: { ok: true; effects: Effect[] } | { ok: false; code: string; message: string };
        try {
          expected = { ok: true, effects: fundingWithDraft(core.state, "BTC-PERP", BigInt(r)) };
        } catch (err) {
          if (!(err instanceof OverflowError)) throw err;
          expected = { ok: false, code: "E_OVERFLOW", message: err.message };
        }
        const got = decide(core.state, ev.event, NO_VIEW);
        if (got.ok) expect(expected).toEqual({ ok: true, effects: got.effects });
        else expect(expected).toEqual({ ok: false, code: got.rejection.code, message: got.rejection.message });
        compared++;
        if (!got.ok) overflows++;
        if ((core.state.accounts.get(INSURANCE)?.positions.get("BTC-PERP")?.qtyLots ?? 0n) !== 0n) insuranceHolds++;
        core.apply(ev);
      }
    }), { numRuns: 400 });
    // The interesting cases were reached.
    expect(compared).toBeGreaterThan(400);
    expect(overflows).toBeGreaterThan(0);
    expect(insuranceHolds).toBeGreaterThan(0);
  });
});
