// Sound intervals per slot, found by point: for each group (an instrument's positions, an
// asset's holders) a max-heap on lo and a max-heap on −hi. Each heap is *indexed*: every
// slot knows where its entry sits (per slot, one position per kind of heap), so a new
// interval moves the slot's entries in place (a sift up or down) instead of pushing new
// entries and leaving the old ones stale: no version checks, no compaction. A price event of
// the group pops exactly the slots whose interval no longer contains the new price, in
// O(k log n); popped entries are kept until the transaction commits and pushed back if it
// rolls back. Empty intervals (entities recomputed at every price event of the group) are
// not in the heaps but in a list per group, reported by every price event and kept there. Used by the mark intervals (slots = positions, groups = instruments) and the
// collateral intervals (slots = accounts, one index per asset); docs/incremental.md.

/**
 * A max-heap of (key, slot) in typed arrays, indexed: `at[slot]` is the slot's index in this
 * heap (−1: none). `at` is owned by the IntervalIndex (one array per kind of heap, shared by
 * its groups: a slot is in at most one group's heap of each kind), so it is passed to every
 * call that moves entries.
 */
export class Heap {
  keys = new Float64Array(64);
  slots = new Int32Array(64);
  size = 0;
  /** Entries were placed without restoring the heap order (bulk loads): `heapify` orders them. */
  unordered = false;

  /** Adds slot's entry (the slot has none in this heap). */
  insert(key: number, slot: number, at: Int32Array): void {
    if (this.size === this.keys.length) this.resizeTo(this.size * 2);
    const i = this.size++;
    if (this.unordered) {
      this.keys[i] = key;
      this.slots[i] = slot;
      at[slot] = i;
      return;
    }
    this.siftUp(i, key, slot, at);
  }

  /** Gives the entry at index i a new key. */
  update(i: number, key: number, at: Int32Array): void {
    const keys = this.keys;
    const old = keys[i]!;
    if (key === old) return;
    if (this.unordered) {
      keys[i] = key;
      return;
    }
    if (key > old) this.siftUp(i, key, this.slots[i]!, at);
    else this.siftDown(i, key, this.slots[i]!, at);
  }

  /** Removes the entry at index i. */
  removeAt(i: number, at: Int32Array): void {
    const keys = this.keys;
    const slots = this.slots;
    at[slots[i]!] = -1;
    const n = --this.size;
    if (i === n) return;
    const key = keys[n]!;
    const slot = slots[n]!;
    if (this.unordered) {
      keys[i] = key;
      slots[i] = slot;
      at[slot] = i;
      return;
    }
    if (i > 0 && keys[(i - 1) >> 1]! < key) this.siftUp(i, key, slot, at);
    else this.siftDown(i, key, slot, at);
  }

  /** Places (key, slot) at index i or above, moving smaller parents down. */
  private siftUp(start: number, key: number, slot: number, at: Int32Array): void {
    const { keys, slots } = this;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent]!;
      if (pk >= key) break;
      const ps = slots[parent]!;
      keys[i] = pk;
      slots[i] = ps;
      at[ps] = i;
      i = parent;
    }
    keys[i] = key;
    slots[i] = slot;
    at[slot] = i;
  }

  /** Places (key, slot) at index i or below, moving larger children up. */
  private siftDown(start: number, key: number, slot: number, at: Int32Array): void {
    const { keys, slots } = this;
    const n = this.size;
    let i = start;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let ck = keys[c]!;
      if (c + 1 < n) {
        const rk = keys[c + 1]!;
        if (rk > ck) {
          c++;
          ck = rk;
        }
      }
      if (ck <= key) break;
      const cs = slots[c]!;
      keys[i] = ck;
      slots[i] = cs;
      at[cs] = i;
      i = c;
    }
    keys[i] = key;
    slots[i] = slot;
    at[slot] = i;
  }

  /** Restores the heap order after unordered placements (O(n)). */
  heapify(at: Int32Array): void {
    const { keys, slots } = this;
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.siftDown(i, keys[i]!, slots[i]!, at);
    this.unordered = false;
  }

  private resizeTo(cap: number): void {
    const k = new Float64Array(cap);
    k.set(this.keys.subarray(0, Math.min(this.size, cap)));
    const s = new Int32Array(cap);
    s.set(this.slots.subarray(0, Math.min(this.size, cap)));
    this.keys = k;
    this.slots = s;
  }
}

