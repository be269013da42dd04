// Liquidation policy v1 (SPEC §5): takeover at mark by @insurance, fee capped at remaining
// equity and split by insuranceShare, negative balance protection. Auto-deleveraging, which
// follows, is in adl.ts. Like `decide`, these functions only read the state and return
// effects (via a Draft); the pipeline evolves them. Figures (E, N, U) come from the kernel.
import { divCeil, max, min, RATE_SCALE } from "../numbers/int.js";
import { formatScaled, formatSteps } from "../numbers/decimal.js";
import { Draft } from "../aggregate/draft.js";
import { applyLeg } from "../aggregate/decide.js";
import { compareStrings, FEES, INSURANCE, type Instrument, type Position, type State } from "../aggregate/state.js";
import type { Effect } from "../aggregate/effects.js";
import type { LiquidationOutput } from "../outputs/events.js";

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

export function qtyString(inst: Instrument, lots: bigint): string {
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
