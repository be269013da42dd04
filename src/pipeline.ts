// How the stages are wired (read this file first). One input entry flows:
//
//   events (schema/codec)  →  journal (seq, ts, hash chain)  →  aggregate: decide → evolve
//     →  order events only: the book operation (matching engine; pre-trade risk through its
//        RiskHooks), each trade applied like a `trade` event (same applyLeg path)
//     →  margin kernel (WASM, SoA) on the accounts the event touched; for a mark, only the
//        accounts whose sound mark interval the new mark leaves (docs/incremental.md: their
//        flags cannot change otherwise; `markIntervals: false` recomputes every holder)
//     →  liquidation (SPEC §5: takeover, fee, deficit, ADL; the liquidated entity's open
//        orders are cancelled; repeated until nothing is liquidatable)
//     →  liquidation orders: @insurance offers what it took over back to the book as IOC
//        orders at mark ± a band; their trades may liquidate makers, so back to liquidation
//        (a bounded number of stages)
//     →  margin calls  →  outputs (report history, journal, NATS)
//
// `Core.apply` is the whole per-event transaction: an event whose figures would overflow is
// rolled back with the inverse effects (and the books with their undo log) and rejected, so
// a rejected event changes nothing. At commit, the accounts the event changed get new mark
// intervals. With mark intervals, figures in the margin book of accounts a mark did not
// reach are stale (their flags are not): every reader recomputes what it reads (ADL below,
// decide's margin view and pre-trade figures on demand, reports via recomputeAll).
import { parseEventLine } from "./events/schema.js";
import { sizeRejectionOf } from "./events/oversize.js";
import { isOrderEvent, type InputEvent, type LogEntry } from "./events/types.js";
import type { Rejection } from "./events/errors.js";
import { abs, divCeil, I64_MAX, OverflowError, TICK_MAX } from "./numbers/int.js";
import { formatScaled, formatSteps } from "./numbers/decimal.js";
import { decide, tradeEffects, type MarginView } from "./aggregate/decide.js";
import { openOrderMargin, preTradeCheck, type AccountFigures, type RiskContext } from "./aggregate/risk.js";
import type { OrderCommand } from "./matching/engine.js";
import { MAX_QTY_LOTS, type BookEvent, type BookTrade } from "./matching/types.js";
import { evolveAll, Resolution } from "./aggregate/evolve.js";
import type { Effect } from "./aggregate/effects.js";
import { compareStrings, emptyState, INSURANCE, SYSTEM_ACCOUNTS, type State } from "./aggregate/state.js";
import { ACCT_CALL_ZONE, ACCT_HAS_CROSS, MODE_ISOLATED, POS_CALL_ZONE, SUM_LIQ_ACCOUNTS, SUM_LIQ_POSITIONS, SUM_ZONE_ACCOUNTS, SUM_ZONE_POSITIONS, type MarginEngine } from "./margin/engine.js";
import { BASE_OVERFLOW, BookSync, clearTouched, emptyTouched, type Touched } from "./margin/sync.js";

const BASE_OVERFLOW_MESSAGE = "an account's cross base equity overflows the 64-bit representation";
import { createKernelMarginEngine } from "./margin/kernel.js";
import { OpenPositions } from "./liquidation/open-positions.js";
import { compareCandidates, liquidate, type Candidate, type LiquidationFigures } from "./liquidation/liquidate.js";
import { autoDeleverage, autoDeleverageReference, type AdlFigures } from "./liquidation/adl.js";
import type {
  AdlOutput, InsuranceCoverOutput, LiquidationOutput, MarginCallOutput, OrderOutput, OrderRejectedOutput, OutputEvent, RejectedOutput,
} from "./outputs/events.js";

/** Order-flow outputs so far (the report shows counts; the outputs themselves are journaled). */
export interface MatchingCounts {
  trades: number;
  accepted: number;
  cancelled: number;
  replaced: number;
  rejected: number;
}

/** What the report lists besides the state: every rejection and derived event, in order. */
export interface History {
  readonly rejected: RejectedOutput[];
  readonly liquidations: LiquidationOutput[];
  readonly adl: AdlOutput[];
  readonly marginCalls: MarginCallOutput[];
  readonly insuranceCovers: InsuranceCoverOutput[];
  /** Absent in snapshots written before order flow (read as zeros). */
  readonly matching: MatchingCounts;
}

export function emptyHistory(): History {
  return { rejected: [], liquidations: [], adl: [], marginCalls: [], insuranceCovers: [], matching: emptyMatchingCounts() };
}

