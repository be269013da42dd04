// SPEC §7 invariants and the issue-3 insurance-fund ledger, checked independently of the
// engine (plain BigInt over the state), after every event of a simulation.
import { Core } from "../../src/pipeline.js";
import { INSURANCE, SYSTEM_ACCOUNTS, type State } from "../../src/aggregate/state.js";
import { ACCT_LIQUIDATABLE, POS_LIQUIDATABLE } from "../../src/margin/engine.js";
import { divCeil, divFloor, RATE_SCALE } from "../../src/numbers/int.js";
import { parseDecimal, decimalToScaled, decimalToSteps } from "../../src/numbers/decimal.js";
import { feeDeltaMinor } from "../../src/aggregate/decide.js";
import type { InputEvent } from "../../src/events/types.js";
import type { ApplyResult } from "../../src/pipeline.js";

/** Deposits − withdrawals accepted so far, per asset (minor units). */
export class Ledger {
  readonly netByAsset = new Map<string, bigint>();
  insuranceEquityMinor = 0n;

  /** Call before apply: the expected change of @insurance equity from the event itself. */
  expectedInsuranceDelta(state: State, e: InputEvent): bigint {
    const ins = state.accounts.get(INSURANCE);
    let delta = 0n;
    if (e.type === "mark" && ins !== undefined) {
      const inst = state.instruments.get(e.symbol);
      const pos = ins.positions.get(e.symbol);
      const ticks = inst === undefined ? null : decimalToScaledSteps(e.price, inst.tickSize);
      if (inst !== undefined && pos !== undefined && ticks !== null && ticks > 0n) delta += inst.kMinor * pos.qtyLots * (ticks - inst.markTicks);
    }
    if (e.type === "funding") {
      const inst = state.instruments.get(e.symbol);
      const rate = decimalToScaled(e.rate, 8);
      if (inst !== undefined && rate !== null && inst.markTicks > 0n) {
        let paid = 0n;
        let received = 0n;
        for (const p of inst.positions) {
          const scaled = p.qtyLots * inst.markTicks * inst.kMinor * rate;
          const d = scaled > 0n ? -divCeil(scaled, RATE_SCALE) : divFloor(-scaled, RATE_SCALE);
          if (d < 0n) paid -= d;
          else received += d;
          if (p.account === INSURANCE) delta += d;
        }
        delta += paid - received;
      }
    }
    if ((e.type === "deposit" || e.type === "withdraw") && e.account === INSURANCE && e.asset === state.settlementAsset) {
      const dec = state.assets.get(e.asset)!.decimals;
      const v = decimalToScaled(e.amount, dec) ?? 0n;
      delta += e.type === "deposit" ? v : -v;
    }
    return delta;
  }

  record(state: State, e: InputEvent, r: ApplyResult): void {
    if (r.rejection !== null) return;
    if (e.type === "deposit" || e.type === "withdraw") {
      const dec = state.assets.get(e.asset)!.decimals;
      const v = decimalToScaled(e.amount, dec)!;
      this.netByAsset.set(e.asset, (this.netByAsset.get(e.asset) ?? 0n) + (e.type === "deposit" ? v : -v));
    }
  }
}

function decimalToScaledSteps(price: { mantissa: bigint; scale: number }, tick: { mantissa: bigint; scale: number }): bigint | null {
  const scale = Math.max(price.scale, tick.scale);
  const v = price.mantissa * 10n ** BigInt(scale - price.scale);
  const s = tick.mantissa * 10n ** BigInt(scale - tick.scale);
  return v % s === 0n ? v / s : null;
}

export function insuranceEquity(state: State): bigint {
  const ins = state.accounts.get(INSURANCE);
  if (ins === undefined) return 0n;
  let e = ins.balances.get(state.settlementAsset ?? "") ?? 0n;
  for (const p of ins.positions.values()) {
    const inst = state.instruments.get(p.symbol)!;
    e += p.isolatedMarginMinor + inst.kMinor * (p.qtyLots * inst.markTicks - p.costLotTicks);
  }
  return e;
}

/** Σ (B + m) + Σ U over everything, settlement minor units. */
export function settlementTotal(state: State): bigint {
  let total = 0n;
  for (const acct of state.accounts.values()) {
    total += acct.balances.get(state.settlementAsset ?? "") ?? 0n;
    for (const p of acct.positions.values()) {
      const inst = state.instruments.get(p.symbol)!;
      total += p.isolatedMarginMinor + inst.kMinor * (p.qtyLots * inst.markTicks - p.costLotTicks);
    }
  }
  return total;
}

