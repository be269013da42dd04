// The open positions of every instrument by side: what ADL scans for counterparties. Without
// it ADL walks every position ever opened in the instrument, flat ones included, on every
// run (in a liquidation storm with the fund below zero that is every liquidating event).
// Each entry carries q and C as floats so the scan can decide the sign of U = k·(q·M − C)
// without BigInt work for most positions (exact fallback near zero; see `upnlSign`).
// Keyed by account name, not by Position object, so a position that is removed and
// re-created (an undo) cannot leave a stale entry. Order never matters: ADL ranks by a strict
// total order.
import type { Effect } from "../aggregate/effects.js";
import type { Position, State } from "../aggregate/state.js";

const F64_EXACT_MAX = 2 ** 53;
/** Relative error bound of q·M − C in floats from exact q, M, C: two roundings, < 2^-51. */
const SIGN_SLACK = 2 ** -50;

export interface OpenEntry {
  readonly pos: Position;
  /** q and C as floats; `floatOk` when both are exact (|value| ≤ 2^53). */
  readonly qf: number;
  readonly cf: number;
  readonly floatOk: boolean;
}

class Side {
  readonly entries: OpenEntry[] = [];

  /** Removes entry i (swap with the last); returns the entry moved into i, if any. */
  removeAt(i: number): OpenEntry | null {
    const last = this.entries.pop()!;
    if (i === this.entries.length) return null;
    this.entries[i] = last;
    return last;
  }

  /** Appends; returns its index. */
  add(pos: Position): number {
    const qf = Number(pos.qtyLots);
    const cf = Number(pos.costLotTicks);
    this.entries.push({ pos, qf, cf, floatOk: Math.abs(qf) <= F64_EXACT_MAX && Math.abs(cf) <= F64_EXACT_MAX });
    return this.entries.length - 1;
  }
}

/**
 * Sign of q·M − C (so of U, k > 0): floats when they decide it, else exact BigInt. `markF` is
 * the mark as a float (exact: ticks < 2^53).
 */
export function upnlSign(e: OpenEntry, mark: bigint, markF: number): number {
  if (e.floatOk) {
    const qm = e.qf * markF;
    const d = qm - e.cf;
    const slack = SIGN_SLACK * (Math.abs(qm) + Math.abs(e.cf));
    if (d > slack) return 1;
    if (d < -slack) return -1;
  }
  const x = e.pos.qtyLots * mark - e.pos.costLotTicks;
  return x > 0n ? 1 : x < 0n ? -1 : 0;
}

export class OpenPositions {
  private readonly bySymbol = new Map<string, { long: Side; short: Side }>();
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

  /** Open positions of the symbol on one side (a live array: do not change state while using it). */
  side(symbol: string, long: boolean): readonly OpenEntry[] {
    const s = this.bySymbol.get(symbol);
    return s === undefined ? [] : (long ? s.long : s.short).entries;
  }

  /** Test support: null when the index holds exactly the state's open positions, by side, with current floats. */
  check(): string | null {
    let indexed = 0;
    for (const [symbol, sides] of this.bySymbol) {
      for (const [long, side] of [[true, sides.long], [false, sides.short]] as const) {
        side.entries.forEach((e, i) => {
          indexed++;
          if (this.where[e.pos.slot] !== (long ? i + 1 : -(i + 1))) indexed = Number.NaN;
        });
        if (Number.isNaN(indexed)) return `open positions: slot index out of step in ${symbol}`;
        for (const e of side.entries) {
          const pos = this.state.accounts.get(e.pos.account)?.positions.get(symbol);
          if (pos !== e.pos) return `open positions: ${e.pos.account} ${symbol} is not the state's position object`;
          if (pos.qtyLots === 0n || pos.qtyLots > 0n !== long) return `open positions: ${e.pos.account} ${symbol} filed on the wrong side`;
          if (e.qf !== Number(pos.qtyLots) || e.cf !== Number(pos.costLotTicks)) return `open positions: ${e.pos.account} ${symbol} floats are stale`;
        }
      }
    }
    let open = 0;
    for (const acct of this.state.accounts.values()) for (const pos of acct.positions.values()) if (pos.qtyLots !== 0n) open++;
    return open === indexed ? null : `open positions: ${indexed} indexed, ${open} open in the state`;
  }

  private sides(symbol: string): { long: Side; short: Side } {
    let s = this.bySymbol.get(symbol);
    if (s === undefined) {
      s = { long: new Side(), short: new Side() };
      this.bySymbol.set(symbol, s);
    }
    return s;
  }

  private unfile(s: { long: Side; short: Side }, slot: number): void {
    const w = this.where[slot]!;
    if (w === 0) return;
    this.where[slot] = 0;
    const i = Math.abs(w) - 1;
    const moved = (w > 0 ? s.long : s.short).removeAt(i);
    if (moved !== null) this.where[moved.pos.slot] = w > 0 ? i + 1 : -(i + 1);
  }

  private refresh(account: string, symbol: string): void {
    const s = this.sides(symbol);
    const pos = this.state.accounts.get(account)?.positions.get(symbol);
    if (pos === undefined) {
      // Removed (an undo of its creation; rare): find its entry by name, its slot is gone.
      for (const side of [s.long, s.short]) {
        const e = side.entries.find((x) => x.pos.account === account);
        if (e !== undefined) this.unfile(s, e.pos.slot);
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
