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
// this module keeps the per-asset heaps, exactly like the per-instrument ones: a max-heap on
// lo and one on −hi, lazy invalidation by version stamps, popped entries restored on rollback.
import { Heap } from "./intervals.js";

const HEAP_LO = 0;
const HEAP_HI = 1;
/** Prices at or above this are not exact floats: such an event recomputes every holder. */
export const COLLATERAL_PRICE_FLOAT_MAX = 2 ** 53;

class AssetIntervals {
  lo = new Float64Array(256);
  hi = new Float64Array(256);
  ver = new Int32Array(256);
  /** Per account: which heaps hold an entry of its current version (not popped). */
  flags = new Uint8Array(256);
  readonly heaps: [Heap, Heap] = [new Heap(), new Heap()];

  ensure(a: number): void {
    if (a < this.ver.length) return;
    const cap = Math.max(a + 1, this.ver.length * 2);
    const lo = new Float64Array(cap);
    lo.set(this.lo);
    const hi = new Float64Array(cap);
    hi.set(this.hi);
    const ver = new Int32Array(cap);
    ver.set(this.ver);
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.lo = lo;
    this.hi = hi;
    this.ver = ver;
    this.flags = flags;
  }
}

export class CollateralIntervals {
  private readonly assets = new Map<string, AssetIntervals>();
  /** Valid entries popped in the current transaction: (asset, kind, key, account, version). */
  private popped: [string, number, number, number, number][] = [];

  private of(asset: string): AssetIntervals {
    let x = this.assets.get(asset);
    if (x === undefined) this.assets.set(asset, (x = new AssetIntervals()));
    return x;
  }

  /**
   * Account a's interval of the asset's price (a new version; old entries become stale).
   * lo > hi: empty (every price event of the asset recomputes it); ±Infinity: unbounded side.
   */
  set(asset: string, a: number, lo: number, hi: number): void {
    const x = this.of(asset);
    x.ensure(a);
    const v = (x.ver[a]! + 1) | 0;
    x.ver[a] = v;
    const [hLo, hHi] = x.heaps;
    const old = x.flags[a]!;
    if ((old & (1 << HEAP_LO)) !== 0) hLo.live--;
    if ((old & (1 << HEAP_HI)) !== 0) hHi.live--;
    x.lo[a] = lo;
    x.hi[a] = hi;
    let flags = 0;
    if (lo > hi) {
      hLo.push(Infinity, a, v);
      hLo.live++;
      flags = 1 << HEAP_LO;
    } else {
      if (lo !== -Infinity) {
        hLo.push(lo, a, v);
        hLo.live++;
        flags |= 1 << HEAP_LO;
      }
      if (hi !== Infinity) {
        hHi.push(-hi, a, v);
        hHi.live++;
        flags |= 1 << HEAP_HI;
      }
    }
    x.flags[a] = flags;
  }

  /** Drops account a's interval of the asset, if any (it no longer holds it). */
  clear(asset: string, a: number): void {
    const x = this.assets.get(asset);
    if (x === undefined || a >= x.ver.length || x.flags[a] === 0) return;
    this.set(asset, a, -Infinity, Infinity);
  }

  /** Assets with intervals (to clear those an account no longer holds). */
  assetNames(): IterableIterator<string> {
    return this.assets.keys();
  }

  /**
   * Calls `leave(account)` for every holder whose interval does not contain `price` (an exact
   * float, < 2^53); the entries are removed (the accounts are derived again at commit; a
   * rollback restores them).
   */
  leavers(asset: string, price: number, leave: (accountSlot: number) => void): void {
    const x = this.assets.get(asset);
    if (x === undefined) return;
    for (let kind = HEAP_LO; kind <= HEAP_HI; kind++) {
      const h = x.heaps[kind]!;
      const limit = kind === HEAP_LO ? price : -price;
      while (h.size > 0 && h.keys[0]! > limit) {
        const key = h.keys[0]!;
        const a = h.slots[0]!;
        const v = h.vers[0]!;
        h.pop();
        if (x.ver[a] !== v) continue;
        h.live--;
        x.flags[a] = x.flags[a]! & ~(1 << kind);
        this.popped.push([asset, kind, key, a, v]);
        leave(a);
      }
    }
  }

  /** The transaction committed (the leavers were derived again). */
  commit(): void {
    this.popped = [];
    for (const x of this.assets.values()) for (const h of x.heaps) h.compactIfStale(x.ver);
  }

  /** The transaction was undone: popped entries go back. */
  rollback(): void {
    for (const [asset, kind, key, a, v] of this.popped) {
      const x = this.of(asset);
      const h = x.heaps[kind]!;
      h.push(key, a, v);
      h.live++;
      x.flags[a] = x.flags[a]! | (1 << kind);
    }
    this.popped = [];
  }

  /** Forgets everything (a rebuild derives every account again). */
  reset(): void {
    this.assets.clear();
    this.popped = [];
  }

  /** Test support: account a's interval of the asset, or null if unbounded. */
  intervalOf(asset: string, a: number): { lo: number; hi: number } | null {
    const x = this.assets.get(asset);
    if (x === undefined || a >= x.ver.length || x.flags[a] === 0) return null;
    return { lo: x.lo[a]!, hi: x.hi[a]! };
  }
}
