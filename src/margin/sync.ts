// State → margin book. The aggregate's objects are the truth; the book (structure-of-arrays,
// in WASM linear memory for the kernel) mirrors what the kernel reads. After each event the
// pipeline syncs what the effects touched, then asks the kernel for figures.
import { inI64 } from "../numbers/int.js";
import type { Effect } from "../aggregate/effects.js";
import { K_BALANCE, K_COVER, K_NOTE, K_POSITION, type Resolution } from "../aggregate/evolve.js";

type BalanceEffect = Extract<Effect, { t: "balance" }>;
import { crossBaseMinor } from "../aggregate/collateral.js";
import type { Account, Instrument, Position, State } from "../aggregate/state.js";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, SUM_OVERFLOW_ACCOUNTS, SUM_OVERFLOW_POSITIONS, type MarginBook, type MarginEngine } from "./engine.js";
import { MarkIntervals } from "./intervals.js";
import { COLLATERAL_PRICE_FLOAT_MAX } from "./collateral-intervals.js";
import { AccountPositions } from "./account-positions.js";

/** The accounts whose figures an event's effects can change (by account slot). */
export interface Touched {
  readonly accounts: SlotList;
  /** Instruments whose tiers changed (or, without mark intervals, whose mark moved): all their positions' accounts are affected. */
  readonly instruments: SmallSet<number>;
  /** With mark intervals: instruments whose mark moved (only the accounts whose intervals it leaves are affected). */
  readonly marks: SmallSet<number>;
  /** Assets whose price or haircut changed: the base equity of every holder is stale. */
  readonly assets: SmallSet<string>;
  /**
   * With mark intervals: collateral assets whose price moved (only the holders whose
   * collateral interval it leaves are affected; the others' bases are refreshed lazily).
   */
  readonly collateral: SmallSet<string>;
}

/**
 * A set of a few values (instruments, assets: one or two per event) kept in an array: every
 * event creates several, and a Set costs a hash table each.
 */
export class SmallSet<T> implements Iterable<T> {
  items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  has(v: T): boolean {
    return this.items.includes(v);
  }

  add(v: T): this {
    if (!this.items.includes(v)) this.items.push(v);
    return this;
  }

  /** A fresh array when there is something to drop: `length = 0` is a runtime call (≈ 400 instructions). */
  clear(): void {
    if (this.items.length !== 0) this.items = [];
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items.values();
  }
}

/**
 * Account slots, duplicates allowed: `collect` dedupes them (by epoch stamps) in order of
 * first appearance, as a Set would have. A push per effect instead of a hash insert (a
 * funding event adds every holder: 100k inserts into a growing Set cost more than the kernel).
 */
export class SlotList implements Iterable<number> {
  items: number[] = [];

  /** Entries, duplicates included: 0 exactly when empty. */
  get size(): number {
    return this.items.length;
  }

  add(slot: number): this {
    this.items.push(slot);
    return this;
  }

  [Symbol.iterator](): IterableIterator<number> {
    return this.items.values();
  }
}

/**
 * computeCollected's result when a (lazily refreshed) base equity overflows i64: the same
 * failure the eager path reports from `apply`, so both paths reject with the same message.
 */
export const BASE_OVERFLOW = -2;

const PRICE_FLOAT_MAX = BigInt(COLLATERAL_PRICE_FLOAT_MAX);

export function emptyTouched(): Touched {
  return { accounts: new SlotList(), instruments: new SmallSet(), marks: new SmallSet(), assets: new SmallSet(), collateral: new SmallSet() };
}

/** Empties `t` for reuse; returns it. */
export function clearTouched(t: Touched): Touched {
  if (t.accounts.items.length !== 0) t.accounts.items = [];
  t.instruments.clear();
  t.marks.clear();
  t.assets.clear();
  t.collateral.clear();
  return t;
}

