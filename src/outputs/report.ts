// The replay report (SPEC §9): every number a decimal string; accounts and positions sorted
// by name; figures computed by the margin kernel after a full recompute.
import { divCeil, divHalfEven, abs } from "../numbers/int.js";
import { formatScaled, formatSteps } from "../numbers/decimal.js";
import { compareStrings, SYSTEM_ACCOUNTS, type Instrument, type Position } from "../aggregate/state.js";
import { stateHash } from "../aggregate/snapshot.js";
import type { Core, MatchingCounts } from "../pipeline.js";
import type { AdlOutput, InsuranceCoverOutput, LiquidationOutput, MarginCallOutput } from "./events.js";

export interface PositionReport {
  mode: "cross" | "isolated";
  leverage: number;
  qty: string;
  entryPrice: string;
  isolatedMargin?: string;
  unrealizedPnl: string;
  equity?: string;
  initialMargin: string;
  maintenanceMargin: string;
  liquidationPrice: string | null;
  bankruptcyPrice?: string | null;
}

export interface AccountReport {
  balances: Record<string, string>;
  equity: string;
  initialMargin: string;
  maintenanceMargin: string;
  marginRatio: string | null;
  positions: Record<string, PositionReport>;
}

export interface Report {
  seq: number;
  stateHash: string;
  accounts: Record<string, AccountReport>;
  marks: Record<string, string>;
  liquidations: LiquidationOutput[];
  adl: AdlOutput[];
  marginCalls: MarginCallOutput[];
  insuranceCovers: InsuranceCoverOutput[];
  rejected: { seq: number; code: string; message: string }[];
  /** Order flow so far: trades and order outputs (counts; the outputs are journaled). */
  matching: MatchingCounts;
  /** Resting orders per symbol as `mmc match` prints them: [price, qty] per level, best first. */
  books: Record<string, { bids: [string, string][]; asks: [string, string][] }>;
}

const RATIO_DECIMALS = 8;
const E8 = 100_000_000n;

/** entryPrice = C/q in price units, half-even to 8 decimals (SPEC §9); trailing zeros trimmed. */
export function entryPrice(pos: Position, inst: Instrument): string {
  if (pos.qtyLots === 0n) return "0";
  const scaled = divHalfEven(abs(pos.costLotTicks) * inst.tickSize.mantissa * E8, abs(pos.qtyLots) * 10n ** BigInt(inst.tickSize.scale));
  return trimZeros(formatScaled(scaled, RATIO_DECIMALS), inst.tickSize.scale);
}

function trimZeros(s: string, keep: number): string {
  const dot = s.indexOf(".");
  if (dot < 0) return s;
  let end = s.length;
  while (end > dot + 1 + keep && s[end - 1] === "0") end--;
  if (end === dot + 1) end = dot;
  return s.slice(0, end);
}

/** MM / E, 8 decimals rounded up; null when E ≤ 0 (SPEC §3). */
export function marginRatio(mmMinor: bigint, equityMinor: bigint): string | null {
  if (equityMinor <= 0n) return null;
  return formatScaled(divCeil(mmMinor * E8, equityMinor), RATIO_DECIMALS);
}

export function buildReport(core: Core): Report {
  const { state, history } = core;
  core.recomputeAll();
  const b = core.margin.book;
  const s = state.settlementAsset;
  const sDecimals = s === null ? 0 : state.assets.get(s)!.decimals;
  const money = (v: bigint): string => formatScaled(v, sDecimals);
  const accounts: Record<string, AccountReport> = {};
  const names = [...new Set([...state.accounts.keys(), ...SYSTEM_ACCOUNTS])].sort(compareStrings);
  for (const name of names) {
    const acct = state.accounts.get(name);
    if (acct === undefined) {
      accounts[name] = { balances: {}, equity: money(0n), initialMargin: money(0n), maintenanceMargin: money(0n), marginRatio: marginRatio(0n, 0n), positions: {} };
      continue;
    }
    const balances: Record<string, string> = {};
    for (const asset of [...acct.balances.keys()].sort(compareStrings)) {
      balances[asset] = formatScaled(acct.balances.get(asset)!, state.assets.get(asset)?.decimals ?? 0);
    }
    const positions: Record<string, PositionReport> = {};
    for (const pos of [...acct.positions.values()].sort((x, y) => compareStrings(x.symbol, y.symbol))) {
      if (pos.qtyLots === 0n) continue;
      const inst = state.instruments.get(pos.symbol)!;
      const p = pos.slot;
      const liq = core.margin.liquidationPrice(p);
      const liqPrice = liq === null ? null : formatSteps(liq, inst.tickSize);
      const common = { mode: pos.mode, leverage: pos.leverage, qty: formatSteps(pos.qtyLots, inst.lotSize), entryPrice: entryPrice(pos, inst) };
      const margins = { initialMargin: money(b.pos_im_minor[p]!), maintenanceMargin: money(b.pos_mm_minor[p]!), liquidationPrice: liqPrice };
      if (pos.mode === "isolated") {
        // SPEC §9 field order; isolated positions add their margin, equity and bankruptcy price.
        const bk = core.margin.bankruptcyPrice(p);
        positions[pos.symbol] = {
          ...common, isolatedMargin: money(pos.isolatedMarginMinor), unrealizedPnl: money(b.pos_upnl_minor[p]!),
          equity: money(b.pos_equity_minor[p]!), ...margins, bankruptcyPrice: bk === null ? null : formatSteps(bk, inst.tickSize),
        };
      } else {
        positions[pos.symbol] = { ...common, unrealizedPnl: money(b.pos_upnl_minor[p]!), ...margins };
      }
    }
    const a = acct.slot;
    accounts[name] = {
      balances,
      equity: money(b.acct_equity_minor[a]!),
      initialMargin: money(b.acct_im_minor[a]!),
      maintenanceMargin: money(b.acct_mm_minor[a]!),
      marginRatio: marginRatio(b.acct_mm_minor[a]!, b.acct_equity_minor[a]!),
      positions,
    };
  }
  const books: Report["books"] = {};
  for (const symbol of state.books.engine.symbols()) {
    const inst = state.instruments.get(symbol)!;
    const book = state.books.engine.book(symbol)!;
    const fmt = (levels: [number, number][]): [string, string][] =>
      levels.map(([p, q]) => [formatSteps(BigInt(p), inst.tickSize), formatSteps(BigInt(q), inst.lotSize)]);
    books[symbol] = { bids: fmt(book.levels("buy")), asks: fmt(book.levels("sell")) };
  }
  const marks: Record<string, string> = {};
  for (const inst of [...state.instruments.values()].sort((x, y) => compareStrings(x.symbol, y.symbol))) {
    if (inst.markTicks > 0n) marks[inst.symbol] = formatSteps(inst.markTicks, inst.tickSize);
  }
  return {
    seq: state.seq,
    stateHash: stateHash(state),
    accounts,
    marks,
    liquidations: history.liquidations,
    adl: history.adl,
    marginCalls: history.marginCalls,
    insuranceCovers: history.insuranceCovers,
    rejected: history.rejected.map((r) => ({ seq: r.seq, code: r.code, message: r.message })),
    matching: { ...history.matching },
    books,
  };
}
