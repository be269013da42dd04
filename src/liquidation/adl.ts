// Auto-deleveraging (SPEC §5): when @insurance equity is negative after the liquidation step,
// each of its positions (symbol order) is closed at mark, without fees, against the
// opposite-side positions with U > 0, ranked by score = U·N/E² descending (E ≤ 0 first, ties
// by account name). The ranking is exact; floats only prune it, with proven bounds
// (docs/incremental.md "ADL"). Like `liquidate`, it reads the state and returns effects.
import { abs, min, sign } from "../numbers/int.js";
import { formatSteps } from "../numbers/decimal.js";
import { Draft } from "../aggregate/draft.js";
import { applyLeg } from "../aggregate/decide.js";
import { compareStrings, INSURANCE, type Position, type State } from "../aggregate/state.js";
import type { Effect } from "../aggregate/effects.js";
import type { AdlOutput } from "../outputs/events.js";
import { upnlSignFloat, type AdlMirror, type OpenSide } from "./open-positions.js";
import { qtyString } from "./liquidate.js";

/**
 * What ADL needs besides the state: the current cross equity of the given accounts. With mark
 * intervals the book's figures of accounts a mark did not reach are stale, so the pipeline
 * recomputes exactly these (the cross candidates' accounts that the selection resolves) before
 * they are read; an overflow rolls the event back.
 */
export interface AdlFigures {
  /** Open positions of the instrument on one side (every such position, in any order). */
  openPositions(symbol: string, long: boolean): OpenSide;
  /** ADL's float mirror of the state (current: kept from every effect). */
  mirror(): AdlMirror;
  refreshAccounts(accountSlots: readonly number[], symbol: string): void;
  crossEquityMinor(accountSlot: number): bigint;
}

/** One ADL counterparty: its exact U, N, E and its score as a float (the prefilter). */
export interface AdlCandidate {
  readonly p: Position;
  readonly u: bigint;
  readonly n: bigint;
  /** Exact E; or 0n standing in for a cross E that the float bounds prove ≤ 0 (only its sign matters then). */
  e: bigint;
  /** U·N / E² in floats (E > 0; else 0): six roundings, so within 2^-50 (relative) of the exact score. */
  approx: number;
}

/** The float prefilter of a candidate's score (`approx`). */
export function adlApprox(u: bigint, n: bigint, e: bigint): number {
  if (e <= 0n) return 0;
  const ef = Number(e);
  return (Number(u) * Number(n)) / (ef * ef);
}

/** Two floats closer than this (relative) are compared exactly; their error is far below it. */
const ADL_APPROX_SLACK = 1e-9;

/** score_a > score_b (exact; E ≤ 0 ranks first, as the score's limit is +∞), ties by account name. */
export function adlBetter(a: AdlCandidate, b: AdlCandidate): boolean {
  const aInf = a.e <= 0n;
  const bInf = b.e <= 0n;
  if (aInf !== bInf) return aInf;
  if (!aInf) {
    // Floats decide when far apart (each within 2^-50 of the exact quotient); else compare
    // U_a·N_a·E_b² with U_b·N_b·E_a², without division.
    if (a.approx > b.approx * (1 + ADL_APPROX_SLACK)) return true;
    if (b.approx > a.approx * (1 + ADL_APPROX_SLACK)) return false;
    const lhs = a.u * a.n * b.e * b.e;
    const rhs = b.u * b.n * a.e * a.e;
    if (lhs !== rhs) return lhs > rhs;
  }
  return compareStrings(a.p.account, b.p.account) < 0;
}

