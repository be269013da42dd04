// runMatch end to end (the `mmc match --json` function) on a small NDJSON fixture, with the
// expected result worked out by hand from the rules; plus the engine around the books.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MatchingEngine, runMatch, TradePositionHooks } from "../../src/matching/engine.js";
import type { BookTrade } from "../../src/matching/types.js";

const FIXTURE = new URL("./fixtures/orders.ndjson", import.meta.url);
const lines = readFileSync(FIXTURE, "utf8").split("\n");

// Grids: BTC-PERP tick 0.5, lot 0.001 → price p is 2p ticks, qty q is 1000q lots.
//        ETH-PERP tick 0.01, lot 0.01.
// seq (non-blank entries) → what happens:
//  1, 2  instruments (BTC carries the full SPEC fields, ETH only the grid); 3 deposit: skipped
//  4  a1 alice sell 10 lots @ 50000.5 rests      5  a2 alice sell 5 @ 50001 rests
//  6  a3 alice sell 3 @ 50010 rests             7  b1 bob buy 4 @ 50000 rests
//  8  c1 carol buy 12 @ 50001: takes a1 (10 @ 50000.5) then 2 of a2 (@ 50001) → trades 1, 2
//  9  50000.25 is off the 0.5 grid → E_PRECISION   10  0.0005 is off the 0.001 grid → E_PRECISION
//  11 SOL-PERP was never defined → E_UNKNOWN       12 tif GTD → E_SCHEMA
//  13 bob moves b1 to 50001: crosses the 3 lots left of a2 → trade 3; 1 lot rests at 50001
//  14 carol reuses id c1 → E_DUPLICATE
//  15 carol (long 12 from trades 1, 2) market-sells reduce-only 100 lots: capped to 12; takes
//     bob's 1 lot @ 50001 → trade 4; the other 11 are cancelled (an outcome, not a rejection)
//  16 e1 dave POST_ONLY buy 150 lots @ 3000.10 rests
//  17 e2 POST_ONLY sell @ 3000.10 would cross e1 → E_ORDER
//  18 e3 FOK sell 200 @ 3000.20: nothing crosses → E_ORDER
//  19 cancel of an unknown id → E_UNKNOWN          20 not JSON → E_JSON   (blank line: no seq)
//  21 price 0 → E_RANGE                           22 e5 erin sell 25 lots @ 3001 rests
const EXPECTED = {
  trades: [
    { id: "BTC-PERP:1", symbol: "BTC-PERP", price: "50000.5", qty: "0.010", buyer: "carol", seller: "alice", taker: "buyer", makerOrderId: "a1", takerOrderId: "c1" },
    { id: "BTC-PERP:2", symbol: "BTC-PERP", price: "50001.0", qty: "0.002", buyer: "carol", seller: "alice", taker: "buyer", makerOrderId: "a2", takerOrderId: "c1" },
    { id: "BTC-PERP:3", symbol: "BTC-PERP", price: "50001.0", qty: "0.003", buyer: "bob", seller: "alice", taker: "buyer", makerOrderId: "a2", takerOrderId: "b1" },
    { id: "BTC-PERP:4", symbol: "BTC-PERP", price: "50001.0", qty: "0.001", buyer: "bob", seller: "carol", taker: "seller", makerOrderId: "b1", takerOrderId: "r1" },
  ],
  book: {
    "BTC-PERP": { bids: [], asks: [["50010.0", "0.003"]] },
    "ETH-PERP": { bids: [["3000.10", "1.50"]], asks: [["3001.00", "0.25"]] },
  },
  rejected: [
    { seq: 9, code: "E_PRECISION", message: "price: 50000.25 is off the tick grid (tickSize 0.5)" },
    { seq: 10, code: "E_PRECISION", message: "qty: 0.0005 is off the lot grid (lotSize 0.001)" },
    { seq: 11, code: "E_UNKNOWN", message: 'symbol: unknown symbol "SOL-PERP" (no instrument event before it)' },
    { seq: 12, code: "E_SCHEMA", message: 'tif: expected "GTC", "IOC", "FOK" or "POST_ONLY"' },
    { seq: 14, code: "E_DUPLICATE", message: 'id: order id "c1" was already used by account "carol"' },
    { seq: 17, code: "E_ORDER", message: "tif: POST_ONLY sell at 300010 ticks would cross the best bid at 300010 ticks" },
    { seq: 18, code: "E_ORDER", message: "tif: FOK cannot be filled completely (0 of 200 lots fillable)" },
    { seq: 19, code: "E_UNKNOWN", message: 'id: no resting order "zz" of account "dave"' },
    { seq: 20, code: "E_JSON", message: expect.stringMatching(/^malformed JSON: /) },
    { seq: 21, code: "E_RANGE", message: "price: must be positive" },
  ],
};

