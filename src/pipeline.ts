// How the stages are wired (read this file first). One input entry flows:
//
//   events (schema/codec)  →  journal (seq, ts, hash chain)  →  aggregate: decide → evolve
//     →  margin kernel (WASM, SoA) on the accounts the event touched
//     →  liquidation (SPEC §5: takeover, fee, deficit, ADL; repeated until nothing is
//        liquidatable)  →  margin calls  →  outputs (report history, journal, NATS)
//
// `Core.apply` is the whole per-event transaction: an event whose figures would overflow is
// rolled back with the inverse effects and rejected, so a rejected event changes nothing.
import { parseEventLine } from "./events/schema.js";
import type { LogEntry } from "./events/types.js";
import type { Rejection } from "./events/errors.js";
import { OverflowError } from "./numbers/int.js";
import { formatScaled } from "./numbers/decimal.js";
import { decide, type MarginView } from "./aggregate/decide.js";
import { evolveAll } from "./aggregate/evolve.js";
import type { Effect } from "./aggregate/effects.js";
import { emptyState, INSURANCE, SYSTEM_ACCOUNTS, type State } from "./aggregate/state.js";
import { ACCT_CALL_ZONE, ACCT_HAS_CROSS, ACCT_LIQUIDATABLE, MODE_ISOLATED, POS_CALL_ZONE, POS_LIQUIDATABLE, type MarginEngine } from "./margin/engine.js";
import { BookSync, emptyTouched, type Touched } from "./margin/sync.js";
import { createKernelMarginEngine } from "./margin/kernel.js";
import { autoDeleverage, compareCandidates, liquidate, type Candidate, type LiquidationFigures } from "./liquidation/liquidate.js";
import type { AdlOutput, InsuranceCoverOutput, LiquidationOutput, MarginCallOutput, OutputEvent, RejectedOutput } from "./outputs/events.js";

/** What the report lists besides the state: every rejection and derived event, in order. */
export interface History {
  readonly rejected: RejectedOutput[];
  readonly liquidations: LiquidationOutput[];
  readonly adl: AdlOutput[];
  readonly marginCalls: MarginCallOutput[];
  readonly insuranceCovers: InsuranceCoverOutput[];
}

export function emptyHistory(): History {
  return { rejected: [], liquidations: [], adl: [], marginCalls: [], insuranceCovers: [] };
}

export interface ApplyResult {
  readonly seq: number;
  readonly ts: number;
  readonly rejection: Rejection | null;
  readonly outputs: readonly OutputEvent[];
}

class Rollback extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.message);
  }
}

export interface CoreOptions {
  readonly margin?: MarginEngine;
  readonly state?: State;
  readonly history?: History;
  /** Keep derived events in `history` (the report needs them; a bench may not). */
  readonly keepHistory?: boolean;
}

export class Core {
  readonly state: State;
  readonly margin: MarginEngine;
  readonly history: History;
  private readonly sync: BookSync;
  private readonly keepHistory: boolean;

  constructor(opts: CoreOptions = {}) {
    this.state = opts.state ?? emptyState();
    this.margin = opts.margin ?? createKernelMarginEngine();
    this.history = opts.history ?? emptyHistory();
    this.keepHistory = opts.keepHistory ?? true;
    this.sync = new BookSync(this.margin, this.state);
    this.sync.writeAll();
    this.sync.computeAll();
  }

  /** Applies one log entry at the next seq. `ts` (from the journal) overrides the event's. */
  apply(entry: LogEntry, ts?: number): ApplyResult {
    const seq = this.state.seq + 1;
    let rejection: Rejection | null = null;
    let outputs: OutputEvent[] = [];
    let eventTs = this.state.ts;
    if (entry.kind === "raw") {
      // Raw entries failed validation when they were logged; the same check gives the same code.
      const v = parseEventLine(entry.raw);
      rejection = v.ok ? { code: "E_SCHEMA", message: "entry was logged as malformed" } : v.rejection;
    } else {
      eventTs = entry.event.ts ?? this.state.ts;
      const decision = decide(this.state, entry.event, this.marginView);
      if (!decision.ok) rejection = decision.rejection;
      else {
        try {
          outputs = this.transact(decision.effects, seq);
        } catch (err) {
          if (!(err instanceof Rollback)) throw err;
          rejection = err.rejection;
        }
      }
    }
    this.state.seq = seq;
    this.state.ts = ts ?? eventTs;
    if (rejection !== null) {
      const out: RejectedOutput = { type: "rejected", seq, code: rejection.code, message: rejection.message };
      outputs = [out];
    }
    if (this.keepHistory) this.record(outputs);
    return { seq, ts: this.state.ts, rejection, outputs };
  }