export class BookSync {
  /** True when the current collection was computed by computeList (summary and lists are its). */
  computedList = false;
  /** Positions with a slot below this existed at the last apply (newer ones invalidate caches). */
  private positionsSeen = 0;
  /** Mark intervals (docs/incremental.md), or null: every mark recomputes all holders. */
  readonly intervals: MarkIntervals | null;
  /** Inside a transaction: accounts whose state changed (or whose intervals a mark left) get new intervals at commit. */
  private tracking = false;

  /** Each account's position slots (no map iteration per collected or derived account). */
  readonly positionsOf = new AccountPositions();

  constructor(readonly margin: MarginEngine, readonly state: State, opts: { markIntervals?: boolean } = {}) {
    this.intervals = opts.markIntervals === true ? new MarkIntervals(margin, state, this.positionsOf) : null;
  }

  /** Starts a transaction (mark intervals: changed accounts are recorded for the commit). */
  beginTx(): void {
    this.tracking = this.intervals !== null;
  }

  /** The transaction committed: derive the intervals of every account it changed. */
  commitTx(): void {
    this.tracking = false;
    this.intervals?.commit();
  }

  /** The transaction was undone (call after the state and book are restored). */
  rollbackTx(): void {
    this.tracking = false;
    this.intervals?.rollback();
  }

  /** Derives every interval again (after writeAll + computeAll of a new or restored state). */
  rebuildIntervals(): void {
    this.intervals?.rebuildAll();
  }

  /** Makes room for the state's current slot counts (the engine grows each full dimension ×1.5: amortized O(1)). */
  reserve(): void {
    const cap = this.margin.book.capacity;
    const s = this.state;
    const positions = s.positionsBySlot.length;
    const accounts = s.accountsBySlot.length;
    const instruments = s.instrumentsBySlot.length;
    if (positions > cap.positions || accounts > cap.accounts || instruments > cap.instruments) {
      // Only the dimensions that are full grow (the others are asked for what they have).
      this.margin.ensureCapacity({
        positions: Math.max(positions, cap.positions),
        accounts: Math.max(accounts, cap.accounts),
        instruments: Math.max(instruments, cap.instruments),
      });
    }
  }

  /** Writes everything (after a restore, or for a full recompute). */
  writeAll(): void {
    this.reserve();
    this.instCache.clear();
    this.intervals?.invalidateAllInstruments();
    this.latchesFromState();
    for (const inst of this.state.instrumentsBySlot) this.writeInstrument(inst);
    for (const pos of this.state.positionsBySlot) this.writePosition(pos);
    for (const acct of this.state.accountsBySlot) this.writeAccountBase(acct);
    this.positionsOf.rebuild(this.state);
    this.holders.clear();
    for (const acct of this.state.accountsBySlot) {
      for (const [asset, v] of acct.balances) if (asset !== this.state.settlementAsset && v !== 0n) this.noteHolding(asset, acct.slot, true);
    }
  }

  /** Accounts holding each non-settlement asset (collateral), by slot. */
  private readonly holders = new Map<string, Set<number>>();

  /** Holders of a collateral asset (by account slot). */
  holdersOf(asset: string): Iterable<number> {
    return this.holders.get(asset) ?? [];
  }

  /**
   * Lazy bases (mark intervals only): every collateral price change bumps the epoch instead
   * of rewriting every holder's base; an account's base is current when its stamp equals the
   * epoch. Every kernel computation goes through `refreshBases` first, so the kernel never
   * sees a stale base.
   */
  private collateralEpoch = 0;
  private baseEpoch: Int32Array = new Int32Array(1024);

  /** Rewrites the stale bases among these accounts; false when one overflows i64. */
  private refreshBases(accounts: Int32Array, count: number): boolean {
    let ok = true;
    const epoch = this.collateralEpoch;
    const stamps = this.baseEpoch;
    for (let j = 0; j < count; j++) {
      const a = accounts[j]!;
      if (a < stamps.length && stamps[a] === epoch) continue;
      ok = this.writeAccountBase(this.state.accountsBySlot[a]!) && ok;
    }
    return ok;
  }

