// Each account's position slots as a linked list in typed arrays, in the order of the
// account's positions map (insertion order). Collections and interval derivations walk an
// account's positions for every account an event touches; iterating the map allocates an
// iterator each time, this does not. Kept by BookSync: relisted from the state whenever an
// account's set of positions changes (a new position, a removal on rollback, a new account).
import type { Account, State } from "../aggregate/state.js";

export class AccountPositions {
  /** By account slot: its first position slot + 1 (0: none). */
  first: Int32Array = new Int32Array(256);
  /** By account slot: how many positions it has. */
  count: Int32Array = new Int32Array(256);
  /** By position slot: the next position slot of its account + 1 (0: the last). */
  next: Int32Array = new Int32Array(1024);

  /** Lists every account of the state. */
  rebuild(state: State): void {
    this.first.fill(0);
    this.count.fill(0);
    for (const acct of state.accountsBySlot) this.relist(acct);
  }

  /** Lists the account's positions again from its map. */
  relist(acct: Account): void {
    const a = acct.slot;
    if (a >= this.first.length) {
      this.first = grow(this.first, a + 1);
      this.count = grow(this.count, a + 1);
    }
    let prev = -1;
    let n = 0;
    for (const pos of acct.positions.values()) {
      const p = pos.slot;
      if (p >= this.next.length) this.next = grow(this.next, p + 1);
      if (prev < 0) this.first[a] = p + 1;
      else this.next[prev] = p + 1;
      prev = p;
      n++;
    }
    if (prev < 0) this.first[a] = 0;
    else this.next[prev] = 0;
    this.count[a] = n;
  }

  /** Test support: the first account whose list differs from its map, or null. */
  check(state: State): string | null {
    for (const acct of state.accountsBySlot) {
      const want = [...acct.positions.values()].map((p) => p.slot);
      const got: number[] = [];
      for (let q = this.first[acct.slot]!; q !== 0 && got.length <= want.length; q = this.next[q - 1]!) got.push(q - 1);
      if (this.count[acct.slot] !== want.length || got.join(",") !== want.join(",")) {
        return `account ${acct.name}: listed positions [${got.join(",")}], state [${want.join(",")}]`;
      }
    }
    return null;
  }
}

function grow(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