  /** Applies the effects, runs margin → liquidation → margin calls; all or nothing. */
  private transact(effects: readonly Effect[], seq: number): OutputEvent[] {
    const undo: Effect[][] = [];
    const outputs: OutputEvent[] = [];
    try {
      const touched = emptyTouched();
      this.applyEffects(effects, touched, undo);
      const sDecimals = this.settlementDecimals();
      for (const e of effects) {
        if (e.t === "cover") outputs.push({ type: "insurance.cover", seq, account: e.account, symbol: e.symbol, amount: formatScaled(e.amountMinor, sDecimals) });
      }
      this.sync.collect(touched);
      let liquidatable = this.computeChecked();
      // Every account whose figures this event changed: margin calls are decided over these.
      // Liquidation rounds: each liquidates every liquidatable entity of the collection in
      // SPEC order; then, if @insurance equity is negative (whether or not this event
      // liquidated anything), ADL runs; then only the accounts the round touched are
      // recomputed (marks do not move within an event, so every other figure stands). A flat
      // entity cannot be liquidated again within the event and ADL only shrinks positions,
      // so the rounds are bounded by the entity count (asserted).
      let initial: Int32Array | null = null; // the first collection, kept once rounds replace it
      const roundTouched = new Set<number>();
      const roundLimit = this.state.accountsBySlot.length + this.state.positionsBySlot.length + 2;
      for (let round = 0; ; round++) {
        if (round >= roundLimit) throw new Error(`liquidation did not converge in ${roundLimit} rounds`);
        const candidates = liquidatable > 0 ? this.candidates() : [];
        if (candidates.length === 0 && !this.insuranceEquityNegative()) break;
        initial ??= this.sync.accounts.slice(0, this.sync.accountCount);
        const next = emptyTouched();
        for (const c of candidates) {
          const { effects: le, output } = liquidate(this.state, c, this.figures, seq);
          this.applyEffects(le, next, undo);
          outputs.push(output);
        }
        if (candidates.length > 0) {
          this.sync.collect(next);
          this.computeChecked();
        }
        let adlFills = 0;
        if (this.insuranceEquityNegative()) {
          const adl = autoDeleverage(this.state, this.figures, seq);
          adlFills = adl.outputs.length;
          if (adlFills > 0) {
            this.applyEffects(adl.effects, next, undo);
            outputs.push(...adl.outputs);
          }
        }
        if (candidates.length === 0 && adlFills === 0) break;
        this.sync.collect(next);
        liquidatable = this.computeChecked();
        for (let j = 0; j < this.sync.accountCount; j++) roundTouched.add(this.sync.accounts[j]!);
      }
      // Margin calls over every account whose figures changed (all figures are current).
      if (initial !== null) {
        for (const a of initial) roundTouched.add(a);
        this.sync.collectAccounts(roundTouched);
      }
      const calls = this.marginCalls(seq);
      if (calls.effects.length > 0) this.applyEffects(calls.effects, emptyTouched(), undo);
      outputs.push(...calls.outputs);
      return outputs;
    } catch (err) {
      const rejection: Rejection | null =
        err instanceof Rollback ? err.rejection : err instanceof OverflowError ? { code: "E_OVERFLOW", message: err.message } : null;
      if (rejection === null) throw err;
      for (let i = undo.length - 1; i >= 0; i--) {
        const inverse = undo[i]!;
        evolveAll(this.state, inverse);
        this.sync.apply(inverse, emptyTouched());
      }
      this.sync.writeAll();
      this.sync.computeAll();
      throw new Rollback(rejection);
    }
  }

  private applyEffects(effects: readonly Effect[], touched: Touched, undo: Effect[][]): void {
    undo.push(evolveAll(this.state, effects));
    if (!this.sync.apply(effects, touched)) {
      throw new Rollback({ code: "E_OVERFLOW", message: "an account's cross base equity overflows the 64-bit representation" });
    }
  }

  private insuranceEquityNegative(): boolean {
    const ins = this.state.accounts.get(INSURANCE);
    if (ins === undefined || this.margin.book.acct_equity_minor[ins.slot]! >= 0n) return false;
    for (const p of ins.positions.values()) if (p.qtyLots !== 0n) return true;
    return false;
  }

  /** Kernel pass over the current collection; an overflowed figure rolls the event back. */
  private computeChecked(): number {
    const n = this.sync.computeCollected();
    if (n < 0) throw new Rollback({ code: "E_OVERFLOW", message: "the event's figures would overflow the 64-bit representation" });
    return n;
  }

  /** The kernel's verdicts over the current collection, in SPEC order; system accounts excluded. */
  private candidates(): Candidate[] {
    const b = this.margin.book;
    const out: Candidate[] = [];
    const sync = this.sync;
    for (let j = 0; j < sync.accountCount; j++) {
      const a = sync.accounts[j]!;
      if ((b.acct_status[a]! & ACCT_LIQUIDATABLE) === 0) continue;
      const name = this.state.accountsBySlot[a]!.name;
      if (!SYSTEM_ACCOUNTS.includes(name)) out.push({ account: name, symbol: "" });
    }
    for (let j = 0; j < sync.listCount; j++) {
      const p = sync.list[j]!;
      if ((b.pos_status[p]! & POS_LIQUIDATABLE) === 0) continue;
      const pos = this.state.positionsBySlot[p]!;
      if (!SYSTEM_ACCOUNTS.includes(pos.account)) out.push({ account: pos.account, symbol: pos.symbol });
    }
    return out.sort(compareCandidates);
  }

