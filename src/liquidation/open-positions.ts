// The open positions of every instrument by side: what ADL scans for counterparties. Without
// it ADL walks every position ever opened in the instrument, flat ones included, on every
// run (in a liquidation storm with the fund below zero that is every liquidating event).
// Each entry carries q and C as floats so the scan can decide the sign of U = k·(q·M − C)
// without BigInt work for most positions (exact fallback near zero; see `upnlSign`).
// Structure of arrays (slots, q, C as floats): no object per position. Order never
// matters: ADL ranks by a strict total order.
import type { Effect } from "../aggregate/effects.js";
import { RATE_SCALE } from "../numbers/int.js";
import type { Account, Asset, Position, State } from "../aggregate/state.js";
import { K_BALANCE, K_COVER, K_NOTE, K_POSITION, type Resolution } from "../aggregate/evolve.js";

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

/** Collateral valuation's constant factor (1e8 − h)·10^sd / (1e16·10^d) in floats, per asset object (immutable but for the price). */
const collateralFactors = new WeakMap<Asset, { readonly sDecimals: number; readonly f: number }>();

function collateralFactor(asset: Asset, sDecimals: number): number {
  let c = collateralFactors.get(asset);
  if (c === undefined || c.sDecimals !== sDecimals) {
    const mul = (RATE_SCALE - asset.haircutE8) * 10n ** BigInt(sDecimals);
    const div = RATE_SCALE * RATE_SCALE * 10n ** BigInt(asset.decimals);
    c = { sDecimals, f: Number(mul) / Number(div) };
    collateralFactors.set(asset, c);
  }
  return c.f;
}

/**
 * Sign of q·M − C from fl(q), fl(C) and the mark as a float (exact: ticks < 2^53) when floats
 * decide it: 1 or −1; 0 when they cannot (near zero, or |q| or |C| > 2^53).
 */
export function upnlSignFloat(qf: number, cf: number, markF: number): number {
  if (Math.abs(qf) <= F64_EXACT_MAX && Math.abs(cf) <= F64_EXACT_MAX) {
    const qm = qf * markF;
    const d = qm - cf;
    const slack = SIGN_SLACK * (Math.abs(qm) + Math.abs(cf));
    if (d > slack) return 1;
    if (d < -slack) return -1;
  }
  return 0;
}

/**
 * Sign of q·M − C (so of U, k > 0) for entry i: floats when they decide it, else exact BigInt
 * from the position. `markF` is the mark as a float (exact: ticks < 2^53).
 */
export function upnlSign(side: OpenSide, i: number, pos: Position, mark: bigint, markF: number): number {
  const f = upnlSignFloat(side.qf[i]!, side.cf[i]!, markF);
  if (f !== 0) return f;
  const x = pos.qtyLots * mark - pos.costLotTicks;
  return x > 0n ? 1 : x < 0n ? -1 : 0;
}

/**
 * ADL's float mirror of the state (see `OpenPositions`): what its score bounds read instead of
 * the state's objects (BigInt conversions cost ≈ 30 ns each, and chasing Position/Account
 * objects of hundreds of candidates per run is cache-miss bound).
 */
export interface AdlMirror {
  /** By position slot (every live position, flat ones too): fl(q), fl(C), fl(isolated margin). */
  readonly q: Float64Array;
  readonly c: Float64Array;
  readonly m: Float64Array;
  /** By position slot: account slot, instrument slot, 1 when isolated. */
  readonly account: Int32Array;
  readonly instrument: Int32Array;
  readonly isolated: Uint8Array;
  /** An account's positions as a list: head[account slot] = first position slot + 1, link[position slot] = next + 1 (0 ends). */
  readonly head: Int32Array;
  readonly link: Int32Array;
  /**
   * By account slot, as last stored (`storeBase`): the float base's price-independent part
   * (value, magnitude, term and floor counts) and at most one collateral asset as its name and
   * coefficient (value = coefficient · price), or null.
   */
  readonly baseF: Float64Array;
  readonly baseMag: Float64Array;
  readonly baseTerms: Int32Array;
  readonly baseFloors: Int32Array;
  readonly baseCoef: Float64Array;
  readonly baseAsset: (string | null)[];
  /** Brings account slot a's stored base up to date (a no-op while nothing it depends on changed). */
  ensureBase(a: number): void;
}

