// SPEC §5, rule by rule. Units: USDT 6 dp, BTC-PERP tick 0.1 / lot 0.001 ⇒ k = 100 minor per
// lot·tick; 1 BTC = 1000 lots; 50000.0 = 500000 ticks. Every expected figure is worked out
// by hand in the comments.
import { describe, expect, it } from "vitest";
import { buildReport } from "../../src/outputs/report.js";
import { balance, btcPerp, deposit, given, mark, position, trade, USDT, when, type Wire } from "../helpers/core.js";

const M = 1_000_000n;

function isolatedLong(over: Partial<Wire> = {}, insurance = "10000") {
  return given([
    USDT, btcPerp({ liquidationFee: "0.005", insuranceShare: "0.5", ...over }), mark("50000"),
    deposit("alice", "2500"), deposit("bob", "1000000"), deposit("@insurance", insurance),
    { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" },
    { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 20 },
    trade("alice", "bob", "50000", "1"), // m = ceil(1000·500000·100/20) = 2500 USDT
  ]);
}

describe("isolated liquidation: takeover at mark, fee cap, split, margin return", () => {
  it("the fee is capped at the remaining equity and split ceil to @insurance", () => {
    const core = isolatedLong();
    // At 47690.7: U = 100·(1000·476907 − 5e8) = −2309.3 USDT, E = 190.7 < MM = ceil(47690.7·0.004) = 190.7628.
    // Fee = ceil(47690.7·0.005) = 238.4535 > E ⇒ capped at 190.7; to @insurance ceil(190.7·0.5) = 95.35.
    const r = when(core, mark("47690.7"));
    const liq = r.outputs.find((o) => o.type === "liquidation");
    expect(liq).toMatchObject({ account: "alice", mode: "isolated", symbols: ["BTC-PERP"], qty: "1.000", mark: "47690.7", fee: "190.700000", feeToInsurance: "95.350000", feeToFees: "95.350000", deficit: "0.000000" });
    expect(position(core, "alice")).toMatchObject({ qty: 0n, margin: 0n });
    expect(balance(core, "alice")).toBe(0n);
    // @insurance took the position over at mark: q = 1000 lots, C = 1000·476907.
    expect(position(core, "@insurance")).toMatchObject({ qty: 1000n, cost: 476_907_000n });
    expect(balance(core, "@insurance")).toBe(10_000n * M + 95_350_000n);
    expect(balance(core, "@fees")).toBe(95_350_000n);
  });

  it("isolated margin left after the fee returns to B", () => {
    const core = isolatedLong({ liquidationFee: "0.001" });
    // Fee = ceil(47690.7·0.001) = 47.6907 < E = 190.7 ⇒ m left = 143.0093 returns to B.
    when(core, mark("47690.7"));
    expect(balance(core, "alice")).toBe(143_009_300n);
    expect(position(core, "alice")).toMatchObject({ qty: 0n, margin: 0n });
  });

  it("a gap below the bankruptcy price: fee 0 and @insurance covers the deficit", () => {
    const core = isolatedLong();
    // At 47000: U = 100·(1000·470000 − 5e8) = −3000, E = −500 ⇒ fee 0, deficit 500.
    const r = when(core, mark("47000"));
    expect(r.outputs.find((o) => o.type === "liquidation")).toMatchObject({ fee: "0.000000", deficit: "500.000000" });
    expect(balance(core, "alice")).toBe(0n);
    expect(balance(core, "@insurance")).toBe(10_000n * M - 500n * M);
  });
});

describe("cross liquidation", () => {
  function crossLong(over: Partial<Wire> = {}) {
    return given([
      USDT, btcPerp({ liquidationFee: "0.001", insuranceShare: "0.33333333", ...over }), mark("50000"),
      deposit("carol", "300"), deposit("bob", "1000000"), deposit("@insurance", "10000"),
      trade("carol", "bob", "50000", "1"),
    ]);
  }

  it("fee split rounding: ceil(F·share) to @insurance, the rest to @fees", () => {
    const core = crossLong();
    // 49900: E = 300 − 100 = 200 ≥ MM = 199.6 — safe. 49890: E = 190 < MM = 199.56 — liquidated.
    expect(when(core, mark("49900")).outputs.filter((o) => o.type === "liquidation")).toEqual([]);
    const r = when(core, mark("49890"));
    // F = ceil(49890·0.001) = 49.89 ≤ E; to @insurance ceil(49_890_000·0.33333333) = ceil(16_629_999.83) = 16_630_000.
    expect(r.outputs.find((o) => o.type === "liquidation")).toMatchObject({ mode: "cross", fee: "49.890000", feeToInsurance: "16.630000", feeToFees: "33.260000", deficit: "0.000000" });
    // carol keeps E − F = 190 − 49.89 = 140.11 in B.
    expect(balance(core, "carol")).toBe(140_110_000n);
    expect(position(core, "carol").qty).toBe(0n);
  });

  it("negative equity: @insurance pays the deficit so the account ends at equity 0", () => {
    const core = crossLong();
    const r = when(core, mark("49000")); // U = −1000, E = −700
    expect(r.outputs.find((o) => o.type === "liquidation")).toMatchObject({ fee: "0.000000", deficit: "700.000000" });
    expect(balance(core, "carol")).toBe(0n);
    expect(balance(core, "@insurance")).toBe(10_000n * M - 700n * M);
  });

  it("a cross account with several positions: all move, symbols sorted, fee over both, capped at equity", () => {
    const eth: Wire = { ...btcPerp({ liquidationFee: "0.01", insuranceShare: "1" }), symbol: "ETH-PERP", tickSize: "0.01", lotSize: "0.01" }; // k = 0.01·0.01·1e6 = 100
    const core = given([
      USDT, btcPerp({ liquidationFee: "0.01", insuranceShare: "0" }), eth, mark("50000"), mark("3000", "ETH-PERP"),
      deposit("dave", "700"), deposit("bob", "1000000"), deposit("@insurance", "10000"),
      trade("dave", "bob", "50000", "0.1"), // BTC long: N = 100·500000·100 = 5000 USDT, MM 20
      { ...trade("bob", "dave", "3000", "1"), symbol: "ETH-PERP" }, // ETH short: 100 lots · 300000 ticks · 100 = 3000 USDT, MM 12
    ]);
    // BTC to 43500: U_btc = 100·(100·435000 − 5e7) = −650; E = 700 − 650 = 50 < MM = 17.4 + 12 ⇒ no. To 43000: E = 0 < 29.2.
    const r = when(core, mark("43100"));
    // E = 700 + 100·(100·431000 − 5e7) = 700 − 690 = 10; MM = ceil(4310·0.004) + 12 = 17.24 + 12 ⇒ liquidated.
    // Fees in symbol order, capped by the running remaining equity 10: BTC ceil(4310·0.01) = 43.1 → 10; ETH → 0.
    const liq = r.outputs.find((o) => o.type === "liquidation");
    expect(liq).toMatchObject({
      account: "dave", mode: "cross", symbols: ["BTC-PERP", "ETH-PERP"], qty: ["0.100", "-1.00"], mark: ["43100.0", "3000.00"],
      fee: "10.000000", feeToInsurance: "0.000000", feeToFees: "10.000000", deficit: "0.000000",
    });
    expect(position(core, "dave", "BTC-PERP").qty).toBe(0n);
    expect(position(core, "dave", "ETH-PERP").qty).toBe(0n);
    expect(position(core, "@insurance", "ETH-PERP").qty).toBe(-100n);
    expect(balance(core, "dave")).toBe(0n);
  });
});

describe("auto-deleveraging", () => {
  // @insurance starts empty; alice's isolated long gaps through bankruptcy, so the fund goes
  // negative holding her long; it is closed against shorts with U > 0 by score U·N/E².
  function adlMarket(shorts: [string, string, string][]) {
    const events: Wire[] = [
      USDT, btcPerp(), mark("50000"),
      deposit("alice", "2500"), deposit("maker", "10000000"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" },
      { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 20 },
    ];
    for (const [name, dep, qty] of shorts) events.push(deposit(name, dep), trade("maker", name, "50000", qty));
    events.push(trade("alice", "maker", "50000", "1"));
    return given(events);
  }

  it("ranks by U·N/E² (smaller equity first) and closes the fund's position at mark", () => {
    const core = adlMarket([["bob", "100000", "1"], ["dave", "20000", "1"]]);
    // Mark 47000: alice E = −500 ⇒ deficit 500, @insurance equity −500 < 0 with a 1 BTC long.
    // bob and dave are short 1 BTC each with U = +3000; E_dave = 23000 < E_bob = 103000 ⇒ dave first.
    const r = when(core, mark("47000"));
    const adl = r.outputs.filter((o) => o.type === "adl");
    expect(adl).toEqual([{ type: "adl", seq: r.seq, symbol: "BTC-PERP", account: "dave", qty: "1.000", mark: "47000.0" }]);
    expect(position(core, "dave").qty).toBe(0n);
    expect(position(core, "bob").qty).toBe(-1000n);
    expect(position(core, "@insurance").qty).toBe(0n);
    // dave realized his U = 3000 at mark, no fee.
    expect(balance(core, "dave")).toBe(23_000n * M);
  });

  it("ties go by account name, and each counterparty is reduced by at most its own size", () => {
    const core = adlMarket([["zed", "20000", "0.6"], ["amy", "20000", "0.6"]]);
    // Same U, N and E ⇒ same score ⇒ amy before zed; amy gives 0.6, zed the remaining 0.4.
    const r = when(core, mark("47000"));
    expect(r.outputs.filter((o) => o.type === "adl").map((o) => [(o as { account: string }).account, (o as { qty: string }).qty])).toEqual([
      ["amy", "0.600"],
      ["zed", "0.400"],
    ]);
    expect(position(core, "zed").qty).toBe(-200n);
    expect(position(core, "amy").qty).toBe(0n);
  });
});

describe("margin calls", () => {
  it("fire on first crossing into E ≤ 1.25·MM, not again while inside, and re-arm once out", () => {
    const core = given([
      USDT, btcPerp(), mark("50000"), deposit("carol", "300"), deposit("bob", "1000000"),
      trade("carol", "bob", "50000", "1"),
    ]);
    // MM ≈ 200 around 50000; zone E ≤ 250: 49950 → E = 250, MM = 199.8 ⇒ 4·250 = 1000 ≤ 5·199.8 = 999? no.
    expect(when(core, mark("49960")).outputs).toEqual([]); // E = 260
    const first = when(core, mark("49940")); // E = 240 ≤ 1.25·199.76 = 249.7
    expect(first.outputs).toEqual([{ type: "margin.call", seq: first.seq, account: "carol", symbol: "", equity: "240.000000", maintenanceMargin: "199.760000" }]);
    expect(when(core, mark("49920")).outputs).toEqual([]); // still inside: no repeat
    expect(when(core, mark("50000")).outputs).toEqual([]); // out: re-armed silently
    const again = when(core, mark("49930"));
    expect(again.outputs.map((o) => o.type)).toEqual(["margin.call"]);
    expect(buildReport(core).marginCalls).toHaveLength(2);
  });
});

describe("a crash liquidates several accounts in SPEC order in one event", () => {
  it("ascending (account, instrument), a cross account before its isolated positions", () => {
    const core = given([
      USDT, btcPerp(), mark("50000"), deposit("bob", "10000000"), deposit("@insurance", "100000"),
      deposit("zoe", "300"), trade("zoe", "bob", "50000", "1"),
      deposit("ann", "300"), trade("ann", "bob", "50000", "1"),
      deposit("max", "2500"),
      { type: "margin.mode", account: "max", symbol: "BTC-PERP", mode: "isolated" },
      { type: "leverage", account: "max", symbol: "BTC-PERP", leverage: 20 },
      trade("max", "bob", "50000", "1"),
    ]);
    const r = when(core, mark("45000"));
    expect(r.outputs.filter((o) => o.type === "liquidation").map((o) => (o as { account: string }).account)).toEqual(["ann", "max", "zoe"]);
    expect(position(core, "@insurance").qty).toBe(3000n);
  });
});
