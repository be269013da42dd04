// Mark intervals (docs/incremental.md): after an exact kernel computation of an entity (a
// cross account, or an isolated position), each of its open positions gets a *sound* interval
// [lo, hi] of its instrument's mark ticks: as long as every position of the entity has its
// mark inside its interval, none of the entity's flags (liquidatable, margin-call zone,
// overflow) can change. A mark event then only needs the kernel for the accounts of the
// positions whose interval the new mark leaves: found in O(k log n) from two heaps per
// instrument (a max-heap on lo, a max-heap on −hi), with lazy invalidation by version stamps.
//
// The bounds (exact reals; the float evaluation below only ever narrows them):
//   per position, a move of Δ ticks: |ΔU| = A·|Δ| with A = |q|·k, and
//   |ΔMM| ≤ ceil((R·A·|Δ| + J)/1e8) ≤ R·A·|Δ|/1e8 + Jc + 1, where R is the instrument's
//   largest tier rate (1e-8 units) and J (1e-8 units) the sum of the absolute jumps of the
//   real function N·r_t − cum_t across the effective tier boundaries (cum is floored, so
//   MM(N) = ceil(that) is not exactly continuous); Jc = ceil(J/1e8).
//   E − MM moves by at most c1 = Σ A|Δ|(1 + R/1e8) + Jc + 1, 4E − 5MM by at most
//   c2 = Σ A|Δ|(4 + 5R/1e8) + 5(Jc + 1) (sums over the positions that moved), and every
//   figure (N, U, MM, IM, E of positions; E, MM, IM sums) by at most c1.
//   Budgets: B1 = min(E − MM, 2^63 − 1 − max|figure|), B2 = 4E − 5MM − 1 (out of the zone)
//   or 5MM − 4E (in it). B1, B2 are split by notional weight; each position gets the
//   largest Δ whose own cost fits its share, so the sums fit the budgets.
// Entities that must be recomputed at every mark event of their instruments (the full path
// would act on them, or read their figures): system accounts, entities that overflowed, are
// liquidatable, or whose zone differs from their margin-call latch: an empty interval.
import { SYSTEM_ACCOUNTS, type Account, type Asset, type State } from "../aggregate/state.js";
import { CollateralIntervals, COLLATERAL_PRICE_FLOAT_MAX } from "./collateral-intervals.js";
import { IntervalIndex } from "./interval-index.js";
import type { AccountPositions } from "./account-positions.js";
import {
  ACCT_CALL_ZONE, ACCT_LIQUIDATABLE, ACCT_OVERFLOW, MAX_TIERS, MODE_ISOLATED, POS_CALL_ZONE, POS_LIQUIDATABLE, POS_OVERFLOW,
  type MarginBook, type MarginEngine,
} from "./engine.js";

const RATE = 100_000_000n;
/** Relative safety factor: covers every float rounding of the derivation (≪ 2^-30 in total). */
const SAFE = 1 - 2 ** -30;
/** Jc above this: the instrument's tiers are too irregular for the bound; always recompute. */
const JC_MAX = 2 ** 40;
const TWO32 = 4294967296;
const TWO49 = 2 ** 49;
const TWO63 = 2 ** 63;
const PRICE_FLOAT_MAX = BigInt(COLLATERAL_PRICE_FLOAT_MAX);
/**
 * A position's current interval is kept when it lies inside the newly derived one and is at
 * least this share of its width (IntervalIndex.keeps): sound, and it skips two heap pushes and
 * their later compaction. On the steady replay a half costs +0.3% derivations (+1.6% storm).
 */
const KEEP_SHARE = 0.5;
/** Dirty accounts from which a commit may load the interval heaps in bulk. */
const BULK_MIN = 512;