  private noteHolding(asset: string, slot: number, holds: boolean): void {
    let set = this.holders.get(asset);
    if (set === undefined) {
      if (!holds) return;
      this.holders.set(asset, (set = new Set()));
    }
    if (holds) set.add(slot);
    else set.delete(slot);
  }

  /** Margin-call latches are kernel inputs: the kernel reports entities whose zone differs. */
  private latchesFromState(): void {
    const b = this.margin.book;
    b.pos_call_latch.fill(0);
    b.acct_call_latch.fill(0);
    for (const p of this.state.positionsBySlot) b.pos_call_latch[p.slot] = p.callLatched ? 1 : 0;
    for (const a of this.state.accountsBySlot) b.acct_call_latch[a.slot] = a.crossCallLatched ? 1 : 0;
    this.positionsSeen = this.state.positionsBySlot.length;
  }

  writeInstrument(inst: Instrument): void {
    const b = this.margin.book;
    const i = inst.slot;
    b.inst_mark_ticks[i] = inst.markTicks;
    b.inst_k_minor[i] = inst.kMinor;
    b.inst_tier_count[i] = inst.tiers.length;
    for (let t = 0; t < MAX_TIERS; t++) {
      const tier = inst.tiers[t];
      b.tier_max_notional_minor[i * MAX_TIERS + t] = tier?.maxNotionalMinor ?? 0n;
      b.tier_mmr_e8[i * MAX_TIERS + t] = tier?.mmrE8 ?? 0n;
      b.tier_cum_minor[i * MAX_TIERS + t] = tier?.cumMinor ?? 0n;
    }
  }

  /** `accountSlot`: the slot of the position's account, when the caller has it at hand. */
  writePosition(pos: Position, accountSlot = this.state.accounts.get(pos.account)!.slot): void {
    const b = this.margin.book;
    const p = pos.slot;
    b.pos_qty_lots[p] = pos.qtyLots;
    b.pos_cost_lot_ticks[p] = pos.costLotTicks;
    b.pos_isolated_margin_minor[p] = pos.isolatedMarginMinor;
    b.pos_instrument[p] = this.state.instruments.get(pos.symbol)!.slot;
    b.pos_account[p] = accountSlot;
    b.pos_leverage[p] = pos.leverage;
    b.pos_mode[p] = pos.mode === "isolated" ? MODE_ISOLATED : MODE_CROSS;
  }

  /** A position's values (its instrument and account slots are already in the book). */
  private writePositionValues(pos: Position): void {
    const b = this.margin.book;
    const p = pos.slot;
    b.pos_qty_lots[p] = pos.qtyLots;
    b.pos_cost_lot_ticks[p] = pos.costLotTicks;
    b.pos_isolated_margin_minor[p] = pos.isolatedMarginMinor;
    b.pos_leverage[p] = pos.leverage;
    b.pos_mode[p] = pos.mode === "isolated" ? MODE_ISOLATED : MODE_CROSS;
  }

  /** Returns false when the base equity does not fit in i64 (the event must be rolled back). */
  writeAccountBase(acct: Account): boolean {
    if (acct.slot >= this.baseEpoch.length) {
      const e = new Int32Array(Math.max(acct.slot + 1, this.baseEpoch.length * 2));
      e.set(this.baseEpoch);
      this.baseEpoch = e;
    }
    const base = this.baseOf(acct);
    if (!inI64(base)) {
      this.margin.book.acct_base_minor[acct.slot] = 0n;
      return false;
    }
    this.margin.book.acct_base_minor[acct.slot] = base;
    // Stamped current only on success: a failed (overflowing) base is retried by the next
    // computation rather than read as 0.
    this.baseEpoch[acct.slot] = this.collateralEpoch;
    return true;
  }

  /** B + Σ collateral (crossBaseMinor); an account holding the settlement asset alone (most) needs no valuation. */
  private baseOf(acct: Account): bigint {
    const settlement = this.state.settlementAsset;
    const balances = acct.balances;
    if (settlement !== null) {
      const n = balances.size;
      if (n === 0) return 0n;
      if (n === 1) {
        const v = balances.get(settlement);
        if (v !== undefined) return v;
      }
    }
    return crossBaseMinor(this.state, acct);
  }

