// Collateral price intervals: the mark-interval idea (docs/incremental.md) applied to the
// prices of non-settlement collateral assets. A cross account's equity holds
// V(p) = floor(c·p) of each collateral asset it holds, c = amount·(1 − haircut) in minor units
// per 1e-8 of price, so a price move of Δ (1e-8 units) changes E by at most c·|Δ| + 1 and
// nothing else (MM, IM do not depend on it). Each holder gets a sound interval of the asset's
// price within which, together with its positions staying inside their mark intervals, none
// of its flags (and no figure's overflow) can change: a `collateral.price` event then
// recomputes only the holders whose interval the new price leaves, instead of every holder.
//
// The budgets are the account's (B1 = min(E − MM, headroom), B2 = the margin-call budget),
// split by value across its cross positions and its collateral (intervals.ts does the split);
// this module keeps one IntervalIndex per asset (the same index the mark intervals use),
// its slots being account slots.
import { IntervalIndex } from "./interval-index.js";

/** Prices at or above this are not exact floats: such an event recomputes every holder. */
export const COLLATERAL_PRICE_FLOAT_MAX = 2 ** 53;
/** Each asset's index has one group: all its holders. */
const HOLDERS = 0;

export class CollateralIntervals {
  private readonly assets = new Map<string, IntervalIndex>();
  /** The assets with intervals, in an array (read for every derived account: no iterator). */
  readonly names: string[] = [];
  /** Their indexes, in the same order (clearAt: no look-up by name per derived account). */
  private readonly indexes: IntervalIndex[] = [];

  private of(asset: string): IntervalIndex {
    let x = this.assets.get(asset);
    if (x === undefined) {
      this.assets.set(asset, (x = new IntervalIndex()));
      this.names.push(asset);
      this.indexes.push(x);
    }
    return x;
  }

  /**
   * Account a's interval of the asset's price (a new version; old entries become stale).
   * lo > hi: empty (every price event of the asset recomputes it); ±Infinity: unbounded side.
   */
  set(asset: string, a: number, lo: number, hi: number): void {
    this.of(asset).set(a, HOLDERS, lo, hi);
  }

  /** Drops account a's interval of the asset, if any (it no longer holds it). */
  clear(asset: string, a: number): void {
    const x = this.assets.get(asset);
    if (x !== undefined && x.bounded(a)) x.set(a, HOLDERS, -Infinity, Infinity);
  }

  /** clear() of the k-th asset of `names`. */
  clearAt(k: number, a: number): void {
    const x = this.indexes[k]!;
    if (x.bounded(a)) x.set(a, HOLDERS, -Infinity, Infinity);
  }

  /**
   * Calls `leave(account, kept)` for every holder whose interval does not contain `price` (an
   * exact float, < 2^53); the entries are removed (the accounts are derived again at commit; a
   * rollback restores them), but for empty intervals (kept: they stay, IntervalIndex.leavers).
   */
  leavers(asset: string, price: number, leave: (accountSlot: number, kept: boolean) => void): void {
    this.assets.get(asset)?.leavers(HOLDERS, price, leave);
  }

  /** Bulk loads of every asset's index (IntervalIndex.beginBulk). */
  beginBulk(): void {
    for (const x of this.assets.values()) x.beginBulk();
  }

  endBulk(): void {
    for (const x of this.assets.values()) x.endBulk();
  }

  /** The transaction committed (the leavers were derived again). Every event: the array, no Map iterator. */
  commit(): void {
    const xs = this.indexes;
    for (let k = 0; k < xs.length; k++) xs[k]!.commit();
  }

  /** The transaction was undone: popped entries go back. */
  rollback(): void {
    for (const x of this.assets.values()) x.rollback();
  }

  /** Forgets everything (a rebuild derives every account again). */
  reset(): void {
    this.assets.clear();
    this.names.length = 0;
    this.indexes.length = 0;
  }

  /** Test support: account a's interval of the asset, or null if unbounded. */
  intervalOf(asset: string, a: number): { lo: number; hi: number } | null {
    const x = this.assets.get(asset);
    if (x === undefined || !x.bounded(a)) return null;
    return { lo: x.lo[a]!, hi: x.hi[a]! };
  }
}
