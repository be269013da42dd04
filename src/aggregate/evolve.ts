// evolve: apply one effect to the state and return its inverse. Effects were fully
// validated by `decide`, so evolve only asserts (a failed assertion is a bug, not bad input).
import type { Effect } from "./effects.js";
import { DEFAULT_LEVERAGE, SmallMap, type Account, type Instrument, type Position, type State } from "./state.js";

/** `what` names the subject (account, symbol, …): the message is built only on failure, not on every effect. */
function assert(cond: boolean, msg: string, what?: string): asserts cond {
  if (!cond) throw new Error(`evolve invariant: ${msg}${what === undefined ? "" : ` (${what})`}`);
}

/**
 * What the last `evolve` resolved, for the mirrors that follow it (ADL index, book sync): the
 * effect's kind as a small integer and the account / position it changed. They then need
 * neither a look-up by name nor a read of `e.t` (a megamorphic load: effects come in a dozen
 * shapes). Set only by the cases the mirrors take fast (balance, position, id, cover); K_OTHER
 * for the rest.
 */
export const K_OTHER = 0;
export const K_BALANCE = 1;
export const K_POSITION = 2;
/** Nothing to mirror (id, cover). */
export const K_NOTE = 3;
/** A `cover` (also K_NOTE for the mirrors; the pipeline turns it into an output). */
export const K_COVER = 4;
let lastKind = K_OTHER;
let lastAccount: Account | null = null;
let lastPosition: Position | null = null;

export function evolve(state: State, e: Effect): Effect {
  lastKind = K_OTHER;
  switch (e.t) {
    case "asset": {
      const old = state.assets.get(e.asset.name);
      state.assets.set(e.asset.name, { ...e.asset, priceE8: old?.priceE8 ?? (e.asset.settlement ? 100_000_000n : 0n) });
      if (e.asset.settlement) state.settlementAsset = e.asset.name;
      if (old === undefined) return { t: "asset.remove", name: e.asset.name };
      return { t: "asset", asset: { name: old.name, decimals: old.decimals, haircutE8: old.haircutE8, settlement: old.settlement } };
    }
    case "asset.remove": {
      const old = state.assets.get(e.name);
      assert(old !== undefined, "asset exists", e.name);
      state.assets.delete(e.name);
      if (state.settlementAsset === e.name) state.settlementAsset = null;
      return { t: "asset", asset: old };
    }
    case "instrument": {
      const old = state.instruments.get(e.params.symbol);
      const slot = old?.slot ?? state.instrumentsBySlot.length;
      const inst: Instrument = { ...e.params, slot, markTicks: old?.markTicks ?? 0n, positions: old?.positions ?? [] };
      state.instruments.set(inst.symbol, inst);
      state.instrumentsBySlot[slot] = inst;
      if (old === undefined) {
        const full = state.books.engine.addSymbol(inst.symbol); // decide checked the limit
        assert(full === null, "book opens", inst.symbol);
        return { t: "instrument.remove", symbol: inst.symbol };
      }
      return { t: "instrument", params: old };
    }
    case "instrument.remove": {
      const old = state.instruments.get(e.symbol);
      assert(old !== undefined && old.positions.length === 0, "instrument removable", e.symbol);
      assert(old.slot === state.instrumentsBySlot.length - 1, "instrument removed is the last slot");
      state.instruments.delete(e.symbol);
      state.instrumentsBySlot.pop();
      state.books.engine.removeSymbol(e.symbol); // pristine: its defining event is being undone
      return { t: "instrument", params: old };
    }
    case "account.open": {
      assert(!state.accounts.has(e.account), "account is new", e.account);
      const acct: Account = {
        name: e.account,
        slot: state.accountsBySlot.length,
        balances: new SmallMap(),
        positions: new SmallMap(),
        crossCallLatched: false,
        isolatedCount: 0,
      };
      state.accounts.set(e.account, acct);
      state.accountsBySlot.push(acct);
      return { t: "account.remove", account: e.account };
    }
    case "account.remove": {
      const acct = state.accounts.get(e.account);
      assert(acct !== undefined && acct.positions.size === 0 && acct.balances.size === 0, "account removable");
      assert(acct.slot === state.accountsBySlot.length - 1, "account removed is the last slot");
      state.accounts.delete(e.account);
      state.accountsBySlot.pop();
      return { t: "account.open", account: e.account };
    }
    case "balance": {
      const acct = state.accounts.get(e.account);
      assert(acct !== undefined, "account exists", e.account);
      const old = acct.balances.get(e.asset);
      if (e.valueMinor === 0n) acct.balances.delete(e.asset);
      else acct.balances.set(e.asset, e.valueMinor);
      lastKind = K_BALANCE;
      lastAccount = acct;
      return { t: "balance", account: e.account, asset: e.asset, valueMinor: old ?? 0n };
    }
    case "position": {
      const acct = state.accounts.get(e.account);
      assert(acct !== undefined, "position has an account", e.account);
      let pos = acct.positions.get(e.symbol);
      if (pos === undefined) {
        const inst = state.instruments.get(e.symbol); // an existing position's instrument exists
        assert(inst !== undefined, "position has an instrument", e.symbol);
        pos = {
          account: acct.name, // the account's own string: one copy per account
          symbol: e.symbol,
          slot: state.positionsBySlot.length,
          qtyLots: 0n,
          costLotTicks: 0n,
          isolatedMarginMinor: 0n,
          mode: "cross",
          leverage: DEFAULT_LEVERAGE,
          callLatched: false,
        };
        acct.positions.set(e.symbol, pos);
        inst.positions.push(pos);
        state.positionsBySlot.push(pos);
        assign(pos, e.values);
        if (pos.mode === "isolated") acct.isolatedCount++;
        lastKind = K_POSITION;
        lastAccount = acct;
        lastPosition = pos;
        return { t: "position.remove", account: e.account, symbol: e.symbol };
      }
      const old = { qtyLots: pos.qtyLots, costLotTicks: pos.costLotTicks, isolatedMarginMinor: pos.isolatedMarginMinor, mode: pos.mode, leverage: pos.leverage };
      acct.isolatedCount += (e.values.mode === "isolated" ? 1 : 0) - (old.mode === "isolated" ? 1 : 0);
      assign(pos, e.values);
      lastKind = K_POSITION;
      lastAccount = acct;
      lastPosition = pos;
      return { t: "position", account: e.account, symbol: e.symbol, values: old };
    }
    case "position.remove": {
      const acct = state.accounts.get(e.account);
      const inst = state.instruments.get(e.symbol);
      const pos = acct?.positions.get(e.symbol);
      assert(acct !== undefined && inst !== undefined && pos !== undefined, "position exists");
      assert(pos.slot === state.positionsBySlot.length - 1, "position removed is the last slot");
      assert(inst.positions[inst.positions.length - 1] === pos, "position removed is the instrument's last");
      const values = { qtyLots: pos.qtyLots, costLotTicks: pos.costLotTicks, isolatedMarginMinor: pos.isolatedMarginMinor, mode: pos.mode, leverage: pos.leverage };
      acct.positions.delete(e.symbol);
      if (pos.mode === "isolated") acct.isolatedCount--;
      inst.positions.pop();
      state.positionsBySlot.pop();
      return { t: "position", account: e.account, symbol: e.symbol, values };
    }
    case "mark": {
      const inst = state.instruments.get(e.symbol);
      assert(inst !== undefined, "instrument exists", e.symbol);
      const old = inst.markTicks;
      inst.markTicks = e.ticks;
      return { t: "mark", symbol: e.symbol, ticks: old };
    }
    case "collateral.price": {
      const asset = state.assets.get(e.asset);
      assert(asset !== undefined, "asset exists", e.asset);
      const old = asset.priceE8;
      asset.priceE8 = e.priceE8;
      return { t: "collateral.price", asset: e.asset, priceE8: old };
    }
    case "id": {
      // Whether it was there: add answers false, delete true.
      const ids = state.seenIds;
      const had = e.seen ? !ids.addId(e.idType, e.id) : ids.deleteId(e.idType, e.id);
      lastKind = K_NOTE;
      return { t: "id", idType: e.idType, id: e.id, seen: had };
    }
    case "latch.cross": {
      const acct = state.accounts.get(e.account);
      assert(acct !== undefined, "account exists", e.account);
      const old = acct.crossCallLatched;
      acct.crossCallLatched = e.on;
      return { t: "latch.cross", account: e.account, on: old };
    }
    case "cover":
      lastKind = K_COVER;
      return e; // a note for the outputs; the balances it describes are separate effects
    case "latch.isolated": {
      const pos = state.accounts.get(e.account)?.positions.get(e.symbol);
      assert(pos !== undefined, "position exists");
      const old = pos.callLatched;
      pos.callLatched = e.on;
      return { t: "latch.isolated", account: e.account, symbol: e.symbol, on: old };
    }
  }
}