const HEAP_LO = 0;
const HEAP_HI = 1;

/** One group's entries: the two heaps and the slots with an empty interval. */
class Group {
  readonly heaps: [Heap, Heap] = [new Heap(), new Heap()];
  /** Slots with an empty interval: always[0, alwaysCount). */
  always = new Int32Array(16);
  alwaysCount = 0;
}

export class IntervalIndex {
  /** Per slot: the interval (lo > hi: empty, reported by every price event of its group). */
  lo = new Float64Array(256);
  hi = new Float64Array(256);
  /** Per slot: a version, bumped by every set that changes its entries (a rollback restores only entries of the current version). */
  private ver = new Int32Array(256);
  /** Per slot: the group of its entries. */
  private grp = new Int32Array(256);
  /** Per slot: its entry's index in its group's heap on lo / on −hi (−1: none, or popped). */
  private atLo = new Int32Array(256).fill(-1);
  private atHi = new Int32Array(256).fill(-1);
  /** Per slot: its index in its group's list of empty intervals (−1: none). */
  private atAlways = new Int32Array(256).fill(-1);
  private groups: (Group | undefined)[] = [];
  /** Entries popped in the current transaction: (group, kind, key, slot, version)… */
  private popped: number[] = [];
  /** Between beginBulk and endBulk: entries are placed unordered, the heaps ordered at the end. */
  private bulk = false;
  /** Entries over all groups (an empty interval counts one). */
  private entries = 0;

  /** Slot s's interval, in group g (its entries move to their new keys). */
  set(s: number, g: number, lo: number, hi: number): void {
    if (s >= this.ver.length) this.ensure(s);
    // The entries the interval needs: an empty interval one in the group's list; a bounded
    // side one in its heap; an unbounded side none.
    const empty = lo > hi;
    const wantLo = !empty && lo !== -Infinity;
    const wantHi = !empty && hi !== Infinity;
    let iLo = this.atLo[s]!;
    let iHi = this.atHi[s]!;
    let iAl = this.atAlways[s]!;
    const any = iLo >= 0 || iHi >= 0 || iAl >= 0;
    // The same interval with its entries all in place (none popped) in the same group:
    // nothing to do (one set in three on the steady replay: empty intervals of entities
    // recomputed at every price event, unchanged budgets).
    if (this.lo[s] === lo && this.hi[s] === hi && (iLo >= 0) === wantLo && (iHi >= 0) === wantHi && (iAl >= 0) === empty && (this.grp[s] === g || !any)) return;
    this.ver[s] = (this.ver[s]! + 1) | 0;
    this.lo[s] = lo;
    this.hi[s] = hi;
    if (any && this.grp[s] !== g) {
      // Entries in another group (a slot reused): they go.
      const old = this.groups[this.grp[s]!]!;
      if (iLo >= 0) this.removeHeap(old.heaps[HEAP_LO], iLo, this.atLo);
      if (iHi >= 0) this.removeHeap(old.heaps[HEAP_HI], iHi, this.atHi);
      if (iAl >= 0) this.removeAlways(old, iAl);
      iLo = iHi = iAl = -1;
    }
    this.grp[s] = g;
    const gr = this.group(g);
    if (empty) {
      if (iAl < 0) {
        if (gr.alwaysCount === gr.always.length) {
          const a = new Int32Array(gr.always.length * 2);
          a.set(gr.always);
          gr.always = a;
        }
        this.atAlways[s] = gr.alwaysCount;
        gr.always[gr.alwaysCount++] = s;
        this.entries++;
      }
    } else if (iAl >= 0) this.removeAlways(gr, iAl);
    const hs = gr.heaps;
    if (wantLo) {
      if (iLo >= 0) hs[HEAP_LO].update(iLo, lo, this.atLo);
      else {
        hs[HEAP_LO].insert(lo, s, this.atLo);
        this.entries++;
      }
    } else if (iLo >= 0) this.removeHeap(hs[HEAP_LO], iLo, this.atLo);
    if (wantHi) {
      if (iHi >= 0) hs[HEAP_HI].update(iHi, -hi, this.atHi);
      else {
        hs[HEAP_HI].insert(-hi, s, this.atHi);
        this.entries++;
      }
    } else if (iHi >= 0) this.removeHeap(hs[HEAP_HI], iHi, this.atHi);
  }

