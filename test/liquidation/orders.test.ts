// Liquidation orders (docs/matching.md): after a takeover, @insurance offers what it holds to
// the book as reduce-only IOC orders at mark ∓ band; the trades are ordinary fills (the fund
// pays the taker fee), a maker they break is liquidated in turn (a second stage), and nothing
// is placed when no bid or ask is within the band.
import { describe, expect, it } from "vitest";
import { Core, type CoreOptions } from "../../src/pipeline.js";
import { btcPerp, deposit, entry, mark, position, trade, USDT, type Wire } from "../helpers/core.js";
import { order } from "../aggregate/order-helpers.js";
import { settlementTotal } from "../simulation/invariants.js";

function run(events: Wire[], opts: CoreOptions = {}): Core {
  const core = new Core(opts);
  for (const e of events) {
    const r = core.apply(entry(e));
    if (r.rejection !== null) throw new Error(`${JSON.stringify(e)}: ${r.rejection.code} ${r.rejection.message}`);
  }
  return core;
}

const INSTRUMENT = btcPerp({ makerFee: "0", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5" });
const base: Wire[] = [
  USDT, INSTRUMENT, deposit("alice", "600"), deposit("bob", "1000000"), deposit("mm", "1000000"), deposit("@insurance", "100000"),
  mark("50000"), trade("alice", "bob", "50000", "0.1"), // alice long 0.1, pays 2.5 taker fee
];

describe("liquidation orders", () => {
  it("the fund sells what it took over into bids within 1% of the mark", () => {
    const core = run([...base, order("m1", "mm", "buy", "43700", "0.06"), order("m2", "mm", "buy", "43600", "0.06"), order("m3", "mm", "buy", "43500", "0.06")]);
    const r = core.apply(entry(mark("44000"))); // alice: E = 597.5 − 600 < MM
    // IOC limit floor(440000 · 0.99) = 435600 ticks: m1 and m2 qualify, m3 does not.
    expect(r.outputs.map((o) => o.type)).toEqual(["liquidation", "order.accepted", "trade", "trade"]);
    expect(r.outputs[1]).toMatchObject({ orderId: `liq-${r.seq}-1`, account: "@insurance", side: "sell", price: "43560.0", qty: "0.100", tif: "IOC", reduceOnly: true });
    expect(r.outputs.slice(2)).toMatchObject([
      { seller: "@insurance", buyer: "mm", price: "43700.0", qty: "0.060", taker: "seller", makerOrderId: "m1" },
      { seller: "@insurance", buyer: "mm", price: "43600.0", qty: "0.040", taker: "seller", makerOrderId: "m2" },
    ]);
    expect(position(core, "@insurance").qty).toBe(0n);
    expect(position(core, "mm").qty).toBe(100n);
    expect(core.state.books.engine.book("BTC-PERP")!.levels("buy")).toEqual([[436000, 20], [435000, 60]]);
    // Conservation holds through the takeover, the deficit and the unwind.
    expect(settlementTotal(core.state)).toBe((600n + 1000000n * 2n + 100000n) * 1_000000n);
  });

  it("the band is an option; none within it: nothing is placed (no outputs, no id used); disabled: never", () => {
    const events = [...base, order("m1", "mm", "buy", "43700", "0.1")];
    const narrow = run(events, { liquidationOrders: { bandBps: 50 } }); // limit 43780
    expect(narrow.apply(entry(mark("44000"))).outputs.map((o) => o.type)).toEqual(["liquidation"]);
    expect(position(narrow, "@insurance").qty).toBe(100n);
    const off = run(events, { liquidationOrders: false });
    expect(off.apply(entry(mark("44000"))).outputs.map((o) => o.type)).toEqual(["liquidation"]);
    const half = run([...base, order("m1", "mm", "buy", "43700", "0.04")]);
    const r = half.apply(entry(mark("44000")));
    expect(r.outputs.map((o) => o.type)).toEqual(["liquidation", "order.accepted", "trade", "order.cancelled"]);
    expect(r.outputs[3]).toMatchObject({ account: "@insurance", reason: "unfilled", qty: "0.060" });
    expect(position(half, "@insurance").qty).toBe(60n);
  });

  it("a stale bid the fund hits can break its maker: liquidated in turn, then a second stage", () => {
    // mm2's bid at 49000 was fully margined when placed (245 USDT); the mark then falls.
    const core = run([...base, deposit("mm2", "245"), order("s", "mm2", "buy", "49000", "0.05"), order("m1", "mm", "buy", "44000", "0.2")]);
    const r = core.apply(entry(mark("44000")));
    expect(r.outputs.map((o) => (o.type === "liquidation" ? `liquidation:${o.account}` : o.type))).toEqual([
      "liquidation:alice", "order.accepted", "trade", "trade", // stage 1: 0.05 to mm2 at 49000, 0.05 to mm at 44000
      "liquidation:mm2", "order.accepted", "trade", // stage 2: mm2's 0.05 to mm
    ]);
    expect(r.outputs[1]).toMatchObject({ orderId: `liq-${r.seq}-1` });
    expect(r.outputs[5]).toMatchObject({ orderId: `liq-${r.seq}-2` });
    expect(position(core, "@insurance").qty).toBe(0n);
    expect(position(core, "mm2").qty).toBe(0n);
    expect(position(core, "mm").qty).toBe(100n);
  });
});