/** Per-instrument constants of the bound. */
interface InstrumentBound {
  /** Largest tier rate (1e-8 units), as a Number. */
  readonly r: number;
  /** Jc + 1. */
  readonly k1: number;
  /** 1 + R/1e8 and 4 + 5R/1e8: the cost per unit of A·|Δ| of the two budgets. */
  readonly c1: number;
  readonly c2: number;
  /** False: tiers outside the bound's assumptions; every position of it always recomputes. */
  readonly ok: boolean;
}

/** Jumps of N·r_t/1e8 − cum_t across the tier boundaries the selection rule really uses. */
export function instrumentBound(maxN: readonly bigint[], mmr: readonly bigint[], cum: readonly bigint[]): { r: bigint; j: bigint; ok: boolean } {
  const count = maxN.length;
  if (count < 1 || count > MAX_TIERS) return { r: 0n, j: 0n, ok: false };
  let r = 0n;
  for (const x of mmr) {
    if (x < 0n || x > RATE) return { r: 0n, j: 0n, ok: false };
    if (x > r) r = x;
  }
  // The tier of notional N: the first t < count − 1 with N ≤ maxN_t, else the last.
  const tierOf = (n: bigint): number => {
    for (let t = 0; t < count - 1; t++) if (n <= maxN[t]!) return t;
    return count - 1;
  };
  let j = 0n;
  let cur = tierOf(0n);
  while (cur < count - 1) {
    const b = maxN[cur]!; // N ≤ b selects cur (or an earlier tier, impossible: cur was selected below b)
    const next = tierOf(b + 1n);
    const jump = b * (mmr[next]! - mmr[cur]!) - RATE * (cum[next]! - cum[cur]!);
    j += jump < 0n ? -jump : jump;
    cur = next;
  }
  return { r, j, ok: true };
}


/** Int32 views aliasing the i64 arrays the derivation reads (no BigInt allocation). */
interface Words {
  readonly book: MarginBook;
  readonly mark: Int32Array;
  readonly k: Int32Array;
  readonly qty: Int32Array;
  readonly notional: Int32Array;
  readonly upnl: Int32Array;
  readonly pmm: Int32Array;
  readonly pequity: Int32Array;
  readonly aequity: Int32Array;
  readonly amm: Int32Array;
  readonly aim: Int32Array;
}

function words(a: BigInt64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length * 2);
}

/** The i64 at index i as a Number: exact below 2^53 in magnitude, else within 2^-53 relative. */
function f64(w: Int32Array, i: number): number {
  return w[2 * i + 1]! * TWO32 + (w[2 * i]! >>> 0);
}

export class MarkIntervals {
  /** Per position slot its mark interval; grouped by instrument slot. */
  private readonly index = new IntervalIndex();
  private bounds: (InstrumentBound | undefined)[] = [];
  private w: Words | null = null;
  /** Accounts to derive at commit (their figures are exact for the final state by then). */
  private dirty: Int32Array = new Int32Array(1024);
  private dirtyCount = 0;
  private dirtyStamp: Int32Array = new Int32Array(1024);
  private dirtyEpoch = 1;
  /** Scratch for one account's cross positions. */
  private crossSlots: Int32Array = new Int32Array(64);
  private crossWeights: Float64Array = new Float64Array(64);
  /** Their A = |q|·k and marks (as the first pass read them: the shares' pass reuses them). */
  private crossA: Float64Array = new Float64Array(64);
  private crossMark: Float64Array = new Float64Array(64);
  /** Derivations done (tests and benches). */
  derived = 0;
  /** Holders' intervals of collateral prices (derived here, with the same budgets). */
  readonly collateral = new CollateralIntervals();
  /** Scratch for one account's collateral exposures. */
  private collAssets: string[] = [];
  private collC: number[] = [];
  private collPrice: number[] = [];
  private collWeight: number[] = [];

  /** `positionsOf`: each account's position slots, kept by the BookSync that owns this. */
  constructor(readonly margin: MarginEngine, readonly state: State, private readonly positionsOf: AccountPositions) {}

  /** The instrument's tiers changed (or may have): its bound constants are re-derived lazily. */
  invalidateInstrument(i: number): void {
    this.bounds[i] = undefined;
  }

