// The open positions of every instrument by side: what ADL scans for counterparties. Without
// it ADL walks every position ever opened in the instrument, flat ones included, on every
// run (in a liquidation storm with the fund below zero that is every liquidating event).
// Each entry carries q and C as floats so the scan can decide the sign of U = k·(q·M − C)
// without BigInt work for most positions (exact fallback near zero; see `upnlSign`).
// Structure of arrays (slots, q, C as floats): no object per position. Order never
// matters: ADL ranks by a strict total order.
import type { Effect } from "../aggregate/effects.js";
import type { Position, State } from "../aggregate/state.js";

const F64_EXACT_MAX = 2 ** 53;
/** Relative error bound of q·M − C in floats from exact q, M, C: two roundings, < 2^-51. */
const SIGN_SLACK = 2 ** -50;

/** One side of one instrument: entries [0, size). */
export class OpenSide {
  slots = new Int32Array(16);
  /** q and C as floats (exact when |value| ≤ 2^53; otherwise the scan goes exact). */
  qf = new Float64Array(16);
  cf = new Float64Array(16);
  size = 0;

  /** Removes entry i (the last moves into it); returns the moved slot, or -1. */
  removeAt(i: number): number {
    const last = --this.size;
    if (i === last) return -1;
    this.slots[i] = this.slots[last]!;
    this.qf[i] = this.qf[last]!;
    this.cf[i] = this.cf[last]!;
    return this.slots[i]!;
  }

  /** Appends; returns its index. */
  add(pos: Position): number {
    if (this.size === this.slots.length) {
      const cap = this.size * 2;
      const s = new Int32Array(cap);
      s.set(this.slots);
      const q = new Float64Array(cap);
      q.set(this.qf);
      const c = new Float64Array(cap);
      c.set(this.cf);
      this.slots = s;
      this.qf = q;
      this.cf = c;
    }
    const i = this.size++;
    this.slots[i] = pos.slot;
    this.qf[i] = Number(pos.qtyLots);
    this.cf[i] = Number(pos.costLotTicks);
    return i;
  }
}

const EMPTY = new OpenSide();

/**
 * Sign of q·M − C (so of U, k > 0) for entry i: floats when they decide it, else exact BigInt
 * from the position. `markF` is the mark as a float (exact: ticks < 2^53).
 */
export function upnlSign(side: OpenSide, i: number, pos: Position, mark: bigint, markF: number): number {
  const qf = side.qf[i]!;
  const cf = side.cf[i]!;
  if (Math.abs(qf) <= F64_EXACT_MAX && Math.abs(cf) <= F64_EXACT_MAX) {
    const qm = qf * markF;
    const d = qm - cf;
    const slack = SIGN_SLACK * (Math.abs(qm) + Math.abs(cf));
    if (d > slack) return 1;
    if (d < -slack) return -1;
  }
  const x = pos.qtyLots * mark - pos.costLotTicks;
  return x > 0n ? 1 : x < 0n ? -1 : 0;
}

export class OpenPositions {
  private readonly bySymbol = new Map<string, { long: OpenSide; short: OpenSide }>();
  /**
   * Position slot → where its entry is: +(index + 1) on the long side, −(index + 1) on the
   * short side, 0 none. A typed array, not a Map keyed by name: Map delete/set churn over
   * 100k keys costs ~0.5 µs per update.
   */
  private where = new Int32Array(1024);

  constructor(private readonly state: State) {
    for (const acct of state.accounts.values()) for (const sym of acct.positions.keys()) this.refresh(acct.name, sym);
  }

  /** Re-files the positions these (already evolved) effects changed. */
  afterEffects(effects: readonly Effect[]): void {
    for (const e of effects) if (e.t === "position" || e.t === "position.remove") this.refresh(e.account, e.symbol);
  }

  /** Open positions of the symbol on one side (live: do not change state while using it). */
  side(symbol: string, long: boolean): OpenSide {
    const s = this.bySymbol.get(symbol);
    return s === undefined ? EMPTY : long ? s.long : s.short;
  }

  /** Test support: null when the index holds exactly the state's open positions, by side, with current floats. */
  check(): string | null {
    let indexed = 0;
    for (const [symbol, sides] of this.bySymbol) {
      for (const [long, side] of [[true, sides.long], [false, sides.short]] as const) {
        for (let i = 0; i < side.size; i++) {
          indexed++;
          const slot = side.slots[i]!;
          if (this.where[slot] !== (long ? i + 1 : -(i + 1))) return `open positions: slot index out of step in ${symbol}`;
          const pos = this.state.positionsBySlot[slot];
          if (pos === undefined || pos.symbol !== symbol || this.state.accounts.get(pos.account)?.positions.get(symbol) !== pos) {
            return `open positions: slot ${slot} in ${symbol} is not a live position of the state`;
          }
          if (pos.qtyLots === 0n || pos.qtyLots > 0n !== long) return `open positions: ${pos.account} ${symbol} filed on the wrong side`;
          if (side.qf[i] !== Number(pos.qtyLots) || side.cf[i] !== Number(pos.costLotTicks)) return `open positions: ${pos.account} ${symbol} floats are stale`;
        }
      }
    }
    let open = 0;
    for (const acct of this.state.accounts.values()) for (const pos of acct.positions.values()) if (pos.qtyLots !== 0n) open++;
    return open === indexed ? null : `open positions: ${indexed} indexed, ${open} open in the state`;
  }

  private sides(symbol: string): { long: OpenSide; short: OpenSide } {
    let s = this.bySymbol.get(symbol);
    if (s === undefined) {
      s = { long: new OpenSide(), short: new OpenSide() };
      this.bySymbol.set(symbol, s);
    }
    return s;
  }

  private unfile(s: { long: OpenSide; short: OpenSide }, slot: number): void {
    if (slot >= this.where.length) return;
    const w = this.where[slot]!;
    if (w === 0) return;
    this.where[slot] = 0;
    const i = Math.abs(w) - 1;
    const moved = (w > 0 ? s.long : s.short).removeAt(i);
    if (moved >= 0) this.where[moved] = w > 0 ? i + 1 : -(i + 1);
  }

  private refresh(account: string, symbol: string): void {
    const s = this.sides(symbol);
    const pos = this.state.accounts.get(account)?.positions.get(symbol);
    if (pos === undefined) {
      // Removed (an undo of its creation; rare): its slot may be gone from the state, so drop
      // every entry of this symbol that no longer is a live position (a scan; rare path).
      for (const side of [s.long, s.short]) {
        for (let i = side.size - 1; i >= 0; i--) {
          const slot = side.slots[i]!;
          const p = this.state.positionsBySlot[slot];
          if (p === undefined || p.symbol !== symbol || this.state.accounts.get(p.account)?.positions.get(symbol) !== p) this.unfile(s, slot);
        }
      }
      return;
    }
    if (pos.slot >= this.where.length) {
      const w = new Int32Array(Math.max(pos.slot + 1, this.where.length * 2));
      w.set(this.where);
      this.where = w;
    }
    this.unfile(s, pos.slot);
    if (pos.qtyLots === 0n) return;
    const long = pos.qtyLots > 0n;
    const i = (long ? s.long : s.short).add(pos);
    this.where[pos.slot] = long ? i + 1 : -(i + 1);
  }
}
