// The opening of the BTC-collateral test markets: USDT settlement, BTC collateral (haircut
// 10%) at 50,000, ETH-PERP with two tiers and fees at a mark of 3,000, the fund, and a
// well-funded market maker `mm` as everyone's counterparty. The markets themselves (accounts
// and walks) differ by test; see test/simulation/collateral-intervals.test.ts and
// test/liquidation/adl-pruned-core.test.ts.
import type { Wire } from "./core.js";

export function collateralMarketSetup(insuranceUsdt: string): Wire[] {
  return [
    { type: "asset", asset: "USDT", decimals: 6, settlement: true },
    { type: "asset", asset: "BTC", decimals: 8, haircut: "0.1" },
    { type: "collateral.price", asset: "BTC", price: "50000" },
    {
      type: "instrument", symbol: "ETH-PERP", tickSize: "0.01", lotSize: "0.01",
      tiers: [{ maxNotional: "20000", mmr: "0.01", maxLeverage: 50 }, { maxNotional: "200000", mmr: "0.02", maxLeverage: 20 }],
      makerFee: "0.0002", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
    },
    { type: "mark", symbol: "ETH-PERP", price: "3000" },
    { type: "deposit", id: "ins", account: "@insurance", asset: "USDT", amount: insuranceUsdt },
    { type: "deposit", id: "mm", account: "mm", asset: "USDT", amount: "100000000" },
  ];
}