  invalidateAllInstruments(): void {
    this.bounds = [];
  }

  // ------------------------------------------------------------- transaction bookkeeping

  /** Records an account whose intervals must be derived again at commit. */
  markDirty(a: number): void {
    if (a >= this.dirtyStamp.length) this.dirtyStamp = growI32(this.dirtyStamp, a + 1);
    if (this.dirtyStamp[a] === this.dirtyEpoch) return;
    this.dirtyStamp[a] = this.dirtyEpoch;
    if (this.dirtyCount === this.dirty.length) this.dirty = growI32(this.dirty, this.dirtyCount + 1);
    this.dirty[this.dirtyCount++] = a;
  }

  /**
   * The transaction committed: every dirty account's figures in the book are exact for the
   * final state; derive their intervals.
   */
  commit(): void {
    // Many accounts (a funding's holders): load the heaps in bulk and rebuild them once.
    const bulk = this.dirtyCount >= BULK_MIN && this.dirtyCount * 4 >= this.index.liveEntries();
    if (bulk) {
      this.index.beginBulk();
      this.collateral.beginBulk();
    }
    for (let j = 0; j < this.dirtyCount; j++) this.deriveAccount(this.dirty[j]!);
    if (bulk) {
      this.index.endBulk();
      this.collateral.endBulk();
    }
    this.clearDirty();
    this.index.commit();
    this.collateral.commit();
  }

  /** The transaction was undone: the state is as before it, so are the intervals. */
  rollback(): void {
    this.index.rollback();
    this.collateral.rollback();
    this.clearDirty();
  }

  private clearDirty(): void {
    this.dirtyCount = 0;
    this.dirtyEpoch++;
  }

  /** Derives every account (after a full recompute of a new or restored state). */
  rebuildAll(): void {
    this.index.reset();
    this.collateral.reset();
    this.bounds = [];
    this.clearDirty();
    const n = this.state.accountsBySlot.length;
    this.index.beginBulk();
    this.collateral.beginBulk();
    for (let a = 0; a < n; a++) this.deriveAccount(a);
    this.index.endBulk();
    this.collateral.endBulk();
  }

  // ------------------------------------------------------------------------- queries

  /**
   * Calls `leave(accountSlot, derive)` for every position of instrument i whose interval does
   * not contain `mark` (an account may be reported more than once). The bounded entries found
   * are removed (their accounts are recomputed and derived again at commit; rollback restores
   * them); empty intervals stay (IntervalIndex.leavers).
   */
  leavers(i: number, mark: number, leave: (accountSlot: number, derive: boolean) => void): void {
    this.leave = leave;
    this.posAccount = this.margin.book.pos_account;
    this.index.leavers(i, mark, this.onPosition);
  }

  /** `leavers` of a collateral asset's price (holders' intervals, by account slot). */
  collateralLeavers(asset: string, price: number, leave: (accountSlot: number, derive: boolean) => void): void {
    this.leave = leave;
    this.collateral.leavers(asset, price, this.onAccount);
  }

  /**
   * The account of a leaver is recomputed; its intervals are derived again (`derive`) unless
   * it is a system account reached through an empty interval, which stays in place: a system
   * account's intervals are all empty (or unbounded, for flat positions) whatever its figures,
   * and stay so until its state changes, which makes it dirty anyway.
   */
  private leave: (accountSlot: number, derive: boolean) => void = () => {};
  private posAccount: Int32Array = new Int32Array(0);
  private readonly onPosition = (p: number, kept: boolean): void => {
    const a = this.posAccount[p]!;
    this.leave(a, !kept || !this.isSystemSlot(a));
  };

  private readonly onAccount = (a: number, kept: boolean): void => {
    this.leave(a, !kept || !this.isSystemSlot(a));
  };

  /** Position p's mark interval (lo > hi: empty). */
  intervalOf(p: number): { lo: number; hi: number } {
    return { lo: this.index.lo[p]!, hi: this.index.hi[p]! };
  }