  /**
   * Mirrors the effects into the book and records what they touched. Returns false when an
   * account's base equity overflows (the caller rolls the event back).
   */
  apply(effects: readonly Effect[], touched: Touched, res?: Resolution): boolean {
    this.reserve();
    const s = this.state;
    let ok = true;
    let allBases = false;
    let added: Map<string, Set<string>> | null = null; // new positions by account (allocated when there are some)
    const kinds = res?.kinds;
    for (let k = 0; k < effects.length; k++) {
      if (kinds !== undefined) {
        // What evolve resolved (a forward batch): the same objects a look-up by name finds.
        const kind = kinds[k]!;
        if (kind === K_POSITION) {
          const acct = res!.accounts[k]!;
          const pos = res!.positions[k]!;
          if (pos.slot >= this.positionsSeen) {
            added ??= new Map();
            let set = added.get(acct.name);
            if (set === undefined) added.set(acct.name, (set = new Set()));
            set.add(pos.symbol);
            this.margin.book.pos_call_latch[pos.slot] = pos.callLatched ? 1 : 0;
            this.writePosition(pos, acct.slot);
          } else {
            // A slot seen at the last apply keeps its position (slots are only freed by an
            // undo, whose apply lowers positionsSeen): instrument and account are written.
            this.writePositionValues(pos);
          }
          touched.accounts.add(acct.slot);
          this.dirty(acct.slot);
          continue;
        }
        if (kind === K_BALANCE) {
          const acct = res!.accounts[k]!;
          const e = effects[k] as BalanceEffect;
          if (e.asset !== s.settlementAsset) this.noteHolding(e.asset, acct.slot, e.valueMinor !== 0n);
          ok = this.writeAccountBase(acct) && ok;
          touched.accounts.add(acct.slot);
          this.dirty(acct.slot);
          continue;
        }
        if (kind === K_NOTE || kind === K_COVER) continue;
      }
      const e = effects[k]!;
      switch (e.t) {
        case "instrument":
        case "mark": {
          const inst = s.instruments.get(e.t === "mark" ? e.symbol : e.params.symbol);
          if (inst !== undefined) {
            // A mark moves only the mark (the tiers are written by the instrument's own effect).
            if (e.t === "mark") this.margin.book.inst_mark_ticks[inst.slot] = inst.markTicks;
            else this.writeInstrument(inst);
            if (e.t === "mark" && this.intervals !== null) touched.marks.add(inst.slot);
            else touched.instruments.add(inst.slot);
            if (e.t === "instrument") this.intervals?.invalidateInstrument(inst.slot);
          }
          break;
        }
        case "position": {
          const acct = s.accounts.get(e.account);
          const pos = acct?.positions.get(e.symbol);
          if (acct === undefined || pos === undefined) break;
          if (pos.slot >= this.positionsSeen) {
            added ??= new Map();
            let set = added.get(e.account);
            if (set === undefined) added.set(e.account, (set = new Set()));
            set.add(e.symbol);
            this.margin.book.pos_call_latch[pos.slot] = pos.callLatched ? 1 : 0;
          }
          this.writePosition(pos, acct.slot);
          touched.accounts.add(acct.slot);
          this.dirty(acct.slot);
          break;
        }
        case "balance": {
          const acct = s.accounts.get(e.account);
          if (acct !== undefined && e.asset !== s.settlementAsset) this.noteHolding(e.asset, acct.slot, e.valueMinor !== 0n);
          if (acct !== undefined) {
            ok = this.writeAccountBase(acct) && ok;
            touched.accounts.add(acct.slot);
            this.dirty(acct.slot);
          }
          break;
        }
        case "account.open": {
          const acct = s.accounts.get(e.account)!;
          // A slot may be reused after a rollback removed an account: start unlatched.
          this.margin.book.acct_call_latch[acct.slot] = 0;
          this.positionsOf.relist(acct);
          this.writeAccountBase(acct);
          touched.accounts.add(acct.slot);
          this.dirty(acct.slot);
          break;
        }
        case "position.remove": {
          this.invalidateFor(e.account, e.symbol);
          const acct = s.accounts.get(e.account);
          if (acct !== undefined) this.positionsOf.relist(acct);
          break;
        }
        case "instrument.remove":
          // evolve popped the last slot; a later instrument may reuse it.
          this.instCache.delete(s.instrumentsBySlot.length);
          this.intervals?.invalidateInstrument(s.instrumentsBySlot.length);
          break;
        case "latch.cross": {
          const acct = s.accounts.get(e.account);
          if (acct !== undefined) {
            this.margin.book.acct_call_latch[acct.slot] = e.on ? 1 : 0;
            this.dirty(acct.slot);
          }
          break;
        }
        case "latch.isolated": {
          const pos = s.accounts.get(e.account)?.positions.get(e.symbol);
          if (pos !== undefined) {
            this.margin.book.pos_call_latch[pos.slot] = e.on ? 1 : 0;
            this.dirty(s.accounts.get(e.account)!.slot);
          }
          break;
        }
        case "asset":
          touched.assets.add(e.asset.name);
          // Every base depends on the settlement asset (none: 0; its decimals scale collateral).
          if (e.asset.settlement) allBases = true;
          break;
        case "asset.remove":
          if (s.settlementAsset === null) allBases = true; // the settlement asset went (an undo)
          break;
        case "collateral.price":
          if (this.intervals !== null) {
            // Holders' bases go stale (refreshed when computed); only leavers are computed.
            this.collateralEpoch++;
            touched.collateral.add(e.asset);
          } else {
            touched.assets.add(e.asset);
          }
          break;
        default:
          break;
      }
    }
    // A price or haircut change reaches only the accounts holding the asset.
    for (const asset of touched.assets.items) {
      for (const slot of this.holders.get(asset) ?? []) {
        ok = this.writeAccountBase(s.accountsBySlot[slot]!) && ok;
        touched.accounts.add(slot);
        // Re-derived even when the base did not move (e.g. at price 0): a haircut change
        // changes the slope c of the holder's collateral intervals.
        this.dirty(slot);
      }
    }
    if (allBases) {
      for (const acct of s.accountsBySlot) {
        ok = this.writeAccountBase(acct) && ok;
        touched.accounts.add(acct.slot);
        this.dirty(acct.slot);
      }
    }
    if (added !== null) {
      for (const [account, symbols] of added) {
        this.positionsOf.relist(s.accounts.get(account)!);
        this.positionsAdded(account, symbols);
      }
    }
    this.positionsSeen = s.positionsBySlot.length;
    return ok;
  }

