// The order book's rules as specifications, run against both implementations:
// given a book → when an order arrives → then these trades, events and levels.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OrderBook } from "../../src/matching/book.js";
import { FastOrderBook } from "../../src/matching/fast-book.js";
import { NaiveOrderBook } from "../../src/matching/naive-book.js";
import type { BookEvent, OrderRequest } from "../../src/matching/types.js";
import {
  IMPLEMENTATIONS, StubHooks, SYMBOL, buy, copy, given, kinds, market, rejection, sell, snapshot, trades,
} from "./helpers.js";

describe.each(IMPLEMENTATIONS)("%s book", (_name, create) => {
  let hooks: StubHooks;
  let book: OrderBook;
  const place = (o: OrderRequest): BookEvent[] => copy(book.place(o));
  const cancel = (account: string, id: string): BookEvent[] => copy(book.cancel(account, id));
  const replace = (account: string, id: string, change: { price?: number; qty?: number }): BookEvent[] =>
    copy(book.replace(account, id, change));

  beforeEach(() => {
    hooks = new StubHooks();
    book = create(SYMBOL, { hooks });
  });
  afterEach(() => book.checkInvariants());

  describe("price-time priority", () => {
    it("fills the best price first, then the earliest order at that price, at the maker's price", () => {
      given(book, sell("s1", "A", 101, 5), sell("s2", "B", 100, 5), sell("s3", "C", 100, 5));
      const ev = place(buy("b1", "D", 101, 12));
      expect(trades(ev)).toEqual([
        [100, 5, "s2", "b1"],
        [100, 5, "s3", "b1"],
        [101, 2, "s1", "b1"],
      ]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 3]] });
    });

    it("a sell sweeps bids from the highest price down", () => {
      given(book, buy("b1", "A", 99, 5), buy("b2", "B", 100, 5), buy("b3", "C", 98, 5));
      const ev = place(sell("s1", "D", 99, 7));
      expect(trades(ev)).toEqual([
        [100, 5, "b2", "s1"],
        [99, 2, "b1", "s1"],
      ]);
      expect(snapshot(book)).toEqual({ bids: [[99, 3], [98, 5]], asks: [] });
    });

    it("trades at the resting price even when the taker's limit is better", () => {
      given(book, sell("s1", "A", 100, 5));
      expect(trades(place(buy("b1", "B", 105, 5)))).toEqual([[100, 5, "s1", "b1"]]);
    });

    it("emits a full trade event with a per-book sequential id", () => {
      given(book, sell("s1", "A", 100, 2), sell("s2", "B", 100, 2));
      const ev = place(buy("b1", "C", 100, 3));
      expect(ev).toEqual([
        {
          type: "order.accepted", symbol: SYMBOL, orderId: "b1", account: "C", side: "buy", orderType: "limit",
          price: 100, qty: 3, tif: "GTC", reduceOnly: false, stp: "cancel-taker",
        },
        {
          type: "trade", id: `${SYMBOL}:1`, symbol: SYMBOL, price: 100, qty: 2, buyer: "C", seller: "A",
          taker: "buyer", makerOrderId: "s1", takerOrderId: "b1",
        },
        {
          type: "trade", id: `${SYMBOL}:2`, symbol: SYMBOL, price: 100, qty: 1, buyer: "C", seller: "B",
          taker: "buyer", makerOrderId: "s2", takerOrderId: "b1",
        },
      ]);
      expect(place(buy("b2", "D", 100, 1))[1]).toMatchObject({ id: `${SYMBOL}:3`, buyer: "D", seller: "B", taker: "buyer" });
      given(book, buy("b3", "E", 99, 1));
      expect(place(sell("s3", "F", 99, 1))[1]).toMatchObject({ id: `${SYMBOL}:4`, buyer: "E", seller: "F", taker: "seller" });
    });

    it("does not trade when prices do not cross", () => {
      given(book, sell("s1", "A", 101, 5));
      expect(kinds(place(buy("b1", "B", 100, 5)))).toEqual(["order.accepted"]);
      expect(snapshot(book)).toEqual({ bids: [[100, 5]], asks: [[101, 5]] });
      expect(book.bestBid()).toBe(100);
      expect(book.bestAsk()).toBe(101);
    });
  });

  describe("partial fills", () => {
    it("a partly filled maker keeps its place at the front", () => {
      given(book, sell("s1", "A", 100, 10), sell("s2", "B", 100, 5));
      expect(trades(place(buy("b1", "C", 100, 4)))).toEqual([[100, 4, "s1", "b1"]]);
      expect(trades(place(buy("b2", "C", 100, 8)))).toEqual([
        [100, 6, "s1", "b2"],
        [100, 2, "s2", "b2"],
      ]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[100, 3]] });
    });

    it("a GTC taker's remainder rests at its limit", () => {
      given(book, sell("s1", "A", 100, 10));
      const ev = place(buy("b1", "B", 100, 15));
      expect(kinds(ev)).toEqual(["order.accepted", "trade"]);
      expect(snapshot(book)).toEqual({ bids: [[100, 5]], asks: [] });
      expect(book.order("B", "b1")).toMatchObject({ qty: 5, price: 100, side: "buy" });
    });
  });

  describe("market orders", () => {
    it("sweep the opposite side regardless of price; the remainder is cancelled, never rests", () => {
      given(book, sell("s1", "A", 100, 3), sell("s2", "B", 150, 3));
      const ev = place(market("buy", "m1", "C", 10));
      expect(trades(ev)).toEqual([
        [100, 3, "s1", "m1"],
        [150, 3, "s2", "m1"],
      ]);
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "trade", "cancelled:m1:unfilled:4"]);
      expect(ev[0]).toMatchObject({ orderType: "market", price: null });
      expect(ev[3]).toMatchObject({ price: null, side: "buy" });
      expect(snapshot(book)).toEqual({ bids: [], asks: [] });
    });

    it("on an empty opposite side are accepted then cancelled with reason no-liquidity (not an error)", () => {
      given(book, buy("b1", "A", 99, 5));
      const ev = place(market("buy", "m1", "B", 2));
      expect(kinds(ev)).toEqual(["order.accepted", "cancelled:m1:no-liquidity:2"]);
      expect(snapshot(book)).toEqual({ bids: [[99, 5]], asks: [] });
    });

    it("with GTC behave as IOC (a market order never rests)", () => {
      given(book, buy("b1", "A", 99, 5));
      const ev = place(market("sell", "m1", "B", 7, { tif: "GTC" }));
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:m1:unfilled:2"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [] });
    });

    it("market FOK fills completely or is rejected", () => {
      given(book, sell("s1", "A", 100, 3), sell("s2", "A", 200, 3));
      expect(rejection(place(market("buy", "m1", "B", 7, { tif: "FOK" })))?.code).toBe("E_ORDER");
      expect(trades(place(market("buy", "m2", "B", 6, { tif: "FOK" })))).toEqual([
        [100, 3, "s1", "m2"],
        [200, 3, "s2", "m2"],
      ]);
    });
  });

  describe("IOC", () => {
    it("fills what crosses and cancels the remainder", () => {
      given(book, sell("s1", "A", 100, 3), sell("s2", "A", 101, 3));
      const ev = place(buy("i1", "B", 100, 5, { tif: "IOC" }));
      expect(trades(ev)).toEqual([[100, 3, "s1", "i1"]]);
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:i1:unfilled:2"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 3]] });
    });

    it("that does not cross is cancelled whole and leaves the book unchanged", () => {
      given(book, sell("s1", "A", 101, 3));
      expect(kinds(place(buy("i1", "B", 100, 5, { tif: "IOC" })))).toEqual(["order.accepted", "cancelled:i1:unfilled:5"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 3]] });
    });
  });

  describe("FOK", () => {
    beforeEach(() => given(book, sell("s1", "A", 100, 3), sell("s2", "B", 101, 4), sell("s3", "C", 102, 10)));

    it("with exactly enough liquidity within its limit fills completely", () => {
      const ev = place(buy("f1", "D", 101, 7, { tif: "FOK" }));
      expect(trades(ev)).toEqual([
        [100, 3, "s1", "f1"],
        [101, 4, "s2", "f1"],
      ]);
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "trade"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[102, 10]] });
    });

    it("one lot short is rejected with no trades and no change", () => {
      const before = snapshot(book);
      const ev = place(buy("f1", "D", 101, 8, { tif: "FOK" }));
      expect(ev).toHaveLength(1);
      expect(rejection(ev)).toEqual({ code: "E_ORDER", message: "tif: FOK cannot be filled completely (7 of 8 lots fillable)" });
      expect(snapshot(book)).toEqual(before);
    });

    it("does not count its own account's liquidity (cancel-maker skips it; the own order survives a rejection)", () => {
      given(book, sell("own", "D", 100, 5));
      const ev = place(buy("f1", "D", 101, 8, { tif: "FOK", stp: "cancel-maker" }));
      expect(rejection(ev)?.code).toBe("E_ORDER");
      expect(book.order("D", "own")).toBeDefined();
      const ok = place(buy("f2", "D", 101, 7, { tif: "FOK", stp: "cancel-maker" }));
      expect(kinds(ok)).toEqual(["order.accepted", "trade", "cancelled:own:stp:5", "trade"]);
      expect(trades(ok)).toEqual([
        [100, 3, "s1", "f2"],
        [101, 4, "s2", "f2"],
      ]);
    });

    it("with cancel-taker counts only liquidity ahead of its own first order", () => {
      // Queue at 100: s1 (A, 3), own (D, 5). The taker would be cancelled on reaching `own`.
      given(book, sell("own", "D", 100, 5));
      expect(rejection(place(buy("f1", "D", 101, 4, { tif: "FOK" })))?.message).toContain("(3 of 4 lots fillable)");
      expect(trades(place(buy("f2", "D", 100, 3, { tif: "FOK" })))).toEqual([[100, 3, "s1", "f2"]]);
    });
  });

  describe("POST_ONLY", () => {
    beforeEach(() => given(book, sell("s1", "A", 100, 5), buy("b1", "A", 98, 5)));

    it("is rejected when it would cross, leaving the book unchanged", () => {
      const ev = place(buy("p1", "B", 101, 2, { tif: "POST_ONLY" }));
      expect(rejection(ev)).toEqual({ code: "E_ORDER", message: "tif: POST_ONLY buy at 101 ticks would cross the best ask at 100 ticks" });
      expect(snapshot(book)).toEqual({ bids: [[98, 5]], asks: [[100, 5]] });
    });

    it("is rejected at a price equal to the best opposite price", () => {
      expect(rejection(place(sell("p1", "B", 98, 2, { tif: "POST_ONLY" })))?.code).toBe("E_ORDER");
    });

    it("rests when it does not cross", () => {
      expect(kinds(place(buy("p1", "B", 99, 2, { tif: "POST_ONLY" })))).toEqual(["order.accepted"]);
      expect(snapshot(book)).toEqual({ bids: [[99, 2], [98, 5]], asks: [[100, 5]] });
      expect(book.order("B", "p1")).toMatchObject({ postOnly: true });
    });

    it("requires a limit order", () => {
      expect(rejection(place(market("buy", "p1", "B", 2, { tif: "POST_ONLY" })))).toEqual({
        code: "E_ORDER", message: "tif: POST_ONLY requires a limit order",
      });
    });
  });

  describe("self-trade prevention (the taker's mode decides)", () => {
    // Queue at 100: x1 (X, 5) then a1 (A, 5); x2 (X, 5) at 101.
    beforeEach(() => given(book, sell("x1", "X", 100, 5), sell("a1", "A", 100, 5, { stp: "cancel-maker" }), sell("x2", "X", 101, 5)));

    it("cancel-taker: trades before the own order stand, the taker's remainder is cancelled", () => {
      const ev = place(buy("t", "A", 101, 8, { stp: "cancel-taker" }));
      expect(trades(ev)).toEqual([[100, 5, "x1", "t"]]);
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:t:stp:3"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[100, 5], [101, 5]] });
    });

    it("defaults to cancel-taker", () => {
      const ev = place({ id: "t", account: "A", side: "buy", orderType: "limit", price: 101, qty: 8, tif: "GTC" });
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:t:stp:3"]);
    });

    it("cancel-maker: the own resting order is cancelled and matching continues", () => {
      const ev = place(buy("t", "A", 101, 8, { stp: "cancel-maker" }));
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:a1:stp:5", "trade"]);
      expect(trades(ev)).toEqual([
        [100, 5, "x1", "t"],
        [101, 3, "x2", "t"],
      ]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 2]] });
    });

    it("cancel-maker: a GTC remainder rests once the own orders are gone", () => {
      const ev = place(buy("t", "A", 100, 8, { stp: "cancel-maker" }));
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:a1:stp:5"]);
      expect(snapshot(book)).toEqual({ bids: [[100, 3]], asks: [[101, 5]] });
    });

    it("cancel-both: the own resting order and the taker's remainder are both cancelled", () => {
      const ev = place(buy("t", "A", 101, 8, { stp: "cancel-both" }));
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:a1:stp:5", "cancelled:t:stp:3"]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 5]] });
    });

    it("applies to market orders too", () => {
      given(book, buy("a2", "A", 90, 1));
      const ev = place(market("sell", "m", "A", 3));
      expect(kinds(ev)).toEqual(["order.accepted", "cancelled:m:stp:3"]);
      expect(book.order("A", "a2")).toBeDefined();
    });
  });

  describe("cancel", () => {
    it("removes a resting order and reports its remaining quantity", () => {
      given(book, sell("s1", "A", 100, 10), sell("s2", "B", 101, 1));
      place(buy("b1", "C", 100, 4));
      expect(cancel("A", "s1")).toEqual([
        { type: "order.cancelled", symbol: SYMBOL, orderId: "s1", account: "A", side: "sell", price: 100, qty: 6, reason: "user" },
      ]);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[101, 1]] });
      expect(book.restingCount()).toBe(1);
    });

    it("is E_UNKNOWN for an unknown id, another account's order, a filled or an already cancelled order", () => {
      given(book, sell("s1", "A", 100, 1), sell("s2", "A", 100, 1));
      place(buy("b1", "C", 100, 1)); // fills s1
      cancel("A", "s2");
      for (const [account, id] of [["A", "nope"], ["B", "s2"], ["A", "s1"], ["A", "s2"]] as const) {
        const ev = cancel(account, id);
        expect(ev).toEqual([
          {
            type: "order.rejected", symbol: SYMBOL, request: "cancel", orderId: id, account, code: "E_UNKNOWN",
            message: `id: no resting order "${id}" of account "${account}"`,
          },
        ]);
      }
    });
  });

  describe("replace", () => {
    beforeEach(() => given(book, buy("b1", "A", 100, 10), buy("b2", "B", 100, 5)));

    it("a size decrease keeps time priority", () => {
      expect(replace("A", "b1", { qty: 4 })).toEqual([
        {
          type: "order.replaced", symbol: SYMBOL, orderId: "b1", account: "A", side: "buy",
          oldPrice: 100, oldQty: 10, price: 100, qty: 4, priorityKept: true,
        },
      ]);
      expect(book.levelOrders("buy", 100).map((o) => o.id)).toEqual(["b1", "b2"]);
      expect(trades(place(sell("s", "C", 100, 6)))).toEqual([
        [100, 4, "b1", "s"],
        [100, 2, "b2", "s"],
      ]);
    });

    it("a size increase loses time priority", () => {
      expect(replace("A", "b1", { qty: 12 })[0]).toMatchObject({ priorityKept: false, qty: 12 });
      expect(book.levelOrders("buy", 100).map((o) => o.id)).toEqual(["b2", "b1"]);
      expect(snapshot(book)).toEqual({ bids: [[100, 17]], asks: [] });
      expect(trades(place(sell("s", "C", 100, 6)))).toEqual([
        [100, 5, "b2", "s"],
        [100, 1, "b1", "s"],
      ]);
    });

    it("a price change loses time priority, even when moving back", () => {
      replace("A", "b1", { price: 101 });
      expect(snapshot(book)).toEqual({ bids: [[101, 10], [100, 5]], asks: [] });
      replace("A", "b1", { price: 100 });
      expect(book.levelOrders("buy", 100).map((o) => o.id)).toEqual(["b2", "b1"]);
    });

    it("qty is the new remaining quantity, whatever was filled before", () => {
      place(sell("s", "C", 100, 4)); // b1: 10 → 6 remaining
      expect(replace("A", "b1", { qty: 3 })[0]).toMatchObject({ oldQty: 6, qty: 3, priorityKept: true });
      expect(replace("A", "b1", { qty: 8 })[0]).toMatchObject({ oldQty: 3, qty: 8, priorityKept: false });
      expect(snapshot(book)).toEqual({ bids: [[100, 13]], asks: [] });
    });

    it("that crosses matches like a new GTC limit order; the remainder rests at the back of its new level", () => {
      given(book, sell("s1", "C", 102, 3), sell("s2", "D", 103, 3), buy("b3", "E", 101, 1));
      const ev = replace("A", "b1", { price: 102 });
      expect(kinds(ev)).toEqual(["order.replaced", "trade"]);
      expect(trades(ev)).toEqual([[102, 3, "s1", "b1"]]);
      expect(snapshot(book)).toEqual({ bids: [[102, 7], [101, 1], [100, 5]], asks: [[103, 3]] });
    });

    it("that crosses its own order follows the order's STP mode", () => {
      given(book, sell("a2", "A", 101, 2));
      expect(kinds(replace("A", "b1", { price: 101 }))).toEqual(["order.replaced", "cancelled:b1:stp:10"]);
      expect(book.order("A", "b1")).toBeUndefined();
      expect(book.order("A", "a2")).toBeDefined();
    });

    it("of a POST_ONLY order to a crossing price is rejected and changes nothing", () => {
      given(book, buy("p", "C", 99, 1, { tif: "POST_ONLY" }), sell("s1", "D", 101, 1));
      expect(rejection(replace("C", "p", { price: 101 }))?.code).toBe("E_ORDER");
      expect(book.order("C", "p")).toMatchObject({ price: 99, qty: 1 });
    });

    it("of an unknown order is E_UNKNOWN; without changes E_ORDER; with a bad qty E_RANGE", () => {
      expect(rejection(replace("A", "zz", { qty: 1 }))?.code).toBe("E_UNKNOWN");
      expect(rejection(replace("B", "b1", { qty: 1 }))?.code).toBe("E_UNKNOWN");
      expect(rejection(replace("A", "b1", {}))).toEqual({ code: "E_ORDER", message: "replace: price or qty required" });
      expect(rejection(replace("A", "b1", { qty: 0 }))?.message).toMatch(/^qty: /);
      expect(rejection(replace("A", "b1", { price: 1.5 }))).toMatchObject({ code: "E_RANGE" });
      expect(book.levelOrders("buy", 100).map((o) => [o.id, o.qty])).toEqual([["b1", 10], ["b2", 5]]);
    });
  });

  describe("reduce-only", () => {
    it("is rejected when the account is flat or the order would increase the position", () => {
      expect(rejection(place(sell("r1", "A", 100, 1, { reduceOnly: true })))).toEqual({
        code: "E_ORDER", message: "reduceOnly: a sell would not reduce the position (0 lots)",
      });
      hooks.positions.set("A", 5);
      expect(rejection(place(buy("r2", "A", 100, 1, { reduceOnly: true })))?.code).toBe("E_ORDER");
    });

    it("is capped to the position size", () => {
      hooks.positions.set("A", 5);
      const ev = place(sell("r1", "A", 100, 8, { reduceOnly: true }));
      expect(ev[0]).toMatchObject({ type: "order.accepted", qty: 5, reduceOnly: true });
      expect(snapshot(book)).toEqual({ bids: [], asks: [[100, 5]] });
      hooks.positions.set("B", -3);
      expect(trades(place(buy("r2", "B", 100, 9, { reduceOnly: true, tif: "IOC" })))).toEqual([[100, 3, "r1", "r2"]]);
    });

    it("a resting one fills only what still reduces; the rest is cancelled when it is reached", () => {
      hooks.positions.set("A", 5);
      given(book, sell("r1", "A", 100, 5, { reduceOnly: true }), sell("s2", "C", 100, 5));
      hooks.positions.set("A", 2); // something else closed 3 lots since
      const ev = place(buy("b", "B", 100, 4));
      expect(kinds(ev)).toEqual(["order.accepted", "trade", "cancelled:r1:reduce-only:3", "trade"]);
      expect(trades(ev)).toEqual([
        [100, 2, "r1", "b"],
        [100, 2, "s2", "b"],
      ]);
    });

    it("never flips the position, even across several resting orders hit in one sweep", () => {
      hooks.positions.set("A", 5);
      given(book, sell("r1", "A", 100, 4, { reduceOnly: true }), sell("r2", "A", 101, 4, { reduceOnly: true }));
      const ev = place(buy("b", "B", 101, 8));
      expect(trades(ev)).toEqual([
        [100, 4, "r1", "b"],
        [101, 1, "r2", "b"],
      ]);
      expect(kinds(ev)).toContain("cancelled:r2:reduce-only:3");
      expect(snapshot(book)).toEqual({ bids: [[101, 3]], asks: [] });
    });

    it("FOK counts a reduce-only maker only up to what it may still trade", () => {
      hooks.positions.set("A", 4);
      given(book, sell("r1", "A", 100, 3, { reduceOnly: true }), sell("r2", "A", 100, 3, { reduceOnly: true }));
      expect(rejection(place(buy("f", "B", 100, 5, { tif: "FOK" })))?.message).toContain("(4 of 5 lots fillable)");
      const ok = place(buy("g", "B", 100, 4, { tif: "FOK" }));
      expect(trades(ok)).toEqual([
        [100, 3, "r1", "g"],
        [100, 1, "r2", "g"],
      ]);
      expect(book.order("A", "r2")).toMatchObject({ qty: 2 }); // not reached with zero capacity: stays
    });

    it("replace re-applies the cap", () => {
      hooks.positions.set("A", 5);
      given(book, sell("r1", "A", 100, 2, { reduceOnly: true }));
      expect(replace("A", "r1", { qty: 9 })[0]).toMatchObject({ qty: 5 });
      hooks.positions.set("A", 0);
      expect(rejection(replace("A", "r1", { qty: 1 }))?.code).toBe("E_ORDER");
    });
  });

  describe("pre-trade risk check", () => {
    it("sees the order (capped qty) and can refuse it; the refused id stays usable", () => {
      hooks.denied.set("A", { code: "E_MARGIN", message: "margin: would leave equity below initial margin" });
      expect(rejection(place(buy("b1", "A", 100, 1)))).toEqual({
        code: "E_MARGIN", message: "margin: would leave equity below initial margin",
      });
      hooks.denied.delete("A");
      expect(kinds(place(buy("b1", "A", 100, 1)))).toEqual(["order.accepted"]);
      replace("A", "b1", { price: 99 });
      expect(hooks.checks.map((c) => [c.kind, c.order.id, c.order.price, c.order.qty])).toEqual([
        ["new", "b1", 100, 1],
        ["new", "b1", 100, 1],
        ["replace", "b1", 99, 1],
      ]);
    });
  });

  describe("order ids", () => {
    it("are unique per account among every accepted order, resting or not", () => {
      given(book, sell("s1", "A", 100, 1));
      place(buy("x", "B", 100, 1)); // fills s1 (s1 gone) and x (never rested)
      expect(rejection(place(sell("s1", "A", 100, 1)))).toEqual({
        code: "E_DUPLICATE", message: 'id: order id "s1" was already used by account "A"',
      });
      expect(rejection(place(buy("x", "B", 90, 1)))?.code).toBe("E_DUPLICATE");
      expect(kinds(place(sell("s1", "C", 100, 1)))).toEqual(["order.accepted"]); // another account
    });

    it("of rejected orders are not used up", () => {
      place(buy("b1", "A", 100, 0));
      expect(kinds(place(buy("b1", "A", 100, 1)))).toEqual(["order.accepted"]);
    });
  });

  describe("invalid inputs are rejected with a code and a message naming the field", () => {
    const base = { id: "o", account: "A", side: "buy", orderType: "limit", price: 100, qty: 1, tif: "GTC" };
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ["qty 0", { qty: 0 }, "E_RANGE", /^qty: /],
      ["negative qty", { qty: -1 }, "E_RANGE", /^qty: /],
      ["fractional qty", { qty: 1.5 }, "E_RANGE", /^qty: /],
      ["qty 2^53", { qty: 2 ** 53 }, "E_RANGE", /^qty: /],
      ["qty as a string", { qty: "1" }, "E_SCHEMA", /^qty: /],
      ["price 0", { price: 0 }, "E_RANGE", /^price: /],
      ["price NaN", { price: Number.NaN }, "E_RANGE", /^price: /],
      ["price 2^53", { price: 2 ** 53 }, "E_RANGE", /^price: /],
      ["limit without price", { price: undefined }, "E_SCHEMA", /^price: missing/],
      ["market with price", { orderType: "market" }, "E_SCHEMA", /^price: not allowed/],
      ["unknown side", { side: "up" }, "E_SCHEMA", /^side: /],
      ["unknown orderType", { orderType: "stop" }, "E_SCHEMA", /^orderType: /],
      ["unknown tif", { tif: "GTD" }, "E_SCHEMA", /^tif: /],
      ["unknown stp", { stp: "none" }, "E_SCHEMA", /^stp: /],
      ["non-boolean reduceOnly", { reduceOnly: "yes" }, "E_SCHEMA", /^reduceOnly: /],
      ["empty id", { id: "" }, "E_SCHEMA", /^id: /],
      ["overlong id", { id: "x".repeat(129) }, "E_SCHEMA", /^id: /],
      ["missing account", { account: undefined }, "E_SCHEMA", /^account: /],
    ];
    it.each(cases)("%s", (_label, patch, code, message) => {
      given(book, sell("s1", "Z", 100, 5));
      const ev = place({ ...base, ...patch } as unknown as OrderRequest);
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ type: "order.rejected", request: "new", code });
      expect(rejection(ev)?.message).toMatch(message);
      expect(snapshot(book)).toEqual({ bids: [], asks: [[100, 5]] });
    });

    it("cancel/replace with a non-string id", () => {
      expect(rejection(copy(book.cancel("A", 5 as unknown as string)))?.code).toBe("E_SCHEMA");
      expect(rejection(copy(book.replace("A", "", { qty: 1 }))))?.toMatchObject({ code: "E_SCHEMA" });
    });
  });

  describe("limits", () => {
    it("a full book rejects orders that could rest, but still takes IOC/market orders", () => {
      book = create(SYMBOL, { hooks, maxRestingOrders: 2 });
      given(book, sell("s1", "A", 100, 5), sell("s2", "A", 101, 5));
      expect(rejection(place(buy("b1", "B", 90, 1)))?.message).toBe(`book: ${SYMBOL} already holds the maximum of 2 resting orders`);
      expect(trades(place(buy("b2", "B", 100, 1, { tif: "IOC" })))).toEqual([[100, 1, "s1", "b2"]]);
    });

    it("a side at its level limit rejects a new price level but accepts an existing one", () => {
      book = create(SYMBOL, { hooks, maxLevelsPerSide: 2 });
      given(book, buy("b1", "A", 99, 1), buy("b2", "A", 98, 1));
      expect(rejection(place(buy("b3", "A", 97, 1)))?.code).toBe("E_ORDER");
      expect(kinds(place(buy("b4", "A", 98, 1)))).toEqual(["order.accepted"]);
      // Moving the only order of a level to a new price frees its slot.
      given(book, sell("s1", "B", 105, 1));
      expect(kinds(replace("A", "b1", { price: 97 }))).toEqual(["order.replaced"]);
      expect(rejection(replace("A", "b2", { price: 96 }))?.code).toBe("E_ORDER");
    });

    it("a level total may not exceed 2^53-1 lots", () => {
      given(book, buy("b1", "A", 99, Number.MAX_SAFE_INTEGER - 1));
      expect(rejection(place(buy("b2", "B", 99, 2)))?.code).toBe("E_RANGE");
      expect(kinds(place(buy("b3", "B", 99, 1)))).toEqual(["order.accepted"]);
      expect(snapshot(book).bids).toEqual([[99, Number.MAX_SAFE_INTEGER]]);
    });
  });

  describe("determinism", () => {
    it("the same input stream gives the same outputs", () => {
      const script = (b: OrderBook): string => {
        const out: BookEvent[] = [];
        const ops: (() => readonly BookEvent[])[] = [
          () => b.place(sell("s1", "A", 100, 5)),
          () => b.place(sell("s2", "B", 100, 5)),
          () => b.place(buy("b1", "C", 101, 7, { stp: "cancel-both" })),
          () => b.replace("B", "s2", { price: 99 }),
          () => b.place(market("sell", "m", "D", 10)),
        ];
        for (const op of ops) out.push(...copy(op()));
        return JSON.stringify([out, b.levels("buy"), b.levels("sell")]);
      };
      expect(script(create(SYMBOL))).toBe(script(create(SYMBOL)));
    });
  });
});