  // ---------------------------------------------------------------------- derivation

  private views(): Words {
    const book = this.margin.book;
    if (this.w === null || this.w.book !== book) {
      this.w = {
        book,
        mark: words(book.inst_mark_ticks),
        k: words(book.inst_k_minor),
        qty: words(book.pos_qty_lots),
        notional: words(book.pos_notional_minor),
        upnl: words(book.pos_upnl_minor),
        pmm: words(book.pos_mm_minor),
        pequity: words(book.pos_equity_minor),
        aequity: words(book.acct_equity_minor),
        amm: words(book.acct_mm_minor),
        aim: words(book.acct_im_minor),
      };
    }
    return this.w;
  }

  private bound(i: number): InstrumentBound {
    let b = this.bounds[i];
    if (b === undefined) {
      const book = this.margin.book;
      const count = book.inst_tier_count[i]!;
      const maxN: bigint[] = [];
      const mmr: bigint[] = [];
      const cum: bigint[] = [];
      for (let t = 0; t < Math.min(Math.max(count, 0), MAX_TIERS); t++) {
        maxN.push(book.tier_max_notional_minor[i * MAX_TIERS + t]!);
        mmr.push(book.tier_mmr_e8[i * MAX_TIERS + t]!);
        cum.push(book.tier_cum_minor[i * MAX_TIERS + t]!);
      }
      const ib = count >= 1 && count <= MAX_TIERS ? instrumentBound(maxN, mmr, cum) : { r: 0n, j: 0n, ok: false };
      const jc = (ib.j + RATE - 1n) / RATE;
      const ok = ib.ok && book.inst_k_minor[i]! >= 1n && jc <= BigInt(JC_MAX);
      const r = Number(ib.r) / 1e8;
      b = { r: Number(ib.r), k1: ok ? Number(jc) + 1 : 0, c1: 1 + r, c2: 4 + 5 * r, ok };
      this.bounds[i] = b;
    }
    return b;
  }

  /** Sets position p's interval (a new version; the old heap entries become stale). */
  private setInterval(p: number, i: number, lo: number, hi: number): void {
    this.index.set(p, i, lo, hi);
  }

  /** Budget outputs of `budgets` (no allocation per entity). */
  private b1 = 0;
  private b2 = 0;

  private isSystemSlot(a: number): boolean {
    const acct = this.state.accountsBySlot[a];
    return acct !== undefined && isSystemName(acct.name);
  }