// ------------------------------------------------------------------ score bounds (pruning)
//
// ADL ranks by score = U·N/E² (E ≤ 0: +∞). Exact U, N (BigInt) and, for a cross candidate, the
// kernel's E (an account recompute) cost ≈ 1 µs per candidate, and in a storm a run takes ≈ 2
// of ≈ 380. So every candidate first gets float bounds lo ≤ score ≤ hi, from the float mirror
// of the state (`AdlMirror`, no BigInt and no object graph), and only those that can still come
// next are resolved exactly (`PrunedQueue`).
//
// The bounds. u = 2^-53. Every Number(bigint) and every float +, −, ×, / rounds to nearest
// (relative error ≤ u; no underflow: operands are integers or quotients of integers below
// 2^124), and rounding is monotone with 0 and 1 exact, so fl(x) > 0 ⇔ x > 0, fl(x) < 1 ⇔ x < 1.
// - A position term U = k·(q·M − C) from q' = fl(q), C' = fl(C), M' = fl(M), k' = fl(k):
//   t = q'·M', d = t − C', U' = k'·d. Then |d − (qM − C)| ≤ 3.1u·(|t| + |C'| + |d|) and
//   |U' − U| ≤ 5.2u·mag with mag = k'·(|t| + |C'| + |d|) ≥ |U'|. N' = |q'|·M'·k' is within
//   5.1u of N (relative).
// - A collateral value floor(a·p·(1e8 − h)·10^sd / (1e16·10^d)): x = fl(fl(a')·f')·p' with
//   f' = fl(fl((1e8 − h)·10^sd) / fl(1e16·10^d)) (3 roundings) is within 7.1u·|x| of the real
//   product, and the floor adds < 1. The settlement balance B: within u·|B'|.
// - E' = the float sum of T terms (the balance terms, then the cross positions' U', flat ones
//   included as the kernel sums them; or m' + U' for an isolated candidate): summing adds
//   ≤ (T − 1)·u·A with A = Σ |term| bounds (mag, |B'|, |x|). In all |E − E'| ≤ (T + 7)·u·A
//   + floors; the code uses eE = (T + 16)·2u·A + floors + 1, twice that (absorbing eE's own
//   rounding).
// - U ∈ [max(U' − 32u·mag, 1), U' + 32u·mag] (U is an integer ≥ 1 here), N ∈ N'·[1 − 32u,
//   1 + 32u], E ∈ [eLo, eHi] = [E' − eE, E' + eE]. E is an integer: eHi < 1 proves E ≤ 0
//   (lo = hi = +∞: ranks first, by name, and needs no recompute); otherwise
//   lo = U_lo·N_lo/eHi²·(1 − 2^-46), and hi = U_hi·N_hi/max(eLo, 1)²·(1 + 2^-46) when eLo > 0
//   (then E ≥ 1), hi = +∞ when eLo ≤ 0 (E may be ≤ 0: the candidate may rank first). The
//   factors 1 ∓ 128u cover the ≤ 10 roundings of evaluating the bounds themselves.
// - Candidates with A or N' ≥ 2^62 (or not finite) get [0, +∞] (always resolved): no float
//   claim is made about them, and a figure near i64's limit is computed by the kernel exactly
//   as the exhaustive path would.
// The base is computed from the balances and asset prices, never read from the margin book: a
// collateral holder's `acct_base_minor` may be stale (lazy bases, docs/incremental.md).

const U2 = 2 ** -52; // 2u
const TERM_SLACK = 2 ** -48; // 32u: U' and N' (≤ 5.2u needed)
const SCORE_SLACK = 2 ** -46; // 128u: the bounds' own evaluation
const BOUND_MAG_MAX = 2 ** 62;

/** Float bounds of one candidate's score: lo ≤ score ≤ hi (+∞ for E ≤ 0). */
export interface AdlBounds {
  lo: number;
  hi: number;
}

/** What `scoreBounds` reads: the mirror, and instrument and asset price floats (lazily, per run). */
interface BoundsContext {
  readonly state: State;
  readonly mirror: AdlMirror;
  /** fl(M), fl(k) by instrument slot; NaN until first needed. */
  readonly instM: Float64Array;
  readonly instK: Float64Array;
  /** fl(price) by collateral asset name. */
  readonly prices: Map<string, number>;
}

function boundsContext(state: State, mirror: AdlMirror): BoundsContext {
  const n = state.instrumentsBySlot.length;
  return {
    state, mirror,
    instM: new Float64Array(n).fill(NaN), instK: new Float64Array(n).fill(NaN), prices: new Map(),
  };
}

function priceOf(ctx: BoundsContext, asset: string): number {
  let p = ctx.prices.get(asset);
  if (p === undefined) {
    p = Number(ctx.state.assets.get(asset)!.priceE8);
    ctx.prices.set(asset, p);
  }
  return p;
}