/**
 * The open positions of every instrument by side, plus ADL's float mirror (`AdlMirror`): kept
 * current from every effect (forward and undo). The mirror's cached bases do not depend on
 * prices; they are invalidated per account by its balance effects and account (re)openings,
 * and all at once by asset definitions (haircut, decimals, settlement flag).
 */
export class OpenPositions implements AdlMirror {
  q = new Float64Array(1024);
  c = new Float64Array(1024);
  m = new Float64Array(1024);
  account = new Int32Array(1024);
  instrument = new Int32Array(1024);
  isolated = new Uint8Array(1024);
  link = new Int32Array(1024);
  head = new Int32Array(256);
  baseF = new Float64Array(256);
  baseMag = new Float64Array(256);
  baseTerms = new Int32Array(256);
  baseFloors = new Int32Array(256);
  baseCoef = new Float64Array(256);
  readonly baseAsset: (string | null)[] = [];
  /** The asset epoch a stored base was computed at (0: none or invalidated). */
  private baseEpoch = new Int32Array(256);
  private assetEpoch = 1;
  /** Position slots [0, linkedTop) may be linked (removals only ever drop the last slots). */
  private linkedTop = 0;
  private readonly bySymbol = new Map<string, { long: OpenSide; short: OpenSide }>();
  /**
   * Position slot → where its entry is: +(index + 1) on the long side, −(index + 1) on the
   * short side, 0 none. A typed array, not a Map keyed by name: Map delete/set churn over
   * 100k keys costs ~0.5 µs per update.
   */
  private where = new Int32Array(1024);
  /** Position slot → the sides it is filed in (to unfile a removed slot without its symbol). */
  private readonly filedIn: ({ long: OpenSide; short: OpenSide } | undefined)[] = [];
  /** By position slot: 1 when in its account's list. */
  private linked = new Uint8Array(1024);

  constructor(private readonly state: State) {
    for (const acct of state.accounts.values()) for (const sym of acct.positions.keys()) this.refresh(acct.name, sym);
  }

  /**
   * Re-files the positions these (already evolved) effects changed; invalidates cached bases.
   * With `res` (what evolveAll resolved for this forward batch), balances and positions take
   * the resolved objects: no look-up by name, no read of `e.t`.
   */
  afterEffects(effects: readonly Effect[], res?: Resolution): void {
    const kinds = res?.kinds;
    for (let k = 0; k < effects.length; k++) {
      if (kinds !== undefined) {
        const kind = kinds[k]!;
        if (kind === K_POSITION) {
          const acct = res!.accounts[k]!;
          const pos = res!.positions[k]!;
          this.refreshPosition(acct, pos, pos.symbol);
          continue;
        }
        if (kind === K_BALANCE) {
          this.invalidateBase(res!.accounts[k]!.slot);
          continue;
        }
        if (kind === K_NOTE || kind === K_COVER) continue;
      }
      const e = effects[k]!;
      switch (e.t) {
        case "position":
        case "position.remove":
          this.refresh(e.account, e.symbol);
          break;
        case "balance":
        case "account.open": {
          const a = this.state.accounts.get(e.account);
          if (a !== undefined) this.invalidateBase(a.slot);
          break;
        }
        // account.remove (an undo; several accounts may go in one batch): nothing to do here.
        // A removed slot is only ever used again through `account.open`, which invalidates it.
        case "asset":
        case "asset.remove":
          this.assetEpoch++;
          break;
        default:
          break;
      }
    }
  }

  ensureBase(a: number): void {
    if (a < this.baseEpoch.length && this.baseEpoch[a] === this.assetEpoch) return;
    this.computeBase(a);
  }