  private removeHeap(h: Heap, i: number, at: Int32Array): void {
    h.removeAt(i, at);
    this.entries--;
  }

  private removeAlways(gr: Group, i: number): void {
    const last = gr.always[--gr.alwaysCount]!;
    this.atAlways[gr.always[i]!] = -1;
    if (i !== gr.alwaysCount) {
      gr.always[i] = last;
      this.atAlways[last] = i;
    }
    this.entries--;
  }

  /**
   * Whether slot s's current interval can stand for [lo, hi] (lo ≤ hi): it has both entries in
   * place, lies inside [lo, hi] and is at least `share` of its width. A sub-interval of a sound
   * interval is sound, so keeping it changes no decision; it saves moving its heap entries.
   */
  keeps(s: number, lo: number, hi: number, share: number): boolean {
    if (s >= this.ver.length || this.atLo[s]! < 0 || this.atHi[s]! < 0) return false;
    const l = this.lo[s]!;
    const h = this.hi[s]!;
    return l >= lo && h <= hi && h - l >= (hi - lo) * share;
  }

  /**
   * `set(s, g, lo, hi)` unless slot s's current interval, in group g, `keeps` [lo, hi] (lo ≤ hi).
   * (The group matters: a position slot freed by a rollback and reused for another instrument
   * must not keep the old instrument's entries.)
   */
  setUnlessKept(s: number, g: number, lo: number, hi: number, share: number): void {
    if (s < this.ver.length && this.atLo[s]! >= 0 && this.atHi[s]! >= 0 && this.grp[s] === g) {
      const l = this.lo[s]!;
      const h = this.hi[s]!;
      if (l >= lo && h <= hi && h - l >= (hi - lo) * share) return;
    }
    this.set(s, g, lo, hi);
  }

  /**
   * Many sets to come (a large share of the entries, e.g. every holder after a funding):
   * entries are moved and placed without sifting and `endBulk` orders every heap once: O(n)
   * instead of O(k log n). No query in between.
   */
  beginBulk(): void {
    this.bulk = true;
    for (const gr of this.groups) if (gr !== undefined) for (const h of gr.heaps) h.unordered = true;
  }

  endBulk(): void {
    if (!this.bulk) return;
    this.bulk = false;
    for (const gr of this.groups) {
      if (gr === undefined) continue;
      if (gr.heaps[HEAP_LO].unordered) gr.heaps[HEAP_LO].heapify(this.atLo);
      if (gr.heaps[HEAP_HI].unordered) gr.heaps[HEAP_HI].heapify(this.atHi);
    }
  }

  /** Live entries over all groups (to decide whether a batch of sets is worth a bulk load). */
  liveEntries(): number {
    return this.entries;
  }

  /** Whether slot s has an entry (a bounded or empty interval) not popped. */
  bounded(s: number): boolean {
    return s < this.ver.length && (this.atLo[s]! >= 0 || this.atHi[s]! >= 0 || this.atAlways[s]! >= 0);
  }

  /**
   * Calls `leave(slot, kept)` for every slot of group g whose interval does not contain
   * `point`: first those with an empty interval (kept: their entry stays, and reports them
   * again at the next price event), then the slots whose heap entries the point crosses
   * (a slot may be reported twice, once per heap); those entries are removed until commit.
   */
  leavers(g: number, point: number, leave: (slot: number, kept: boolean) => void): void {
    const gr = this.groups[g];
    if (gr === undefined) return;
    const always = gr.always;
    const n = gr.alwaysCount;
    for (let j = 0; j < n; j++) leave(always[j]!, true);
    const popped = this.popped;
    for (let kind = HEAP_LO; kind <= HEAP_HI; kind++) {
      const h = gr.heaps[kind]!;
      const at = kind === HEAP_LO ? this.atLo : this.atHi;
      const limit = kind === HEAP_LO ? point : -point;
      while (h.size > 0 && h.keys[0]! > limit) {
        const key = h.keys[0]!;
        const s = h.slots[0]!;
        this.removeHeap(h, 0, at);
        popped.push(g, kind, key, s, this.ver[s]!);
        leave(s, false);
      }
    }
  }