/**
 * Bounds of the score of candidate position slot j (open, U > 0) in floats, from the mirror
 * only (see the argument above); `mf`, `kf`: fl(M), fl(k) of its instrument.
 */
function scoreBounds(ctx: BoundsContext, j: number, mf: number, kf: number, out: AdlBounds): void {
  const mi = ctx.mirror;
  const qf = mi.q[j]!;
  const cf = mi.c[j]!;
  const t = qf * mf;
  const d = t - cf;
  const uf = kf * d;
  const uMag = kf * (Math.abs(t) + Math.abs(cf) + Math.abs(d));
  const nf = Math.abs(qf) * mf * kf;
  let ef: number;
  let mag: number;
  let terms: number;
  let floors: number;
  if (mi.isolated[j] === 1) {
    const m = mi.m[j]!;
    ef = m + uf;
    mag = Math.abs(m) + uMag;
    terms = 2;
    floors = 0;
  } else {
    // E = base + Σ over the account's cross positions (flat ones too) of U, as the kernel sums.
    const a = mi.account[j]!;
    mi.ensureBase(a);
    ef = mi.baseF[a]!;
    mag = mi.baseMag[a]!;
    terms = mi.baseTerms[a]!;
    floors = mi.baseFloors[a]!;
    const coll = mi.baseAsset[a];
    if (coll !== null && coll !== undefined) {
      const x = mi.baseCoef[a]! * priceOf(ctx, coll);
      ef += x;
      mag += Math.abs(x);
      terms++;
      floors++;
    }
    for (let o = mi.head[a]! - 1; o >= 0; o = mi.link[o]! - 1) {
      if (mi.isolated[o] === 1) continue;
      terms++;
      if (o === j) {
        ef += uf;
        mag += uMag;
        continue;
      }
      const inst = mi.instrument[o]!;
      let om = ctx.instM[inst]!;
      if (om !== om) {
        const x = ctx.state.instrumentsBySlot[inst]!;
        om = ctx.instM[inst] = Number(x.markTicks);
        ctx.instK[inst] = Number(x.kMinor);
      }
      const ok = ctx.instK[inst]!;
      const oc = mi.c[o]!;
      const ot = mi.q[o]! * om;
      const od = ot - oc;
      ef += ok * od;
      mag += ok * (Math.abs(ot) + Math.abs(oc) + Math.abs(od));
    }
  }
  if (!(mag < BOUND_MAG_MAX && nf < BOUND_MAG_MAX)) {
    out.lo = 0;
    out.hi = Infinity;
    return;
  }
  const eU = TERM_SLACK * uMag;
  const eE = (terms + 16) * U2 * mag + floors + 1;
  const uLo = Math.max(uf - eU, 1);
  const uHi = uf + eU;
  const nLo = nf * (1 - TERM_SLACK);
  const nHi = nf * (1 + TERM_SLACK);
  const eLo = ef - eE;
  const eHi = ef + eE;
  // E is an integer: E ≤ eHi < 1 means E ≤ 0, and E > 0 means E ≥ max(eLo, 1).
  if (eHi < 1) {
    out.lo = Infinity; // E ≤ 0 for certain: ranks first (among such, by name)
    out.hi = Infinity;
    return;
  }
  out.lo = ((uLo * nLo) / (eHi * eHi)) * (1 - SCORE_SLACK);
  const e1 = eLo > 1 ? eLo : 1;
  out.hi = eLo > 0 ? ((uHi * nHi) / (e1 * e1)) * (1 + SCORE_SLACK) : Infinity;
}

/** Test support: `scoreBounds` of candidate p at its instrument's current mark. */
export function adlScoreBounds(state: State, mirror: AdlMirror, p: Position): AdlBounds {
  const inst = state.instruments.get(p.symbol)!;
  const out = { lo: 0, hi: 0 };
  scoreBounds(boundsContext(state, mirror), p.slot, Number(inst.markTicks), Number(inst.kMinor), out);
  return out;
}

/** A lower bound of a resolved candidate's exact score (approx is within 2^-50 of it). */
function resolvedLo(c: AdlCandidate): number {
  return c.e <= 0n ? Infinity : c.approx * (1 - SCORE_SLACK);
}

