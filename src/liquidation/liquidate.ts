// Liquidation policy v1 (SPEC §5): takeover at mark by @insurance, fee capped at remaining
// equity and split by insuranceShare, negative balance protection, then auto-deleveraging.
// Like `decide`, these functions only read the state and return effects (via a Draft);
// the pipeline evolves them. Figures (E, N, U) come from the margin kernel.
import { abs, divCeil, max, min, RATE_SCALE, sign } from "../numbers/int.js";
import { formatScaled, formatSteps } from "../numbers/decimal.js";
import { Draft } from "../aggregate/draft.js";
import { applyLeg } from "../aggregate/decide.js";
import { compareStrings, FEES, INSURANCE, type Instrument, type Position, type State } from "../aggregate/state.js";
import type { Effect } from "../aggregate/effects.js";
import type { AdlOutput, LiquidationOutput } from "../outputs/events.js";
import { upnlSign, type OpenSide } from "./open-positions.js";

/** Current figures the policy needs, read from the margin book after a kernel pass. */
export interface LiquidationFigures {
  crossEquityMinor(accountSlot: number): bigint;
  notionalMinor(positionSlot: number): bigint;
  upnlMinor(positionSlot: number): bigint;
  /** Isolated: m + U. */
  isolatedEquityMinor(positionSlot: number): bigint;
}

/** A liquidatable entity: a cross account (symbol "") or one isolated position. */
export interface Candidate {
  readonly account: string;
  readonly symbol: string;
}

/** SPEC order: ascending (account, instrument); a cross account sorts with instrument "". */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return compareStrings(a.account, b.account) || compareStrings(a.symbol, b.symbol);
}

function shareSplit(feeMinor: bigint, inst: Instrument): bigint {
  return divCeil(feeMinor * inst.insuranceShareE8, RATE_SCALE); // to @insurance: ceil (SPEC §5)
}

function qtyString(inst: Instrument, lots: bigint): string {
  return formatSteps(lots, inst.lotSize);
}

export function liquidate(
  state: State, c: Candidate, figs: LiquidationFigures, seq: number,
): { effects: Effect[]; output: LiquidationOutput } {
  const s = state.settlementAsset!;
  const sDecimals = state.assets.get(s)!.decimals;
  const account = state.accounts.get(c.account)!;
  const d = new Draft(state);
  const legs: LiquidationOutput["legs"] = [];
  let fee = 0n;
  let toInsurance = 0n;
  let deficit = 0n;
  const take = (pos: Position, inst: Instrument, feeDelta: bigint): void => {
    const q = pos.qtyLots;
    legs.push({
      symbol: inst.symbol,
      qty: qtyString(inst, q),
      mark: formatSteps(inst.markTicks, inst.tickSize),
      notional: formatScaled(figs.notionalMinor(pos.slot), sDecimals),
    });
    applyLeg(d, inst, s, c.account, -q, inst.markTicks, feeDelta); // realizes U at mark
    applyLeg(d, inst, s, INSURANCE, q, inst.markTicks, 0n); // @insurance takes the position over
  };

  if (c.symbol === "") {
    const equity = figs.crossEquityMinor(account.slot);
    let room = max(0n, equity); // the fee is capped at the remaining equity, 0 when negative
    const positions = [...account.positions.values()]
      .filter((p) => p.mode === "cross" && p.qtyLots !== 0n)
      .sort((a, b) => compareStrings(a.symbol, b.symbol));
    for (const pos of positions) {
      const inst = state.instruments.get(pos.symbol)!;
      const f = min(divCeil(figs.notionalMinor(pos.slot) * inst.liquidationFeeE8, RATE_SCALE), room);
      room -= f;
      fee += f;
      toInsurance += shareSplit(f, inst);
      take(pos, inst, 0n);
    }
    d.addBalance(c.account, s, -fee);
    if (equity < 0n) {
      deficit = -equity; // negative balance protection: the account ends at equity 0
      d.addBalance(c.account, s, deficit);
      d.addBalance(INSURANCE, s, -deficit, "insurance fund balance");
    }
  } else {
    const pos = account.positions.get(c.symbol)!;
    const inst = state.instruments.get(c.symbol)!;
    const equity = figs.isolatedEquityMinor(pos.slot);
    fee = min(divCeil(figs.notionalMinor(pos.slot) * inst.liquidationFeeE8, RATE_SCALE), max(0n, equity));
    toInsurance = shareSplit(fee, inst);
    // The leg realizes U into m, charges the fee, and, the position being flat, returns m to
    // B — a negative m is first brought to 0 by @insurance (SPEC §4/§5).
    if (equity < 0n) deficit = -equity;
    take(pos, inst, -fee);
  }
  d.addBalance(INSURANCE, s, toInsurance, "insurance fund balance");
  d.addBalance(FEES, s, fee - toInsurance, "fee pool balance");
  const output: LiquidationOutput = {
    type: "liquidation",
    seq,
    account: c.account,
    mode: c.symbol === "" ? "cross" : "isolated",
    symbols: legs.map((l) => l.symbol),
    qty: legs.length === 1 ? legs[0]!.qty : legs.map((l) => l.qty),
    mark: legs.length === 1 ? legs[0]!.mark : legs.map((l) => l.mark),
    legs,
    fee: formatScaled(fee, sDecimals),
    feeToInsurance: formatScaled(toInsurance, sDecimals),
    feeToFees: formatScaled(fee - toInsurance, sDecimals),
    deficit: formatScaled(deficit, sDecimals),
  };
  return { effects: d.effects(), output };
}

