// Snapshots and the state hash. The snapshot is a canonical JSON document: everything sorted
// by name, BigInts as decimal strings, no slot numbers — so it is independent of insertion
// order, and restoring it then replaying the rest gives the same state (and hash) as a full
// replay. The state hash is SHA-256 over the canonical state part (not the output history).
import { createHash } from "node:crypto";
import { decimalToString, parseDecimal, type Decimal } from "../numbers/decimal.js";
import { compareStrings, emptyState, SmallMap, type Account, type Instrument, type Position, type State } from "./state.js";
import type { BookKind } from "./books.js";
import type { BookDump } from "../matching/book.js";

export const SNAPSHOT_FORMAT = "mmc.snapshot";
/** 2: the order books are part of the state (`books`). */
export const SNAPSHOT_VERSION = 2;

type Big = string;

export interface StateDoc {
  seq: number;
  ts: number;
  settlementAsset: string | null;
  assets: { name: string; decimals: number; haircutE8: Big; settlement: boolean; priceE8: Big }[];
  instruments: {
    symbol: string; tickSize: string; lotSize: string; kMinor: Big; markTicks: Big;
    tiers: { maxNotionalMinor: Big; mmrE8: Big; maxLeverage: number; cumMinor: Big }[];
    makerFeeE8: Big; takerFeeE8: Big; liquidationFeeE8: Big; insuranceShareE8: Big;
  }[];
  accounts: {
    name: string; crossCallLatched: boolean;
    balances: [string, Big][];
    positions: { symbol: string; qtyLots: Big; costLotTicks: Big; isolatedMarginMinor: Big; mode: Position["mode"]; leverage: number; callLatched: boolean }[];
  }[];
  seenIds: string[];
  /**
   * Order books by symbol: resting orders in price-time order (bids best first, FIFO within
   * a level, then asks), every used order id per account, the arrival and trade counters.
   */
  books: ({ symbol: string } & BookDump)[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => compareStrings(a.name, b.name);

export function stateToDoc(state: State): StateDoc {
  return {
    seq: state.seq,
    ts: state.ts,
    settlementAsset: state.settlementAsset,
    assets: [...state.assets.values()].sort(byName).map((a) => ({
      name: a.name, decimals: a.decimals, haircutE8: a.haircutE8.toString(), settlement: a.settlement, priceE8: a.priceE8.toString(),
    })),
    instruments: [...state.instruments.values()].sort((a, b) => compareStrings(a.symbol, b.symbol)).map(instrumentDoc),
    accounts: [...state.accounts.values()].sort(byName).map(accountDoc),
    seenIds: [...state.seenIds].sort(compareStrings),
    books: state.books.engine.symbols().map((symbol) => ({ symbol, ...state.books.engine.book(symbol)!.dump() })),
  };
}

function instrumentDoc(i: Instrument): StateDoc["instruments"][number] {
  return {
    symbol: i.symbol, tickSize: decimalToString(i.tickSize), lotSize: decimalToString(i.lotSize),
    kMinor: i.kMinor.toString(), markTicks: i.markTicks.toString(),
    tiers: i.tiers.map((t) => ({ maxNotionalMinor: t.maxNotionalMinor.toString(), mmrE8: t.mmrE8.toString(), maxLeverage: t.maxLeverage, cumMinor: t.cumMinor.toString() })),
    makerFeeE8: i.makerFeeE8.toString(), takerFeeE8: i.takerFeeE8.toString(),
    liquidationFeeE8: i.liquidationFeeE8.toString(), insuranceShareE8: i.insuranceShareE8.toString(),
  };
}

function accountDoc(a: Account): StateDoc["accounts"][number] {
  return {
    name: a.name,
    crossCallLatched: a.crossCallLatched,
    balances: [...a.balances.entries()].sort((x, y) => compareStrings(x[0], y[0])).map(([k, v]) => [k, v.toString()]),
    positions: [...a.positions.values()].sort((x, y) => compareStrings(x.symbol, y.symbol)).map((p) => ({
      symbol: p.symbol, qtyLots: p.qtyLots.toString(), costLotTicks: p.costLotTicks.toString(),
      isolatedMarginMinor: p.isolatedMarginMinor.toString(), mode: p.mode, leverage: p.leverage, callLatched: p.callLatched,
    })),
  };
}

/** SHA-256 (hex) of the canonical state. */
export function stateHash(state: State): string {
  return createHash("sha256").update(JSON.stringify(stateToDoc(state))).digest("hex");
}

function dec(s: string): Decimal {
  const d = parseDecimal(s);
  if (d === null) throw new Error(`snapshot: bad decimal ${s}`);
  return d;
}

/** Rebuilds a state from its canonical document (slots assigned in sorted order). */
export function docToState(doc: StateDoc, book: BookKind = "fast"): State {
  const state = emptyState(book);
  state.seq = doc.seq;
  state.ts = doc.ts;
  state.settlementAsset = doc.settlementAsset;
  for (const a of doc.assets) {
    state.assets.set(a.name, { name: a.name, decimals: a.decimals, haircutE8: BigInt(a.haircutE8), settlement: a.settlement, priceE8: BigInt(a.priceE8) });
  }
  for (const i of doc.instruments) {
    const inst: Instrument = {
      symbol: i.symbol, slot: state.instrumentsBySlot.length, tickSize: dec(i.tickSize), lotSize: dec(i.lotSize),
      kMinor: BigInt(i.kMinor), markTicks: BigInt(i.markTicks),
      tiers: i.tiers.map((t) => ({ maxNotionalMinor: BigInt(t.maxNotionalMinor), mmrE8: BigInt(t.mmrE8), maxLeverage: t.maxLeverage, cumMinor: BigInt(t.cumMinor) })),
      makerFeeE8: BigInt(i.makerFeeE8), takerFeeE8: BigInt(i.takerFeeE8),
      liquidationFeeE8: BigInt(i.liquidationFeeE8), insuranceShareE8: BigInt(i.insuranceShareE8),
      positions: [],
    };
    state.instruments.set(inst.symbol, inst);
    state.instrumentsBySlot.push(inst);
    const full = state.books.engine.addSymbol(inst.symbol);
    if (full !== null) throw new Error(`snapshot: ${full.message}`);
  }
  for (const a of doc.accounts) {
    const acct: Account = {
      name: a.name, slot: state.accountsBySlot.length, balances: new SmallMap(), positions: new SmallMap(),
      crossCallLatched: a.crossCallLatched, isolatedCount: a.positions.filter((p) => p.mode === "isolated").length,
    };
    for (const [asset, v] of a.balances) acct.balances.set(asset, BigInt(v));
    state.accounts.set(acct.name, acct);
    state.accountsBySlot.push(acct);
    for (const p of a.positions) {
      const pos: Position = {
        account: a.name, symbol: p.symbol, slot: state.positionsBySlot.length,
        qtyLots: BigInt(p.qtyLots), costLotTicks: BigInt(p.costLotTicks), isolatedMarginMinor: BigInt(p.isolatedMarginMinor),
        mode: p.mode, leverage: p.leverage, callLatched: p.callLatched,
      };
      acct.positions.set(p.symbol, pos);
      state.instruments.get(p.symbol)!.positions.push(pos);
      state.positionsBySlot.push(pos);
    }
  }
  for (const id of doc.seenIds) state.seenIds.add(id);
  for (const b of doc.books ?? []) {
    if (!state.instruments.has(b.symbol)) throw new Error(`snapshot: a book for the unknown symbol ${b.symbol}`);
    state.books.engine.loadBook(b.symbol, { seq: b.seq, trades: b.trades, orders: b.orders, ids: b.ids });
  }
  return state;
}