  /** The transaction committed (the leavers got new intervals): forget the popped. */
  commit(): void {
    // A fresh array when there is something to drop: `length = 0` is a runtime call.
    if (this.popped.length !== 0) this.popped = [];
  }

  /** The transaction was undone: the popped entries go back (those of a slot not set since). */
  rollback(): void {
    const p = this.popped;
    for (let j = 0; j < p.length; j += 5) {
      const g = p[j]!;
      const kind = p[j + 1]!;
      const s = p[j + 3]!;
      const at = kind === HEAP_LO ? this.atLo : this.atHi;
      if (this.ver[s] !== p[j + 4] || at[s]! >= 0) continue;
      this.group(g).heaps[kind]!.insert(p[j + 2]!, s, at);
      this.entries++;
    }
    if (p.length !== 0) this.popped = [];
  }

  /** Forgets every entry (a rebuild sets every interval again). */
  reset(): void {
    this.groups = [];
    this.atLo.fill(-1);
    this.atHi.fill(-1);
    this.atAlways.fill(-1);
    this.popped = [];
    this.entries = 0;
  }

  /** Test support: slot s's current interval. */
  intervalOfForTest(s: number): { lo: number; hi: number } {
    return { lo: this.lo[s]!, hi: this.hi[s]! };
  }

  /**
   * Test support: every heap ordered, every entry's slot pointing back at it (in its group),
   * its key the slot's current bound, the entry count right. The first fault, or null.
   */
  check(): string | null {
    let n = 0;
    for (let g = 0; g < this.groups.length; g++) {
      const gr = this.groups[g];
      if (gr === undefined) continue;
      for (let kind = HEAP_LO; kind <= HEAP_HI; kind++) {
        const h = gr.heaps[kind]!;
        const at = kind === HEAP_LO ? this.atLo : this.atHi;
        n += h.size;
        for (let i = 0; i < h.size; i++) {
          const s = h.slots[i]!;
          if (at[s] !== i || this.grp[s] !== g) return `group ${g} heap ${kind}: entry ${i} (slot ${s}) not indexed`;
          if (i > 0 && h.keys[(i - 1) >> 1]! < h.keys[i]!) return `group ${g} heap ${kind}: entry ${i} above its parent`;
          if (this.lo[s]! > this.hi[s]!) return `group ${g} heap ${kind}: slot ${s} has an empty interval`;
          const want = kind === HEAP_HI ? -this.hi[s]! : this.lo[s]!;
          if (h.keys[i] !== want) return `group ${g} heap ${kind}: slot ${s} has key ${h.keys[i]}, its bound is ${want}`;
        }
      }
      n += gr.alwaysCount;
      for (let i = 0; i < gr.alwaysCount; i++) {
        const s = gr.always[i]!;
        if (this.atAlways[s] !== i || this.grp[s] !== g) return `group ${g}: empty entry ${i} (slot ${s}) not indexed`;
        if (!(this.lo[s]! > this.hi[s]!)) return `group ${g}: slot ${s} listed empty, its interval is not`;
      }
    }
    return n === this.entries ? null : `${this.entries} entries counted, ${n} in the groups`;
  }

  private group(g: number): Group {
    let gr = this.groups[g];
    if (gr === undefined) {
      this.groups[g] = gr = new Group();
      if (this.bulk) gr.heaps[HEAP_LO].unordered = gr.heaps[HEAP_HI].unordered = true;
    }
    return gr;
  }

  private ensure(s: number): void {
    const cap = Math.max(s + 1, this.ver.length * 2);
    const lo = new Float64Array(cap);
    lo.set(this.lo);
    const hi = new Float64Array(cap);
    hi.set(this.hi);
    const ver = new Int32Array(cap);
    ver.set(this.ver);
    const grp = new Int32Array(cap);
    grp.set(this.grp);
    const atLo = new Int32Array(cap).fill(-1);
    atLo.set(this.atLo);
    const atHi = new Int32Array(cap).fill(-1);
    atHi.set(this.atHi);
    const atAlways = new Int32Array(cap).fill(-1);
    atAlways.set(this.atAlways);
    this.lo = lo;
    this.hi = hi;
    this.ver = ver;
    this.grp = grp;
    this.atLo = atLo;
    this.atHi = atHi;
    this.atAlways = atAlways;
  }
}