  // ---------------------------------------------------------------- collections
  // A "collection" is the set of accounts an event touched and every position of those
  // accounts: the unit the kernel recomputes. Built without Maps or Sets in the common case
  // (one instrument: its cached account/position lists), deduplicated by epoch stamps.

  /** Position slots of the current collection: list[0, listCount). */
  list: Int32Array = new Int32Array(1024);
  listCount = 0;
  /** Account slots of the current collection: accounts[0, accountCount). */
  accounts: Int32Array = new Int32Array(1024);
  accountCount = 0;
  private stamp: Int32Array = new Int32Array(1024);
  /**
   * Accounts of the collection without positions (the kernel's list does not reach them). A
   * fresh array per collection that had some (a trade's fee account: every trade), not
   * `length = 0` (a runtime call).
   */
  emptyAccounts: number[] = [];
  private epoch = 0;
  private readonly instCache = new Map<number, InstrumentLists>();

  /**
   * New positions of an account (instrument symbols): an instrument it newly trades gains
   * the account and all its positions; an instrument it already traded gains the new
   * positions. Cached lists stay exact this way, in O(the instruments it trades); removals
   * (rollbacks only) drop the affected caches instead.
   */
  private positionsAdded(accountName: string, newSymbols: Set<string>): void {
    const s = this.state;
    const acct = s.accounts.get(accountName)!;
    for (const p of acct.positions.values()) {
      const c = this.instCache.get(s.instruments.get(p.symbol)!.slot);
      if (c === undefined) continue;
      if (newSymbols.has(p.symbol)) {
        c.accounts = push(c.accounts, c.accountCount++, acct.slot);
        for (const q of acct.positions.values()) c.positions = push(c.positions, c.positionCount++, q.slot);
      } else {
        for (const sym of newSymbols) c.positions = push(c.positions, c.positionCount++, acct.positions.get(sym)!.slot);
      }
      c.sorted = false;
    }
  }