/**
 * What ADL needs besides the state: the current cross equity of the given accounts. With mark
 * intervals the book's figures of accounts a mark did not reach are stale, so the pipeline
 * recomputes exactly these (the cross candidates' accounts) before they are read; -1 = overflow.
 */
export interface AdlFigures {
  /** Open positions of the instrument on one side (every such position, in any order). */
  openPositions(symbol: string, long: boolean): OpenSide;
  refreshAccounts(accountSlots: readonly number[], symbol: string): void;
  crossEquityMinor(accountSlot: number): bigint;
}

/** One ADL counterparty: its exact U, N, E and its score as a float (the prefilter). */
export interface AdlCandidate {
  readonly p: Position;
  readonly u: bigint;
  readonly n: bigint;
  e: bigint;
  /** U·N / E² in floats (E > 0; else 0): five roundings, so within 2^-50 (relative) of the exact score. */
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

/**
 * Auto-deleveraging (SPEC §5), run when @insurance equity is negative: each @insurance
 * position (by symbol) is closed at mark, without fees, against opposite-side positions with
 * U > 0, ranked by score = U·N / E² descending (E: isolated equity, or the cross account's
 * equity; E ≤ 0 ranks first, as the score's limit is +∞), ties by account name.
 *
 * Cost: one pass over the instrument's open opposite-side positions computing U = k·(q·M − C) and N = |q|·M·k
 * exactly from the state (no kernel figures, which may be stale), then a recompute of only the
 * cross candidates' accounts for E, then a lazy selection of the best (floats decide, exact
 * fractions break near-ties): proportional to the positions plus the candidates' accounts,
 * not to every holder's whole book.
 */
export function autoDeleverage(
  state: State, figs: AdlFigures, seq: number,
): { effects: Effect[]; outputs: AdlOutput[] } {
  const insurance = state.accounts.get(INSURANCE);
  const outputs: AdlOutput[] = [];
  if (insurance === undefined) return { effects: [], outputs };
  const s = state.settlementAsset!;
  const d = new Draft(state);
  const own = [...insurance.positions.values()].filter((p) => p.qtyLots !== 0n).sort((a, b) => compareStrings(a.symbol, b.symbol));
  for (const ins of own) {
    const inst = state.instruments.get(ins.symbol)!;
    const dir = sign(ins.qtyLots);
    const mark = inst.markTicks;
    const k = inst.kMinor;
    const candidates: AdlCandidate[] = [];
    const crossAccounts: number[] = [];
    const wantLong = dir < 0n; // counterparties are on the other side
    const markF = Number(mark);
    const side = figs.openPositions(inst.symbol, wantLong);
    for (let i = 0; i < side.size; i++) {
      const p = state.positionsBySlot[side.slots[i]!]!;
      if (upnlSign(side, i, p, mark, markF) <= 0) continue; // U = k·(q·M − C) ≤ 0 (k > 0)
      const q = p.qtyLots;
      if (q === 0n || q > 0n !== wantLong) throw new Error(`ADL: open-position index is stale for ${p.account} ${p.symbol}`);
      if (p.account === INSURANCE) continue;
      const u = k * (q * mark - p.costLotTicks);
      const n = (wantLong ? q : -q) * mark * k;
      let e = 0n;
      if (p.mode === "isolated") e = p.isolatedMarginMinor + u;
      else crossAccounts.push(state.accounts.get(p.account)!.slot);
      candidates.push({ p, u, n, e, approx: 0 });
    }
    if (candidates.length === 0) continue;
    if (crossAccounts.length > 0) figs.refreshAccounts(crossAccounts, inst.symbol);
    for (const c of candidates) {
      if (c.p.mode !== "isolated") c.e = figs.crossEquityMinor(state.accounts.get(c.p.account)!.slot);
      c.approx = adlApprox(c.u, c.n, c.e);
    }
    // A binary heap (best on top): O(n) to build, O(log n) per counterparty taken; the fund's
    // position usually needs a few of them, so nothing near a full sort.
    heapify(candidates, adlBetter);
    let remaining = abs(ins.qtyLots);
    while (remaining > 0n && candidates.length > 0) {
      const r = heapPop(candidates, adlBetter);
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
