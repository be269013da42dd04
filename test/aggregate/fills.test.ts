// SPEC §4 fills: increase, reduce, close, flip; fees; isolated auto-margin and margin return.
// Units: k = 100 minor per lot·tick; 1 BTC = 1000 lots; price 50000 = 500000 ticks.
import { describe, expect, it } from "vitest";
import { balance, btcPerp, deposit, given, mark, position, trade, USDT, when } from "../helpers/core.js";

const M = 1_000_000n; // 1 USDT in minor units

function market(over = {}) {
  return given([USDT, btcPerp(over), mark("50000"), deposit("alice", "100000"), deposit("bob", "100000")]);
}

describe("position changes (cross)", () => {
  it("given flat, when alice buys 1 at 50000, then q = 1000 lots and C = 1000·500000", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000", "1"));
    expect(position(core, "alice")).toMatchObject({ qty: 1000n, cost: 500_000_000n });
    expect(position(core, "bob")).toMatchObject({ qty: -1000n, cost: -500_000_000n });
  });

  it("when alice reduces 0.4 at 51000, then R = k·(c·p − trunc(C·c/|q|)) lands in B", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000", "1"));
    when(core, trade("bob", "alice", "51000", "0.4"));
    // removed = trunc(5e8 · 400 / 1000) = 2e8; R = 100·(400·510000 − 2e8) = 400 USDT.
    expect(position(core, "alice")).toMatchObject({ qty: 600n, cost: 300_000_000n });
    expect(balance(core, "alice")).toBe(100_000n * M + 400n * M);
    expect(balance(core, "bob")).toBe(100_000n * M - 400n * M);
  });

  it("entry cost removed on a reduce is truncated toward zero (short side too)", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000.1", "0.003")); // C = 3·500001 = 1500003
    when(core, trade("bob", "alice", "50000", "0.001")); // removed = trunc(1500003/3) = 500001
    expect(position(core, "alice")).toMatchObject({ qty: 2n, cost: 1_000_002n });
    expect(position(core, "bob")).toMatchObject({ qty: -2n, cost: -1_000_002n });
  });

  it("a flip closes the whole position and opens the remainder at the trade price", () => {
    const core = market();
    when(core, trade("alice", "bob", "50000", "1"));
    when(core, trade("bob", "alice", "49000", "1.5"));
    expect(position(core, "alice")).toMatchObject({ qty: -500n, cost: -245_000_000n });
    expect(balance(core, "alice")).toBe(100_000n * M - 1000n * M);
  });

  it("a self-trade applies two legs and nets to nothing but fees", () => {
    const core = market({ takerFee: "0.001", makerFee: "0.0002" });
    when(core, trade("alice", "alice", "50000", "1"));
    expect(position(core, "alice")).toMatchObject({ qty: 0n, cost: 0n });
    expect(balance(core, "alice")).toBe(100_000n * M - 50n * M - 10n * M);
    expect(balance(core, "@fees")).toBe(60n * M);
  });
});

describe("fees", () => {
  it("taker pays ceil(N·takerFee), maker pays ceil(N·makerFee), the net goes to @fees", () => {
    const core = market({ takerFee: "0.00050001", makerFee: "0.0002" });
    when(core, trade("alice", "bob", "50000", "0.001", { taker: "seller" })); // N = 1·500000·100 = 5e7 minor
    // seller (taker): ceil(5e7 · 50001 / 1e8) = ceil(25000.5) = 25001; buyer (maker): 10000.
    expect(balance(core, "bob")).toBe(100_000n * M - 25_001n);
    expect(balance(core, "alice")).toBe(100_000n * M - 10_000n);
    expect(balance(core, "@fees")).toBe(35_001n);
  });

  it("a negative maker fee is a rebate, rounded down", () => {
    const core = market({ takerFee: "0.0005", makerFee: "-0.00010001" });
    when(core, trade("alice", "bob", "50000", "0.001"));
    // buyer is taker: pays 25000; seller (maker) receives floor(5e7 · 10001 / 1e8) = floor(5000.5) = 5000.
    expect(balance(core, "alice")).toBe(100_000n * M - 25_000n);
    expect(balance(core, "bob")).toBe(100_000n * M + 5_000n);
    expect(balance(core, "@fees")).toBe(20_000n);
  });
});

