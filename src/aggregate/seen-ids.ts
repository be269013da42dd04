// Idempotency ids (SPEC §8: a second event with the same type and id is E_DUPLICATE), kept for
// the engine's lifetime: millions of them. A Set of `${type}:${id}` strings costs ≈ 100 bytes
// per id (a cons string, its two halves, the table slot); here each type has a string set
// packed into one byte arena plus an open-addressing table of offsets, ≈ 2 + length + 6 bytes
// per id (docs/kernel.md "Memory"). Keys in and out are `${type}:${id}` (the type is the text
// before the first ':'), so it replaces the Set without changing its users.

const EMPTY = 0;
const TOMBSTONE = -1;
const TAG_NARROW = 1; // every UTF-16 unit < 256: one byte each
const TAG_WIDE = 2; // two bytes per unit, little-endian
const TAG_DEAD = 0x80; // or-ed into the tag of a deleted entry still in the arena
/** Longest string the arena encodes (its length takes at most 3 bytes). */
export const COMPACT_STRING_MAX = 0xffff;

/** FNV-1a over the UTF-16 units of s from `from` on (deterministic; only placement depends on it). */
function hashString(s: string, from: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return h >>> 0;
}

/**
 * A set of strings in a byte arena (entries: tag, length, units) with a table of offsets.
 * Every operation takes an optional `from`: the string is then s's units from `from` on
 * (SeenIds passes its keys so, without slicing the id out of `${type}:${id}`).
 */
export class CompactStringSet implements Iterable<string> {
  private arena = new Uint8Array(64);
  private arenaUsed = 0;
  /** Slot → arena offset + 1; EMPTY, or TOMBSTONE after a delete. Power-of-two length. */
  private table = new Int32Array(16);
  private live = 0;
  /** Live entries plus tombstones (what the load factor counts). */
  private filled = 0;

  get size(): number {
    return this.live;
  }

  has(s: string, from = 0): boolean {
    return this.find(s, from, hashString(s, from)) >= 0;
  }

  /** Adds s; false when it was already there. */
  add(s: string, from = 0): boolean {
    if (typeof s !== "string" || s.length - from > COMPACT_STRING_MAX) throw new RangeError(`CompactStringSet: strings of at most ${COMPACT_STRING_MAX} units`);
    const h = hashString(s, from);
    if (this.find(s, from, h) >= 0) return false;
    if (4 * (this.filled + 1) > 3 * this.table.length) this.rehash(this.live + 1);
    const at = this.append(s, from);
    const mask = this.table.length - 1;
    let i = h & mask;
    while (this.table[i]! > 0) i = (i + 1) & mask; // an EMPTY or TOMBSTONE slot
    if (this.table[i] === EMPTY) this.filled++;
    this.table[i] = at + 1;
    this.live++;
    return true;
  }

  /** Removes s; false when it was not there. */
  delete(s: string, from = 0): boolean {
    const slot = this.find(s, from, hashString(s, from));
    if (slot < 0) return false;
    const at = this.table[slot]! - 1;
    this.table[slot] = TOMBSTONE;
    this.live--;
    const end = at + this.entryBytes(at);
    if (end === this.arenaUsed) this.arenaUsed = at; // the last one added (a rollback): reclaim
    else this.arena[at] = this.arena[at]! | TAG_DEAD;
    return true;
  }

  /** The strings in insertion order (a deleted one re-added counts from its re-add). */
  *[Symbol.iterator](): IterableIterator<string> {
    for (let at = 0; at < this.arenaUsed; at += this.entryBytes(at)) {
      if ((this.arena[at]! & TAG_DEAD) === 0) yield this.decode(at);
    }
  }

  /** Bytes held (arena and table capacity), for tests and the memory docs. */
  bytes(): number {
    return this.arena.byteLength + this.table.byteLength;
  }

  // ------------------------------------------------------------------------ internals

