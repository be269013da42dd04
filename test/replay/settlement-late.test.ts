// Collateral deposited before the settlement asset is defined: every base equity depends on
// the settlement asset (none: 0), so defining it rewrites every account's base. Found in
// review: the live engine kept a base of 0 and liquidated on it, while an engine restored
// from a snapshot of the same state did not (SPEC §7: restore + replay must agree).
import { describe, expect, it } from "vitest";
import { Core } from "../../src/pipeline.js";
import { docToState, stateHash, stateToDoc } from "../../src/aggregate/snapshot.js";
import { entry, type Wire } from "../helpers/core.js";

const setup: Wire[] = [
  { type: "asset", asset: "BTC", decimals: 8, haircut: "0" },
  { type: "collateral.price", asset: "BTC", price: "50000" },
  { type: "deposit", id: "a", account: "alice", asset: "BTC", amount: "1" },
  { type: "asset", asset: "USDT", decimals: 2, settlement: true },
  {
    type: "instrument", symbol: "X-PERP", tickSize: "1", lotSize: "1",
    tiers: [{ maxNotional: "100000000", mmr: "0.1", maxLeverage: 10 }],
    makerFee: "0", takerFee: "0", liquidationFee: "0", insuranceShare: "0.5",
  },
  { type: "mark", symbol: "X-PERP", price: "100" },
  { type: "deposit", id: "b", account: "bob", asset: "USDT", amount: "100000" },
  { type: "deposit", id: "i", account: "@insurance", asset: "USDT", amount: "100000" },
];
// alice: 1 BTC = 50 000 USDT of equity; long 10 @ 100 needs MM = 100.
const trade: Wire = { type: "trade", id: "t", symbol: "X-PERP", price: "100", qty: "10", buyer: "alice", seller: "bob", taker: "buyer" };

describe("settlement asset defined after collateral deposits", () => {
  it.each([true, false])("markIntervals %s: replay and snapshot-restore agree, nobody is liquidated", (markIntervals) => {
    const live = new Core({ markIntervals });
    for (const w of setup) expect(live.apply(entry(w)).rejection).toBeNull();
    const restored = new Core({ markIntervals, state: docToState(stateToDoc(live.state)) });
    const a = live.apply(entry(trade));
    const b = restored.apply(entry(trade));
    expect(JSON.stringify(a.outputs)).toBe(JSON.stringify(b.outputs));
    expect(a.outputs.filter((o) => o.type === "liquidation")).toEqual([]);
    expect(stateHash(live.state)).toBe(stateHash(restored.state));
  });
});