  /**
   * Test support: compares every cached instrument list with one built from scratch (as
   * sets, no duplicates). Returns the first difference, or null.
   */
  checkCaches(): string | null {
    for (const [i, c] of [...this.instCache]) { // a snapshot: the loop re-inserts keys
      this.instCache.delete(i);
      const fresh = this.instrumentLists(i);
      this.instCache.set(i, c);
      const same = (a: Int32Array, n: number, b: Int32Array, m: number): boolean => {
        const x = new Set(a.subarray(0, n));
        return x.size === n && n === m && [...b.subarray(0, m)].every((v) => x.has(v));
      };
      if (!same(c.accounts, c.accountCount, fresh.accounts, fresh.accountCount)) return `instrument ${i}: cached accounts differ`;
      if (!same(c.positions, c.positionCount, fresh.positions, fresh.positionCount)) return `instrument ${i}: cached positions differ`;
    }
    return this.positionsOf.check(this.state);
  }

  private invalidateFor(accountName: string, symbol: string): void {
    const s = this.state;
    const inst = s.instruments.get(symbol);
    if (inst !== undefined) this.instCache.delete(inst.slot);
    const acct = s.accounts.get(accountName);
    if (acct !== undefined) for (const p of acct.positions.values()) this.instCache.delete(s.instruments.get(p.symbol)!.slot);
  }

  private instrumentLists(i: number): InstrumentLists {
    const cached = this.instCache.get(i);
    if (cached !== undefined) return cached;
    const s = this.state;
    const inst = s.instrumentsBySlot[i]!;
    const accts: number[] = [];
    const seen = new Set<number>();
    for (const pos of inst.positions) {
      const a = s.accounts.get(pos.account)!.slot;
      if (!seen.has(a)) {
        seen.add(a);
        accts.push(a);
      }
    }
    const positions: number[] = [];
    for (const a of accts) for (const pos of s.accountsBySlot[a]!.positions.values()) positions.push(pos.slot);
    const entry: InstrumentLists = {
      accounts: Int32Array.from(accts), accountCount: accts.length, positions: Int32Array.from(positions), positionCount: positions.length, sorted: false,
    };
    this.instCache.set(i, entry);
    return entry;
  }

  private ensureCollectionRoom(positions: number, accounts: number): void {
    if (this.list.length < positions) this.list = grow(this.list, positions);
    if (this.accounts.length < accounts) this.accounts = grow(this.accounts, accounts);
    const acctCap = this.state.accountsBySlot.length;
    if (this.stamp.length < acctCap) this.stamp = grow(this.stamp, acctCap);
  }

  private addAccount(a: number): void {
    if (this.stamp[a] === this.epoch) return;
    this.stamp[a] = this.epoch;
    const lists = this.positionsOf;
    const n = lists.count[a]!;
    if (n === 0) this.emptyAccounts.push(a);
    this.ensureCollectionRoom(this.listCount + n, this.accountCount + 1);
    this.accounts[this.accountCount++] = a;
    const list = this.list;
    const next = lists.next;
    let count = this.listCount;
    for (let q = lists.first[a]!; q !== 0; q = next[q - 1]!) list[count++] = q - 1;
    this.listCount = count;
  }