function emptyMatchingCounts(): MatchingCounts {
  return { trades: 0, accepted: 0, cancelled: 0, replaced: 0, rejected: 0 };
}

/** Default band of @insurance's liquidation orders around the mark: 1%. */
export const DEFAULT_LIQUIDATION_BAND_BPS = 100;
/** Liquidation-order stages per event (each may liquidate makers and start another). */
export const MAX_LIQUIDATION_ORDER_STAGES = 4;

interface MarginCallFinding {
  readonly account: string;
  readonly symbol: string;
  readonly equity: bigint;
  readonly mm: bigint;
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

/** A kernel pass's result; an overflow (figures, or a base equity) rolls the event back. */
function throwOnOverflow(n: number): number {
  if (n === BASE_OVERFLOW) throw new Rollback({ code: "E_OVERFLOW", message: BASE_OVERFLOW_MESSAGE });
  if (n < 0) throw new Rollback({ code: "E_OVERFLOW", message: "the event's figures would overflow the 64-bit representation" });
  return n;
}

export interface CoreOptions {
  readonly margin?: MarginEngine;
  readonly state?: State;
  readonly history?: History;
  /** Keep derived events in `history` (the report needs them; a bench may not). */
  readonly keepHistory?: boolean;
  /**
   * @insurance's liquidation orders (docs/matching.md): IOC at mark ∓ `bandBps` basis points
   * (default DEFAULT_LIQUIDATION_BAND_BPS), or false to keep what it takes over. Part of the
   * deployment's configuration: a replay must use the same setting.
   */
  readonly liquidationOrders?: false | { readonly bandBps?: number };
  /**
   * Mark intervals (docs/incremental.md, default true): a mark event recomputes only the
   * accounts whose sound mark interval it leaves; decisions are identical. false: every mark
   * recomputes every holder of the instrument (the full path, for differential tests and audits).
   */
  readonly markIntervals?: boolean;
  /**
   * ADL's ranking (docs/incremental.md "ADL"): "pruned" (default) resolves exactly only the
   * candidates that can come next; "exhaustive" computes every candidate's exact score (the
   * reference, for differential tests). Same decisions either way.
   */
  readonly adlSelection?: "pruned" | "exhaustive";
}

export class Core {
  readonly state: State;
  readonly margin: MarginEngine;
  readonly history: History;
  private readonly sync: BookSync;
  private readonly keepHistory: boolean;
  /** Liquidation-order band in basis points; null: disabled. */
  private readonly liquidationBandBps: number | null;
  /** ADL ranks every candidate exactly (the reference selection). */
  private readonly adlExhaustive: boolean;
  /** True while @insurance places its liquidation orders (no pre-trade check for them). */
  private placingLiquidationOrder = false;
  /** Liquidation orders placed in the current event (their ids: `liq-<seq>-<n>`). */
  private liquidationOrderCount = 0;
  private readonly risk: RiskContext;
  /** ADL's counterparty index (a cache of the state, rebuilt from it on construction). */
  private readonly openPositions: OpenPositions;