  /**
   * Margin calls over the current collection: first crossing into E ≤ 1.25·MM, re-armed once
   * out of the zone. Typed-array scans (statuses vs latch mirrors); only changes allocate.
   */
  private marginCalls(seq: number): { effects: Effect[]; outputs: MarginCallOutput[] } {
    const b = this.margin.book;
    const sync = this.sync;
    const effects: Effect[] = [];
    const found: { account: string; symbol: string; equity: bigint; mm: bigint }[] = [];
    for (let j = 0; j < sync.accountCount; j++) {
      const a = sync.accounts[j]!;
      const st = b.acct_status[a]!;
      const inZone = (st & ACCT_HAS_CROSS) !== 0 && (st & ACCT_CALL_ZONE) !== 0 ? 1 : 0;
      if (inZone === sync.acctLatch[a]) continue;
      const name = this.state.accountsBySlot[a]!.name;
      if (SYSTEM_ACCOUNTS.includes(name)) continue;
      effects.push({ t: "latch.cross", account: name, on: inZone === 1 });
      if (inZone === 1) found.push({ account: name, symbol: "", equity: b.acct_equity_minor[a]!, mm: b.acct_mm_minor[a]! });
    }
    for (let j = 0; j < sync.listCount; j++) {
      const p = sync.list[j]!;
      if (b.pos_mode[p] !== MODE_ISOLATED && sync.posLatch[p] === 0) continue;
      const inZone = (b.pos_status[p]! & POS_CALL_ZONE) !== 0 && b.pos_qty_lots[p] !== 0n ? 1 : 0;
      if (inZone === sync.posLatch[p]) continue;
      const pos = this.state.positionsBySlot[p]!;
      if (SYSTEM_ACCOUNTS.includes(pos.account)) continue;
      effects.push({ t: "latch.isolated", account: pos.account, symbol: pos.symbol, on: inZone === 1 });
      if (inZone === 1) found.push({ account: pos.account, symbol: pos.symbol, equity: b.pos_equity_minor[p]!, mm: b.pos_mm_minor[p]! });
    }
    const sDecimals = this.settlementDecimals();
    const outputs = found.sort(compareCandidates).map((f): MarginCallOutput => ({
      type: "margin.call", seq, account: f.account, symbol: f.symbol,
      equity: formatScaled(f.equity, sDecimals), maintenanceMargin: formatScaled(f.mm, sDecimals),
    }));
    return { effects, outputs };
  }

  private settlementDecimals(): number {
    const s = this.state.settlementAsset;
    return s === null ? 0 : this.state.assets.get(s)!.decimals;
  }

  private record(outputs: readonly OutputEvent[]): void {
    for (const o of outputs) {
      if (o.type === "rejected") this.history.rejected.push(o);
      else if (o.type === "liquidation") this.history.liquidations.push(o);
      else if (o.type === "adl") this.history.adl.push(o);
      else if (o.type === "insurance.cover") this.history.insuranceCovers.push(o);
      else this.history.marginCalls.push(o);
    }
  }

  /** Figures for decide (withdrawal and transfer checks), computed by the kernel on demand. */
  private readonly marginView: MarginView = {
    cross: (account) => {
      const acct = this.state.accounts.get(account);
      if (acct === undefined) return { equityMinor: 0n, imMinor: 0n };
      this.sync.computeAccounts([acct.slot]);
      const b = this.margin.book;
      return { equityMinor: b.acct_equity_minor[acct.slot]!, imMinor: b.acct_im_minor[acct.slot]! };
    },
    isolated: (account, symbol) => {
      const acct = this.state.accounts.get(account);
      const pos = acct?.positions.get(symbol);
      if (acct === undefined || pos === undefined) return { equityMinor: 0n, imMinor: 0n };
      this.sync.computeAccounts([acct.slot]);
      const b = this.margin.book;
      return { equityMinor: b.pos_equity_minor[pos.slot]!, imMinor: b.pos_im_minor[pos.slot]! };
    },
  };

  private readonly figures: LiquidationFigures = {
    crossEquityMinor: (slot) => this.margin.book.acct_equity_minor[slot]!,
    notionalMinor: (slot) => this.margin.book.pos_notional_minor[slot]!,
    upnlMinor: (slot) => this.margin.book.pos_upnl_minor[slot]!,
    isolatedEquityMinor: (slot) => this.margin.book.pos_equity_minor[slot]!,
  };

  /** Test support: the margin book's cached collections agree with the state. */
  checkBookCaches(): string | null {
    return this.sync.checkCaches();
  }

  /** Full recompute (for reports); returns the number of liquidatable entities. */
  recomputeAll(): number {
    this.sync.writeAll();
    return this.sync.computeAll();
  }
}
