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
import { emptyState, INSURANCE, SYSTEM_ACCOUNTS, compareStrings, type State } from "./aggregate/state.js";
import { ACCT_CALL_ZONE, ACCT_HAS_CROSS, ACCT_LIQUIDATABLE, ACCT_OVERFLOW, POS_CALL_ZONE, POS_LIQUIDATABLE, POS_OVERFLOW, type MarginEngine } from "./margin/engine.js";
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
    const touched = emptyTouched();
    const outputs: OutputEvent[] = [];
    try {
      this.applyEffects(effects, touched, undo);
      const sDecimals = this.settlementDecimals();
      for (const e of effects) {
        if (e.t === "cover") outputs.push({ type: "insurance.cover", seq, account: e.account, symbol: e.symbol, amount: formatScaled(e.amountMinor, sDecimals) });
      }
      let accounts = this.sync.affectedAccounts(touched);
      this.computeChecked(accounts);
      // Liquidation rounds: each round liquidates every liquidatable entity among the
      // accounts touched so far; an entity, once flat, cannot be liquidated again within
      // this event, so the rounds are bounded by the entity count (asserted).
      const roundLimit = this.state.accountsBySlot.length + this.state.positionsBySlot.length + 2;
      const candidatesSeen = new Set<number>(accounts);
      for (let round = 0; ; round++) {
        if (round >= roundLimit) throw new Error(`liquidation did not converge in ${roundLimit} rounds`);
        const candidates = this.liquidatable(accounts);
        if (candidates.length === 0) break;
        const next = emptyTouched();
        for (const c of candidates) {
          const { effects: le, output } = liquidate(this.state, c, this.figures, seq);
          this.applyEffects(le, next, undo);
          outputs.push(output);
        }
        this.computeChecked(this.sync.affectedAccounts(next));
        const ins = this.state.accounts.get(INSURANCE);
        if (ins !== undefined && this.margin.book.acct_equity_minor[ins.slot]! < 0n) {
          const adl = autoDeleverage(this.state, this.figures, seq);
          this.applyEffects(adl.effects, next, undo);
          outputs.push(...adl.outputs);
        }
        accounts = this.sync.affectedAccounts(next);
        for (const a of accounts) candidatesSeen.add(a);
        this.computeChecked(accounts);
      }
      const all = [...candidatesSeen].sort((x, y) => x - y);
      this.computeChecked(all);
      const calls = this.marginCalls(all, seq);
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

  /** Kernel pass over the accounts; any overflowed figure rolls the event back. */
  private computeChecked(accountSlots: readonly number[]): void {
    this.sync.computeAccounts(accountSlots);
    const b = this.margin.book;
    for (const a of accountSlots) {
      if ((b.acct_status[a]! & ACCT_OVERFLOW) !== 0) {
        throw new Rollback({ code: "E_OVERFLOW", message: `figures of account ${this.state.accountsBySlot[a]!.name} would overflow the 64-bit representation` });
      }
    }
    for (const a of accountSlots) {
      for (const pos of this.state.accountsBySlot[a]!.positions.values()) {
        if ((b.pos_status[pos.slot]! & POS_OVERFLOW) !== 0) {
          throw new Rollback({ code: "E_OVERFLOW", message: `figures of ${pos.account}/${pos.symbol} would overflow the 64-bit representation` });
        }
      }
    }
  }

  /** The kernel's verdicts among these accounts, in SPEC order; system accounts excluded. */
  private liquidatable(accountSlots: readonly number[]): Candidate[] {
    const b = this.margin.book;
    const out: Candidate[] = [];
    for (const a of accountSlots) {
      const acct = this.state.accountsBySlot[a]!;
      if (SYSTEM_ACCOUNTS.includes(acct.name)) continue;
      if ((b.acct_status[a]! & ACCT_LIQUIDATABLE) !== 0) out.push({ account: acct.name, symbol: "" });
      for (const pos of acct.positions.values()) {
        if (pos.mode === "isolated" && (b.pos_status[pos.slot]! & POS_LIQUIDATABLE) !== 0) {
          out.push({ account: acct.name, symbol: pos.symbol });
        }
      }
    }
    return out.sort(compareCandidates);
  }

  /** Margin calls: first crossing into E ≤ 1.25·MM, re-armed once out of the zone. */
  private marginCalls(accountSlots: readonly number[], seq: number): { effects: Effect[]; outputs: MarginCallOutput[] } {
    const b = this.margin.book;
    const sDecimals = this.settlementDecimals();
    const effects: Effect[] = [];
    const outputs: MarginCallOutput[] = [];
    for (const a of accountSlots) {
      const acct = this.state.accountsBySlot[a]!;
      if (SYSTEM_ACCOUNTS.includes(acct.name)) continue;
      const st = b.acct_status[a]!;
      const inZone = (st & ACCT_HAS_CROSS) !== 0 && (st & ACCT_CALL_ZONE) !== 0;
      if (inZone !== acct.crossCallLatched) {
        effects.push({ t: "latch.cross", account: acct.name, on: inZone });
        if (inZone) {
          outputs.push({
            type: "margin.call", seq, account: acct.name, symbol: "",
            equity: formatScaled(b.acct_equity_minor[a]!, sDecimals), maintenanceMargin: formatScaled(b.acct_mm_minor[a]!, sDecimals),
          });
        }
      }
      const isolated = [...acct.positions.values()].filter((p) => p.mode === "isolated").sort((x, y) => compareStrings(x.symbol, y.symbol));
      for (const pos of isolated) {
        const inIsoZone = pos.qtyLots !== 0n && (b.pos_status[pos.slot]! & POS_CALL_ZONE) !== 0;
        if (inIsoZone === pos.callLatched) continue;
        effects.push({ t: "latch.isolated", account: acct.name, symbol: pos.symbol, on: inIsoZone });
        if (inIsoZone) {
          outputs.push({
            type: "margin.call", seq, account: acct.name, symbol: pos.symbol,
            equity: formatScaled(b.pos_equity_minor[pos.slot]!, sDecimals), maintenanceMargin: formatScaled(b.pos_mm_minor[pos.slot]!, sDecimals),
          });
        }
      }
    }
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

  /** Full recompute (for reports); returns the number of liquidatable entities. */
  recomputeAll(): number {
    this.sync.writeAll();
    return this.sync.computeAll();
  }
}