  /** Builds the collection for what the effects touched. */
  collect(touched: Touched): void {
    const s = this.state;
    this.ensureCollectionRoom(0, 0);
    this.epoch++;
    this.listCount = 0;
    this.accountCount = 0;
    if (this.emptyAccounts.length !== 0) this.emptyAccounts = [];
    let first = true;
    for (const i of touched.instruments.items) {
      if (i >= s.instrumentsBySlot.length) continue;
      if (first) {
        // The common case (mark, funding): copy the cached lists wholesale.
        first = false;
        const c = this.instrumentLists(i);
        if (!c.sorted) {
          c.positions.subarray(0, c.positionCount).sort();
          c.sorted = true;
        }
        this.ensureCollectionRoom(c.positionCount, c.accountCount);
        this.list.set(c.positions.subarray(0, c.positionCount), 0);
        this.listCount = c.positionCount;
        this.accounts.set(c.accounts.subarray(0, c.accountCount), 0);
        this.accountCount = c.accountCount;
        // Stamps only matter if another source may add the same accounts (a mark adds none).
        if (touched.accounts.size > 0 || touched.instruments.size > 1 || touched.marks.size > 0) {
          for (let j = 0; j < c.accountCount; j++) this.stamp[c.accounts[j]!] = this.epoch;
        }
      } else {
        for (const pos of s.instrumentsBySlot[i]!.positions) this.addAccount(s.accounts.get(pos.account)!.slot);
      }
    }
    const touchedAccounts = touched.accounts.items;
    const nAccounts = s.accountsBySlot.length;
    for (let j = 0; j < touchedAccounts.length; j++) {
      const a = touchedAccounts[j]!;
      if (a < nAccounts) this.addAccount(a);
    }
    const iv = this.intervals;
    if (iv !== null) {
      // A mark move: only the accounts of positions whose interval it leaves (an instrument
      // also in `instruments` had all its holders added above).
      for (const i of touched.marks.items) {
        if (i >= s.instrumentsBySlot.length || touched.instruments.has(i)) continue;
        iv.leavers(i, Number(s.instrumentsBySlot[i]!.markTicks), this.addLeaver);
      }
      // A collateral price move: only the holders whose collateral interval it leaves.
      for (const name of touched.collateral.items) {
        const asset = s.assets.get(name);
        if (asset === undefined) continue;
        if (asset.priceE8 >= PRICE_FLOAT_MAX) {
          for (const a of this.holdersOf(name)) this.addLeaver(a);
        } else {
          iv.collateralLeavers(name, Number(asset.priceE8), this.addLeaver);
        }
      }
    }
    // Tiers changed: every holder's intervals are re-derived (the collection is all of them).
    if (touched.instruments.size > 0 && this.tracking) for (let j = 0; j < this.accountCount; j++) this.dirty(this.accounts[j]!);
  }

  /** A leaver is recomputed; its popped intervals are derived again at commit (MarkIntervals.leavers says when not). */
  private readonly addLeaver = (a: number, derive = true): void => {
    this.addAccount(a);
    if (derive) this.dirty(a);
  };

  /**
   * In a transaction: account a's state (balances, base, positions, latches) changed, or its
   * intervals were popped; its intervals are derived again at commit. Every such account is
   * in a collection the kernel computes after the change, so its figures are exact by then.
   */
  private dirty(a: number): void {
    if (this.tracking) this.intervals!.markDirty(a);
  }

  /** How many accounts hold a position in the instrument (its cached collection). */
  holderCount(instrumentSlot: number): number {
    return this.instrumentLists(instrumentSlot).accountCount;
  }

  /**
   * Brings every figure of the instrument's holders up to date, from the cached (sorted)
   * collection: cheaper per account than `collectAccounts` when most holders are wanted.
   * Replaces the current collection; returns the kernel's result (-1: overflow).
   */
  refreshHolders(instrumentSlot: number): number {
    const t = emptyTouched();
    t.instruments.add(instrumentSlot);
    const tracking = this.tracking;
    this.tracking = false; // same state: their intervals stand
    this.collect(t);
    this.tracking = tracking;
    return this.computeCollected();
  }

