// Collateral valuation (SPEC §3): floor(amount · price · (1 − haircut)) in settlement minor
// units, one floor over the exact product.
import { divFloor, RATE_SCALE } from "../numbers/int.js";
import type { Account, Asset, State } from "./state.js";

const E16 = RATE_SCALE * RATE_SCALE;

/** Per asset and settlement decimals: (1e8 − haircut)·10^sDecimals and 1e16·10^decimals. */
interface Scale {
  readonly sDecimals: number;
  readonly mul: bigint;
  readonly div: bigint;
}
// Assets are immutable but for their price, so the constant factors are cached per object
// (a pure cache: it changes no result, only spares the BigInt powers on every valuation).
const scales = new WeakMap<Asset, Scale>();

function scaleOf(asset: Asset, sDecimals: number): Scale {
  let sc = scales.get(asset);
  if (sc === undefined || sc.sDecimals !== sDecimals) {
    sc = { sDecimals, mul: (RATE_SCALE - asset.haircutE8) * 10n ** BigInt(sDecimals), div: E16 * 10n ** BigInt(asset.decimals) };
    scales.set(asset, sc);
  }
  return sc;
}

export function collateralValueMinor(amountMinor: bigint, asset: Asset, settlementDecimals: number): bigint {
  if (asset.settlement) return amountMinor;
  if (amountMinor === 0n || asset.priceE8 === 0n) return 0n;
  const sc = scaleOf(asset, settlementDecimals);
  return divFloor(amountMinor * asset.priceE8 * sc.mul, sc.div);
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