  constructor(opts: CoreOptions = {}) {
    this.state = opts.state ?? emptyState();
    this.margin = opts.margin ?? createKernelMarginEngine();
    const history = opts.history ?? emptyHistory();
    (history as { matching: MatchingCounts }).matching ??= emptyMatchingCounts();
    this.history = history;
    this.keepHistory = opts.keepHistory ?? true;
    this.adlExhaustive = opts.adlSelection === "exhaustive";
    const lo = opts.liquidationOrders;
    this.liquidationBandBps = lo === false ? null : (lo?.bandBps ?? DEFAULT_LIQUIDATION_BAND_BPS);
    if (this.liquidationBandBps !== null && !(Number.isInteger(this.liquidationBandBps) && this.liquidationBandBps >= 0 && this.liquidationBandBps < 10_000)) {
      throw new RangeError("liquidationOrders.bandBps must be an integer in [0, 10000)");
    }
    this.openPositions = new OpenPositions(this.state);
    this.sync = new BookSync(this.margin, this.state, { markIntervals: opts.markIntervals ?? true });
    this.sync.writeAll();
    this.sync.computeAll();
    this.sync.rebuildIntervals();
    this.risk = { state: this.state, figures: (account) => this.figuresOf(account) };
    this.state.books.preTrade = (order, symbol, kind) => (this.placingLiquidationOrder ? null : preTradeCheck(this.risk, order, symbol, kind));
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
      const oversize = sizeRejectionOf(entry);
      rejection = oversize !== null
        ? { code: oversize, message: "the input exceeded the size limit and was kept truncated" }
        : v.ok ? { code: "E_SCHEMA", message: "entry was logged as malformed" } : v.rejection;
    } else {
      eventTs = entry.event.ts ?? this.state.ts;
      const decision = decide(this.state, entry.event, this.marginView);
      if (!decision.ok) rejection = decision.rejection;
      else {
        try {
          outputs = this.transact(decision.effects, seq, decision.order ?? null);
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
      if (entry.kind === "event" && isOrderEvent(entry.event)) outputs.push(orderRejected(seq, entry.event, rejection));
    }
    if (this.keepHistory) this.record(outputs);
    return { seq, ts: this.state.ts, rejection, outputs };
  }

  /**
   * Applies the effects (and, for an order event, the book operation and its trades), runs
   * margin → liquidation → liquidation orders → margin calls; all or nothing.
   */
  private transact(effects: readonly Effect[], seq: number, order: OrderCommand | null): OutputEvent[] {
    const undo: Effect[][] = [];
    const outputs: OutputEvent[] = [];
    const engine = this.state.books.engine;
    engine.beginTx();
    this.sync.beginTx();
    this.liquidationOrderCount = 0;
    try {
      const touched = clearTouched(this.eventTouched);
      this.applyEffects(effects, touched, undo);
      this.pushCovers(effects, seq, outputs);
      if (order !== null) {
        const refused = this.bookOperation(order, seq, touched, undo, outputs, false);
        if (refused !== null) throw new Rollback(refused);
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
      // Liquidation orders (after rounds that took positions over) fill makers, who may then
      // be liquidatable: back to the rounds, at most MAX_LIQUIDATION_ORDER_STAGES times. A
      // liquidated entity's orders are cancelled, so it cannot be filled back into a position.
      // The first collection, kept once rounds replace it (margin calls scan it at the end).
      let initial: { accounts: Int32Array; list: Int32Array } | null = null;
      // Allocated once a round runs (most events have none).
      let roundTouched: Set<number> | null = null;
      const roundLimit = this.state.accountsBySlot.length + this.state.positionsBySlot.length + 2 + 2 * (MAX_LIQUIDATION_ORDER_STAGES + 1);
      let round = 0;
      for (let stage = 0; ; stage++) {
        let takeovers = 0;
        for (; ; round++) {
          if (round >= roundLimit) throw new Error(`liquidation did not converge in ${roundLimit} rounds`);
          const candidates = liquidatable > 0 ? this.candidates() : [];
          if (candidates.length === 0 && !this.insuranceEquityNegative()) break;
          initial ??= { accounts: this.sync.accounts.slice(0, this.sync.accountCount), list: this.sync.list.slice(0, this.sync.listCount) };
          const next = emptyTouched();
          for (const c of candidates) {
            const { effects: le, output } = liquidate(this.state, c, this.figures, seq);
            this.applyEffects(le, next, undo);
            outputs.push(output);
            this.cancelOrdersOf(c, seq, outputs);
          }
          takeovers += candidates.length;
          if (candidates.length > 0) {
            this.sync.collect(next);
            this.computeChecked();
          }
          let adlFills = 0;
          if (this.insuranceEquityNegative()) {
            // Whether any counterparty has U > 0 depends only on positions and marks: when
            // ADL found none, it is not run again until those change for the fund's instruments.
            const key = this.adlKey();
            if (key !== this.adlBarrenKey) {
              const adl = (this.adlExhaustive ? autoDeleverageReference : autoDeleverage)(this.state, this.adlFigures, seq);
              adlFills = adl.outputs.length;
              this.adlBarrenKey = adlFills === 0 ? key : null;
              if (adlFills > 0) {
                this.applyEffects(adl.effects, next, undo);
                outputs.push(...adl.outputs);
              }
            }
          }
          if (candidates.length === 0 && adlFills === 0) break;
          this.sync.collect(next);
          liquidatable = this.computeChecked();
          roundTouched ??= new Set();
          for (let j = 0; j < this.sync.accountCount; j++) roundTouched.add(this.sync.accounts[j]!);
        }
        if (takeovers === 0 || this.liquidationBandBps === null || stage >= MAX_LIQUIDATION_ORDER_STAGES) break;
        const next = emptyTouched();
        if (!this.liquidationOrders(seq, next, undo, outputs)) break;
        this.sync.collect(next);
        liquidatable = this.computeChecked();
        roundTouched ??= new Set();
        for (let j = 0; j < this.sync.accountCount; j++) roundTouched.add(this.sync.accounts[j]!);
      }
      // Margin calls over every account whose figures changed (all figures are current): the
      // first collection, then the accounts the rounds touched. The first scan's latch effects
      // are applied before the second, so an account in both is not called twice.
      const sync = this.sync;
      const found: MarginCallFinding[] = [];
      if (initial !== null) {
        const first = this.marginCalls(initial.accounts, initial.accounts.length, initial.list, initial.list.length, found);
        if (first.length > 0) this.applyEffects(first, emptyTouched(), undo);
        sync.collectAccounts(roundTouched ?? []);
        this.computeChecked();
      }
      const calls = this.zoneChanges(found);
      if (calls.length > 0) this.applyEffects(calls, emptyTouched(), undo);
      if (found.length > 0) outputs.push(...this.marginCallOutputs(found, seq));
      engine.commitTx();
      this.sync.commitTx();
      return outputs;
    } catch (err) {
      const rejection: Rejection | null =
        err instanceof Rollback ? err.rejection : err instanceof OverflowError ? { code: "E_OVERFLOW", message: err.message } : null;
      // Undo everything (also before rethrowing a bug, so the state stays consistent), then
      // recompute exactly what the undo touched — the accounts of the inverse effects, every
      // holder of an instrument whose mark or tiers went back, and the system accounts (their
      // figures are read without a recompute) — not the whole book: a rejected order must not
      // cost a full recompute.
      const back = emptyTouched();
      for (let i = undo.length - 1; i >= 0; i--) {
        const inverse = undo[i]!;
        evolveAll(this.state, inverse);
        this.openPositions.afterEffects(inverse);
        this.sync.apply(inverse, back);
      }
      engine.rollbackTx();
      this.adlBarrenKey = null; // its positions may be the rolled-back ones
      for (const i of back.marks) back.instruments.add(i);
      back.marks.clear();
      // Likewise every holder of a collateral asset whose price went back.
      for (const name of back.collateral) for (const a of this.sync.holdersOf(name)) back.accounts.add(a);
      back.collateral.clear();
      for (const name of SYSTEM_ACCOUNTS) {
        const acct = this.state.accounts.get(name);
        if (acct !== undefined) back.accounts.add(acct.slot);
      }
      this.sync.collect(back);
      this.sync.computeCollected();
      this.sync.rollbackTx();
      if (rejection === null) throw err;
      throw new Rollback(rejection);
    }
  }

  /** The covers of the batch `applyEffects` just applied (most have none: no scan then). */
  private pushCovers(effects: readonly Effect[], seq: number, outputs: OutputEvent[]): void {
    if (this.resolution.covers === 0) return;
    for (const e of effects) {
      if (e.t !== "cover") continue;
      outputs.push({ type: "insurance.cover", seq, account: e.account, symbol: e.symbol, amount: formatScaled(e.amountMinor, this.settlementDecimals()) });
    }
  }

  /**
   * One book operation inside the transaction: its events become outputs, in order, and each
   * trade is applied like a `trade` event (fees by the taker side, same applyLeg path). A
   * refused operation changed nothing in the book: its rejection is returned (an input order
   * event is then rejected) or, for a liquidation order, output as `order.rejected`.
   */
  private bookOperation(cmd: OrderCommand, seq: number, touched: Touched, undo: Effect[][], outputs: OutputEvent[], liquidationOrder: boolean): Rejection | null {
    const events = this.state.books.engine.apply(cmd);
    for (const e of events) {
      if (e.type === "order.rejected" && !liquidationOrder) return { code: e.code, message: e.message };
      outputs.push(this.orderOutput(e, seq));
      if (e.type === "trade") this.applyBookTrade(e, seq, touched, undo, outputs);
    }
    return null;
  }

  private applyBookTrade(t: BookTrade, seq: number, touched: Touched, undo: Effect[][], outputs: OutputEvent[]): void {
    const inst = this.state.instruments.get(t.symbol)!;
    const effects = tradeEffects(this.state, inst, BigInt(t.price), BigInt(t.qty), t.buyer, t.seller, t.taker, null);
    this.applyEffects(effects, touched, undo);
    this.pushCovers(effects, seq, outputs);
  }

  /**
   * A liquidated entity's open orders are cancelled (reason "liquidation"), in arrival order:
   * a cross account's in every symbol where its position is cross, an isolated position's in
   * its symbol. Otherwise its orders could fill it back into a position it cannot carry.
   */
  private cancelOrdersOf(c: Candidate, seq: number, outputs: OutputEvent[]): void {
    const engine = this.state.books.engine;
    const acct = this.state.accounts.get(c.account);
    const symbols = c.symbol !== "" ? [c.symbol] : engine.symbols().filter((s) => (acct?.positions.get(s)?.mode ?? "cross") === "cross");
    for (const symbol of symbols) {
      const open: { id: string; seq: number }[] = [];
      engine.book(symbol)!.accountOrders(c.account, (o) => open.push({ id: o.id, seq: o.seq }));
      open.sort((a, b) => a.seq - b.seq);
      for (const o of open) {
        for (const e of engine.apply({ type: "order.cancel", symbol, account: c.account, id: o.id, reason: "liquidation" })) {
          outputs.push(this.orderOutput(e, seq));
        }
      }
    }
  }

  /**
   * @insurance offers every position it holds back to the book (symbol order): a reduce-only
   * IOC limit at mark·(1 ∓ band) (sell: floor, buy: ceil), placed only when the opposite touch
   * is within the band (no outputs otherwise). No pre-trade check: the fund must be able to
   * unwind. Returns whether anything traded.
   */
  private liquidationOrders(seq: number, touched: Touched, undo: Effect[][], outputs: OutputEvent[]): boolean {
    const ins = this.state.accounts.get(INSURANCE);
    if (ins === undefined || this.liquidationBandBps === null) return false;
    const engine = this.state.books.engine;
    const band = BigInt(this.liquidationBandBps);
    const held = [...ins.positions.values()].filter((p) => p.qtyLots !== 0n).sort((a, b) => compareStrings(a.symbol, b.symbol));
    let traded = false;
    for (const pos of held) {
      const inst = this.state.instruments.get(pos.symbol)!;
      const mark = inst.markTicks;
      if (mark === 0n) continue;
      const side = pos.qtyLots > 0n ? "sell" : "buy";
      let price = side === "sell" ? (mark * (10_000n - band)) / 10_000n : divCeil(mark * (10_000n + band), 10_000n);
      if (price < 1n) price = 1n;
      if (price > TICK_MAX) price = TICK_MAX;
      const book = engine.book(pos.symbol)!;
      const touch = side === "sell" ? book.bestBid() : book.bestAsk();
      if (touch === null || (side === "sell" ? BigInt(touch) < price : BigInt(touch) > price)) continue;
      const qty = abs(pos.qtyLots) > LOTS_MAX ? LOTS_MAX : abs(pos.qtyLots);
      if (qty * price * inst.kMinor > I64_MAX) continue; // not representable as one order: left to ADL
      this.liquidationOrderCount += 1;
      const cmd: OrderCommand = {
        type: "order.new", symbol: pos.symbol, id: `liq-${seq}-${this.liquidationOrderCount}`, account: INSURANCE, side, orderType: "limit",
        price: Number(price), qty: Number(qty), tif: "IOC", reduceOnly: true, stp: "cancel-taker",
      };
      const before = outputs.length;
      this.placingLiquidationOrder = true;
      try {
        this.bookOperation(cmd, seq, touched, undo, outputs, true);
      } finally {
        this.placingLiquidationOrder = false;
      }
      for (let i = before; i < outputs.length; i++) if (outputs[i]!.type === "trade") traded = true;
    }
    return traded;
  }

  /** A book event as an output (decimal strings on the instrument's grid). */
  private orderOutput(e: BookEvent, seq: number): OrderOutput {
    const inst = this.state.instruments.get(e.symbol)!;
    const px = (ticks: number): string => formatSteps(BigInt(ticks), inst.tickSize);
    const lots = (n: number): string => formatSteps(BigInt(n), inst.lotSize);
    switch (e.type) {
      case "trade":
        return {
          type: "trade", seq, id: e.id, symbol: e.symbol, price: px(e.price), qty: lots(e.qty), buyer: e.buyer, seller: e.seller,
          taker: e.taker, makerOrderId: e.makerOrderId, takerOrderId: e.takerOrderId,
        };
      case "order.accepted":
        return {
          type: "order.accepted", seq, symbol: e.symbol, orderId: e.orderId, account: e.account, side: e.side, orderType: e.orderType,
          price: e.price === null ? null : px(e.price), qty: lots(e.qty), tif: e.tif, reduceOnly: e.reduceOnly, stp: e.stp,
        };
      case "order.cancelled":
        return {
          type: "order.cancelled", seq, symbol: e.symbol, orderId: e.orderId, account: e.account, side: e.side,
          price: e.price === null ? null : px(e.price), qty: lots(e.qty), reason: e.reason,
        };
      case "order.replaced":
        return {
          type: "order.replaced", seq, symbol: e.symbol, orderId: e.orderId, account: e.account, side: e.side,
          oldPrice: px(e.oldPrice), oldQty: lots(e.oldQty), price: px(e.price), qty: lots(e.qty), priorityKept: e.priorityKept,
        };
      case "order.rejected":
        return { type: "order.rejected", seq, symbol: e.symbol, request: e.request, orderId: e.orderId, account: e.account, code: e.code, message: e.message };
    }
  }

  /** What the event's own effects touched: one object reused event after event (transact is not re-entered). */
  private readonly eventTouched = emptyTouched();

  /** Scratch of `applyEffects`: what evolve resolved for the batch being applied. */
  private readonly resolution = new Resolution();

  private applyEffects(effects: readonly Effect[], touched: Touched, undo: Effect[][]): void {
    // Versions only tell a held ADL memo that positions changed since it was taken (a memo is
    // only ever compared with keys computed after it): while none is held, nothing to count.
    if (this.adlBarrenKey !== null) {
      for (const e of effects) if (e.t === "position") this.positionVersions.set(e.symbol, (this.positionVersions.get(e.symbol) ?? 0) + 1);
    }
    // One read of each effect's kind (evolve's switch); the mirrors take what it resolved.
    const res = this.resolution;
    undo.push(evolveAll(this.state, effects, res));
    this.openPositions.afterEffects(effects, res);
    if (!this.sync.apply(effects, touched, res)) {
      throw new Rollback({ code: "E_OVERFLOW", message: BASE_OVERFLOW_MESSAGE });
    }
  }

  /**
   * ADL bounds every candidate's score in floats from its float mirror of the state (kept in
   * `openPositions` from every effect), then computes U and N from the state and reads E of a
   * cross candidate after a recompute of exactly the accounts it resolves (with mark intervals
   * the book's figures of accounts a mark did not reach are stale; lazy bases are rewritten by
   * that recompute). The recompute replaces the current collection, as every round's does; it
   * changes no decision (the accounts' state is unchanged, their flags already current), so
   * recomputing fewer accounts than before is invisible.
   */
  private readonly adlFigures: AdlFigures = {
    openPositions: (symbol, long) => this.openPositions.side(symbol, long),
    mirror: () => this.openPositions,
    refreshAccounts: (slots, symbol) => {
      // A crash makes most of one side's holders candidates: then the instrument's cached,
      // sorted collection is cheaper than collecting them one by one (measured: 210 vs 340 ms
      // for an ADL over 50k of 100k holders).
      const inst = this.state.instruments.get(symbol)!.slot;
      if (slots.length * 4 >= this.sync.holderCount(inst)) {
        throwOnOverflow(this.sync.refreshHolders(inst));
      } else {
        this.sync.collectAccounts(slots);
        this.computeChecked();
      }
    },
    crossEquityMinor: (slot) => this.margin.book.acct_equity_minor[slot]!,
  };

  /** ADL memo (a cache, not state): the situation in which ADL last found nobody to deleverage. */
  private adlBarrenKey: string | null = null;
  /** Position changes per instrument while an ADL memo is held (bumped by its position effects; never reset). */
  private readonly positionVersions = new Map<string, number>();

  /** The fund's open positions, their instruments' marks and position versions. */
  private adlKey(): string {
    const ins = this.state.accounts.get(INSURANCE)!;
    const parts: string[] = [];
    for (const p of ins.positions.values()) {
      if (p.qtyLots === 0n) continue;
      parts.push(`${p.symbol}:${p.qtyLots}:${this.state.instruments.get(p.symbol)!.markTicks}:${this.positionVersions.get(p.symbol) ?? 0}`);
    }
    return parts.sort().join("|");
  }

  private insuranceEquityNegative(): boolean {
    const ins = this.state.accounts.get(INSURANCE);
    if (ins === undefined || this.margin.book.acct_equity_minor[ins.slot]! >= 0n) return false;
    for (const p of ins.positions.values()) if (p.qtyLots !== 0n) return true;
    return false;
  }

  /** Kernel pass over the current collection; an overflowed figure rolls the event back. */
  private computeChecked(): number {
    return throwOnOverflow(this.sync.computeCollected());
  }

  /** The kernel's verdicts over the current collection (its result lists), in SPEC order; system accounts excluded. */
  private candidates(): Candidate[] {
    const b = this.margin.book;
    const sum = b.summary;
    const out: Candidate[] = [];
    for (let j = 0; j < sum[SUM_LIQ_ACCOUNTS]!; j++) {
      const name = this.state.accountsBySlot[b.list_liq_accounts[j]!]!.name;
      if (!SYSTEM_ACCOUNTS.includes(name)) out.push({ account: name, symbol: "" });
    }
    for (let j = 0; j < sum[SUM_LIQ_POSITIONS]!; j++) {
      const pos = this.state.positionsBySlot[b.list_liq_positions[j]!]!;
      if (!SYSTEM_ACCOUNTS.includes(pos.account)) out.push({ account: pos.account, symbol: pos.symbol });
    }
    return out.sort(compareCandidates);
  }


  /**
   * Margin calls over a collection (accounts and all their positions): first crossing into
   * E ≤ 1.25·MM, re-armed once out of the zone. Typed-array scans (statuses vs latch
   * mirrors); only changes allocate. Returns the latch effects; calls go to `found`.
   */
  private marginCalls(accounts: Int32Array, nAccounts: number, list: Int32Array, nList: number, found: MarginCallFinding[]): Effect[] {
    const b = this.margin.book;
    const effects: Effect[] = [];
    for (let j = 0; j < nAccounts; j++) {
      const a = accounts[j]!;
      const st = b.acct_status[a]!;
      const inZone = (st & ACCT_HAS_CROSS) !== 0 && (st & ACCT_CALL_ZONE) !== 0 ? 1 : 0;
      if (inZone === b.acct_call_latch[a]) continue;
      const name = this.state.accountsBySlot[a]!.name;
      if (SYSTEM_ACCOUNTS.includes(name)) continue;
      effects.push({ t: "latch.cross", account: name, on: inZone === 1 });
      if (inZone === 1) found.push({ account: name, symbol: "", equity: b.acct_equity_minor[a]!, mm: b.acct_mm_minor[a]! });
    }
    for (let j = 0; j < nList; j++) {
      const p = list[j]!;
      if (b.pos_mode[p] !== MODE_ISOLATED && b.pos_call_latch[p] === 0) continue;
      // The kernel sets POS_CALL_ZONE only for open isolated positions (q ≠ 0).
      const inZone = (b.pos_status[p]! & POS_CALL_ZONE) !== 0 ? 1 : 0;
      if (inZone === b.pos_call_latch[p]) continue;
      const pos = this.state.positionsBySlot[p]!;
      if (SYSTEM_ACCOUNTS.includes(pos.account)) continue;
      effects.push({ t: "latch.isolated", account: pos.account, symbol: pos.symbol, on: inZone === 1 });
      if (inZone === 1) found.push({ account: pos.account, symbol: pos.symbol, equity: b.pos_equity_minor[p]!, mm: b.pos_mm_minor[p]! });
    }
    return effects;
  }

  /**
   * Margin-call changes of the collection just computed, from the kernel's zone lists (every
   * entity whose zone differs from its latch), plus latched accounts left without positions.
   */
  private zoneChanges(found: MarginCallFinding[]): Effect[] {
    const b = this.margin.book;
    const effects: Effect[] = [];
    for (const a of this.sync.emptyAccounts) {
      if (b.acct_call_latch[a] !== 0) effects.push({ t: "latch.cross", account: this.state.accountsBySlot[a]!.name, on: false });
    }
    if (!this.sync.computedList) return effects;
    const sum = b.summary;
    for (let j = 0; j < sum[SUM_ZONE_ACCOUNTS]!; j++) {
      const a = b.list_zone_accounts[j]!;
      const name = this.state.accountsBySlot[a]!.name;
      if (SYSTEM_ACCOUNTS.includes(name)) continue;
      const inZone = (b.acct_status[a]! & ACCT_CALL_ZONE) !== 0;
      effects.push({ t: "latch.cross", account: name, on: inZone });
      if (inZone) found.push({ account: name, symbol: "", equity: b.acct_equity_minor[a]!, mm: b.acct_mm_minor[a]! });
    }
    for (let j = 0; j < sum[SUM_ZONE_POSITIONS]!; j++) {
      const p = b.list_zone_positions[j]!;
      const pos = this.state.positionsBySlot[p]!;
      if (SYSTEM_ACCOUNTS.includes(pos.account)) continue;
      const inZone = (b.pos_status[p]! & POS_CALL_ZONE) !== 0;
      effects.push({ t: "latch.isolated", account: pos.account, symbol: pos.symbol, on: inZone });
      if (inZone) found.push({ account: pos.account, symbol: pos.symbol, equity: b.pos_equity_minor[p]!, mm: b.pos_mm_minor[p]! });
    }
    return effects;
  }

  private marginCallOutputs(found: MarginCallFinding[], seq: number): MarginCallOutput[] {
    const sDecimals = this.settlementDecimals();
    return found.sort(compareCandidates).map((f): MarginCallOutput => ({
      type: "margin.call", seq, account: f.account, symbol: f.symbol,
      equity: formatScaled(f.equity, sDecimals), maintenanceMargin: formatScaled(f.mm, sDecimals),
    }));
  }

  private settlementDecimals(): number {
    const s = this.state.settlementAsset;
    return s === null ? 0 : this.state.assets.get(s)!.decimals;
  }

  private record(outputs: readonly OutputEvent[]): void {
    const m = this.history.matching;
    for (const o of outputs) {
      switch (o.type) {
        case "rejected": this.history.rejected.push(o); break;
        case "liquidation": this.history.liquidations.push(o); break;
        case "adl": this.history.adl.push(o); break;
        case "insurance.cover": this.history.insuranceCovers.push(o); break;
        case "margin.call": this.history.marginCalls.push(o); break;
        case "trade": m.trades++; break;
        case "order.accepted": m.accepted++; break;
        case "order.cancelled": m.cancelled++; break;
        case "order.replaced": m.replaced++; break;
        case "order.rejected": m.rejected++; break;
      }
    }
  }

  /** The pre-trade check's view: the kernel's figures of one account, computed fresh. */
  private figuresOf(account: string): AccountFigures {
    const acct = this.state.accounts.get(account);
    if (acct === undefined) return NO_FIGURES;
    const overflowed = this.sync.computeAccounts([acct.slot]) < 0;
    const b = this.margin.book;
    return {
      overflowed,
      crossEquityMinor: b.acct_equity_minor[acct.slot]!,
      crossImMinor: b.acct_im_minor[acct.slot]!,
      isolated: (symbol) => {
        const pos = acct.positions.get(symbol);
        return pos === undefined ? ZERO_PAIR : { equityMinor: b.pos_equity_minor[pos.slot]!, imMinor: b.pos_im_minor[pos.slot]! };
      },
    };
  }

  /** Figures for decide (withdrawal and transfer checks), computed by the kernel on demand. */
  private readonly marginView: MarginView = {
    openOrderMargin: (account) => openOrderMargin(this.risk, account),
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

  /**
   * Test support: position `slot`'s current mark interval in ticks (lo > hi: recomputed at
   * every mark event of its instrument), or null without mark intervals.
   */
  markInterval(slot: number): { lo: number; hi: number } | null {
    const iv = this.sync.intervals;
    return iv === null ? null : iv.intervalOf(slot);
  }

  /** Accounts whose intervals were derived so far (benches: how much a mark recomputed). */
  get intervalDerivations(): number {
    return this.sync.intervals?.derived ?? 0;
  }

  /** Test support: the margin book's cached collections agree with the state. */
  checkBookCaches(): string | null {
    return this.sync.checkCaches() ?? this.openPositions.check();
  }

  /** Full recompute (for reports); returns the number of liquidatable entities. */
  recomputeAll(): number {
    // The book's inputs are kept in sync event by event (writeAll is for restores): compute
    // from them as they are, so reports and checks see exactly what the engine decides on.
    return this.sync.computeAll();
  }
}

const LOTS_MAX = BigInt(MAX_QTY_LOTS);
const ZERO_PAIR = { equityMinor: 0n, imMinor: 0n };
const NO_FIGURES: AccountFigures = { crossEquityMinor: 0n, crossImMinor: 0n, isolated: () => ZERO_PAIR };

/** The `order.rejected` output that follows a rejected order event's `rejected` output. */
function orderRejected(seq: number, e: InputEvent & { type: "order.new" | "order.cancel" | "order.replace" }, r: Rejection): OrderRejectedOutput {
  const request = e.type === "order.new" ? "new" : e.type === "order.cancel" ? "cancel" : "replace";
  return { type: "order.rejected", seq, symbol: e.symbol, request, orderId: e.id, account: e.account, code: r.code, message: r.message };
}
