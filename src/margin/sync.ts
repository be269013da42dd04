// State → margin book. The aggregate's objects are the truth; the book (structure-of-arrays,
// in WASM linear memory for the kernel) mirrors what the kernel reads. After each event the
// pipeline syncs what the effects touched, then asks the kernel for figures.
import { checkI64 } from "../numbers/int.js";
import type { Effect } from "../aggregate/effects.js";
import { crossBaseMinor } from "../aggregate/collateral.js";
import type { Account, Instrument, Position, State } from "../aggregate/state.js";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, type MarginEngine } from "./engine.js";

/** The accounts whose figures an event's effects can change (by account slot). */
export interface Touched {
  readonly accounts: Set<number>;
  /** Instruments whose mark/tiers changed: all their positions' accounts are affected. */
  readonly instruments: Set<number>;
  /** A collateral price or haircut changed: every account's base equity is stale. */
  allBases: boolean;
}

export function emptyTouched(): Touched {
  return { accounts: new Set(), instruments: new Set(), allBases: false };
}

export class BookSync {
  /** Scratch list of position slots handed to computeList (grown on demand). */
  private list = new Int32Array(1024);

  constructor(readonly margin: MarginEngine, readonly state: State) {}

  /** Makes room for the state's current slot counts (growth ×2 keeps this amortized O(1)). */
  reserve(): void {
    const cap = this.margin.book.capacity;
    const need = {
      positions: this.state.positionsBySlot.length,
      accounts: this.state.accountsBySlot.length,
      instruments: this.state.instrumentsBySlot.length,
    };
    if (need.positions > cap.positions || need.accounts > cap.accounts || need.instruments > cap.instruments) {
      this.margin.ensureCapacity({
        positions: Math.max(need.positions, cap.positions * 2, 1024),
        accounts: Math.max(need.accounts, cap.accounts * 2, 1024),
        instruments: Math.max(need.instruments, cap.instruments * 2, 16),
      });
    }
  }

  /** Writes everything (after a restore, or for a full recompute). */
  writeAll(): void {
    this.reserve();
    for (const inst of this.state.instrumentsBySlot) this.writeInstrument(inst);
    for (const pos of this.state.positionsBySlot) this.writePosition(pos);
    for (const acct of this.state.accountsBySlot) this.writeAccountBase(acct);
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

  writePosition(pos: Position): void {
    const b = this.margin.book;
    const p = pos.slot;
    b.pos_qty_lots[p] = pos.qtyLots;
    b.pos_cost_lot_ticks[p] = pos.costLotTicks;
    b.pos_isolated_margin_minor[p] = pos.isolatedMarginMinor;
    b.pos_instrument[p] = this.state.instruments.get(pos.symbol)!.slot;
    b.pos_account[p] = this.state.accounts.get(pos.account)!.slot;
    b.pos_leverage[p] = pos.leverage;
    b.pos_mode[p] = pos.mode === "isolated" ? MODE_ISOLATED : MODE_CROSS;
  }

  /** Returns false when the base equity does not fit in i64 (the event must be rolled back). */
  writeAccountBase(acct: Account): boolean {
    const base = crossBaseMinor(this.state, acct);
    try {
      this.margin.book.acct_base_minor[acct.slot] = checkI64(base, "cross base equity");
      return true;
    } catch {
      this.margin.book.acct_base_minor[acct.slot] = 0n;
      return false;
    }
  }

  /**
   * Mirrors the effects into the book and records what they touched. Returns false when an
   * account's base equity overflows (the caller rolls the event back).
   */
  apply(effects: readonly Effect[], touched: Touched): boolean {
    this.reserve();
    const s = this.state;
    let ok = true;
    for (const e of effects) {
      switch (e.t) {
        case "instrument":
        case "mark": {
          const inst = s.instruments.get(e.t === "mark" ? e.symbol : e.params.symbol);
          if (inst !== undefined) {
            this.writeInstrument(inst);
            touched.instruments.add(inst.slot);
          }
          break;
        }
        case "position": {
          const pos = s.accounts.get(e.account)?.positions.get(e.symbol);
          if (pos !== undefined) {
            this.writePosition(pos);
            touched.accounts.add(s.accounts.get(e.account)!.slot);
          }
          break;
        }
        case "balance": {
          const acct = s.accounts.get(e.account);
          if (acct !== undefined) {
            ok = this.writeAccountBase(acct) && ok;
            touched.accounts.add(acct.slot);
          }
          break;
        }
        case "account.open": {
          const acct = s.accounts.get(e.account)!;
          this.writeAccountBase(acct);
          touched.accounts.add(acct.slot);
          break;
        }
        case "asset":
        case "collateral.price":
          touched.allBases = true;
          break;
        default:
          break;
      }
    }
    if (touched.allBases) {
      for (const acct of s.accountsBySlot) ok = this.writeAccountBase(acct) && ok;
    }
    return ok;
  }

  /** Position slots of every account affected by `touched` (each account's positions all listed). */
  affectedAccounts(touched: Touched): number[] {
    const s = this.state;
    if (touched.allBases) return s.accountsBySlot.map((a) => a.slot);
    const accounts = new Set<number>();
    for (const a of touched.accounts) if (a < s.accountsBySlot.length) accounts.add(a);
    for (const i of touched.instruments) {
      const inst = s.instrumentsBySlot[i];
      if (inst === undefined) continue;
      for (const pos of inst.positions) accounts.add(s.accounts.get(pos.account)!.slot);
    }
    return [...accounts].sort((x, y) => x - y);
  }

  /**
   * Computes the figures of the given accounts (all their positions) with the kernel.
   * Returns the number of liquidatable entities among them.
   */
  computeAccounts(accountSlots: readonly number[]): number {
    const s = this.state;
    let n = 0;
    for (const a of accountSlots) n += s.accountsBySlot[a]!.positions.size;
    if (n === 0 && accountSlots.length === 0) return 0;
    if (this.list.length < n) this.list = new Int32Array(Math.max(n, this.list.length * 2));
    let k = 0;
    for (const a of accountSlots) for (const pos of s.accountsBySlot[a]!.positions.values()) this.list[k++] = pos.slot;
    // Accounts without positions still need their cross figures (E = base): set them directly.
    const b = this.margin.book;
    for (const a of accountSlots) {
      if (s.accountsBySlot[a]!.positions.size === 0) {
        b.acct_equity_minor[a] = b.acct_base_minor[a]!;
        b.acct_mm_minor[a] = 0n;
        b.acct_im_minor[a] = 0n;
        b.acct_status[a] = 0;
      }
    }
    return k === 0 ? 0 : this.margin.computeList(this.list, k);
  }

  computeAll(): number {
    return this.margin.computeAll(this.state.positionsBySlot.length, this.state.accountsBySlot.length);
  }
}
