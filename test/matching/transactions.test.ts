// Book transactions, dumps and the risk-side reads, on both implementations:
//   - rollbackTx restores a book exactly: same dump, and every later operation gives the
//     same events as on a book that never saw the rolled-back operations;
//   - commitTx is invisible;
//   - dump → load rebuilds an identical book (same future events);
//   - sweepPrice / accountOrders agree between the books and with a brute-force reading.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BookFactory, OrderBook } from "../../src/matching/book.js";
import { MatchingEngine } from "../../src/matching/engine.js";
import type { OrderRequest, RestingOrderView, Side } from "../../src/matching/types.js";
import { applyOp, type Op } from "./stream.js";
import { buy, copy, given, IMPLEMENTATIONS, sell, StubHooks, SYMBOL } from "./helpers.js";

const accountArb = fc.constantFrom("a", "b", "c");
const idArb = fc.integer({ min: 1, max: 30 }).map((n) => `o${n}`);
const qtyArb = fc.integer({ min: 1, max: 12 });
const placeArb: fc.Arbitrary<Op> = fc
  .record({
    id: idArb,
    account: accountArb,
    side: fc.constantFrom("buy" as const, "sell" as const),
    market: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    price: fc.integer({ min: 95, max: 105 }),
    qty: qtyArb,
    tif: fc.constantFrom("GTC" as const, "GTC" as const, "IOC" as const, "FOK" as const, "POST_ONLY" as const),
    reduceOnly: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    stp: fc.constantFrom("cancel-taker" as const, "cancel-maker" as const, "cancel-both" as const),
  })
  .map(({ id, account, side, market, price, qty, tif, reduceOnly, stp }): Op => ({
    kind: "place",
    order: market
      ? { id, account, side, orderType: "market", qty, tif: tif === "POST_ONLY" ? "IOC" : tif, reduceOnly, stp }
      : { id, account, side, orderType: "limit", price, qty, tif, reduceOnly, stp },
  }));
const cancelArb: fc.Arbitrary<Op> = fc.record({ account: accountArb, id: idArb }).map(({ account, id }): Op => ({ kind: "cancel", account, id }));
const replaceArb: fc.Arbitrary<Op> = fc
  .record({ account: accountArb, id: idArb, price: fc.option(fc.integer({ min: 95, max: 105 }), { nil: undefined }), qty: fc.option(qtyArb, { nil: undefined }) })
  .map(({ account, id, price, qty }): Op => ({
    kind: "replace", account, id,
    change: price === undefined && qty === undefined ? { qty: 1 } : { ...(price === undefined ? {} : { price }), ...(qty === undefined ? {} : { qty }) },
  }));
const opArb = fc.oneof({ weight: 6, arbitrary: placeArb }, { weight: 2, arbitrary: cancelArb }, { weight: 2, arbitrary: replaceArb });
const opsArb = (max: number): fc.Arbitrary<Op[]> => fc.array(opArb, { maxLength: max });

/** Fixed positions, so reduce-only orders do something and the hooks need no undo. */
function hooks(): StubHooks {
  const h = new StubHooks();
  h.positions.set("a", 5);
  h.positions.set("b", -4);
  return h;
}

function run(book: OrderBook, ops: readonly Op[]): string[] {
  const out: string[] = [];
  for (const op of ops) {
    out.push(JSON.stringify(copy(applyOp(book, op))));
    book.checkInvariants();
  }
  return out;
}

