// Pre-trade margin at the boundary (docs/matching.md "Pre-trade risk"): an order that leaves
// Free = equity − IM − open orders' charges exactly 0 is accepted; one more lot or one more
// tick is rejected E_MARGIN — cross and isolated, with open orders counted. Units: BTC-PERP
// tick 0.1, lot 0.001, USDT 6 decimals ⇒ k = 100; mark 50000 = 500000 ticks; leverage 10:
// one lot at 50000 charges ceil(1·500000·100/10) = 5,000,000 minor = 5 USDT.
import { describe, expect, it } from "vitest";
import type { Core } from "../../src/pipeline.js";
import { BTC_ASSET, btcPerp, deposit, expectRejected, given, mark, trade, USDT, when, type Wire } from "../helpers/core.js";
import { order, replace } from "./order-helpers.js";

const setup = (extra: Wire[] = []): Core => given([USDT, btcPerp(), deposit("mm", "10000000"), mark("50000"), ...extra]);

function accepted(core: Core, e: Wire): void {
  const r = when(core, e);
  if (r.rejection !== null) throw new Error(`expected ${JSON.stringify(e)} to be accepted: ${r.rejection.code} ${r.rejection.message}`);
}

describe("pre-trade margin: cross", () => {
  it("equity exactly = the orders' IM is accepted; one more lot is rejected", () => {
    const core = setup([deposit("alice", "50")]);
    expectRejected(core, order("x", "alice", "buy", "50000", "0.011"), "E_MARGIN", "qty");
    accepted(core, order("a", "alice", "buy", "50000", "0.010"));
  });

  it("open orders count: 6 + 4 lots fit in 50 USDT, the 11th lot does not (either side)", () => {
    const core = setup([deposit("alice", "50")]);
    accepted(core, order("a", "alice", "buy", "50000", "0.006"));
    expectRejected(core, order("b", "alice", "buy", "50000", "0.005"), "E_MARGIN");
    expectRejected(core, order("b", "alice", "sell", "50000.1", "0.005"), "E_MARGIN");
    accepted(core, order("b", "alice", "buy", "50000", "0.004"));
    expectRejected(core, order("c", "alice", "sell", "60000", "0.001"), "E_MARGIN");
    expectRejected(core, order("c", "alice", "buy", "1", "0.001"), "E_MARGIN"); // ceil: even 1 minor unit counts
  });

  it("one more tick is rejected: IM at the limit price plus the open loss against the mark", () => {
    const core = setup([deposit("alice", "50")]);
    // 10 lots at 50000.1: ceil(10·500001·100/10) + 100·10·1 = 50,001,100 > 50,000,000.
    expectRejected(core, order("x", "alice", "buy", "50000.1", "0.010"), "E_MARGIN");
    expectRejected(core, order("x", "alice", "sell", "49999.9", "0.010"), "E_MARGIN");
    accepted(core, order("a", "alice", "sell", "50000", "0.010"));
  });

  it("the open loss: a buy far above the mark costs its distance to the mark", () => {
    // 1 lot at 60000: IM ceil(1·600000·100/10) = 6 USDT, open loss 100·1·100000 = 10 USDT.
    const core = setup([deposit("alice", "16")]);
    expectRejected(core, order("x", "alice", "buy", "60000.1", "0.001"), "E_MARGIN");
    accepted(core, order("a", "alice", "buy", "60000", "0.001"));
  });

  it("the part of an order that reduces the position needs no margin; a pure reduction is always accepted", () => {
    const core = setup([deposit("alice", "50")]);
    accepted(core, trade("alice", "mm", "50000", "0.010")); // long 10 lots, IM 50 = equity
    accepted(core, order("r", "alice", "sell", "50000", "0.010")); // reduces all of it
    expectRejected(core, order("x", "alice", "sell", "50000", "0.001"), "E_MARGIN"); // the 11th lot opens a short
    // Under water (E 40 < IM 49): reducing at the mark still goes; below the mark it costs the loss.
    accepted(core, mark("49000"));
    accepted(core, { type: "order.cancel", symbol: "BTC-PERP", id: "r", account: "alice" });
    accepted(core, order("r2", "alice", "sell", "49000", "0.010"));
    expectRejected(core, order("x", "alice", "sell", "48999.9", "0.001"), "E_MARGIN");
  });

  it("partly reducing: 10 lots reduce, 5 are charged; 75 USDT is exactly enough", () => {
    const core = setup([deposit("alice", "75")]);
    accepted(core, trade("alice", "mm", "50000", "0.010"));
    expectRejected(core, order("x", "alice", "sell", "50000", "0.016"), "E_MARGIN");
    accepted(core, order("a", "alice", "sell", "50000", "0.015"));
  });

  it("reduce capacity goes to the orders that fill first", () => {
    // Long 10 lots (IM 50), 60 USDT: 10 USDT free = 2 lots of new exposure at 50000.
    const core = setup([deposit("alice", "60")]);
    accepted(core, trade("alice", "mm", "50000", "0.010"));
    accepted(core, order("far", "alice", "sell", "51000", "0.010")); // reduces: free
    // A better-priced sell takes the capacity first: `far` becomes chargeable (10·5.1 = 51 > 10).
    expectRejected(core, order("near", "alice", "sell", "50500", "0.002"), "E_MARGIN");
    accepted(core, { type: "order.cancel", symbol: "BTC-PERP", id: "far", account: "alice" });
    accepted(core, order("near", "alice", "sell", "50000", "0.012")); // 10 reduce + 2 charged = 10
  });

  it("market orders are priced at the worst level they can reach", () => {
    const core = setup([deposit("alice", "40.88")]);
    accepted(core, order("s1", "mm", "sell", "50000", "0.005"));
    accepted(core, order("s2", "mm", "sell", "50100", "0.005"));
    // 8 lots reach 50100: ceil(8·501000·100/10) + 100·8·1000 = 40,880,000.
    const poorer = setup([deposit("alice", "40.879999")]);
    accepted(poorer, order("s1", "mm", "sell", "50000", "0.005"));
    accepted(poorer, order("s2", "mm", "sell", "50100", "0.005"));
    expectRejected(poorer, order("m", "alice", "buy", null, "0.008"), "E_MARGIN");
    const r = when(core, order("m", "alice", "buy", null, "0.008"));
    expect(r.rejection).toBeNull();
    expect(r.outputs.filter((o) => o.type === "trade")).toHaveLength(2);
  });

  it("size decreases are always accepted; increases and moves are checked", () => {
    const core = setup([deposit("alice", "50")]);
    accepted(core, order("a", "alice", "buy", "50000", "0.010"));
    accepted(core, mark("40000")); // nothing changes for a flat account with a resting bid…
    expectRejected(core, replace("a", "alice", { qty: "0.011" }), "E_MARGIN");
    accepted(core, replace("a", "alice", { qty: "0.005" }));
    // …but the bid is now 10000 above the mark: open loss 100·5·100000 = 50 USDT on top.
    expectRejected(core, replace("a", "alice", { price: "50000.1" }), "E_MARGIN");
    accepted(core, replace("a", "alice", { price: "40000", qty: "0.012" })); // 12·4 = 48 ≤ 50
  });
});

