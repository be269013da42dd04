// SPEC §8: bad input gets a specific code and a message naming the field; it changes nothing,
// is listed in the report, and processing goes on.
import { describe, expect, it } from "vitest";
import { buildReport } from "../../src/outputs/report.js";
import { BTC_ASSET, btcPerp, deposit, expectRejected, given, mark, trade, USDT, when } from "../helpers/core.js";

function market() {
  return given([USDT, BTC_ASSET, btcPerp(), mark("50000"), deposit("alice", "10000"), deposit("bob", "10000")]);
}

describe("schema: every event type, malformed JSON, wrong types", () => {
  const cases: [string, unknown, string, string?][] = [
    ["malformed JSON", '{"type":"trade",', "E_JSON"],
    ["not an object", "[1,2]", "E_JSON"],
    ["missing type", { account: "a" }, "E_SCHEMA", "type"],
    ["unknown type", { type: "teleport" }, "E_SCHEMA", "type"],
    ["asset: decimals not an integer", { type: "asset", asset: "X", decimals: 1.5 }, "E_SCHEMA", "decimals"],
    ["asset: missing decimals", { type: "asset", asset: "X" }, "E_SCHEMA", "decimals"],
    ["instrument: tiers missing", { ...btcPerp(), tiers: undefined }, "E_SCHEMA", "tiers"],
    ["instrument: tier maxLeverage string", { ...btcPerp(), tiers: [{ maxNotional: "1", mmr: "0.1", maxLeverage: "5" }] }, "E_SCHEMA", "tiers[0].maxLeverage"],
    ["deposit: amount is a float", { type: "deposit", id: "x", account: "a", asset: "USDT", amount: 1.5 }, "E_SCHEMA", "amount"],
    ["deposit: bad account name", { type: "deposit", id: "x", account: "a b", asset: "USDT", amount: "1" }, "E_SCHEMA", "account"],
    ["withdraw: missing id", { type: "withdraw", account: "a", asset: "USDT", amount: "1" }, "E_SCHEMA", "id"],
    ["leverage: not a number", { type: "leverage", account: "a", symbol: "BTC-PERP", leverage: "x" }, "E_SCHEMA", "leverage"],
    ["margin.mode: bad mode", { type: "margin.mode", account: "a", symbol: "BTC-PERP", mode: "portfolio" }, "E_SCHEMA", "mode"],
    ["margin.transfer: amount garbage", { type: "margin.transfer", account: "a", symbol: "BTC-PERP", amount: "1e3" }, "E_SCHEMA", "amount"],
    ["trade: taker invalid", { ...trade("a", "b", "1", "1"), taker: "both" }, "E_SCHEMA", "taker"],
    ["trade: qty missing", { ...trade("a", "b", "1", "1"), qty: undefined }, "E_SCHEMA", "qty"],
    ["mark: price is an object", { type: "mark", symbol: "BTC-PERP", price: {} }, "E_SCHEMA", "price"],
    ["collateral.price: missing asset", { type: "collateral.price", price: "1" }, "E_SCHEMA", "asset"],
    ["funding: rate boolean", { type: "funding", symbol: "BTC-PERP", rate: true }, "E_SCHEMA", "rate"],
    ["unexpected field", { type: "mark", symbol: "BTC-PERP", price: "1", colour: "red" }, "E_SCHEMA", "colour"],
    ["ts not an integer", { type: "mark", symbol: "BTC-PERP", price: "1", ts: 1.5 }, "E_SCHEMA", "ts"],
  ];
  it.each(cases)("%s → %s", (_name, input, code, field) => {
    const core = market();
    const line = typeof input === "string" ? input : JSON.stringify(input);
    expectRejected(core, line, code, field);
  });
});