describe.each(IMPLEMENTATIONS)("%s book", (_name, create: BookFactory) => {
  const fresh = (): OrderBook => create(SYMBOL, { hooks: hooks() });

  it("rollbackTx restores the book exactly (dump and all future events)", () => {
    fc.assert(
      fc.property(opsArb(40), opsArb(25), opsArb(30), (before, undone, after) => {
        const a = fresh();
        const b = fresh();
        run(a, before);
        run(b, before);
        const dumpBefore = JSON.stringify(a.dump());
        a.beginTx();
        run(a, undone);
        a.rollbackTx();
        a.checkInvariants();
        expect(JSON.stringify(a.dump())).toBe(dumpBefore);
        expect(run(a, after)).toEqual(run(b, after));
        expect(JSON.stringify(a.dump())).toBe(JSON.stringify(b.dump()));
      }),
      { numRuns: 400 },
    );
  });

  it("commitTx is invisible", () => {
    fc.assert(
      fc.property(opsArb(40), opsArb(40), (first, second) => {
        const a = fresh();
        const b = fresh();
        a.beginTx();
        const ea = run(a, first);
        a.commitTx();
        expect(ea).toEqual(run(b, first));
        expect(run(a, second)).toEqual(run(b, second));
      }),
      { numRuns: 200 },
    );
  });

  it("dump → load rebuilds an identical book", () => {
    fc.assert(
      fc.property(opsArb(60), opsArb(40), (first, second) => {
        const a = fresh();
        run(a, first);
        const b = fresh();
        b.load(JSON.parse(JSON.stringify(a.dump())));
        expect(JSON.stringify(b.dump())).toBe(JSON.stringify(a.dump()));
        expect(b.tradeCount()).toBe(a.tradeCount());
        expect(run(b, second)).toEqual(run(a, second));
      }),
      { numRuns: 300 },
    );
  });

  it("a rolled-back first order leaves the book pristine; load refuses a used book", () => {
    const a = fresh();
    expect(a.pristine()).toBe(true);
    a.beginTx();
    given(a, buy("x", "a", 100, 1));
    a.rollbackTx();
    expect(a.pristine()).toBe(true);
    expect(a.dump()).toEqual({ seq: 0, trades: 0, orders: [], ids: [] });
    given(a, buy("x", "a", 100, 1));
    expect(() => a.load({ seq: 0, trades: 0, orders: [], ids: [] })).toThrow();
  });

  it("a rollback puts filled and cancelled makers back at their place in the FIFO", () => {
    const a = fresh();
    given(a, sell("s1", "b", 100, 2), sell("s2", "c", 100, 3), sell("s3", "b", 101, 1), buy("b1", "c", 90, 1));
    const before = JSON.stringify(a.dump());
    a.beginTx();
    copy(a.place(buy("t", "a", 101, 4))); // fills s1, part of s2
    copy(a.cancel("b", "s3"));
    copy(a.replace("c", "b1", { price: 91 }));
    copy(a.place(sell("n", "a", 102, 7))); // a new resting order
    a.rollbackTx();
    expect(JSON.stringify(a.dump())).toBe(before);
    expect(a.levelOrders("sell", 100).map((o) => o.id)).toEqual(["s1", "s2"]);
    // The ids used in the rolled-back transaction are free again; the counters rewound.
    const ev = copy(a.place(buy("t", "a", 100, 1)));
    expect(ev.find((e) => e.type === "trade")).toMatchObject({ id: `${SYMBOL}:1`, makerOrderId: "s1" });
  });

  it("sweepPrice: the level where other accounts' non-reduce-only lots cover the qty", () => {
    const a = fresh();
    expect(a.sweepPrice("buy", 1, "a")).toBeNull();
    given(a, sell("s1", "a", 100, 5), sell("s2", "b", 101, 2, { reduceOnly: false }), sell("s3", "c", 102, 3), sell("s4", "c", 105, 1));
    expect(a.sweepPrice("buy", 2, "x")).toBe(100);
    expect(a.sweepPrice("buy", 2, "a")).toBe(101); // own lots do not count
    expect(a.sweepPrice("buy", 3, "a")).toBe(102);
    expect(a.sweepPrice("buy", 100, "a")).toBe(105); // not covered: the deepest level
    expect(a.sweepPrice("sell", 1, "a")).toBeNull();
  });
});

describe("fast ≡ naive on the risk-side reads", () => {
  it("sweepPrice and accountOrders agree, and accountOrders lists exactly the account's resting orders", () => {
    const naive = IMPLEMENTATIONS.find(([n]) => n === "naive")![1];
    const fast = IMPLEMENTATIONS.find(([n]) => n === "fast")![1];
    fc.assert(
      fc.property(opsArb(80), fc.constantFrom<Side>("buy", "sell"), fc.integer({ min: 1, max: 60 }), accountArb, (ops, side, qty, account) => {
        const n = naive(SYMBOL, { hooks: hooks() });
        const f = fast(SYMBOL, { hooks: hooks() });
        run(n, ops);
        run(f, ops);
        expect(f.sweepPrice(side, qty, account)).toBe(n.sweepPrice(side, qty, account));
        const list = (b: OrderBook): RestingOrderView[] => {
          const out: RestingOrderView[] = [];
          b.accountOrders(account, (o) => out.push(o));
          return out.sort((x, y) => x.seq - y.seq);
        };
        const expected = f.dump().orders.filter((o) => o.account === account).sort((x, y) => x.seq - y.seq);
        expect(list(f)).toEqual(expected);
        expect(list(n)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe("MatchingEngine transactions", () => {
  it("roll back every book an operation touched, and only those", () => {
    const engine = new MatchingEngine({ hooks: hooks() });
    engine.addSymbol("A");
    engine.addSymbol("B");
    const order = (symbol: string, o: OrderRequest): void => void engine.apply({ type: "order.new", symbol, ...o });
    order("A", sell("a1", "b", 100, 2));
    order("B", sell("b1", "b", 100, 2));
    const before = JSON.stringify([engine.book("A")!.dump(), engine.book("B")!.dump()]);
    engine.beginTx();
    order("A", buy("t1", "a", 100, 1));
    order("B", buy("t2", "a", 100, 5));
    engine.rollbackTx();
    expect(JSON.stringify([engine.book("A")!.dump(), engine.book("B")!.dump()])).toBe(before);
    expect(() => engine.removeSymbol("A")).toThrow();
    engine.addSymbol("C");
    engine.removeSymbol("C");
    expect(engine.symbols()).toEqual(["A", "B"]);
  });
});
