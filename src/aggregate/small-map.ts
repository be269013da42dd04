// A string-keyed map that holds its first entry inline and becomes a Map only at the second.
// Almost every account has one balance (the settlement asset) and, in many books, one or a
// few positions: a Map costs ≈ 184 bytes even when it holds one entry, this ≈ 48 (docs/kernel.md
// "Memory"). Semantics are Map's, iteration order included (insertion order; a deleted key
// re-added goes last), so nothing observable changes where it replaces one.

export class SmallMap<V> implements Iterable<[string, V]> {
  /** The single entry while `more` is null (k0 null: empty). */
  private k0: string | null = null;
  private v0: V | undefined = undefined;
  /** Two or more entries. */
  private more: Map<string, V> | null = null;

  get size(): number {
    return this.more !== null ? this.more.size : this.k0 === null ? 0 : 1;
  }

  get(key: string): V | undefined {
    if (this.more !== null) return this.more.get(key);
    return this.k0 === key ? this.v0 : undefined;
  }

  has(key: string): boolean {
    if (this.more !== null) return this.more.has(key);
    return this.k0 === key;
  }

  set(key: string, value: V): this {
    if (typeof key !== "string") throw new TypeError("SmallMap: keys are strings");
    if (this.more !== null) this.more.set(key, value);
    else if (this.k0 === null || this.k0 === key) {
      this.k0 = key;
      this.v0 = value;
    } else {
      this.more = new Map<string, V>([[this.k0, this.v0 as V], [key, value]]);
      this.k0 = null;
      this.v0 = undefined;
    }
    return this;
  }

  delete(key: string): boolean {
    const m = this.more;
    if (m === null) {
      if (this.k0 !== key) return false;
      this.k0 = null;
      this.v0 = undefined;
      return true;
    }
    if (!m.delete(key)) return false;
    if (m.size === 1) {
      // Back inline: with one entry, the order is trivially kept.
      const [k, v] = m.entries().next().value as [string, V];
      this.more = null;
      this.k0 = k;
      this.v0 = v;
    }
    return true;
  }

  clear(): void {
    this.more = null;
    this.k0 = null;
    this.v0 = undefined;
  }

  // Iterators: the Map's own, or a one-element array's (builtins, faster than generators).
  entries(): IterableIterator<[string, V]> {
    if (this.more !== null) return this.more.entries();
    return (this.k0 === null ? [] : [[this.k0, this.v0 as V] as [string, V]]).values();
  }

  keys(): IterableIterator<string> {
    if (this.more !== null) return this.more.keys();
    return (this.k0 === null ? [] : [this.k0]).values();
  }

  values(): IterableIterator<V> {
    if (this.more !== null) return this.more.values();
    return (this.k0 === null ? [] : [this.v0 as V]).values();
  }

  forEach(fn: (value: V, key: string) => void): void {
    for (const [k, v] of this.entries()) fn(v, k);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}
