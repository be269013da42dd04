// A seeded, realistic market: assets, instruments with tiers, thousands of accounts
// (isolated and cross), deposits (settlement and haircut collateral), trades between random
// counterparties around the mark, a mark path with a crash and gaps, funding, collateral
// price moves, occasional withdrawals and a few malformed lines. Same seed ⇒ same lines.
// It emits wire-format objects (what NDJSON holds), so the whole pipeline is exercised.
import { Prng } from "../util/prng.js";
import { orderFlowRaw } from "./orderflow.js";

export interface MarketOptions {
  readonly seed: number;
  readonly accounts: number;
  readonly events: number;
  /** Fraction of the run at which the crash starts (0..1), its depth (0..1) and length in events. */
  readonly crashAt?: number;
  readonly crashDepth?: number;
  readonly crashEvents?: number;
  /** Probability that an event is a malformed line (exercises rejections). */
  readonly badLineRate?: number;
  /** Interleave instrument/account setup with trading rather than all up front. */
  readonly fundingEvery?: number;
  /**
   * Trade through the order book (src/demo/orderflow.ts): market makers, takers, cancels and
   * replaces, liquidations unwound by @insurance through the book. Default false: the
   * original fills-only tape of `trade` events.
   */
  readonly orderFlow?: boolean;
  /**
   * A steady market (fills-only): no crash, no price gaps, and traders at a fifth of the
   * usual size, so liquidations are rare, as on an ordinary exchange day. Default false:
   * the stress market with a crash and a liquidation storm.
   */
  readonly calm?: boolean;
}

interface InstrumentSpec {
  readonly symbol: string;
  readonly tickDecimals: number; // tickSize = 10^-tickDecimals
  readonly lotDecimals: number;
  readonly startPrice: number; // in price units
  readonly tiers: { maxNotional: string; mmr: string; maxLeverage: number }[];
  readonly volatility: number; // per mark step, relative
}

const INSTRUMENTS: readonly InstrumentSpec[] = [
  {
    symbol: "BTC-PERP", tickDecimals: 1, lotDecimals: 3, startPrice: 50_000, volatility: 0.002,
    tiers: [
      { maxNotional: "50000", mmr: "0.004", maxLeverage: 125 },
      { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 },
      { maxNotional: "1000000", mmr: "0.01", maxLeverage: 50 },
      { maxNotional: "5000000", mmr: "0.025", maxLeverage: 20 },
    ],
  },
  {
    symbol: "ETH-PERP", tickDecimals: 2, lotDecimals: 2, startPrice: 3_000, volatility: 0.0025,
    tiers: [
      { maxNotional: "25000", mmr: "0.005", maxLeverage: 100 },
      { maxNotional: "200000", mmr: "0.0075", maxLeverage: 75 },
      { maxNotional: "1000000", mmr: "0.015", maxLeverage: 40 },
    ],
  },
  {
    symbol: "SOL-PERP", tickDecimals: 3, lotDecimals: 1, startPrice: 150, volatility: 0.004,
    tiers: [
      { maxNotional: "10000", mmr: "0.01", maxLeverage: 50 },
      { maxNotional: "100000", mmr: "0.02", maxLeverage: 25 },
      { maxNotional: "500000", mmr: "0.05", maxLeverage: 10 },
    ],
  },
];

export type WireEvent = Record<string, unknown>;

/** A generated line: a wire object, or (rarely) a deliberately malformed raw string. */
export type GeneratedLine = { readonly event: WireEvent } | { readonly raw: string };

function fmt(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const s = (neg ? -units : units).toString().padStart(decimals + 1, "0");
  const out = decimals === 0 ? s : `${s.slice(0, s.length - decimals)}.${s.slice(s.length - decimals)}`;
  return neg ? `-${out}` : out;
}

/** Exactly `opts.events` lines (some steps emit several lines; the tail is cut). */
export function* generateMarket(opts: MarketOptions): Generator<GeneratedLine> {
  if (!Number.isSafeInteger(opts.events) || opts.events < 1) throw new RangeError("generateMarket: events must be a positive integer");
  let n = 0;
  for (const line of opts.orderFlow === true ? orderFlowRaw(opts) : generateRaw(opts)) {
    yield line;
    if (++n >= opts.events) return;
  }
}