describe("runMatch", () => {
  it("matches the NDJSON fixture exactly as worked out by hand", () => {
    expect(runMatch(lines)).toEqual(EXPECTED);
  });

  it("gives the same result with the naive book and with pre-parsed entries", () => {
    const fast = runMatch(lines);
    expect(runMatch(lines, { book: "naive" })).toEqual(fast);
    const parsed = lines.filter((l) => l.trim() !== "").map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return l; // keep the malformed line as a line
      }
    });
    expect(runMatch(parsed)).toEqual(fast);
  });

  it("rejects a redefinition of an instrument with another grid, accepts a repeat", () => {
    const r = runMatch([
      '{"type":"instrument","symbol":"X","tickSize":"0.1","lotSize":"1"}',
      '{"type":"instrument","symbol":"X","tickSize":"0.10","lotSize":"1.0"}',
      '{"type":"instrument","symbol":"X","tickSize":"0.5","lotSize":"1"}',
      '{"type":"instrument","symbol":"Y","tickSize":"0","lotSize":"1"}',
      '{"type":"order.new","symbol":"X","id":"o","account":"a","side":"buy","price":"1.5","qty":"2","extra":true}',
    ]);
    expect(r).toEqual({
      trades: [],
      book: { X: { bids: [], asks: [] } },
      rejected: [
        { seq: 3, code: "E_INSTRUMENT", message: "symbol: X is already defined with another tickSize/lotSize" },
        { seq: 4, code: "E_INSTRUMENT", message: "tickSize: must be positive" },
        { seq: 5, code: "E_SCHEMA", message: "extra: unexpected field" },
      ],
    });
  });

  it("is deterministic", () => {
    expect(JSON.stringify(runMatch(lines))).toBe(JSON.stringify(runMatch(lines)));
  });
});

describe("MatchingEngine", () => {
  it("routes commands to per-symbol books and copies their events", () => {
    const engine = new MatchingEngine();
    expect(engine.addSymbol("B")).toBeNull();
    expect(engine.addSymbol("A")).toBeNull();
    expect(engine.addSymbol("A")).toBeNull(); // idempotent
    expect(engine.symbols()).toEqual(["A", "B"]);
    const first = engine.apply({ type: "order.new", symbol: "A", id: "1", account: "x", side: "sell", orderType: "limit", price: 10, qty: 2, tif: "GTC" });
    const second = engine.apply({ type: "order.new", symbol: "A", id: "2", account: "y", side: "buy", orderType: "limit", price: 10, qty: 1, tif: "GTC" });
    expect(first).toEqual([expect.objectContaining({ type: "order.accepted", orderId: "1" })]); // not overwritten
    expect(second[1]).toMatchObject({ type: "trade", id: "A:1", price: 10, qty: 1 });
    expect(engine.apply({ type: "order.replace", symbol: "A", account: "x", id: "1", qty: 5 })[0]).toMatchObject({ type: "order.replaced", priorityKept: false });
    expect(engine.apply({ type: "order.cancel", symbol: "A", account: "x", id: "1" })[0]).toMatchObject({ reason: "user", qty: 5 });
    expect(engine.apply({ type: "order.cancel", symbol: "C", account: "x", id: "1" })).toEqual([
      { type: "order.rejected", symbol: "C", request: "cancel", orderId: "1", account: "x", code: "E_UNKNOWN", message: 'symbol: unknown symbol "C"' },
    ]);
    expect(engine.book("B")!.restingCount()).toBe(0);
  });

  it("refuses more books than its limit", () => {
    const engine = new MatchingEngine({ maxBooks: 1 });
    expect(engine.addSymbol("A")).toBeNull();
    expect(engine.addSymbol("B")?.code).toBe("E_RANGE");
  });

  it("passes its hooks to every book", () => {
    const hooks = new TradePositionHooks();
    const engine = new MatchingEngine({ hooks, book: "naive" });
    engine.addSymbol("A");
    const t: BookTrade = { type: "trade", id: "A:1", symbol: "A", price: 1, qty: 3, buyer: "x", seller: "y", taker: "buyer", makerOrderId: "m", takerOrderId: "t" };
    hooks.applyTrade(t);
    expect(hooks.positionLots("x", "A")).toBe(3);
    expect(hooks.positionLots("y", "A")).toBe(-3);
    const ev = engine.apply({ type: "order.new", symbol: "A", id: "r", account: "x", side: "sell", orderType: "limit", price: 5, qty: 9, tif: "GTC", reduceOnly: true });
    expect(ev[0]).toMatchObject({ type: "order.accepted", qty: 3 });
  });
});