describe("isolated positions", () => {
  function iso(lev = 20) {
    const core = market();
    when(core, { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" });
    when(core, { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: lev });
    return core;
  }

  it("auto-margin moves min(ceil(a·p·k/L), max(0, B)) from B to m", () => {
    const core = iso(7);
    when(core, trade("alice", "bob", "50000", "0.001")); // ceil(1·500000·100/7) = ceil(7142857.14) = 7142858
    expect(position(core, "alice").margin).toBe(7_142_858n);
    expect(balance(core, "alice")).toBe(100_000n * M - 7_142_858n);
  });

  it("auto-margin is capped at the available balance", () => {
    const core = given([USDT, btcPerp(), mark("50000"), deposit("alice", "30"), deposit("bob", "100000"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }]);
    when(core, trade("alice", "bob", "50000", "0.01")); // wants ceil(10·500000·100/10) = 50 USDT, has 30
    expect(position(core, "alice").margin).toBe(30n * M);
    expect(balance(core, "alice")).toBe(0n);
  });

  it("realized PnL and fees go to m; when flat, m returns to B", () => {
    const core = iso();
    when(core, trade("alice", "bob", "50000", "1")); // m = 2500
    when(core, trade("bob", "alice", "50100", "0.5")); // R = 100·(500·501000 − 2.5e8) = 50 USDT → m
    expect(position(core, "alice").margin).toBe(2550n * M);
    when(core, trade("bob", "alice", "50100", "0.5"));
    expect(position(core, "alice")).toMatchObject({ qty: 0n, margin: 0n });
    expect(balance(core, "alice")).toBe(100_000n * M + 100n * M);
  });

  it("a negative isolated margin at close is first brought to 0 by @insurance", () => {
    const core = given([USDT, btcPerp(), mark("50000"), deposit("alice", "100"), deposit("bob", "100000"), deposit("@insurance", "1000"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }]);
    when(core, trade("alice", "bob", "50000", "0.01")); // m = ceil(10·500000·100/10) = 50 USDT
    // Close at 40000 (a fill, not a mark: no liquidation check can intervene): R = 100·(10·400000 − 5e6) = −100 USDT.
    when(core, trade("bob", "alice", "40000", "0.01"));
    expect(position(core, "alice")).toMatchObject({ qty: 0n, margin: 0n });
    expect(balance(core, "alice")).toBe(50n * M); // B untouched beyond the 50 left after auto-margin
    expect(balance(core, "@insurance")).toBe(1000n * M - 50n * M);
  });
});

describe("funding (SPEC §6)", () => {
  it("payers pay ceil(|P|), receivers get floor(|P|), the surplus goes to @insurance", () => {
    const core = market();
    when(core, deposit("carol", "1000"));
    when(core, trade("alice", "bob", "50000", "0.001")); // q = ±1 lot
    when(core, trade("carol", "bob", "50000", "0.002"));
    when(core, mark("50000.1"));
    // P = q·M·k·rate: alice 1·500001·100·3e-8 = 1.50003 → pays 2; carol 3.00006 → pays 4;
    // bob −4.50009 → receives 4; surplus 2 + 4 − 4 = 2 to @insurance.
    when(core, { type: "funding", symbol: "BTC-PERP", rate: "0.00000003" });
    expect(balance(core, "alice")).toBe(100_000n * M - 2n);
    expect(balance(core, "carol")).toBe(1000n * M - 4n);
    expect(balance(core, "bob")).toBe(100_000n * M + 4n);
    expect(balance(core, "@insurance")).toBe(2n);
  });
});