  /**
   * Account slot a's base B + Σ floor(collateral values) in floats (as crossBaseMinor: unknown
   * assets skipped, settlement-flagged ones at face value): the settlement part with its
   * magnitude, term and floor counts, and one collateral asset as coefficient fl(fl(amount)·f)
   * with f = fl((1e8 − h)·10^sd) / fl(1e16·10^d) (value = coefficient · fl(price): the same
   * roundings as fl(amount)·fl(price)·f in another order), so a price change does not
   * invalidate it. With two or more collateral assets, all are valued at today's prices and
   * the result is not kept (recomputed next time).
   */
  private computeBase(a: number): void {
    const state = this.state;
    const sAsset = state.settlementAsset === null ? undefined : state.assets.get(state.settlementAsset);
    const sDecimals = sAsset?.decimals ?? 0;
    let value = 0;
    let mag = 0;
    let terms = 0;
    let floors = 0;
    let collateral: string | null = null;
    let coef = 0;
    let many = false;
    const balances = state.accountsBySlot[a]!.balances;
    if (sAsset !== undefined) { // else crossBaseMinor is 0
      for (const [name, amount] of balances) {
        const asset = state.assets.get(name);
        if (asset === undefined) continue;
        if (asset.settlement) {
          const x = Number(amount);
          value += x;
          mag += Math.abs(x);
          terms++;
        } else if (collateral === null && !many) {
          collateral = name;
          coef = Number(amount) * collateralFactor(asset, sDecimals);
        } else many = true;
      }
    }
    if (many) {
      for (const [name, amount] of balances) {
        const asset = state.assets.get(name);
        if (asset === undefined || asset.settlement) continue;
        const x = Number(amount) * collateralFactor(asset, sDecimals) * Number(asset.priceE8);
        value += x;
        mag += Math.abs(x);
        terms++;
        floors++;
      }
      collateral = null;
    }
    this.storeBase(a, value, mag, terms, floors, collateral, coef, !many);
  }

  private storeBase(a: number, value: number, mag: number, terms: number, floors: number, asset: string | null, coef: number, current: boolean): void {
    this.reserveAccounts(a + 1);
    this.baseF[a] = value;
    this.baseMag[a] = mag;
    this.baseTerms[a] = terms;
    this.baseFloors[a] = floors;
    this.baseAsset[a] = asset;
    this.baseCoef[a] = coef;
    this.baseEpoch[a] = current ? this.assetEpoch : 0;
  }

  private invalidateBase(a: number): void {
    if (a < this.baseEpoch.length) this.baseEpoch[a] = 0;
  }

  /** Open positions of the symbol on one side (live: do not change state while using it). */
  side(symbol: string, long: boolean): OpenSide {
    const s = this.bySymbol.get(symbol);
    return s === undefined ? EMPTY : long ? s.long : s.short;
  }

