// Collateral valuation (SPEC §3): floor(amount · price · (1 − haircut)) in settlement minor
// units, one floor over the exact product.
import { divFloor, RATE_SCALE } from "../numbers/int.js";
import type { Account, Asset, State } from "./state.js";

const E16 = RATE_SCALE * RATE_SCALE;

export function collateralValueMinor(amountMinor: bigint, asset: Asset, settlementDecimals: number): bigint {
  if (asset.settlement) return amountMinor;
  const num = amountMinor * asset.priceE8 * (RATE_SCALE - asset.haircutE8) * 10n ** BigInt(settlementDecimals);
  return divFloor(num, E16 * 10n ** BigInt(asset.decimals));
}

/** Cross base equity: B + Σ collateral values (the kernel adds Σ U). */
export function crossBaseMinor(state: State, account: Account): bigint {
  const s = state.settlementAsset;
  if (s === null) return 0n;
  const sDecimals = state.assets.get(s)!.decimals;
  let base = 0n;
  for (const [name, amount] of account.balances) {
    const asset = state.assets.get(name);
    if (asset === undefined) continue;
    base += collateralValueMinor(amount, asset, sDecimals);
  }
  return base;
}