describe("semantic rejections (state-aware)", () => {
  it("unknown symbol and asset → E_UNKNOWN naming the field", () => {
    const core = market();
    expectRejected(core, mark("1", "DOGE-PERP"), "E_UNKNOWN", "symbol");
    expectRejected(core, deposit("alice", "1", "DOGE"), "E_UNKNOWN", "asset");
    expectRejected(core, { type: "withdraw", id: "w", account: "nobody", asset: "USDT", amount: "1" }, "E_UNKNOWN", "account");
  });

  it("negative and zero amounts → E_RANGE", () => {
    const core = market();
    expectRejected(core, deposit("alice", "-5"), "E_RANGE", "amount");
    expectRejected(core, deposit("alice", "0"), "E_RANGE", "amount");
    expectRejected(core, trade("alice", "bob", "50000", "0"), "E_RANGE", "qty");
    expectRejected(core, trade("alice", "bob", "-50000", "1"), "E_RANGE", "price");
  });

  it("off-grid prices and quantities, too many decimals → E_PRECISION", () => {
    const core = market();
    expectRejected(core, mark("50000.05"), "E_PRECISION", "price");
    expectRejected(core, trade("alice", "bob", "50000", "0.0005"), "E_PRECISION", "qty");
    expectRejected(core, deposit("alice", "1.0000001"), "E_PRECISION", "amount");
    expectRejected(core, { type: "funding", symbol: "BTC-PERP", rate: "0.000000001" }, "E_PRECISION", "rate");
  });

  it("duplicate ids → E_DUPLICATE, per type", () => {
    const core = market();
    expect(when(core, { type: "deposit", id: "same", account: "alice", asset: "USDT", amount: "1" }).rejection).toBeNull();
    expectRejected(core, { type: "deposit", id: "same", account: "alice", asset: "USDT", amount: "1" }, "E_DUPLICATE", "id");
    // The same id under another type is a different event.
    expect(when(core, { type: "withdraw", id: "same", account: "alice", asset: "USDT", amount: "1" }).rejection).toBeNull();
  });

  it("a rejected event does not consume its id: the corrected retry is applied", () => {
    const core = market();
    expectRejected(core, { type: "withdraw", id: "w1", account: "alice", asset: "USDT", amount: "20000" }, "E_MARGIN", "amount");
    expect(when(core, { type: "withdraw", id: "w1", account: "alice", asset: "USDT", amount: "2000" }).rejection).toBeNull();
  });

  it("instrument whose k = tick × lot × 10^decimals is not an integer → E_INSTRUMENT", () => {
    const core = market();
    expectRejected(core, btcPerp({ symbol: "TINY-PERP", tickSize: "0.0001", lotSize: "0.001" }), "E_INSTRUMENT", "tickSize");
  });

  it("tiers out of order → E_INSTRUMENT; rates out of range → E_RANGE", () => {
    const core = market();
    expectRejected(core, btcPerp({ symbol: "X-PERP", tiers: [{ maxNotional: "100", mmr: "0.01", maxLeverage: 10 }, { maxNotional: "50", mmr: "0.02", maxLeverage: 5 }] }), "E_INSTRUMENT", "tiers[1].maxNotional");
    expectRejected(core, btcPerp({ symbol: "X-PERP", takerFee: "1.5" }), "E_RANGE", "takerFee");
  });

  it("leverage above the tier's maximum → E_LEVERAGE", () => {
    const core = market();
    expectRejected(core, { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 126 }, "E_LEVERAGE", "leverage");
    expect(when(core, { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 125 }).rejection).toBeNull();
  });

  it("margin mode change with an open position → E_MODE", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000", "0.1"));
    expectRejected(core, { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }, "E_MODE", "mode");
  });

  it("withdrawal below IM or below a zero balance → E_MARGIN", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000", "1")); // IM = 50000/10 = 5000
    expectRejected(core, { type: "withdraw", id: "w2", account: "alice", asset: "USDT", amount: "5000.000001" }, "E_MARGIN", "amount");
    expect(when(core, { type: "withdraw", id: "w3", account: "alice", asset: "USDT", amount: "5000" }).rejection).toBeNull();
    expectRejected(core, { type: "withdraw", id: "w4", account: "alice", asset: "BTC", amount: "1" }, "E_MARGIN", "amount");
  });

  it("an event whose figures would overflow 64 bits → E_OVERFLOW, rolled back", () => {
    const core = market();
    when(core, deposit("alice", "100000000"));
    when(core, deposit("bob", "100000000"));
    expect(when(core, trade("alice", "bob", "50000", "1000")).outputs).toEqual([]); // no liquidation
    expect(core.state.accounts.get("alice")!.positions.get("BTC-PERP")!.qtyLots).toBe(1_000_000n);
    // N = 1e6 lots · M · 100 overflows i64 when M > 9.2e10 ticks.
    expectRejected(core, mark("9000000000000"), "E_OVERFLOW");
    expectRejected(core, deposit("alice", "9223372036854"), "E_OVERFLOW");
  });

  it("processing goes on after rejections, and the report lists each with seq and code", () => {
    const core = market();
    const seqBad = when(core, '{"type":"mark"').seq;
    when(core, mark("51000"));
    const r = buildReport(core);
    expect(r.marks["BTC-PERP"]).toBe("51000.0");
    expect(r.rejected).toEqual([{ seq: seqBad, code: "E_JSON", message: expect.stringContaining("malformed JSON") }]);
  });
});