/**
 * Yields the candidates in exact SPEC order (`adlBetter`), resolving exactly only those that
 * can come next. Invariant: `heap` holds resolved candidates (exact order), `open` the others
 * with their float bounds. The best resolved one is next when its exact score exceeds every
 * open upper bound (`resolvedLo(top) > max hi`: strict, so names never matter across the
 * two sets). Otherwise the open candidates with hi ≥ L are resolved, where L = max(resolvedLo(top),
 * max lo over open) is a lower bound of the best remaining exact score: any candidate with
 * hi < L loses to that best one. After a batch every open hi is < L ≤ the heap's best score, so
 * the next pop needs no scan unless the float slack of `resolvedLo` says otherwise; a failed
 * test always has an open candidate with hi ≥ L (its hi is the max), so every step progresses.
 *
 * Scans are linear over the open candidates (a run usually takes one or two counterparties);
 * once they have cost 8n + 64, the open candidates are sorted by hi instead (O(n log n) in all).
 */
class PrunedQueue {
  private readonly heap: AdlCandidate[] = [];
  /** Open candidates: open[head, end). Sorted by hi (descending) once `sorted`. */
  private readonly open: Int32Array;
  private head = 0;
  private end: number;
  private maxHiOpen = -Infinity;
  private sorted = false;
  private sufMaxLo: Float64Array | null = null;
  private scanned = 0;
  private readonly budget: number;

  constructor(
    n: number,
    private readonly lo: Float64Array,
    private readonly hi: Float64Array,
    /** Resolves candidates (by index) exactly. */
    private readonly resolve: (batch: readonly number[]) => AdlCandidate[],
  ) {
    this.open = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.open[i] = i;
      if (hi[i]! > this.maxHiOpen) this.maxHiOpen = hi[i]!;
    }
    this.end = n;
    this.budget = 8 * n + 64;
  }

  /** The next counterparty in exact order, or undefined when none is left. */
  pop(): AdlCandidate | undefined {
    for (;;) {
      const top = this.heap[0];
      if (this.head === this.end || (top !== undefined && resolvedLo(top) > this.maxHiOpen)) {
        return top === undefined ? undefined : heapPop(this.heap, adlBetter);
      }
      this.resolveBatch(top === undefined ? -Infinity : resolvedLo(top));
    }
  }

  private resolveBatch(topLo: number): void {
    const { open, lo, hi } = this;
    const batch: number[] = [];
    if (!this.sorted && this.scanned + (this.end - this.head) > this.budget) this.sortOpen();
    if (this.sorted) {
      let l = this.sufMaxLo![this.head]!;
      if (topLo > l) l = topLo;
      while (this.head < this.end && hi[open[this.head]!]! >= l) batch.push(open[this.head++]!);
      this.maxHiOpen = this.head < this.end ? hi[open[this.head]!]! : -Infinity;
    } else {
      this.scanned += this.end;
      let l = -Infinity;
      for (let j = 0; j < this.end; j++) if (lo[open[j]!]! > l) l = lo[open[j]!]!;
      if (topLo > l) l = topLo;
      let kept = 0;
      let maxHi = -Infinity;
      for (let j = 0; j < this.end; j++) {
        const i = open[j]!;
        if (hi[i]! >= l) batch.push(i);
        else {
          open[kept++] = i;
          if (hi[i]! > maxHi) maxHi = hi[i]!;
        }
      }
      this.end = kept;
      this.maxHiOpen = maxHi;
    }
    if (batch.length === 0) {
      // Unreachable (see the class comment); resolving everything left is always correct.
      for (let j = this.head; j < this.end; j++) batch.push(open[j]!);
      this.head = this.end;
      this.maxHiOpen = -Infinity;
    }
    for (const c of this.resolve(batch)) heapPush(this.heap, c, adlBetter);
  }

  private sortOpen(): void {
    const hi = this.hi;
    const lo = this.lo;
    const open = this.open.subarray(this.head, this.end);
    open.sort((a, b) => (hi[b]! > hi[a]! ? 1 : hi[b]! < hi[a]! ? -1 : 0));
    const suf = new Float64Array(this.end + 1);
    suf[this.end] = -Infinity;
    for (let j = this.end - 1; j >= this.head; j--) suf[j] = Math.max(suf[j + 1]!, lo[this.open[j]!]!);
    this.sufMaxLo = suf;
    this.sorted = true;
  }
}