describe("pre-trade margin: isolated", () => {
  it("a flat isolated position: the order's IM must come from B (exactly B is enough)", () => {
    const core = setup([deposit("alice", "50"), { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }]);
    expectRejected(core, order("x", "alice", "buy", "50000", "0.011"), "E_MARGIN");
    accepted(core, order("a", "alice", "buy", "50000", "0.006"));
    expectRejected(core, order("b", "alice", "buy", "50000", "0.005"), "E_MARGIN");
    accepted(core, order("b", "alice", "buy", "50000", "0.004"));
  });

  it("collateral counts in cross equity but cannot fund an isolated position", () => {
    const core = setup([BTC_ASSET, { type: "collateral.price", asset: "BTC", price: "50000" }, deposit("alice", "0.01", "BTC"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }]);
    expectRejected(core, order("x", "alice", "buy", "50000", "0.001"), "E_MARGIN");
    accepted(core, { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "cross" });
    accepted(core, order("a", "alice", "buy", "50000", "0.001")); // 450 USDT of collateral value
  });

  it("an isolated position's excess equity is used first, then B", () => {
    const core = setup([deposit("alice", "55"), { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" }]);
    accepted(core, trade("alice", "mm", "50000", "0.010")); // auto-margin moves 50 to m
    accepted(core, { type: "margin.transfer", account: "alice", symbol: "BTC-PERP", amount: "5" }); // m 55, IM 50, B 0
    accepted(core, order("a", "alice", "buy", "50000", "0.001")); // 5 of excess
    expectRejected(core, order("b", "alice", "buy", "50000", "0.001"), "E_MARGIN");
    accepted(core, deposit("alice", "5"));
    accepted(core, order("b", "alice", "buy", "50000", "0.001")); // 5 from B
    expectRejected(core, order("c", "alice", "buy", "50000", "0.001"), "E_MARGIN");
  });

  it("isolated needs and cross charges share the account's free equity", () => {
    const core = setup([deposit("alice", "50"), { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" },
      btcPerp({ symbol: "ETH-PERP" }), mark("50000", "ETH-PERP")]);
    accepted(core, order("a", "alice", "buy", "50000", "0.006")); // isolated BTC: 30 from B
    expectRejected(core, { ...order("e", "alice", "buy", "50000", "0.005"), symbol: "ETH-PERP" }, "E_MARGIN");
    accepted(core, { ...order("e", "alice", "buy", "50000", "0.004"), symbol: "ETH-PERP" }); // cross ETH: 20
  });
});

describe("position limit: the last tier's maxNotional", () => {
  it("an order that could take the position beyond 250000 USDT is E_ORDER; reducing is not", () => {
    const core = setup([deposit("alice", "100000")]);
    expectRejected(core, order("x", "alice", "buy", "50000", "5.001"), "E_ORDER", "qty");
    accepted(core, order("a", "alice", "buy", "50000", "3"));
    expectRejected(core, order("x", "alice", "buy", "50000", "2.001"), "E_ORDER"); // with the resting 3
    accepted(core, order("b", "alice", "buy", "50000", "2"));
    accepted(core, order("s", "mm", "sell", "50000", "5"));
    accepted(core, mark("60000")); // long 5 = 300000 > the cap
    expectRejected(core, order("x", "alice", "buy", "1", "0.001"), "E_ORDER");
    accepted(core, order("r", "alice", "sell", "60000", "1"));
  });
});
