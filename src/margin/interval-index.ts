// Sound intervals per slot, found by point: for each group (an instrument's positions, an
// asset's holders) a max-heap on lo and a max-heap on −hi, with lazy invalidation by
// version stamps. A price event of the group pops exactly the slots whose interval no longer
// contains the new price, in O(k log n); popped entries are kept until the transaction
// commits and pushed back if it rolls back. Used by the mark intervals (slots = positions,
// groups = instruments) and the collateral intervals (slots = accounts, one index per
// asset); docs/incremental.md.

/** A max-heap of (key, slot, version) in typed arrays. */
export class Heap {
  keys = new Float64Array(64);
  slots = new Int32Array(64);
  vers = new Int32Array(64);
  size = 0;
  /** Valid entries (version current, not popped). */
  live = 0;
  /** Entries were appended since the last compaction: not a heap until `compact`. */
  unordered = false;

  push(key: number, slot: number, ver: number): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    let i = this.size++;
    const { keys, slots, vers } = this;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! >= key) break;
      keys[i] = keys[parent]!;
      slots[i] = slots[parent]!;
      vers[i] = vers[parent]!;
      i = parent;
    }
    keys[i] = key;
    slots[i] = slot;
    vers[i] = ver;
  }

  /** Appends without restoring the heap order (bulk loads: `compact` orders it afterwards). */
  append(key: number, slot: number, ver: number): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    const i = this.size++;
    this.keys[i] = key;
    this.slots[i] = slot;
    this.vers[i] = ver;
    this.unordered = true;
  }

  /** Removes the top (size > 0). */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    this.siftDown(0, this.keys[n]!, this.slots[n]!, this.vers[n]!);
  }

  private siftDown(start: number, key: number, slot: number, ver: number): void {
    const { keys, slots, vers } = this;
    const n = this.size;
    let i = start;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1]! > keys[c]!) c++;
      if (keys[c]! <= key) break;
      keys[i] = keys[c]!;
      slots[i] = slots[c]!;
      vers[i] = vers[c]!;
      i = c;
    }
    keys[i] = key;
    slots[i] = slot;
    vers[i] = ver;
  }

  /** Drops entries whose version is stale, then restores the heap order (O(n)). */
  compact(current: Int32Array): void {
    const { keys, slots, vers } = this;
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      if (current[slots[i]!] !== vers[i]) continue;
      keys[n] = keys[i]!;
      slots[n] = slots[i]!;
      vers[n] = vers[i]!;
      n++;
    }
    this.size = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, keys[i]!, slots[i]!, vers[i]!);
    this.unordered = false;
    // Give back what a burst of stale entries made it grow to (memory is per position).
    if (this.keys.length > 4 * n + 64) this.resizeTo(2 * n + 64);
  }

  /** Compacts when stale entries exceed a quarter of the live ones (amortized O(1) per push). */
  compactIfStale(current: Int32Array): void {
    if (this.size > this.live + (this.live >> 2) + 256) this.compact(current);
  }

  private growTo(cap: number): void {
    this.resizeTo(cap);
  }

  private resizeTo(cap: number): void {
    const k = new Float64Array(cap);
    k.set(this.keys.subarray(0, Math.min(this.size, cap)));
    const s = new Int32Array(cap);
    s.set(this.slots.subarray(0, Math.min(this.size, cap)));
    const v = new Int32Array(cap);
    v.set(this.vers.subarray(0, Math.min(this.size, cap)));
    this.keys = k;
    this.slots = s;
    this.vers = v;
  }
}

const HEAP_LO = 0;
const HEAP_HI = 1;

/** The heaps holding an entry of interval [lo, hi] after `set` (the flags it leaves). */
function entryFlags(lo: number, hi: number): number {
  if (lo > hi) return 1 << HEAP_LO;
  return (lo !== -Infinity ? 1 << HEAP_LO : 0) | (hi !== Infinity ? 1 << HEAP_HI : 0);
}

export class IntervalIndex {
  /** Per slot: the interval (lo > hi: empty, every price event of its group pops it). */
  lo = new Float64Array(256);
  hi = new Float64Array(256);
  private ver = new Int32Array(256);
  /** Per slot: which heaps hold an entry of its current version (not popped). */
  private flags = new Uint8Array(256);
  /** Per group: [heap on lo, heap on −hi]. */
  private groups: ([Heap, Heap] | undefined)[] = [];
  /** Valid entries popped in the current transaction: (group, kind, key, slot, version)… */
  private readonly popped: number[] = [];
  /** Between beginBulk and endBulk: entries are appended unordered, the heaps rebuilt at the end. */
  private bulk = false;