/**
 * Grown on demand (bounds of one run's candidates; no state). Module-level and shared by every
 * Core: safe because an ADL run is synchronous and nothing it calls (the kernel refresh)
 * re-enters ADL.
 */
let scratchLo = new Float64Array(256);
let scratchHi = new Float64Array(256);

/**
 * Auto-deleveraging (SPEC §5), run when @insurance equity is negative: each @insurance
 * position (by symbol) is closed at mark, without fees, against opposite-side positions with
 * U > 0, ranked by score = U·N / E² descending (E: isolated equity, or the cross account's
 * equity; E ≤ 0 ranks first, as the score's limit is +∞), ties by account name.
 *
 * Cost: one pass over the instrument's open opposite-side positions, deciding U > 0 and bounding
 * each candidate's score in floats from the state (its account's positions and balances); then
 * a lazy selection (`PrunedQueue`) that computes exact U, N (BigInt) and E (a kernel recompute
 * of those accounts, batched) only for the candidates whose upper bound reaches the best lower
 * bound: proportional to the open positions plus the counterparties actually taken (and their
 * near-ties), not to every candidate's account. Same selection as `autoDeleverageReference`.
 */
export function autoDeleverage(state: State, figs: AdlFigures, seq: number): { effects: Effect[]; outputs: AdlOutput[] } {
  return runAdl(state, figs, seq, true);
}

/**
 * The exhaustive selection (every candidate exact, as before the pruning): the reference the
 * differential tests hold `autoDeleverage` to. Not used by the engine.
 */
export function autoDeleverageReference(state: State, figs: AdlFigures, seq: number): { effects: Effect[]; outputs: AdlOutput[] } {
  return runAdl(state, figs, seq, false);
}