  /** Slot of s (from `from` on, hash h), or −1. */
  private find(s: string, from: number, h: number): number {
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = this.table[i]!;
      if (v === EMPTY) return -1;
      if (v > 0 && this.equals(v - 1, s, from)) return i;
    }
  }

  private lengthAt(at: number): { n: number; head: number } {
    const a = this.arena;
    const b = a[at + 1]!;
    return b < 255 ? { n: b, head: 2 } : { n: a[at + 2]! | (a[at + 3]! << 8), head: 4 };
  }

  private entryBytes(at: number): number {
    const { n, head } = this.lengthAt(at);
    return head + ((this.arena[at]! & ~TAG_DEAD) === TAG_WIDE ? 2 * n : n);
  }

  private equals(at: number, s: string, from: number): boolean {
    const a = this.arena;
    const b = a[at + 1]!; // the length header inline (lengthAt allocates its answer)
    const n = b < 255 ? b : a[at + 2]! | (a[at + 3]! << 8);
    if (n !== s.length - from) return false;
    const p = at + (b < 255 ? 2 : 4) - from;
    if (a[at] === TAG_NARROW) {
      for (let i = from; i < s.length; i++) if (a[p + i] !== s.charCodeAt(i)) return false;
    } else {
      for (let i = from; i < s.length; i++) if ((a[p + 2 * i - from]! | (a[p + 2 * i - from + 1]! << 8)) !== s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** hashString of the entry at `at`, read from the arena (what hashString(decode(at), 0) gives). */
  private hashAt(at: number): number {
    const a = this.arena;
    const b = a[at + 1]!;
    const n = b < 255 ? b : a[at + 2]! | (a[at + 3]! << 8);
    const p = at + (b < 255 ? 2 : 4);
    const wide = (a[at]! & ~TAG_DEAD) === TAG_WIDE;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) {
      const c = wide ? a[p + 2 * i]! | (a[p + 2 * i + 1]! << 8) : a[p + i]!;
      h = Math.imul(h ^ (c & 0xff), 0x01000193);
      h = Math.imul(h ^ (c >>> 8), 0x01000193);
    }
    return h >>> 0;
  }

  private decode(at: number): string {
    const a = this.arena;
    const { n, head } = this.lengthAt(at);
    const p = at + head;
    const wide = (a[at]! & ~TAG_DEAD) === TAG_WIDE;
    let out = "";
    for (let i = 0; i < n; i += 4096) {
      const units: number[] = [];
      for (let j = i; j < Math.min(n, i + 4096); j++) units.push(wide ? a[p + 2 * j]! | (a[p + 2 * j + 1]! << 8) : a[p + j]!);
      out += String.fromCharCode(...units);
    }
    return out;
  }

  /** Appends the entry of s (from `from` on) to the arena; returns its offset. */
  private append(s: string, from: number): number {
    const n = s.length - from;
    let wide = false;
    for (let i = from; i < s.length && !wide; i++) wide = s.charCodeAt(i) > 0xff;
    const head = n < 255 ? 2 : 4;
    const need = this.arenaUsed + head + (wide ? 2 * n : n);
    if (need > this.arena.length) {
      const grown = new Uint8Array(Math.max(need, this.arena.length + (this.arena.length >> 1)));
      grown.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = grown;
    }
    const a = this.arena;
    const at = this.arenaUsed;
    a[at] = wide ? TAG_WIDE : TAG_NARROW;
    if (head === 2) a[at + 1] = n;
    else {
      a[at + 1] = 255;
      a[at + 2] = n & 0xff;
      a[at + 3] = n >>> 8;
    }
    let p = at + head;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (wide) {
        a[p++] = c & 0xff;
        a[p++] = c >>> 8;
      } else a[p++] = c;
    }
    this.arenaUsed = need;
    return at;
  }

  /** A table for `count` entries at load ≤ 1/2, without tombstones. */
  private rehash(count: number): void {
    let cap = 16;
    while (cap < 2 * count) cap *= 2;
    const table = new Int32Array(cap);
    const mask = cap - 1;
    for (const v of this.table) {
      if (v <= 0) continue;
      let i = this.hashAt(v - 1) & mask; // from the arena: no string decoded per entry
      while (table[i] !== EMPTY) i = (i + 1) & mask;
      table[i] = v;
    }
    this.table = table;
    this.filled = this.live;
  }
}

/** The applied ids, as `${type}:${id}` keys, one CompactStringSet per type. */
export class SeenIds implements Iterable<string> {
  private readonly byType = new Map<string, CompactStringSet>();
  /** Keys without a ':' (not produced by the engine; kept so this is a faithful set). */
  private readonly plain = new CompactStringSet();
  private count = 0;
  /** The type of the last key looked up and its set: keys of one type usually come in a row. */
  private lastType = "";
  private lastSet: CompactStringSet | undefined = undefined;

  get size(): number {
    return this.count;
  }

  /** The set of key's type (c: the index of its first ':'), created if asked; no slicing when it is the last type. */
  private setOf(key: string, c: number, create: boolean): CompactStringSet | undefined {
    if (c < 0) return this.plain;
    if (this.lastSet !== undefined && c === this.lastType.length && key.startsWith(this.lastType)) return this.lastSet;
    return this.setOfType(key.slice(0, c), create);
  }

  has(key: string): boolean {
    const c = key.indexOf(":");
    const set = this.setOf(key, c, false);
    return set !== undefined && set.has(key, c + 1);
  }

  /** has(`${type}:${id}`) without building the key (type without ':'). */
  hasId(type: string, id: string): boolean {
    const set = this.lastSet !== undefined && type === this.lastType ? this.lastSet : this.byType.get(type);
    return set !== undefined && set.has(id);
  }

  /** The set of `type` (no ':'), created if asked; remembered as the last type. */
  private setOfType(type: string, create: boolean): CompactStringSet | undefined {
    if (this.lastSet !== undefined && type === this.lastType) return this.lastSet;
    let set = this.byType.get(type);
    if (set === undefined && create) this.byType.set(type, (set = new CompactStringSet()));
    if (set !== undefined) {
      this.lastType = type;
      this.lastSet = set;
    }
    return set;
  }

  /** add(`${type}:${id}`) without building the key (type without ':'); false when it was there. */
  addId(type: string, id: string): boolean {
    if (!this.setOfType(type, true)!.add(id)) return false;
    this.count++;
    return true;
  }

  /** delete(`${type}:${id}`) without building the key (type without ':'). */
  deleteId(type: string, id: string): boolean {
    const set = this.setOfType(type, false);
    if (set === undefined || !set.delete(id)) return false;
    this.count--;
    return true;
  }

  add(key: string): this {
    const c = key.indexOf(":");
    if (this.setOf(key, c, true)!.add(key, c + 1)) this.count++;
    return this;
  }

  delete(key: string): boolean {
    const c = key.indexOf(":");
    const set = this.setOf(key, c, false);
    if (set === undefined || !set.delete(key, c + 1)) return false;
    this.count--;
    return true;
  }

  /** Every key: by type (in order of the type's first id), then in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.plain;
    for (const [type, set] of this.byType) for (const id of set) yield `${type}:${id}`;
  }

  bytes(): number {
    let n = this.plain.bytes();
    for (const set of this.byType.values()) n += set.bytes();
    return n;
  }
}
