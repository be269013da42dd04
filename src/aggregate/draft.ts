// A draft of the changes one event makes: reads fall through to the state, writes stay in
// the draft (so a trade's seller leg sees the buyer leg, as for a self-trade) until `decide`
// returns them as effects. The state itself is never touched here.
import { checkI64 } from "../numbers/int.js";
import type { Effect, PositionValues } from "./effects.js";
import { DEFAULT_LEVERAGE, type State } from "./state.js";

const SEP = "\u0000";

export class Draft {
  private readonly balances = new Map<string, { account: string; asset: string; value: bigint }>();
  private readonly positions = new Map<string, { account: string; symbol: string; values: PositionValues }>();
  private readonly opened = new Set<string>();
  /** Effects other than balances/positions, in order (marks, ids, latches, …). */
  private readonly others: Effect[] = [];
  /** Negative isolated margins @insurance covered while this draft was built. */
  readonly covers: { account: string; symbol: string; amountMinor: bigint }[] = [];
  /** Order of first touch, so effects come out in a deterministic order. */
  private readonly order: string[] = [];

  constructor(readonly state: State) {}

  hasAccount(name: string): boolean {
    return this.opened.has(name) || this.state.accounts.has(name);
  }

  ensureAccount(name: string): void {
    if (this.hasAccount(name)) return;
    this.opened.add(name);
    this.order.push(`a${SEP}${name}`);
  }

  balance(account: string, asset: string): bigint {
    const d = this.balances.get(account + SEP + asset);
    if (d !== undefined) return d.value;
    return this.state.accounts.get(account)?.balances.get(asset) ?? 0n;
  }

  /** Sets a balance; `what` names the quantity for the overflow message. */
  setBalance(account: string, asset: string, value: bigint, what = `balance of ${account} in ${asset}`): void {
    checkI64(value, what);
    this.ensureAccount(account);
    const key = account + SEP + asset;
    if (!this.balances.has(key)) this.order.push(`b${SEP}${key}`);
    this.balances.set(key, { account, asset, value });
  }

  addBalance(account: string, asset: string, delta: bigint, what?: string): void {
    if (delta !== 0n) this.setBalance(account, asset, this.balance(account, asset) + delta, what);
  }

  position(account: string, symbol: string, defaultLeverage = DEFAULT_LEVERAGE): PositionValues {
    const d = this.positions.get(account + SEP + symbol);
    if (d !== undefined) return d.values;
    const p = this.state.accounts.get(account)?.positions.get(symbol);
    if (p !== undefined) {
      return { qtyLots: p.qtyLots, costLotTicks: p.costLotTicks, isolatedMarginMinor: p.isolatedMarginMinor, mode: p.mode, leverage: p.leverage };
    }
    return { qtyLots: 0n, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage: defaultLeverage };
  }

  setPosition(account: string, symbol: string, values: PositionValues): void {
    checkI64(values.qtyLots, `position size of ${account} in ${symbol}`);
    checkI64(values.costLotTicks, `entry cost of ${account} in ${symbol}`);
    checkI64(values.isolatedMarginMinor, `isolated margin of ${account} in ${symbol}`);
    this.ensureAccount(account);
    const key = account + SEP + symbol;
    if (!this.positions.has(key)) this.order.push(`p${SEP}${key}`);
    this.positions.set(key, { account, symbol, values });
  }

  push(e: Effect): void {
    this.others.push(e);
  }

  /** The effects, in first-touch order; accounts opened before anything that uses them. */
  effects(): Effect[] {
    const out: Effect[] = [];
    for (const name of this.opened) out.push({ t: "account.open", account: name });
    for (const key of this.order) {
      const kind = key[0];
      const rest = key.slice(2);
      if (kind === "b") {
        const b = this.balances.get(rest)!;
        out.push({ t: "balance", account: b.account, asset: b.asset, valueMinor: b.value });
      } else if (kind === "p") {
        const p = this.positions.get(rest)!;
        out.push({ t: "position", account: p.account, symbol: p.symbol, values: p.values });
      }
    }
    for (const e of this.others) out.push(e);
    return out;
  }
}