/** The fast book's private structure, as far as the corruption tests poke at it. */
interface FastInternals {
  bids: FastSideInternals;
  asks: FastSideInternals;
  accounts: Map<string, { ids: Map<string, unknown> }>;
  allocLevel(price: number): FastSideInternals["levels"][number];
}
interface FastSideInternals {
  n: number;
  keys: number[];
  levels: { price: number; totalQty: number; head: { seq: number; price: number } }[];
}

describe("checkInvariants detects corruption", () => {
  it("fast book: level total, FIFO order, empty level, index", () => {
    const corrupt = (mutate: (internals: FastInternals) => void, message: RegExp): void => {
      const b = new FastOrderBook(SYMBOL);
      given(b, buy("b1", "A", 100, 5), buy("b2", "B", 100, 5), sell("s1", "A", 101, 5));
      b.checkInvariants();
      mutate(b as unknown as FastInternals);
      expect(() => b.checkInvariants()).toThrow(message);
    };
    corrupt((b) => { b.bids.levels[0]!.totalQty += 1; }, /total/);
    corrupt((b) => { b.bids.levels[0]!.head.seq = 99; }, /FIFO/);
    corrupt((b) => { b.accounts.get("A")!.ids.set("b1", null); }, /index/);
    corrupt((b) => {
      b.asks.levels[0]!.price = 100;
      b.asks.levels[0]!.head.price = 100;
      b.asks.keys[0] = -100;
    }, /crossed/);
    corrupt((b) => {
      const l = b.allocLevel(90);
      b.bids.keys.unshift(90);
      b.bids.levels.unshift(l);
      b.bids.n += 1;
    }, /empty level/);
  });

  it("naive book: crossed book", () => {
    const b = new NaiveOrderBook(SYMBOL);
    given(b, buy("b1", "A", 100, 5), sell("s1", "A", 101, 5));
    (b as unknown as { orders: { price: number }[] }).orders[1]!.price = 99;
    expect(() => b.checkInvariants()).toThrow(/crossed/);
  });
});