  /**
   * Account a's collateral exposures into the scratch arrays (returns how many): per held
   * non-settlement asset, c (an upper bound of the equity change per 1e-8 of price, so
   * |ΔE| ≤ c·|Δ| + 1), the price as a float (−1 when not exact: ≥ 2^53) and the weight
   * c·max(p, 1) (its value, the same scale as a position's notional). Clears the intervals of
   * assets it no longer holds.
   */
  private exposures(a: number, acct: Account): number {
    const n = this.holdsCollateral(acct) ? this.collateralExposures(acct) : 0;
    // Clear the intervals of assets it no longer holds.
    const names = this.collateral.names;
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      let held = false;
      for (let j = 0; j < n; j++) if (this.collAssets[j] === name) held = true;
      if (!held) this.collateral.clearAt(k, a);
    }
    return n;
  }

  /** False when the account holds nothing or the settlement asset alone (most accounts: no iteration). */
  private holdsCollateral(acct: Account): boolean {
    const balances = acct.balances;
    const size = balances.size;
    if (size === 0) return false;
    const settlement = this.state.settlementAsset;
    return !(size === 1 && settlement !== null && balances.has(settlement));
  }

  /** Per asset object (immutable but for its price): 1e8 − haircut as a Number (no BigInt per derivation). */
  private readonly haircutFactors = new WeakMap<Asset, number>();

  private haircutFactor(asset: Asset): number {
    let f = this.haircutFactors.get(asset);
    if (f === undefined) this.haircutFactors.set(asset, (f = Number(RATE - asset.haircutE8)));
    return f;
  }

  private collateralExposures(acct: Account): number {
    let n = 0;
    const s = this.state;
    const settlement = s.settlementAsset;
    const sDecimals = settlement === null ? 0 : s.assets.get(settlement)!.decimals;
    for (const [name, amount] of acct.balances) {
      if (name === settlement || amount === 0n) continue;
      const asset = s.assets.get(name);
      if (asset === undefined) continue;
      // V = floor(amount·p·(1e8 − h)·10^sd / (1e16·10^d)): c = |amount|·(1e8 − h)·10^(sd − d)/1e16,
      // a few roundings (relative ≪ 2^-45), so (1 + 2^-40) makes it an upper bound. (Balances
      // are never negative; |amount| keeps the bound sound regardless.)
      const c = ((Math.abs(Number(amount)) * this.haircutFactor(asset) * 10 ** sDecimals) / 1e16 / 10 ** asset.decimals) * (1 + 2 ** -40);
      const pe = asset.priceE8;
      const p = pe < PRICE_FLOAT_MAX ? Number(pe) : -1;
      this.collAssets[n] = name;
      this.collC[n] = c;
      this.collPrice[n] = p;
      this.collWeight[n] = c * (p > 1 ? p : 1);
      n++;
    }
    return n;
  }

  /** Collateral j's interval from its shares of the budgets (cost1 = c·Δ + 1, cost2 = 4·cost1). */
  private setCollateral(a: number, j: number, b1: number, b2: number): void {
    const c = this.collC[j]!;
    const p = this.collPrice[j]!;
    const name = this.collAssets[j]!;
    if (p < 0) {
      this.collateral.set(name, a, Infinity, -Infinity); // not an exact float: always recompute
      return;
    }
    if (!(c > 0)) {
      this.collateral.set(name, a, -Infinity, Infinity); // worth nothing at any price (haircut 100%)
      return;
    }
    const x1 = (b1 - 1) / c;
    const x2 = (b2 - 4) / (4 * c);
    let d = Math.floor((x1 < x2 ? x1 : x2) * SAFE) - 2;
    if (!(d > 0)) d = 0;
    this.collateral.set(name, a, p - d, p + d);
  }

  /** Derives the intervals of every position of account a from the book's (exact) figures. */
  deriveAccount(a: number): void {
    const acct = this.state.accountsBySlot[a];
    if (acct === undefined) return;
    const nColl = this.exposures(a, acct);
    const lists = this.positionsOf;
    if (lists.count[a] === 0 && nColl === 0) return;
    this.derived++;
    const b = this.margin.book;
    const w = this.views();
    const qw = w.qty;
    const mode = b.pos_mode;
    const instOf = b.pos_instrument;
    const system = isSystemName(acct.name);
    let nCross = 0;
    let crossOk = true;
    let sumWeight = 0;
    let magPos = 0;
    const next = lists.next;
    for (let q = lists.first[a]!; q !== 0; q = next[q - 1]!) {
      const p = q - 1;
      const i = instOf[p]!;
      if (qw[2 * p] === 0 && qw[2 * p + 1] === 0) {
        // Flat: its figures do not depend on the mark.
        this.setInterval(p, i, -Infinity, Infinity);
        continue;
      }
      if (mode[p] === MODE_ISOLATED) {
        this.deriveIsolated(p, i, system, w);
        continue;
      }
      if (nCross === this.crossSlots.length) this.growCross();
      if (!this.bound(i).ok) crossOk = false;
      const m = f64(w.mark, i);
      const aq = Math.abs(f64(qw, p)) * f64(w.k, i);
      const weight = aq * (m > 1 ? m : 1);
      this.crossSlots[nCross] = p;
      this.crossWeights[nCross] = weight;
      this.crossA[nCross] = aq;
      this.crossMark[nCross] = m;
      nCross++;
      sumWeight += weight;
      const n = f64(w.notional, p);
      const u = Math.abs(f64(w.upnl, p));
      const mm = Math.abs(f64(w.pmm, p));
      if (n > magPos) magPos = n;
      if (u > magPos) magPos = u;
      if (mm > magPos) magPos = mm;
    }
    if (nColl > 0) {
      // The base equity moves with the collateral: its magnitude joins the overflow headroom.
      const base = Math.abs(Number(b.acct_base_minor[a]!));
      if (base > magPos) magPos = base;
    }
    if (nCross === 0) {
      if (nColl === 0) return;
      // No cross position: no flag of the account depends on prices; only the base equity
      // must not overflow (B1 = the headroom alone, no margin-call budget).
      if (system) {
        for (let j = 0; j < nColl; j++) this.collateral.set(this.collAssets[j]!, a, Infinity, -Infinity);
        return;
      }
      const mag = Math.max(magPos, Math.abs(f64(w.aequity, a)));
      const of = (TWO63 - mag) * (1 - 2 ** -40) - 4096;
      const b1 = of * (1 - 2 ** -40) - 4;
      let sumC = 0;
      for (let j = 0; j < nColl; j++) sumC += this.collWeight[j]!;
      for (let j = 0; j < nColl; j++) {
        const share = sumC > 0 ? (this.collWeight[j]! / sumC) * SAFE : 0;
        this.setCollateral(a, j, b1 > 0 ? b1 * share : 0, Infinity);
      }
      return;
    }
    const st = b.acct_status[a]!;
    const inZone = (st & ACCT_CALL_ZONE) !== 0;
    if (system || !crossOk || (st & (ACCT_OVERFLOW | ACCT_LIQUIDATABLE)) !== 0 || inZone !== (b.acct_call_latch[a] !== 0)) {
      for (let j = 0; j < nCross; j++) {
        const p = this.crossSlots[j]!;
        this.setInterval(p, instOf[p]!, Infinity, -Infinity);
      }
      for (let j = 0; j < nColl; j++) this.collateral.set(this.collAssets[j]!, a, Infinity, -Infinity);
      return;
    }
    for (let j = 0; j < nColl; j++) sumWeight += this.collWeight[j]!;
    const e = f64(w.aequity, a);
    const mm = f64(w.amm, a);
    let mag = magPos;
    const ae = Math.abs(e);
    const amm = Math.abs(mm);
    const aim = f64(w.aim, a);
    if (ae > mag) mag = ae;
    if (amm > mag) mag = amm;
    if (aim > mag) mag = aim;
    this.budgets(e, mm, inZone, mag, b.acct_equity_minor, b.acct_mm_minor, a);
    const b1 = this.b1;
    const b2 = this.b2;
    for (let j = 0; j < nCross; j++) {
      const p = this.crossSlots[j]!;
      const i = instOf[p]!;
      const share = sumWeight > 0 ? (this.crossWeights[j]! / sumWeight) * SAFE : 0;
      this.deriveShare(p, i, this.bounds[i]!, this.crossMark[j]!, this.crossA[j]!, b1 * share, b2 * share);
    }
    for (let j = 0; j < nColl; j++) {
      const share = sumWeight > 0 ? (this.collWeight[j]! / sumWeight) * SAFE : 0;
      this.setCollateral(a, j, b1 * share, b2 * share);
    }
  }

  private deriveIsolated(p: number, i: number, system: boolean, w: Words): void {
    const b = this.margin.book;
    const st = b.pos_status[p]!;
    const inZone = (st & POS_CALL_ZONE) !== 0;
    const bd = this.bound(i);
    if (system || !bd.ok || (st & (POS_OVERFLOW | POS_LIQUIDATABLE)) !== 0 || inZone !== (b.pos_call_latch[p] !== 0)) {
      this.setInterval(p, i, Infinity, -Infinity);
      return;
    }
    const e = f64(w.pequity, p);
    const mm = f64(w.pmm, p);
    let mag = f64(w.notional, p);
    const au = Math.abs(f64(w.upnl, p));
    const amm = Math.abs(mm);
    const ae = Math.abs(e);
    if (au > mag) mag = au;
    if (amm > mag) mag = amm;
    if (ae > mag) mag = ae;
    this.budgets(e, mm, inZone, mag, b.pos_equity_minor, b.pos_mm_minor, p);
    this.deriveShare(p, i, bd, f64(w.mark, i), Math.abs(f64(w.qty, p)) * f64(w.k, i), this.b1, this.b2);
  }

  /**
   * Position p's interval (instrument i, bound constants bd, mark m, A = |q|·k) from its shares
   * of the two budgets (both already safe lower bounds).
   */
  private deriveShare(p: number, i: number, bd: InstrumentBound, m: number, a: number, b1: number, b2: number): void {
    // cost1(Δ) ≤ A·Δ·(1 + r) + k1 ≤ b1 ;  cost2(Δ) ≤ A·Δ·(4 + 5r) + 5·k1 ≤ b2
    const x1 = (b1 - bd.k1) / (a * bd.c1);
    const x2 = (b2 - 5 * bd.k1) / (a * bd.c2);
    let d = Math.floor((x1 < x2 ? x1 : x2) * SAFE) - 2;
    if (!(d > 0)) d = 0; // also NaN (a = 0 cannot happen here: q ≠ 0, k ≥ 1)
    this.index.setUnlessKept(p, i, m - d, m + d, KEEP_SHARE);
  }

  private growCross(): void {
    const n = this.crossSlots.length * 2;
    this.crossSlots = growI32(this.crossSlots, n);
    this.crossWeights = growF64(this.crossWeights, n);
    this.crossA = growF64(this.crossA, n);
    this.crossMark = growF64(this.crossMark, n);
  }

  /**
   * Safe lower bounds (as Numbers, into b1/b2) of the two budgets of an entity with exact
   * figures E, MM: B1 = min(E − MM, 2^63 − 1 − mag) (not liquidatable: E ≥ MM), B2 =
   * 4E − 5MM − 1 out of the zone, 5MM − 4E in it. E − MM and 4E − 5MM are exact in floats
   * below 2^52 / 2^49 in magnitude; otherwise they come from the exact i64 figures (BigInt).
   */
  private budgets(e: number, mm: number, inZone: boolean, mag: number, eArr: BigInt64Array, mmArr: BigInt64Array, j: number): void {
    let d1: number;
    let d2: number;
    if (Math.abs(e) < TWO49 && Math.abs(mm) < TWO49) {
      d1 = e - mm;
      d2 = 4 * e - 5 * mm;
    } else {
      const eb = eArr[j]!;
      const mb = mmArr[j]!;
      d1 = Number(eb - mb);
      d2 = Number(4n * eb - 5n * mb);
    }
    const z = inZone ? -d2 : d2 - 1;
    // 2^63 − mag in floats: mag is within 2^-53 relative (≤ 2^10 absolute) of the exact value.
    const of = (TWO63 - mag) * (1 - 2 ** -40) - 4096;
    const b1 = (d1 < of ? d1 : of) * (1 - 2 ** -40) - 4; // d1 ≥ 0: a liquidatable entity always recomputes
    const b2 = z * (1 - 2 ** -40) - 4;
    this.b1 = b1 > 0 ? b1 : 0;
    this.b2 = b2 > 0 ? b2 : 0;
  }
}

function growF64(a: Float64Array, need: number): Float64Array {
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function growI32(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * By name, not cached per slot: a slot freed by a rollback can be reused by another account,
 * so a per-slot cache could call a system account an ordinary one (and bound its figures).
 * The first character filters out every ordinary name at the cost of one load.
 */
function isSystemName(name: string): boolean {
  return name.charCodeAt(0) === 64 /* "@" */ && SYSTEM_ACCOUNTS.includes(name);
}
