// Order events through the whole pipeline: the book's trades are applied exactly like
// external `trade` events, outputs come out in book order, every rejection (decide, book,
// pre-trade risk, or an overflow found after matching) changes nothing — books included —
// and a liquidated account's open orders are cancelled.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { stateHash, stateToDoc } from "../../src/aggregate/snapshot.js";
import { balance, btcPerp, deposit, expectRejected, given, mark, position, trade, USDT, when } from "../helpers/core.js";
import { cancel, order, replace } from "./order-helpers.js";

const FEES = { makerFee: "-0.0001", takerFee: "0.0005" };

function market(): Core {
  return given([USDT, btcPerp(FEES), deposit("alice", "100000"), deposit("bob", "100000"), mark("50000")]);
}

function levels(core: Core, side: "buy" | "sell"): [number, number][] {
  return core.state.books.engine.book("BTC-PERP")!.levels(side);
}

describe("order flow into the aggregate", () => {
  it("a crossing order trades at the maker's price; the fill is an ordinary trade (fees by taker side)", () => {
    const core = market();
    const rest = when(core, order("a1", "alice", "sell", "50000", "1"));
    expect(rest.rejection).toBeNull();
    expect(rest.outputs.map((o) => o.type)).toEqual(["order.accepted"]);
    expect(levels(core, "sell")).toEqual([[500000, 1000]]);
    const take = when(core, order("b1", "bob", "buy", "50010", "0.4"));
    expect(take.outputs).toEqual([
      { type: "order.accepted", seq: take.seq, symbol: "BTC-PERP", orderId: "b1", account: "bob", side: "buy", orderType: "limit", price: "50010.0", qty: "0.400", tif: "GTC", reduceOnly: false, stp: "cancel-taker" },
      { type: "trade", seq: take.seq, id: "BTC-PERP:1", symbol: "BTC-PERP", price: "50000.0", qty: "0.400", buyer: "bob", seller: "alice", taker: "buyer", makerOrderId: "a1", takerOrderId: "b1" },
    ]);
    // The same fill as an external trade event gives the same accounts.
    const ext = market();
    when(ext, trade("bob", "alice", "50000", "0.4", { taker: "buyer" }));
    for (const who of ["alice", "bob", "@fees"]) {
      expect(balance(core, who)).toBe(balance(ext, who));
      expect(position(core, who)).toEqual(position(ext, who));
    }
    // Notional 20000 USDT: bob pays 0.05% = 10, alice receives 0.01% = 2.
    expect(balance(core, "bob")).toBe(100000_000000n - 10_000000n);
    expect(balance(core, "alice")).toBe(100000_000000n + 2_000000n);
    expect(levels(core, "sell")).toEqual([[500000, 600]]);
    expect(core.history.matching).toEqual({ trades: 1, accepted: 2, cancelled: 0, replaced: 0, rejected: 0 });
  });

  it("the first trade sets the mark when there is none", () => {
    const core = given([USDT, btcPerp(), deposit("alice", "1000"), deposit("bob", "1000")]);
    // No mark: no open loss term, IM at the order price.
    when(core, order("a1", "alice", "sell", "100", "1"));
    when(core, order("b1", "bob", "buy", "100", "1"));
    expect(core.state.instruments.get("BTC-PERP")!.markTicks).toBe(1000n);
  });

  it("IOC remainders and market orders never rest; cancels and replaces report what they did", () => {
    const core = market();
    when(core, order("a1", "alice", "sell", "50000", "0.5"));
    const ioc = when(core, order("b1", "bob", "buy", "50000", "0.8", { tif: "IOC" }));
    expect(ioc.outputs.map((o) => o.type)).toEqual(["order.accepted", "trade", "order.cancelled"]);
    expect(ioc.outputs[2]).toMatchObject({ orderId: "b1", qty: "0.300", reason: "unfilled", price: "50000.0" });
    const mkt = when(core, order("b2", "bob", "buy", null, "0.1"));
    expect(mkt.outputs.map((o) => o.type)).toEqual(["order.accepted", "order.cancelled"]);
    expect(mkt.outputs[1]).toMatchObject({ reason: "no-liquidity", price: null });
    when(core, order("a2", "alice", "sell", "50100", "0.5"));
    const rep = when(core, replace("a2", "alice", { qty: "0.2" }));
    expect(rep.outputs).toEqual([
      { type: "order.replaced", seq: rep.seq, symbol: "BTC-PERP", orderId: "a2", account: "alice", side: "sell", oldPrice: "50100.0", oldQty: "0.500", price: "50100.0", qty: "0.200", priorityKept: true },
    ]);
    const can = when(core, cancel("a2", "alice"));
    expect(can.outputs).toEqual([
      { type: "order.cancelled", seq: can.seq, symbol: "BTC-PERP", orderId: "a2", account: "alice", side: "sell", price: "50100.0", qty: "0.200", reason: "user" },
    ]);
  });

  it("rejections carry codes and change nothing (books included); the order.rejected output names the order", () => {
    const core = market();
    when(core, order("a1", "alice", "sell", "50000", "1"));
    const r = expectRejected(core, order("a1", "alice", "sell", "50001", "1"), "E_DUPLICATE", "id");
    expect(r.outputs).toEqual([
      { type: "rejected", seq: r.seq, code: "E_DUPLICATE", message: r.rejection!.message },
      { type: "order.rejected", seq: r.seq, symbol: "BTC-PERP", request: "new", orderId: "a1", account: "alice", code: "E_DUPLICATE", message: r.rejection!.message },
    ]);
    expectRejected(core, { ...order("x", "alice", "buy", "1", "1"), symbol: "ETH-PERP" }, "E_UNKNOWN", "symbol");
    expectRejected(core, order("x", "alice", "buy", "49999.95", "1"), "E_PRECISION", "price");
    expectRejected(core, order("x", "alice", "buy", "49999", "0.0001"), "E_PRECISION", "qty");
    expectRejected(core, order("x", "alice", "buy", "49999", "0"), "E_RANGE", "qty");
    expectRejected(core, order("x", "alice", "buy", "49999", "10000000000000"), "E_RANGE", "qty");
    expectRejected(core, { type: "order.new", symbol: "BTC-PERP", id: "x", account: "alice", side: "buy", qty: "1" }, "E_SCHEMA", "price");
    expectRejected(core, order("x", "bob", "buy", "50000", "1", { tif: "POST_ONLY" }), "E_ORDER", "tif");
    expectRejected(core, order("x", "bob", "buy", "50000", "2", { tif: "FOK" }), "E_ORDER", "tif");
    expectRejected(core, order("x", "bob", "sell", "50000", "1", { reduceOnly: true }), "E_ORDER", "reduceOnly");
    expectRejected(core, order("x", "carol", "buy", "50000", "1"), "E_MARGIN", "qty");
    expectRejected(core, cancel("nope", "alice"), "E_UNKNOWN", "id");
    expectRejected(core, cancel("a1", "bob"), "E_UNKNOWN", "id");
    expectRejected(core, replace("a1", "alice", { price: "0.05" }), "E_PRECISION", "price");
    // A rejected order's id stays unused.
    expect(when(core, order("x", "bob", "buy", "49000", "0.1")).rejection).toBeNull();
  });

  it("an overflow found while applying the book's trades rolls the book back too", () => {
    // @fees one minor unit below 2^63: any positive fee overflows the fee pool.
    const core = given([USDT, btcPerp({ makerFee: "0.0001", takerFee: "0.0005" }), deposit("alice", "100000"), deposit("bob", "100000"), mark("50000"),
      deposit("@fees", "9223372036854.775806")]);
    when(core, order("a1", "alice", "sell", "50000", "0.3"));
    when(core, order("a2", "alice", "sell", "50000", "0.2"));
    const before = JSON.stringify(stateToDoc(core.state).books);
    const r = expectRejected(core, order("b1", "bob", "buy", "50000", "0.4"), "E_OVERFLOW");
    expect(r.outputs.map((o) => o.type)).toEqual(["rejected", "order.rejected"]);
    expect(JSON.stringify(stateToDoc(core.state).books)).toBe(before);
    // The book still works from where it was: the next trade is BTC-PERP:1 against a1 first.
    const core2 = given([USDT, btcPerp(), deposit("alice", "100000"), deposit("bob", "100000"), mark("50000")]);
    when(core2, order("a1", "alice", "sell", "50000", "0.3"));
    when(core2, order("a2", "alice", "sell", "50000", "0.2"));
    const t = when(core2, order("b1", "bob", "buy", "50000", "0.4"));
    expect(t.outputs.filter((o) => o.type === "trade").map((o) => (o as { id: string }).id)).toEqual(["BTC-PERP:1", "BTC-PERP:2"]);
  });

  it("a liquidated account's open orders are cancelled with reason liquidation", () => {
    const core = given([USDT, btcPerp({ liquidationFee: "0.005", insuranceShare: "0.5" }), deposit("alice", "600"), deposit("bob", "100000"),
      deposit("@insurance", "100000"), mark("50000")]);
    when(core, order("b1", "bob", "sell", "50000", "0.1"));
    when(core, order("a1", "alice", "buy", "50000", "0.1")); // IM 500 of 600
    when(core, order("a2", "alice", "buy", "45000", "0.002")); // charge 9
    when(core, order("a3", "alice", "sell", "60000", "0.05")); // reduces: no margin
    const r = when(core, mark("44500")); // U = -550: equity 50 < MM 17.8? no: E 50, MM = 4450·0.004 = 17.8
    expect(r.outputs.filter((o) => o.type === "liquidation")).toHaveLength(0);
    const r2 = when(core, mark("44300")); // U = -570: E 30 > MM 17.72 — still fine
    expect(r2.outputs.filter((o) => o.type === "liquidation")).toHaveLength(0);
    const r3 = when(core, mark("44050")); // U = -595: E 5 < MM 17.62 → liquidated
    expect(r3.outputs.map((o) => o.type)).toEqual(["liquidation", "order.cancelled", "order.cancelled"]);
    expect(r3.outputs.slice(1)).toMatchObject([
      { orderId: "a2", account: "alice", reason: "liquidation", qty: "0.002" },
      { orderId: "a3", account: "alice", reason: "liquidation", qty: "0.050" },
    ]);
    let aliceOrders = 0;
    core.state.books.engine.book("BTC-PERP")!.accountOrders("alice", () => aliceOrders++);
    expect(aliceOrders).toBe(0);
    expect(position(core, "@insurance").qty).toBe(100n);
  });

  it("withdrawals count the open orders' margin", () => {
    const core = given([USDT, btcPerp(), deposit("alice", "1000"), mark("50000")]);
    when(core, order("a1", "alice", "buy", "50000", "0.1")); // charge 500
    expectRejected(core, { type: "withdraw", id: "w1", account: "alice", asset: "USDT", amount: "500.000001" }, "E_MARGIN", "amount");
    expect(when(core, { type: "withdraw", id: "w2", account: "alice", asset: "USDT", amount: "500" }).rejection).toBeNull();
    expect(stateHash(core.state)).toMatch(/^[0-9a-f]{64}$/);
  });
});
