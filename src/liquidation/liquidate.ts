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
 * Auto-deleveraging (SPEC §5), run when @insurance equity is negative: each @insurance
 * position (by symbol) is closed at mark, without fees, against opposite-side positions with
 * U > 0, ranked by score = U·N / E² descending (E: isolated equity, or the cross account's
 * equity; E ≤ 0 ranks first, as the score's limit is +∞), ties by account name.
 */
export function autoDeleverage(
  state: State, figs: LiquidationFigures, seq: number,
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
    const candidates: { p: Position; u: bigint; n: bigint; e: bigint }[] = [];
    for (const p of inst.positions) {
      if (p.account === INSURANCE || sign(p.qtyLots) !== -dir) continue;
      const u = figs.upnlMinor(p.slot);
      if (u <= 0n) continue;
      const e = p.mode === "isolated" ? figs.isolatedEquityMinor(p.slot) : figs.crossEquityMinor(state.accounts.get(p.account)!.slot);
      candidates.push({ p, u, n: figs.notionalMinor(p.slot), e });
    }
    // Usually a few counterparties close the fund's position: select the best one at a time
    // (O(n·k)) instead of sorting all of them.
    const better = (a: (typeof candidates)[number], b: (typeof candidates)[number]): boolean => {
      // score_a > score_b  ⇔  U_a·N_a·E_b² > U_b·N_b·E_a²  (exact, no division); E ≤ 0 ranks first.
      const aInf = a.e <= 0n;
      const bInf = b.e <= 0n;
      if (aInf !== bInf) return aInf;
      if (!aInf) {
        const lhs = a.u * a.n * b.e * b.e;
        const rhs = b.u * b.n * a.e * a.e;
        if (lhs !== rhs) return lhs > rhs;
      }
      return compareStrings(a.p.account, b.p.account) < 0;
    };
    const ranked = function* (): Generator<(typeof candidates)[number]> {
      while (candidates.length > 0) {
        let best = 0;
        for (let j = 1; j < candidates.length; j++) if (better(candidates[j]!, candidates[best]!)) best = j;
        const [pick] = candidates.splice(best, 1);
        yield pick!;
      }
    };
    let remaining = abs(ins.qtyLots);
    for (const r of ranked()) {
      if (remaining === 0n) break;
      const x = min(remaining, abs(r.p.qtyLots));
      applyLeg(d, inst, s, r.p.account, dir * x, inst.markTicks, 0n);
      applyLeg(d, inst, s, INSURANCE, -dir * x, inst.markTicks, 0n);
      remaining -= x;
      outputs.push({
        type: "adl", seq, symbol: inst.symbol, account: r.p.account,
        qty: qtyString(inst, dir * x), mark: formatSteps(inst.markTicks, inst.tickSize),
      });
    }
  }
  return { effects: d.effects(), outputs };
}