  /** Slot s's interval, in group g (a new version; the old heap entries become stale). */
  set(s: number, g: number, lo: number, hi: number): void {
    if (s >= this.ver.length) this.ensure(s);
    // The same interval with its entries all in place (none popped): nothing to do. One set
    // in five on the steady replay (empty intervals of entities recomputed at every price
    // event, unchanged budgets); each would push new entries and make the old ones stale.
    if (this.lo[s] === lo && this.hi[s] === hi && this.flags[s] === entryFlags(lo, hi)) return;
    const v = (this.ver[s]! + 1) | 0;
    this.ver[s] = v;
    const hs = this.group(g);
    const hLo = hs[HEAP_LO];
    const hHi = hs[HEAP_HI];
    const old = this.flags[s]!;
    if ((old & (1 << HEAP_LO)) !== 0) hLo.live--;
    if ((old & (1 << HEAP_HI)) !== 0) hHi.live--;
    this.lo[s] = lo;
    this.hi[s] = hi;
    let flags = 0;
    if (lo > hi) {
      // Empty: any price event of the group pops it (one entry suffices).
      this.add(hLo, Infinity, s, v);
      flags = 1 << HEAP_LO;
    } else {
      if (lo !== -Infinity) {
        this.add(hLo, lo, s, v);
        flags |= 1 << HEAP_LO;
      }
      if (hi !== Infinity) {
        this.add(hHi, -hi, s, v);
        flags |= 1 << HEAP_HI;
      }
    }
    this.flags[s] = flags;
  }

  /**
   * Whether slot s's current interval can stand for [lo, hi] (lo ≤ hi): it has both entries in
   * place, lies inside [lo, hi] and is at least `share` of its width. A sub-interval of a sound
   * interval is sound, so keeping it changes no decision; it saves the heap pushes and the stale
   * entries (compaction) of a new version.
   */
  keeps(s: number, lo: number, hi: number, share: number): boolean {
    if (s >= this.flags.length || this.flags[s] !== ((1 << HEAP_LO) | (1 << HEAP_HI))) return false;
    const l = this.lo[s]!;
    const h = this.hi[s]!;
    return l >= lo && h <= hi && h - l >= (hi - lo) * share;
  }

  private add(h: Heap, key: number, s: number, v: number): void {
    if (this.bulk) h.append(key, s, v);
    else h.push(key, s, v);
    h.live++;
  }

  /**
   * Many sets to come (a large share of the entries, e.g. every holder after a funding):
   * they are appended unordered and `endBulk` rebuilds each heap once, dropping stale
   * entries: O(n) instead of O(k log n) pushes and a compaction. No query in between.
   */
  beginBulk(): void {
    this.bulk = true;
  }

  endBulk(): void {
    if (!this.bulk) return;
    this.bulk = false;
    for (const hs of this.groups) if (hs !== undefined) for (const h of hs) if (h.unordered) h.compact(this.ver);
  }

  /** Live entries over all groups (to decide whether a batch of sets is worth a bulk load). */
  liveEntries(): number {
    let n = 0;
    for (const hs of this.groups) if (hs !== undefined) n += hs[HEAP_LO].live + hs[HEAP_HI].live;
    return n;
  }

  /** Whether slot s has an entry (a bounded or empty interval) not popped. */
  bounded(s: number): boolean {
    return s < this.flags.length && this.flags[s] !== 0;
  }

  /**
   * Calls `leave(slot)` for every slot of group g whose interval does not contain `point`
   * (a slot may be reported twice, once per heap); the entries are removed until commit.
   */
  leavers(g: number, point: number, leave: (slot: number) => void): void {
    const hs = this.groups[g];
    if (hs === undefined) return;
    for (let kind = HEAP_LO; kind <= HEAP_HI; kind++) {
      const h = hs[kind]!;
      const limit = kind === HEAP_LO ? point : -point;
      while (h.size > 0 && h.keys[0]! > limit) {
        const key = h.keys[0]!;
        const s = h.slots[0]!;
        const v = h.vers[0]!;
        h.pop();
        if (this.ver[s] !== v) continue;
        h.live--;
        this.flags[s] = this.flags[s]! & ~(1 << kind);
        this.popped.push(g, kind, key, s, v);
        leave(s);
      }
    }
  }

  /** The transaction committed (the leavers got new intervals): forget the popped, compact. */
  commit(): void {
    // Only when there is something to drop: `length = 0` is a runtime call (every event commits).
    if (this.popped.length !== 0) this.popped.length = 0;
    for (const hs of this.groups) if (hs !== undefined) for (const h of hs) h.compactIfStale(this.ver);
  }

  /** The transaction was undone: the popped entries go back. */
  rollback(): void {
    const p = this.popped;
    for (let j = 0; j < p.length; j += 5) {
      const h = this.group(p[j]!)[p[j + 1]!]!;
      h.push(p[j + 2]!, p[j + 3]!, p[j + 4]!);
      h.live++;
      this.flags[p[j + 3]!] = this.flags[p[j + 3]!]! | (1 << p[j + 1]!);
    }
    p.length = 0;
  }

  /** Forgets every entry (a rebuild sets every interval again). */
  reset(): void {
    this.groups = [];
    this.flags.fill(0);
    this.popped.length = 0;
  }

  private group(g: number): [Heap, Heap] {
    let hs = this.groups[g];
    if (hs === undefined) this.groups[g] = hs = [new Heap(), new Heap()];
    return hs;
  }

  private ensure(s: number): void {
    const cap = Math.max(s + 1, this.ver.length * 2);
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
