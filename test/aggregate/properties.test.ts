// SPEC §7 invariants over arbitrary event sequences (fast-check): conservation of the
// settlement asset and of collateral, open interest zero, no non-system entity left
// liquidatable, and rejected events change nothing.
import { describe, it } from "vitest";
import fc from "fast-check";
import { Core } from "../../src/pipeline.js";
import { stateHash } from "../../src/aggregate/snapshot.js";
import { BTC_ASSET, btcPerp, entry, type Wire } from "../helpers/core.js";
import { checkInvariants, Ledger } from "../simulation/invariants.js";

const ACCOUNTS = ["a", "b", "c", "@insurance"];
const acct = fc.constantFrom(...ACCOUNTS);
const trader = fc.constantFrom("a", "b", "c");
const price = fc.integer({ min: 40_000_0, max: 60_000_0 }).map((t) => (t / 10).toFixed(1));
const qty = fc.integer({ min: 1, max: 3000 }).map((l) => (l / 1000).toFixed(3));
let ids = 0;

const event: fc.Arbitrary<Wire | string> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ account: acct, amount: fc.integer({ min: -5, max: 200_000 }) }).map(({ account, amount }) => ({ type: "deposit", id: `d${ids++}`, account, asset: "USDT", amount: String(amount) })) },
  { weight: 1, arbitrary: fc.record({ account: trader, amount: fc.integer({ min: 1, max: 100_000 }).map((s) => (s / 1e4).toFixed(4)) }).map(({ account, amount }) => ({ type: "deposit", id: `d${ids++}`, account, asset: "BTC", amount })) },
  { weight: 2, arbitrary: fc.record({ account: trader, amount: fc.integer({ min: 1, max: 50_000 }) }).map(({ account, amount }) => ({ type: "withdraw", id: `w${ids++}`, account, asset: "USDT", amount: String(amount) })) },
  { weight: 8, arbitrary: fc.record({ b: trader, s: trader, p: price, q: qty, t: fc.constantFrom("buyer", "seller") }).map(({ b, s, p, q, t }) => ({ type: "trade", id: `t${ids++}`, symbol: "BTC-PERP", price: p, qty: q, buyer: b, seller: s, taker: t })) },
  { weight: 6, arbitrary: price.map((p) => ({ type: "mark", symbol: "BTC-PERP", price: p })) },
  { weight: 1, arbitrary: fc.integer({ min: -100_000, max: 100_000 }).map((r) => ({ type: "funding", symbol: "BTC-PERP", rate: (r / 1e8).toFixed(8) })) },
  { weight: 1, arbitrary: fc.record({ account: trader, mode: fc.constantFrom("cross", "isolated") }).map(({ account, mode }) => ({ type: "margin.mode", account, symbol: "BTC-PERP", mode })) },
  { weight: 1, arbitrary: fc.record({ account: trader, leverage: fc.integer({ min: 1, max: 130 }) }).map(({ account, leverage }) => ({ type: "leverage", account, symbol: "BTC-PERP", leverage })) },
  { weight: 1, arbitrary: fc.record({ account: trader, amount: fc.integer({ min: -3000, max: 3000 }) }).map(({ account, amount }) => ({ type: "margin.transfer", account, symbol: "BTC-PERP", amount: String(amount) })) },
  { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 80_000 }).map((p) => ({ type: "collateral.price", asset: "BTC", price: String(p) })) },
  { weight: 1, arbitrary: fc.constantFrom('{"type":"trade"', '{"type":"mark","symbol":"BTC-PERP","price":"1.23"}', "[]") },
);

const setup: Wire[] = [
  { type: "asset", asset: "USDT", decimals: 6, settlement: true }, BTC_ASSET,
  btcPerp({ makerFee: "-0.0001", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5" }),
  { type: "mark", symbol: "BTC-PERP", price: "50000" }, { type: "collateral.price", asset: "BTC", price: "50000" },
];

describe("aggregate invariants (property)", () => {
  it("hold after every event of arbitrary sequences; rejections change nothing", () => {
    fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 250 }), (events) => {
      const core = new Core();
      const ledger = new Ledger();
      for (const e of [...setup, ...events]) {
        const en = entry(e);
        const delta = en.kind === "event" ? ledger.expectedInsuranceDelta(core.state, en.event) : 0n;
        const before = hashIgnoringSeq(core);
        const r = core.apply(en);
        if (en.kind === "event") ledger.record(core.state, en.event, r);
        if (r.rejection !== null && hashIgnoringSeq(core) !== before) throw new Error(`rejected ${JSON.stringify(e)} changed the state`);
        const bad = checkInvariants(core, ledger, delta, r);
        if (bad !== null) throw new Error(`after ${JSON.stringify(e)}: ${bad}`);
      }
    }), { numRuns: 300 });
  });
});

function hashIgnoringSeq(core: Core): string {
  const { seq, ts } = core.state;
  core.state.seq = 0;
  core.state.ts = 0;
  const h = stateHash(core.state);
  core.state.seq = seq;
  core.state.ts = ts;
  return h;
}
