// SPEC worked example (issue 2 acceptance): tiers [{50000, 0.004, 125}, {250000, 0.005, 100}],
// fees 0, an isolated long of 1 BTC at 50000 with isolated margin 2500 (leverage 20):
// MM 200, liquidation price 47690.7, bankruptcy price 47500 (tick 0.1, lot 0.001, USDT 6 dp).
import { describe, expect, it } from "vitest";
import { buildReport } from "../../src/outputs/report.js";
import { btcPerp, deposit, given, mark, trade, USDT, type EngineName } from "../helpers/core.js";

describe.each<EngineName>(["kernel", "reference"])("SPEC worked example (%s engine)", (engine) => {
  it("given an isolated 1 BTC long at 50000 with 2500 margin at 20x, then MM 200, liq 47690.7, bankruptcy 47500", () => {
    const core = given([
      USDT, btcPerp(), mark("50000"),
      deposit("alice", "2500"), deposit("bob", "100000"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" },
      { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 20 },
      trade("alice", "bob", "50000", "1"),
    ], engine);
    const r = buildReport(core);
    const p = r.accounts.alice!.positions["BTC-PERP"]!;
    expect(p).toMatchObject({
      mode: "isolated", leverage: 20, qty: "1.000", entryPrice: "50000.0",
      isolatedMargin: "2500.000000", unrealizedPnl: "0.000000", equity: "2500.000000",
      initialMargin: "2500.000000", maintenanceMargin: "200.000000",
      liquidationPrice: "47690.7", bankruptcyPrice: "47500.0",
    });
    // Auto-margin moved exactly ceil(a·p·k/L) = 2500 USDT from B, leaving B = 0.
    expect(r.accounts.alice!.balances).toEqual({});
    expect(Number(r.accounts.bob!.positions["BTC-PERP"]!.qty)).toBe(-1);
  });

  it("when the mark reaches the liquidation price 47690.7 the position is liquidated, and not at 47690.8", () => {
    const setup = [
      USDT, btcPerp(), mark("50000"),
      deposit("alice", "2500"), deposit("bob", "100000"), deposit("@insurance", "1000"),
      { type: "margin.mode", account: "alice", symbol: "BTC-PERP", mode: "isolated" },
      { type: "leverage", account: "alice", symbol: "BTC-PERP", leverage: 20 },
      trade("alice", "bob", "50000", "1"),
    ];
    const above = given([...setup, mark("47690.8")], engine);
    expect(buildReport(above).liquidations).toHaveLength(0);
    const at = given([...setup, mark("47690.7")], engine);
    const liq = buildReport(at).liquidations;
    expect(liq).toHaveLength(1);
    expect(liq[0]).toMatchObject({ account: "alice", mode: "isolated", symbols: ["BTC-PERP"], qty: "1.000", mark: "47690.7" });
  });
});
