// A draft of the changes one event makes: reads fall through to the state, writes stay in
// the draft (so a trade's seller leg sees the buyer leg, as for a self-trade) until `decide`
// returns them as effects. The state itself is never touched here.
//
// Hot path (every fill goes through here several times per leg): no string-built keys. The
// draft keeps one record per account (found by name, the previous one first: a leg asks about
// the same account several times in a row; a fill touches three accounts, so they are scanned,
// and indexed by a Map only when a draft touches many: funding, ADL) holding the account's
// state object and its writes, which are few (a balance or two, a position or two) and simply
// scanned. The writes are the effects themselves, updated in place until `effects()` hands
// them out.
import { checkI64 } from "../numbers/int.js";
import type { Effect, PositionValues } from "./effects.js";
import { DEFAULT_LEVERAGE, type Account, type State } from "./state.js";

/** A written balance: the `balance` effect it becomes (value updated in place). */
interface BalanceWrite { readonly t: "balance"; readonly account: string; readonly asset: string; valueMinor: bigint }
/** A written position: the `position` effect it becomes (values replaced in place). */
interface PositionWrite { readonly t: "position"; readonly account: string; readonly symbol: string; values: PositionValues }

/** One account as the draft sees it: its object in the state (undefined: not there) and its writes. */
class AccountDraft {
  /** Opened by this draft (an `account.open` effect). */
  opened = false;
  /** The draft's next account (its accounts form a list in order of first touch). */
  next: AccountDraft | null = null;
  /**
   * The name its effects carry: the state's own string when the account exists, so the look-ups
   * by it that follow (evolve, the mirrors) match by pointer rather than by characters.
   */
  readonly key: string;
  // Its writes: the first balance and the first position inline (a fill leg writes one of each), any others in `more`.
  private balance: BalanceWrite | null = null;
  private position: PositionWrite | null = null;
  private more: (BalanceWrite | PositionWrite)[] | null = null;

  constructor(readonly name: string, readonly state: Account | undefined) {
    this.key = state?.name ?? name;
  }

  balanceWrite(asset: string): BalanceWrite | undefined {
    if (this.balance !== null && this.balance.asset === asset) return this.balance;
    if (this.more !== null) for (const w of this.more) if (w.t === "balance" && w.asset === asset) return w;
    return undefined;
  }

  positionWrite(symbol: string): PositionWrite | undefined {
    if (this.position !== null && this.position.symbol === symbol) return this.position;
    if (this.more !== null) for (const w of this.more) if (w.t === "position" && w.symbol === symbol) return w;
    return undefined;
  }

  addWrite(w: BalanceWrite | PositionWrite): void {
    if (w.t === "balance" && this.balance === null) this.balance = w;
    else if (w.t === "position" && this.position === null) this.position = w;
    else (this.more ??= []).push(w);
  }
}

/** Accounts a draft finds by scanning its list; beyond that, by a Map. */
const SCAN_ACCOUNTS_MAX = 8;

/**
 * Whether x fits i64 (checkI64 then builds the message only when it fails: the messages name
 * the account, a string per call otherwise). `asIntN(64, x)` is x exactly when x is in
 * [−2^63, 2^63 − 1]; V8 compiles it inline, where two BigInt comparisons are two calls.
 */
function fitsI64(x: bigint): boolean {
  return BigInt.asIntN(64, x) === x;
}

export class Draft {
  /** The accounts touched, a list in order of first touch; `index` finds them once there are many. */
  private first: AccountDraft | null = null;
  private tail: AccountDraft | null = null;
  private count = 0;
  private index: Map<string, AccountDraft> | null = null;
  /** The account of the previous call (a leg reads and writes one account several times in a row). */
  private last: AccountDraft | null = null;
  /** Accounts opened, in order (null: none yet; most drafts open none). */
  private opened: string[] | null = null;
  /** Balance and position writes in order of first touch, so effects come out in a deterministic order. */
  private readonly writes: Effect[] = [];
  private finished = false;
  /**
   * Effects other than balances/positions, in order (marks, ids, latches, …): the first in
   * `other`, any more in `others` (a fill pushes one, its id: no array for it).
   */
  private other: Effect | null = null;
  private others: Effect[] | null = null;
  /** Negative isolated margins @insurance covered while this draft was built (null: none, the rule). */
  covers: { account: string; symbol: string; amountMinor: bigint }[] | null = null;

  constructor(readonly state: State) {}

  private account(name: string): AccountDraft {
    const last = this.last;
    if (last !== null && last.name === name) return last;
    let a = this.find(name, last);
    if (a === undefined) {
      a = new AccountDraft(name, this.state.accounts.get(name));
      if (this.tail === null) this.first = a;
      else this.tail.next = a;
      this.tail = a;
      this.count++;
      if (this.index !== null) this.index.set(name, a);
      else if (this.count > SCAN_ACCOUNTS_MAX) {
        this.index = new Map();
        for (let x = this.first; x !== null; x = x.next) this.index.set(x.name, x);
      }
    }
    this.last = a;
    return a;
  }