  /**
   * Test support: null when the index holds exactly the state's open positions, by side, with
   * current floats, and the mirror's floats and account lists match the state.
   */
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
    for (const acct of this.state.accounts.values()) {
      const listed = new Set<number>();
      for (let j = acct.slot < this.head.length ? this.head[acct.slot]! - 1 : -1; j >= 0; j = this.link[j]! - 1) {
        if (listed.has(j)) return `open positions: ${acct.name}'s position list has a cycle`;
        listed.add(j);
      }
      if (listed.size !== acct.positions.size) return `open positions: ${acct.name}'s position list has ${listed.size} entries, the state ${acct.positions.size}`;
      for (const pos of acct.positions.values()) {
        if (pos.qtyLots !== 0n) open++;
        const j = pos.slot;
        if (!listed.has(j)) return `open positions: ${pos.account} ${pos.symbol} missing from its account's list`;
        if (this.q[j] !== Number(pos.qtyLots) || this.c[j] !== Number(pos.costLotTicks) || this.m[j] !== Number(pos.isolatedMarginMinor)
          || this.account[j] !== acct.slot || this.instrument[j] !== this.state.instruments.get(pos.symbol)!.slot
          || this.isolated[j] !== (pos.mode === "isolated" ? 1 : 0)) {
          return `open positions: ${pos.account} ${pos.symbol} position floats are stale`;
        }
      }
    }
    if (open !== indexed) return `open positions: ${indexed} indexed, ${open} open in the state`;
    // Every base the mirror holds as current is what it would compute now.
    for (const acct of this.state.accounts.values()) {
      const a = acct.slot;
      if (!(a < this.baseEpoch.length && this.baseEpoch[a] === this.assetEpoch)) continue;
      const kept = [this.baseF[a], this.baseMag[a], this.baseTerms[a], this.baseFloors[a], this.baseAsset[a], this.baseCoef[a]];
      this.computeBase(a);
      const fresh = [this.baseF[a], this.baseMag[a], this.baseTerms[a], this.baseFloors[a], this.baseAsset[a], this.baseCoef[a]];
      if (kept.some((v, i) => !Object.is(v, fresh[i]))) return `open positions: ${acct.name}'s cached base is stale (${kept.join(",")} vs ${fresh.join(",")})`;
    }
    return null;
  }

  private reserveAccounts(n: number): void {
    if (n <= this.head.length) return;
    const cap = Math.max(n, this.head.length * 2);
    this.head = grow(this.head, new Int32Array(cap));
    this.baseF = grow(this.baseF, new Float64Array(cap));
    this.baseMag = grow(this.baseMag, new Float64Array(cap));
    this.baseTerms = grow(this.baseTerms, new Int32Array(cap));
    this.baseFloors = grow(this.baseFloors, new Int32Array(cap));
    this.baseCoef = grow(this.baseCoef, new Float64Array(cap));
    this.baseEpoch = grow(this.baseEpoch, new Int32Array(cap));
  }

  private reservePositions(n: number): void {
    if (n <= this.where.length) return;
    const cap = Math.max(n, this.where.length * 2);
    this.where = grow(this.where, new Int32Array(cap));
    this.linked = grow(this.linked, new Uint8Array(cap));
    this.q = grow(this.q, new Float64Array(cap));
    this.c = grow(this.c, new Float64Array(cap));
    this.m = grow(this.m, new Float64Array(cap));
    this.account = grow(this.account, new Int32Array(cap));
    this.instrument = grow(this.instrument, new Int32Array(cap));
    this.isolated = grow(this.isolated, new Uint8Array(cap));
    this.link = grow(this.link, new Int32Array(cap));
  }

  /** Drops position slot j from its account's list. */
  private unlink(j: number): void {
    this.linked[j] = 0;
    const a = this.account[j]!;
    if (this.head[a] === j + 1) {
      this.head[a] = this.link[j]!;
      return;
    }
    for (let i = this.head[a]! - 1; i >= 0; i = this.link[i]! - 1) {
      if (this.link[i] === j + 1) {
        this.link[i] = this.link[j]!;
        return;
      }
    }
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
    this.filedIn[slot] = undefined;
    const w = this.where[slot]!;
    if (w === 0) return;
    this.where[slot] = 0;
    const i = Math.abs(w) - 1;
    const moved = (w > 0 ? s.long : s.short).removeAt(i);
    if (moved >= 0) this.where[moved] = w > 0 ? i + 1 : -(i + 1);
  }

  private refresh(account: string, symbol: string): void {
    const acct = this.state.accounts.get(account);
    const pos = acct?.positions.get(symbol);
    if (acct === undefined || pos === undefined) {
      // Removed (an undo of its creation): only the last position slots are ever removed, so
      // drop the entries and links of the slots beyond the state's — O(removed), not a scan of
      // the instrument (a rolled-back event that opened positions in a big book stays cheap).
      const live = this.state.positionsBySlot.length;
      for (; this.linkedTop > live; this.linkedTop--) {
        const j = this.linkedTop - 1;
        const filed = this.filedIn[j];
        if (filed !== undefined) this.unfile(filed, j);
        if (this.linked[j] === 1) this.unlink(j);
      }
      return;
    }
    this.refreshPosition(acct, pos, symbol);
  }

  /** Files position `pos` of `acct` (both in the state) as it is now. */
  private refreshPosition(acct: Account, pos: Position, symbol: string): void {
    const j = pos.slot;
    const a = acct.slot;
    this.reservePositions(j + 1);
    this.reserveAccounts(a + 1);
    if (this.linked[j] === 0) {
      // A slot keeps its position (account, instrument) while linked: removals unlink it.
      this.account[j] = a;
      this.instrument[j] = this.state.instruments.get(symbol)!.slot;
      this.link[j] = this.head[a]!;
      this.head[a] = j + 1;
      this.linked[j] = 1;
      if (j >= this.linkedTop) this.linkedTop = j + 1;
    }
    const qf = Number(pos.qtyLots);
    const cf = Number(pos.costLotTicks);
    this.q[j] = qf;
    this.c[j] = cf;
    this.m[j] = Number(pos.isolatedMarginMinor);
    this.isolated[j] = pos.mode === "isolated" ? 1 : 0;
    const w = this.where[j]!;
    const long = pos.qtyLots > 0n;
    if (w !== 0 && pos.qtyLots !== 0n && w > 0 === long) {
      // Still open on the same side (most fills): its entry's floats change in place.
      const sides = this.filedIn[j]!;
      const side = long ? sides.long : sides.short;
      side.qf[Math.abs(w) - 1] = qf;
      side.cf[Math.abs(w) - 1] = cf;
      return;
    }
    const s = this.sides(symbol);
    this.unfile(s, j);
    if (pos.qtyLots === 0n) return;
    const i = (long ? s.long : s.short).add(pos);
    this.where[j] = long ? i + 1 : -(i + 1);
    this.filedIn[j] = s;
  }
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, b: T): T {
  b.set(a);
  return b;
}