function assign(pos: Position, v: { qtyLots: bigint; costLotTicks: bigint; isolatedMarginMinor: bigint; mode: Position["mode"]; leverage: number }): void {
  pos.qtyLots = v.qtyLots;
  pos.costLotTicks = v.costLotTicks;
  pos.isolatedMarginMinor = v.isolatedMarginMinor;
  pos.mode = v.mode;
  pos.leverage = v.leverage;
}

/**
 * Per effect of a batch, what evolve resolved (see K_*): filled by `evolveAll` when given one,
 * valid for the state right after the batch (a forward batch never removes an account or a
 * position, so the objects are those a look-up by name would find). Reused from batch to batch.
 */
export class Resolution {
  kinds = new Uint8Array(64);
  accounts: (Account | null)[] = [];
  positions: (Position | null)[] = [];
  /** Effects in the batch. */
  count = 0;
  /** `cover` effects in the batch. */
  covers = 0;
}

/**
 * Applies effects in order; returns the inverses in the order that undoes them. With `res`,
 * records what each effect resolved (for the mirrors that follow).
 */
export function evolveAll(state: State, effects: readonly Effect[], res?: Resolution): Effect[] {
  const n = effects.length;
  const undo = new Array<Effect>(n); // sized once (pushes grow a new array in steps)
  if (res === undefined) {
    for (let i = 0; i < n; i++) undo[n - 1 - i] = evolve(state, effects[i]!);
    return undo;
  }
  if (res.kinds.length < n) res.kinds = new Uint8Array(Math.max(n, 2 * res.kinds.length));
  const kinds = res.kinds;
  const accounts = res.accounts;
  const positions = res.positions;
  let covers = 0;
  for (let i = 0; i < n; i++) {
    lastAccount = null;
    lastPosition = null;
    undo[n - 1 - i] = evolve(state, effects[i]!);
    kinds[i] = lastKind;
    if (lastKind === K_COVER) covers++;
    accounts[i] = lastAccount;
    positions[i] = lastPosition;
  }
  // After a long batch (funding, ADL), drop the references beyond this one; a few stale ones
  // past `count` are harmless (never read) and cheaper than shrinking and regrowing each time.
  if (accounts.length > n + 64) {
    accounts.length = n;
    positions.length = n;
  }
  lastAccount = null;
  lastPosition = null;
  res.count = n;
  res.covers = covers;
  return undo;
}