  /** Collects the given accounts (all their positions). */
  collectAccounts(accountSlots: Iterable<number>): void {
    this.ensureCollectionRoom(0, 0);
    this.epoch++;
    this.listCount = 0;
    this.accountCount = 0;
    if (this.emptyAccounts.length !== 0) this.emptyAccounts = [];
    for (const a of accountSlots) this.addAccount(a);
  }

  /** 32-bit views of the book's base and equity arrays (for `wordsOf`, the book they view). */
  private wordsOf: MarginBook | null = null;
  private baseWords: Int32Array = new Int32Array(0);
  private equityWords: Int32Array = new Int32Array(0);

  /**
   * Computes the current collection with the kernel. Accounts without positions get E = base.
   * Returns the number of liquidatable entities, -1 when some figure overflowed, or
   * BASE_OVERFLOW when a stale base equity, brought up to date, does not fit i64.
   */
  computeCollected(): number {
    const b = this.margin.book;
    if (this.intervals !== null && !this.refreshBases(this.accounts, this.accountCount)) return BASE_OVERFLOW;
    const empty = this.emptyAccounts;
    if (empty.length !== 0) {
      // E = base, copied as two 32-bit words (reading the BigInt64Array would allocate a BigInt).
      if (this.wordsOf !== b) {
        this.wordsOf = b;
        this.baseWords = new Int32Array(b.acct_base_minor.buffer, b.acct_base_minor.byteOffset, b.acct_base_minor.length * 2);
        this.equityWords = new Int32Array(b.acct_equity_minor.buffer, b.acct_equity_minor.byteOffset, b.acct_equity_minor.length * 2);
      }
      const bw = this.baseWords;
      const ew = this.equityWords;
      for (let j = 0; j < empty.length; j++) {
        const a = empty[j]!;
        ew[2 * a] = bw[2 * a]!;
        ew[2 * a + 1] = bw[2 * a + 1]!;
        b.acct_mm_minor[a] = 0n;
        b.acct_im_minor[a] = 0n;
        b.acct_status[a] = 0;
      }
    }
    this.computedList = this.listCount > 0;
    if (!this.computedList) return 0;
    const n = this.margin.computeList(this.list, this.listCount);
    const sum = this.margin.book.summary;
    return sum[SUM_OVERFLOW_POSITIONS]! + sum[SUM_OVERFLOW_ACCOUNTS]! > 0 ? -1 : n;
  }

  /** Computes the figures of these accounts (used by decide's margin checks). */
  computeAccounts(accountSlots: Iterable<number>): number {
    this.collectAccounts(accountSlots);
    return this.computeCollected();
  }

  computeAll(): number {
    if (this.intervals !== null) {
      const n = this.state.accountsBySlot.length;
      for (let a = 0; a < n; a++) {
        if (a < this.baseEpoch.length && this.baseEpoch[a] === this.collateralEpoch) continue;
        // The intervals' headroom budget makes this impossible for a committed state: a stale
        // base that overflows here is a bug, not an input to reject.
        if (!this.writeAccountBase(this.state.accountsBySlot[a]!)) {
          throw new Error(`internal: account slot ${a}'s lazily refreshed base equity overflows i64 (collateral intervals unsound)`);
        }
      }
    }
    return this.margin.computeAll(this.state.positionsBySlot.length, this.state.accountsBySlot.length);
  }
}

interface InstrumentLists {
  accounts: Int32Array;
  accountCount: number;
  /** Kept sorted by slot when used: the kernel walks memory in order (≈1.7× faster). */
  positions: Int32Array;
  positionCount: number;
  sorted: boolean;
}

/** Appends v at index n, growing the array when full; returns the (possibly new) array. */
function push(a: Int32Array, n: number, v: number): Int32Array {
  const b = n < a.length ? a : grow(a, n + 1);
  b[n] = v;
  return b;
}

function grow(a: Int32Array, need: number): Int32Array {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