  /** The account named `name`; `known` (already compared) is skipped. */
  private find(name: string, known: AccountDraft | null): AccountDraft | undefined {
    if (this.index !== null) return this.index.get(name);
    for (let a = this.first; a !== null; a = a.next) if (a !== known && a.name === name) return a;
    return undefined;
  }

  hasAccount(name: string): boolean {
    const a = this.account(name);
    return a.opened || a.state !== undefined;
  }

  ensureAccount(name: string): void {
    this.open(this.account(name));
  }

  /** Records the account as opened by this draft unless it exists (in the state or here). */
  private open(a: AccountDraft): void {
    if (a.opened || a.state !== undefined) return;
    a.opened = true;
    (this.opened ??= []).push(a.name);
  }

  balance(account: string, asset: string): bigint {
    const a = this.account(account);
    const w = a.balanceWrite(asset);
    if (w !== undefined) return w.valueMinor;
    return a.state?.balances.get(asset) ?? 0n;
  }

  /** Sets a balance; `what` names the quantity for the overflow message. */
  setBalance(account: string, asset: string, value: bigint, what?: string): void {
    if (!fitsI64(value)) checkI64(value, what ?? `balance of ${account} in ${asset}`);
    const a = this.account(account);
    const w = a.balanceWrite(asset);
    if (w !== undefined) w.valueMinor = value; // a write exists: the account does too
    else this.newBalance(a, asset, value);
  }

  /** balance + delta, checked and written like setBalance, with one look-up of the account and its write. */
  addBalance(account: string, asset: string, delta: bigint, what?: string): void {
    if (delta === 0n) return;
    const a = this.account(account);
    const w = a.balanceWrite(asset);
    const value = (w !== undefined ? w.valueMinor : a.state?.balances.get(asset) ?? 0n) + delta;
    if (!fitsI64(value)) checkI64(value, what ?? `balance of ${account} in ${asset}`);
    if (w !== undefined) w.valueMinor = value;
    else this.newBalance(a, asset, value);
  }

  private newBalance(a: AccountDraft, asset: string, value: bigint): void {
    this.open(a);
    const b: BalanceWrite = { t: "balance", account: a.key, asset, valueMinor: value };
    a.addWrite(b);
    this.writes.push(b);
  }

  /** The position's values (a copy: the caller may spread it into new values); defaults when there is none. */
  position(account: string, symbol: string, defaultLeverage = DEFAULT_LEVERAGE): PositionValues {
    const a = this.account(account);
    const w = a.positionWrite(symbol);
    if (w !== undefined) return w.values;
    const p = a.state?.positions.get(symbol);
    if (p !== undefined) {
      return { qtyLots: p.qtyLots, costLotTicks: p.costLotTicks, isolatedMarginMinor: p.isolatedMarginMinor, mode: p.mode, leverage: p.leverage };
    }
    return { qtyLots: 0n, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage: defaultLeverage };
  }

  /**
   * The position's current values without a copy, undefined when it has none: the draft's
   * write, else the state's `Position` object itself. Only to be read (its five fields), never
   * spread or handed on as values: it may carry the state's other fields. The fill path's read.
   */
  positionValues(account: string, symbol: string): PositionValues | undefined {
    const a = this.account(account);
    const w = a.positionWrite(symbol);
    return w !== undefined ? w.values : a.state?.positions.get(symbol);
  }

  setPosition(account: string, symbol: string, values: PositionValues): void {
    if (!fitsI64(values.qtyLots)) checkI64(values.qtyLots, `position size of ${account} in ${symbol}`);
    if (!fitsI64(values.costLotTicks)) checkI64(values.costLotTicks, `entry cost of ${account} in ${symbol}`);
    if (!fitsI64(values.isolatedMarginMinor)) checkI64(values.isolatedMarginMinor, `isolated margin of ${account} in ${symbol}`);
    const a = this.account(account);
    const w = a.positionWrite(symbol);
    if (w !== undefined) {
      w.values = values; // a write exists: the account does too
      return;
    }
    this.open(a);
    const p: PositionWrite = { t: "position", account: a.key, symbol, values };
    a.addWrite(p);
    this.writes.push(p);
  }

  push(e: Effect): void {
    if (this.other === null) this.other = e;
    else (this.others ??= []).push(e);
  }

  /**
   * The effects, in first-touch order; accounts opened before anything that uses them. The
   * draft is finished then: its balance and position writes are the effects handed out (in
   * its own list, when no account opens).
   */
  effects(): Effect[] {
    if (this.finished) throw new Error("Draft.effects: called twice");
    this.finished = true;
    const opened = this.opened;
    const out: Effect[] = opened === null ? this.writes : [];
    if (opened !== null) {
      for (const name of opened) out.push({ t: "account.open", account: name });
      for (const w of this.writes) out.push(w);
    }
    if (this.other !== null) out.push(this.other);
    const others = this.others;
    if (others !== null) for (const e of others) out.push(e);
    return out;
  }
}