/** Returns the first violated invariant, or null. Recomputes every figure with the kernel. */
export function checkInvariants(core: Core, ledger: Ledger, insuranceDelta: bigint, r: ApplyResult): string | null {
  const s = core.state;
  const settle = s.settlementAsset;
  if (settle !== null) {
    const total = settlementTotal(s);
    const expected = ledger.netByAsset.get(settle) ?? 0n;
    if (total !== expected) return `conservation: Σ(B+m)+ΣU = ${total}, deposits − withdrawals = ${expected}`;
  }
  for (const [asset, net] of ledger.netByAsset) {
    if (asset === settle) continue;
    let sum = 0n;
    for (const a of s.accounts.values()) sum += a.balances.get(asset) ?? 0n;
    if (sum !== net) return `conservation of ${asset}: Σ balances ${sum} ≠ ${net}`;
  }
  for (const inst of s.instruments.values()) {
    let oi = 0n;
    for (const p of inst.positions) oi += p.qtyLots;
    if (oi !== 0n) return `open interest of ${inst.symbol} is ${oi}`;
  }
  core.recomputeAll();
  const b = core.margin.book;
  for (const acct of s.accounts.values()) {
    if (SYSTEM_ACCOUNTS.includes(acct.name)) continue;
    if ((b.acct_status[acct.slot]! & ACCT_LIQUIDATABLE) !== 0) return `account ${acct.name} left liquidatable`;
    const hasPositions = [...acct.positions.values()].some((p) => p.qtyLots !== 0n && p.mode === "cross");
    if (hasPositions && b.acct_equity_minor[acct.slot]! < 0n) return `account ${acct.name} left with negative equity ${b.acct_equity_minor[acct.slot]}`;
    for (const p of acct.positions.values()) {
      if (p.mode !== "isolated" || p.qtyLots === 0n) continue;
      if ((b.pos_status[p.slot]! & POS_LIQUIDATABLE) !== 0) return `isolated ${acct.name}/${p.symbol} left liquidatable`;
      if (b.pos_equity_minor[p.slot]! < 0n) return `isolated ${acct.name}/${p.symbol} left with negative equity`;
    }
  }
  // Insurance fund: its equity moves only by fee shares, deficits covered, funding surpluses,
  // its own deposits, the P&L of the inventory it holds (takeovers and ADL are at mark) and
  // its trades in the book (liquidation orders: the price against the mark, and the fee).
  const dec = s.settlementAsset === null ? 0 : s.assets.get(s.settlementAsset)!.decimals;
  let fromOutputs = 0n;
  for (const o of r.outputs) {
    if (o.type === "liquidation") fromOutputs += toMinor(o.feeToInsurance, dec) - toMinor(o.deficit, dec);
    if (o.type === "insurance.cover") fromOutputs -= toMinor(o.amount, dec);
    if (o.type === "trade" && (o.buyer === INSURANCE || o.seller === INSURANCE)) {
      const inst = s.instruments.get(o.symbol)!;
      const lots = decimalToSteps(parseDecimal(o.qty)!, inst.lotSize)!;
      const ticks = decimalToSteps(parseDecimal(o.price)!, inst.tickSize)!;
      const notional = lots * ticks * inst.kMinor;
      for (const [who, dir] of [[o.buyer, 1n], [o.seller, -1n]] as const) {
        if (who !== INSURANCE) continue;
        const taker = (o.taker === "buyer") === (dir === 1n);
        fromOutputs += dir * inst.kMinor * lots * (inst.markTicks - ticks) + feeDeltaMinor(notional, taker ? inst.takerFeeE8 : inst.makerFeeE8);
      }
    }
  }
  const now = insuranceEquity(s);
  // A rejected event changes nothing, so its expected delta is zero.
  const expected = ledger.insuranceEquityMinor + (r.rejection === null ? insuranceDelta : 0n) + fromOutputs;
  if (now !== expected) return `insurance equity ${now} ≠ expected ${expected} (Δ event ${insuranceDelta}, Δ outputs ${fromOutputs})`;
  ledger.insuranceEquityMinor = now;
  return null;
}

function toMinor(s: string, decimals: number): bigint {
  return decimalToScaled(parseDecimal(s)!, decimals)!;
}