function runAdl(state: State, figs: AdlFigures, seq: number, pruned: boolean): { effects: Effect[]; outputs: AdlOutput[] } {
  const insurance = state.accounts.get(INSURANCE);
  const outputs: AdlOutput[] = [];
  if (insurance === undefined) return { effects: [], outputs };
  const s = state.settlementAsset!;
  const mirror = figs.mirror();
  const insuranceSlot = insurance.slot;
  const ctx = pruned ? boundsContext(state, mirror) : null;
  const d = new Draft(state);
  const own = [...insurance.positions.values()].filter((p) => p.qtyLots !== 0n).sort((a, b) => compareStrings(a.symbol, b.symbol));
  for (const ins of own) {
    const inst = state.instruments.get(ins.symbol)!;
    const dir = sign(ins.qtyLots);
    const mark = inst.markTicks;
    const k = inst.kMinor;
    const wantLong = dir < 0n; // counterparties are on the other side
    const markF = Number(mark);
    const kF = Number(k);
    const side = figs.openPositions(inst.symbol, wantLong);
    if (pruned && scratchLo.length < side.size) {
      scratchLo = new Float64Array(side.size * 2);
      scratchHi = new Float64Array(side.size * 2);
    }
    const found: number[] = [];
    const bounds: AdlBounds = { lo: 0, hi: 0 };
    const { qf, cf, slots } = side;
    for (let i = 0; i < side.size; i++) {
      const q = qf[i]!; // fl(q) has q's sign
      if (q === 0 || q > 0 !== wantLong) throw new Error(`ADL: open-position index is stale in ${inst.symbol}`);
      // U = k·(q·M − C) > 0 (k > 0): floats decide unless near zero, then BigInt.
      const sg = upnlSignFloat(q, cf[i]!, markF);
      if (sg < 0) continue;
      const slot = slots[i]!;
      if (sg === 0) {
        const p = state.positionsBySlot[slot]!;
        if (p.qtyLots * mark - p.costLotTicks <= 0n) continue;
      }
      if (mirror.account[slot] === insuranceSlot) continue;
      if (ctx !== null) {
        scoreBounds(ctx, slot, markF, kF, bounds);
        scratchLo[found.length] = bounds.lo;
        scratchHi[found.length] = bounds.hi;
      }
      found.push(slot);
    }
    if (found.length === 0) continue;
    // Exact U, N, E of a batch (candidate indices): E of the cross ones after one recompute of
    // their accounts, except where the bounds already prove E ≤ 0 (lo = +∞): only E's sign
    // matters then (such candidates rank by name), so E = 0 stands in and nothing is recomputed.
    const resolve = (batch: readonly number[]): AdlCandidate[] => {
      const out: AdlCandidate[] = [];
      const refresh: AdlCandidate[] = [];
      const crossAccounts: number[] = [];
      for (const idx of batch) {
        const p = state.positionsBySlot[found[idx]!]!;
        const q = p.qtyLots;
        if (q === 0n || q > 0n !== wantLong) throw new Error(`ADL: open-position index is stale for ${p.account} ${p.symbol}`);
        const u = k * (q * mark - p.costLotTicks);
        const n = (wantLong ? q : -q) * mark * k;
        const c: AdlCandidate = { p, u, n, e: 0n, approx: 0 };
        if (p.mode === "isolated") c.e = p.isolatedMarginMinor + u;
        else if (!(ctx !== null && scratchLo[idx] === Infinity)) {
          crossAccounts.push(state.accounts.get(p.account)!.slot);
          refresh.push(c);
        }
        out.push(c);
      }
      if (crossAccounts.length > 0) figs.refreshAccounts(crossAccounts, inst.symbol);
      for (const c of refresh) c.e = figs.crossEquityMinor(state.accounts.get(c.p.account)!.slot);
      for (const c of out) c.approx = adlApprox(c.u, c.n, c.e);
      return out;
    };
    let next: () => AdlCandidate | undefined;
    if (pruned) {
      const queue = new PrunedQueue(found.length, scratchLo.subarray(0, found.length), scratchHi.subarray(0, found.length), resolve);
      next = () => queue.pop();
    } else {
      // A binary heap (best on top): O(n) to build, O(log n) per counterparty taken.
      const all = resolve(found.map((_, i) => i));
      heapify(all, adlBetter);
      next = () => (all.length > 0 ? heapPop(all, adlBetter) : undefined);
    }
    let remaining = abs(ins.qtyLots);
    while (remaining > 0n) {
      const r = next();
      if (r === undefined) break;
      const x = min(remaining, abs(r.p.qtyLots));
      applyLeg(d, inst, s, r.p.account, dir * x, mark, 0n);
      applyLeg(d, inst, s, INSURANCE, -dir * x, mark, 0n);
      remaining -= x;
      outputs.push({
        type: "adl", seq, symbol: inst.symbol, account: r.p.account,
        qty: qtyString(inst, dir * x), mark: formatSteps(mark, inst.tickSize),
      });
    }
  }
  return { effects: d.effects(), outputs };
}

/** Max-heap order on `a` by `better` (a strict total order), in place. */
function heapify<T>(a: T[], better: (x: T, y: T) => boolean): void {
  for (let i = (a.length >> 1) - 1; i >= 0; i--) siftDown(a, i, better);
}

function siftDown<T>(a: T[], i: number, better: (x: T, y: T) => boolean): void {
  const n = a.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    const r = l + 1;
    const c = r < n && better(a[r]!, a[l]!) ? r : l;
    if (!better(a[c]!, a[i]!)) return;
    const t = a[i]!;
    a[i] = a[c]!;
    a[c] = t;
    i = c;
  }
}

/** Removes and returns the best element of a non-empty heap. */
function heapPop<T>(a: T[], better: (x: T, y: T) => boolean): T {
  const top = a[0]!;
  const last = a.pop()!;
  if (a.length > 0) {
    a[0] = last;
    siftDown(a, 0, better);
  }
  return top;
}

/** Adds `x` to a heap ordered by `better`. */
function heapPush<T>(a: T[], x: T, better: (x: T, y: T) => boolean): void {
  let i = a.length;
  a.push(x);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!better(a[i]!, a[parent]!)) return;
    const t = a[i]!;
    a[i] = a[parent]!;
    a[parent] = t;
    i = parent;
  }
}