function* generateRaw(opts: MarketOptions): Generator<GeneratedLine> {
  if (opts.accounts < 2) throw new RangeError("generateMarket: at least 2 accounts");
  const rng = new Prng(opts.seed);
  const crashAt = Math.floor((opts.crashAt ?? 0.6) * opts.events);
  const crashEvents = Math.max(1, opts.crashEvents ?? Math.floor(opts.events / 50));
  const calm = opts.calm === true;
  const crashDepth = opts.crashDepth ?? (calm ? 0 : 0.3);
  const badLineRate = opts.badLineRate ?? 0.001;
  const fundingEvery = opts.fundingEvery ?? Math.max(100, Math.floor(opts.events / 20));
  let ts = 1_767_225_600_000; // 2026-01-01T00:00:00Z; time comes from the generated events
  let emitted = 0;
  let id = 0;

  const setup: WireEvent[] = [
    { type: "asset", asset: "USDT", decimals: 6, settlement: true },
    { type: "asset", asset: "BTC", decimals: 8, haircut: "0.1" },
    { type: "collateral.price", asset: "BTC", price: "50000" },
  ];
  for (const inst of INSTRUMENTS) {
    setup.push({
      type: "instrument", symbol: inst.symbol,
      tickSize: fmt(1n, inst.tickDecimals), lotSize: fmt(1n, inst.lotDecimals),
      tiers: inst.tiers, makerFee: "0.0002", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
    });
  }
  setup.push({ type: "deposit", id: `d${id++}`, account: "@insurance", asset: "USDT", amount: "250000" });
  for (const e of setup) {
    yield { event: { ...e, ts } };
    emitted++;
  }

  // Prices as floats only to shape the random walk; every emitted price is an exact grid string.
  const price = INSTRUMENTS.map((i) => i.startPrice);
  const names: string[] = [];
  const capital: number[] = [];
  // A rough float picture of each trader (generation only — the engine's numbers are exact):
  // cash, and per instrument a signed size and average entry. Traders whose estimated equity
  // falls below a fifth of their capital stop trading, as a bust trader would (the engine has
  // liquidated them), and top up now and then.
  const cash: number[] = [];
  const size: number[][] = [];
  const entryPx: number[][] = [];
  const equityOf = (a: number): number => {
    let e = cash[a]!;
    for (let i = 0; i < INSTRUMENTS.length; i++) e += size[a]![i]! * (price[i]! - entryPx[a]![i]!);
    return e;
  };
  const fill = (a: number, i: number, q: number, px: number): void => {
    const s0 = size[a]![i]!;
    const s1 = s0 + q;
    if (s0 === 0 || Math.sign(s0) === Math.sign(q)) {
      entryPx[a]![i] = (entryPx[a]![i]! * Math.abs(s0) + px * Math.abs(q)) / Math.abs(s1);
    } else {
      const closed = Math.min(Math.abs(q), Math.abs(s0));
      cash[a] = cash[a]! + closed * Math.sign(s0) * (px - entryPx[a]![i]!);
      if (Math.abs(q) > Math.abs(s0)) entryPx[a]![i] = px;
    }
    size[a]![i] = s1;
  };
  const mark = (i: number): WireEvent => {
    const inst = INSTRUMENTS[i]!;
    const ticks = BigInt(Math.max(1, Math.round(price[i]! * 10 ** inst.tickDecimals)));
    return { type: "mark", symbol: inst.symbol, price: fmt(ticks, inst.tickDecimals) };
  };
  for (let i = 0; i < INSTRUMENTS.length; i++) {
    yield { event: mark(i) };
    emitted++;
  }

  // Accounts open in waves as the market runs, so the log interleaves setup and trading.
  const accountWaves = Math.min(opts.accounts, Math.max(2, Math.floor(opts.events / 4)));
  const openAccount = function* (): Generator<GeneratedLine> {
    const n = names.length;
    const name = `acct-${String(n).padStart(5, "0")}`;
    names.push(name);
    // Lognormal-ish capital: most small, a few whales.
    const usdt = Math.round(500 * Math.exp(rng.float() * 5));
    capital.push(usdt);
    cash.push(usdt);
    size.push(INSTRUMENTS.map(() => 0));
    entryPx.push(INSTRUMENTS.map(() => 0));
    yield { event: { type: "deposit", id: `d${id++}`, account: name, asset: "USDT", amount: String(usdt), ts } };
    if (rng.chance(0.2)) {
      const sats = BigInt(rng.int(1_000_000, 50_000_000));
      yield { event: { type: "deposit", id: `d${id++}`, account: name, asset: "BTC", amount: fmt(sats, 8), ts } };
    }
    for (let i = 0; i < INSTRUMENTS.length; i++) {
      if (rng.chance(0.3)) yield { event: { type: "margin.mode", account: name, symbol: INSTRUMENTS[i]!.symbol, mode: "isolated", ts } };
      if (rng.chance(0.6)) yield { event: { type: "leverage", account: name, symbol: INSTRUMENTS[i]!.symbol, leverage: rng.pick([2, 3, 5, 10, 20, 25]), ts } };
    }
  };
  for (let a = 0; a < Math.min(accountWaves, 2); a++) yield* openAccount();

  let crashStep = 0;
  while (emitted < opts.events) {
    ts += rng.int(1, 250);
    if (names.length < opts.accounts && rng.chance(accountWaves / Math.max(1, opts.events))) {
      for (const line of openAccount()) {
        yield line;
        emitted++;
      }
      continue;
    }
    if (rng.chance(badLineRate)) {
      yield { raw: rng.pick(['{"type":"trade","symbol":', '{"type":"mark","symbol":"BTC-PERP","price":"1.23456"}', '{"type":"teleport"}', "[1,2,3]"]) };
      emitted++;
      continue;
    }
    const r = rng.float();
    if (emitted >= crashAt && crashStep < crashEvents && r < 0.5) {
      // The crash: every instrument gaps down together, faster than traders can react.
      crashStep++;
      const step = Math.pow(1 - crashDepth, 1 / crashEvents);
      for (let i = 0; i < INSTRUMENTS.length; i++) {
        price[i] = price[i]! * step * (1 + (rng.float() - 0.5) * 0.002);
        yield { event: { ...mark(i), ts } };
        emitted++;
      }
      yield { event: { type: "collateral.price", asset: "BTC", price: String(Math.max(1, Math.round(price[0]!))), ts } };
      emitted++;
      continue;
    }
    if (r < 0.25) {
      const i = rng.int(0, INSTRUMENTS.length - 1);
      const inst = INSTRUMENTS[i]!;
      // Occasional gap, skewed down (the random draws are made either way; `calm` still
      // yields a different tape, as fewer traders go bust).
      const gap = rng.chance(0.01) ? (rng.float() - 0.6) * 0.08 * (calm ? 0 : 1) : 0;
      price[i] = price[i]! * (1 + (rng.float() - 0.5) * 2 * inst.volatility + gap);
      yield { event: { ...mark(i), ts } };
      if (i === 0 && rng.chance(0.2)) {
        yield { event: { type: "collateral.price", asset: "BTC", price: String(Math.max(1, Math.round(price[0]!))), ts } };
        emitted++;
      }
    } else if (emitted % fundingEvery === 0) {
      const i = rng.int(0, INSTRUMENTS.length - 1);
      const rate = BigInt(rng.int(-30_000, 30_000)); // ±0.0003 in 1e-8 units
      yield { event: { type: "funding", symbol: INSTRUMENTS[i]!.symbol, rate: fmt(rate, 8), ts } };
    } else if (r < 0.985 && names.length >= 2) {
      const i = rng.int(0, INSTRUMENTS.length - 1);
      const inst = INSTRUMENTS[i]!;
      const b = rng.int(0, names.length - 1);
      let sIdx = rng.int(0, names.length - 2);
      if (sIdx >= b) sIdx++;
      const bust = (a: number): boolean => equityOf(a) < capital[a]! * 0.2;
      if (bust(b) || bust(sIdx)) {
        // A bust trader tops up sometimes (and is then wiped clean in the picture); else the tape skips them.
        const a = bust(b) ? b : sIdx;
        if (rng.chance(0.05)) {
          yield { event: { type: "deposit", id: `d${id++}`, account: names[a]!, asset: "USDT", amount: String(capital[a]!), ts } };
          cash[a] = capital[a]!;
          size[a] = INSTRUMENTS.map(() => 0);
          entryPx[a] = INSTRUMENTS.map(() => 0);
          emitted++;
        }
        continue;
      }
      const px = price[i]! * (1 + (rng.float() - 0.5) * 0.001);
      // Size: a fraction of the poorer side's estimated equity times a leverage-ish factor;
      // a trader already exposed in this instrument often trades to reduce it instead.
      let budget = Math.min(equityOf(b), equityOf(sIdx)) * rng.pick([0.5, 1, 2, 3, 5]) * (calm ? 0.2 : 1);
      let buyer = b;
      let seller = sIdx;
      if (size[b]![i]! > 0 && rng.chance(0.5)) {
        [buyer, seller] = [sIdx, b];
        budget = Math.min(budget, size[b]![i]! * px);
      }
      const lots = BigInt(Math.max(1, Math.round((budget / px) * 10 ** inst.lotDecimals)));
      const ticks = BigInt(Math.max(1, Math.round(px * 10 ** inst.tickDecimals)));
      const q = Number(lots) / 10 ** inst.lotDecimals;
      fill(buyer, i, q, px);
      fill(seller, i, -q, px);
      yield {
        event: {
          type: "trade", id: `t${id++}`, symbol: inst.symbol, price: fmt(ticks, inst.tickDecimals), qty: fmt(lots, inst.lotDecimals),
          buyer: names[buyer]!, seller: names[seller]!, taker: rng.chance(0.5) ? "buyer" : "seller", ts,
        },
      };
    } else {
      const a = rng.int(0, names.length - 1);
      const amount = Math.max(1, Math.round(Math.max(0, equityOf(a)) * rng.float() * 0.3));
      cash[a] = cash[a]! - amount;
      yield { event: { type: "withdraw", id: `w${id++}`, account: names[a]!, asset: "USDT", amount: String(amount), ts } };
    }
    emitted++;
  }
}

/** The generated market as NDJSON text lines. */
export function* generateMarketLines(opts: MarketOptions): Generator<string> {
  for (const line of generateMarket(opts)) yield "raw" in line ? line.raw : JSON.stringify(line.event);
}
