// Order-flow market: the same world as generate.ts (assets, instruments with tiers, a mark
// path with gaps and a crash, funding, collateral moves, withdrawals, a few bad lines), but
// trading happens through the book: market makers quote ladders around the mark and re-quote
// (order.replace) as it moves, takers send IOC and market orders sized from their equity,
// post passive orders and cancel or move them, and close with reduce-only orders. In the
// crash the makers keep quoting, wider and thinner, so liquidations find bids and
// @insurance unwinds through the book. Same seed ⇒ same lines.
//
// The traders see the exchange: the generator applies every line it emits to its own Core
// (the same pipeline `mmc process` runs) and decides from what the exchange reports — which
// quotes still rest, positions, balances, the touch. Deterministic, so processing the log
// later reproduces exactly what the traders saw. Makers quote post-only inside the real
// touch, so their quotes are rarely refused; takers size well within their equity.
import { validateEvent } from "../events/schema.js";
import type { OrderCommand } from "../matching/engine.js";
import type { Side } from "../matching/types.js";
import { Core } from "../pipeline.js";
import { Prng } from "../util/prng.js";
import type { GeneratedLine, MarketOptions, WireEvent } from "./generate.js";

interface Spec {
  readonly symbol: string;
  readonly tickDecimals: number;
  readonly lotDecimals: number;
  readonly startPrice: number;
  readonly volatility: number;
  readonly tiers: { maxNotional: string; mmr: string; maxLeverage: number }[];
  /** A market maker's quote size at the touch, in price units of notional. */
  readonly quoteNotional: number;
}

const SPECS: readonly Spec[] = [
  {
    symbol: "BTC-PERP", tickDecimals: 1, lotDecimals: 3, startPrice: 50_000, volatility: 0.002, quoteNotional: 20_000,
    tiers: [
      { maxNotional: "50000", mmr: "0.004", maxLeverage: 125 },
      { maxNotional: "250000", mmr: "0.005", maxLeverage: 100 },
      { maxNotional: "1000000", mmr: "0.01", maxLeverage: 50 },
      { maxNotional: "5000000", mmr: "0.025", maxLeverage: 20 },
    ],
  },
  {
    symbol: "ETH-PERP", tickDecimals: 2, lotDecimals: 2, startPrice: 3_000, volatility: 0.0025, quoteNotional: 10_000,
    tiers: [
      { maxNotional: "25000", mmr: "0.005", maxLeverage: 100 },
      { maxNotional: "200000", mmr: "0.0075", maxLeverage: 75 },
      { maxNotional: "1000000", mmr: "0.015", maxLeverage: 40 },
    ],
  },
  {
    symbol: "SOL-PERP", tickDecimals: 3, lotDecimals: 1, startPrice: 150, volatility: 0.004, quoteNotional: 4_000,
    tiers: [
      { maxNotional: "10000", mmr: "0.01", maxLeverage: 50 },
      { maxNotional: "100000", mmr: "0.02", maxLeverage: 25 },
      { maxNotional: "500000", mmr: "0.05", maxLeverage: 10 },
    ],
  },
];

/** Quote levels per side per maker and instrument, and their spacing (basis points). */
const LEVELS = 4;
const HALF_SPREAD_BPS = 4;
const STEP_BPS = 6;
function fmt(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const s = (neg ? -units : units).toString().padStart(decimals + 1, "0");
  const out = decimals === 0 ? s : `${s.slice(0, s.length - decimals)}.${s.slice(s.length - decimals)}`;
  return neg ? `-${out}` : out;
}

interface Trader {
  readonly name: string;
  readonly capital: number;
}

/** The order-flow market, unbounded: generateMarket (its `orderFlow` mode) cuts it at `opts.events`. */
export function* orderFlowRaw(opts: MarketOptions): Generator<GeneratedLine> {
  if (opts.accounts < 2) throw new RangeError("generateOrderFlow: at least 2 accounts");
  const rng = new Prng(opts.seed);
  const crashAt = Math.floor((opts.crashAt ?? 0.6) * opts.events);
  const crashEvents = Math.max(1, opts.crashEvents ?? Math.floor(opts.events / 50));
  const crashDepth = opts.crashDepth ?? 0.3;
  const badLineRate = opts.badLineRate ?? 0.001;
  const fundingEvery = opts.fundingEvery ?? Math.max(100, Math.floor(opts.events / 20));
  const makers = Math.max(2, Math.min(6, Math.round(opts.accounts * 0.03)));
  const takerCount = Math.max(1, opts.accounts - makers);
  let ts = 1_767_225_600_000;
  let nextId = 0;
  let emitted = 0;

  // The exchange as the traders see it.
  const core = new Core({ keepHistory: false });
  const state = core.state;
  const price = SPECS.map((s) => s.startPrice);
  const makerList: Trader[] = [];
  const takers: Trader[] = [];
  /** Makers' ladders: quotes[maker][instrument][side][level] = order id or null. */
  const quotes: (string | null)[][][][] = [];
  /** Takers' passive orders that may still rest: [trader, instrument, id]. */
  const passive: [Trader, number, string][] = [];

  /** Emits a line and applies it to the traders' view of the exchange. */
  const emit = (e: WireEvent): GeneratedLine => {
    const event = { ...e, ts };
    const v = validateEvent(JSON.parse(JSON.stringify(event)));
    core.apply(v.ok ? { kind: "event", event: v.event } : { kind: "raw", raw: JSON.stringify(event) });
    return { event };
  };
  const ticksOf = (i: number, px: number): bigint => BigInt(Math.max(1, Math.round(px * 10 ** SPECS[i]!.tickDecimals)));
  const lotsOf = (i: number, units: number): bigint => BigInt(Math.max(1, Math.round(units * 10 ** SPECS[i]!.lotDecimals)));
  const book = (i: number) => state.books.engine.book(SPECS[i]!.symbol)!;
  const rests = (i: number, account: string, id: string | null): boolean => id !== null && book(i).order(account, id) !== undefined;
  /** Signed position in units of the instrument. */
  const held = (t: Trader, i: number): number => {
    const q = state.accounts.get(t.name)?.positions.get(SPECS[i]!.symbol)?.qtyLots ?? 0n;
    return Number(q) / 10 ** SPECS[i]!.lotDecimals;
  };
  const leverageOf = (t: Trader, i: number): number => {
    const inst = state.instruments.get(SPECS[i]!.symbol)!;
    return state.accounts.get(t.name)?.positions.get(inst.symbol)?.leverage ?? Math.min(10, inst.tiers[0]!.maxLeverage);
  };
  /** Settlement balance plus isolated margins plus unrealized PnL, in USDT (sizing only). */
  const equityOf = (t: Trader): number => {
    const a = state.accounts.get(t.name);
    if (a === undefined) return 0;
    let minor = a.balances.get("USDT") ?? 0n;
    for (const p of a.positions.values()) {
      const inst = state.instruments.get(p.symbol)!;
      minor += p.isolatedMarginMinor + inst.kMinor * (p.qtyLots * inst.markTicks - p.costLotTicks);
    }
    return Number(minor) / 1e6;
  };
  /**
   * Whether the pre-trade check (docs/matching.md) will pass with room to spare: equity less
   * the positions' IM, the resting orders' charges (IM at their price plus the open loss
   * against the mark) and the new order's, keeping a tenth of the equity free.
   */
  const affords = (t: Trader, i: number, side: Side, units: number, px: number): boolean => {
    const eq = equityOf(t);
    let used = 0;
    for (let x = 0; x < SPECS.length; x++) {
      const sx = SPECS[x]!;
      const lev = leverageOf(t, x);
      used += (Math.abs(held(t, x)) * price[x]!) / lev;
      book(x).accountOrders(t.name, (o) => {
        const opx = o.price / 10 ** sx.tickDecimals;
        const q = o.qty / 10 ** sx.lotDecimals;
        used += (q * opx) / lev + q * Math.max(0, (o.side === "buy" ? 1 : -1) * (opx - price[x]!));
      });
    }
    used += (units * px) / leverageOf(t, i) + units * Math.max(0, (side === "buy" ? 1 : -1) * (px - price[i]!));
    return eq - used >= eq * 0.1;
  };
  const wire = (i: number, cmd: OrderCommand): WireEvent => {
    const spec = SPECS[i]!;
    const w: WireEvent = { type: cmd.type, symbol: cmd.symbol, id: cmd.id, account: cmd.account };
    if (cmd.type === "order.new") {
      w.side = cmd.side;
      if (cmd.orderType === "market") w.orderType = "market";
      if (cmd.price !== undefined) w.price = fmt(BigInt(cmd.price), spec.tickDecimals);
      w.qty = fmt(BigInt(cmd.qty), spec.lotDecimals);
      if (cmd.tif !== "GTC") w.tif = cmd.tif;
      if (cmd.reduceOnly === true) w.reduceOnly = true;
      if (cmd.stp !== undefined && cmd.stp !== "cancel-taker") w.stp = cmd.stp;
    } else if (cmd.type === "order.replace") {
      if (cmd.price !== undefined) w.price = fmt(BigInt(cmd.price), spec.tickDecimals);
      if (cmd.qty !== undefined) w.qty = fmt(BigInt(cmd.qty), spec.lotDecimals);
    }
    return w;
  };
  const mark = (i: number): WireEvent => ({ type: "mark", symbol: SPECS[i]!.symbol, price: fmt(ticksOf(i, price[i]!), SPECS[i]!.tickDecimals) });

  // ---- setup
  const setup: WireEvent[] = [
    { type: "asset", asset: "USDT", decimals: 6, settlement: true },
    { type: "asset", asset: "BTC", decimals: 8, haircut: "0.1" },
    { type: "collateral.price", asset: "BTC", price: "50000" },
  ];
  for (const s of SPECS) {
    setup.push({
      type: "instrument", symbol: s.symbol, tickSize: fmt(1n, s.tickDecimals), lotSize: fmt(1n, s.lotDecimals),
      tiers: s.tiers, makerFee: "-0.0001", takerFee: "0.0005", liquidationFee: "0.005", insuranceShare: "0.5",
    });
  }
  setup.push({ type: "deposit", id: `d${nextId++}`, account: "@insurance", asset: "USDT", amount: "250000" });
  for (let i = 0; i < SPECS.length; i++) setup.push(mark(i));
  for (let m = 0; m < makers; m++) {
    const t: Trader = { name: `mm-${String(m).padStart(2, "0")}`, capital: 3_000_000 };
    makerList.push(t);
    quotes.push(SPECS.map(() => [new Array<string | null>(LEVELS).fill(null), new Array<string | null>(LEVELS).fill(null)]));
    setup.push({ type: "deposit", id: `d${nextId++}`, account: t.name, asset: "USDT", amount: String(t.capital) });
    setup.push({ type: "leverage", account: t.name, symbol: SPECS[0]!.symbol, leverage: 20 });
  }
  for (const e of setup) {
    yield emit(e);
    emitted++;
  }
  const openTaker = function* (): Generator<GeneratedLine> {
    const t: Trader = { name: `acct-${String(takers.length).padStart(5, "0")}`, capital: Math.round(500 * Math.exp(rng.float() * 5)) };
    takers.push(t);
    yield emit({ type: "deposit", id: `d${nextId++}`, account: t.name, asset: "USDT", amount: String(t.capital) });
    if (rng.chance(0.2)) yield emit({ type: "deposit", id: `d${nextId++}`, account: t.name, asset: "BTC", amount: fmt(BigInt(rng.int(1_000_000, 50_000_000)), 8) });
    for (let i = 0; i < SPECS.length; i++) {
      if (rng.chance(0.3)) yield emit({ type: "margin.mode", account: t.name, symbol: SPECS[i]!.symbol, mode: "isolated" });
      if (rng.chance(0.6)) yield emit({ type: "leverage", account: t.name, symbol: SPECS[i]!.symbol, leverage: rng.pick([2, 3, 5, 10, 20, 25]) });
    }
  };
  for (let a = 0; a < Math.min(2, takerCount); a++) {
    for (const line of openTaker()) {
      yield line;
      emitted++;
    }
  }

  /**
   * One maker re-centres its ladder in instrument i, post-only and never through the other
   * side's touch (then it steps behind it): replace what rests, place what does not. Inventory
   * skews the ladder; in the crash it is twice as wide and half as deep.
   */
  const requote = function* (m: number, i: number, stressed: boolean): Generator<GeneratedLine> {
    const t = makerList[m]!;
    const spec = SPECS[i]!;
    const skew = Math.max(-1, Math.min(1, (held(t, i) * price[i]!) / (spec.quoteNotional * LEVELS * 2)));
    for (const sideIx of [0, 1] as const) {
      const side: Side = sideIx === 0 ? "buy" : "sell";
      for (let j = 0; j < LEVELS; j++) {
        const bps = (HALF_SPREAD_BPS + j * STEP_BPS) * (stressed ? 2 : 1) + skew * 3 * (side === "buy" ? 1 : -1);
        const px = price[i]! * (1 + ((side === "buy" ? -1 : 1) * bps) / 10_000);
        const qtyUnits = (spec.quoteNotional * (stressed ? 0.5 : 1) * (1 + j * 0.5) * (0.8 + rng.float() * 0.4)) / price[i]!;
        let ticks = Number(ticksOf(i, px));
        const id = quotes[m]![i]![sideIx]![j]!;
        const alive = rests(i, t.name, id);
        const touch = side === "buy" ? book(i).bestAsk() : book(i).bestBid();
        if (touch !== null) ticks = side === "buy" ? Math.min(ticks, touch - 1 - j) : Math.max(ticks, touch + 1 + j);
        if (ticks < 1) continue;
        const lots = Number(lotsOf(i, qtyUnits));
        if (alive) {
          yield emit(wire(i, { type: "order.replace", symbol: spec.symbol, account: t.name, id: id!, price: ticks, qty: lots }));
        } else {
          const fresh = `q${nextId++}`;
          quotes[m]![i]![sideIx]![j] = fresh;
          yield emit(wire(i, { type: "order.new", symbol: spec.symbol, id: fresh, account: t.name, side, orderType: "limit", price: ticks, qty: lots, tif: "POST_ONLY" }));
        }
      }
    }
  };
  for (let m = 0; m < makers; m++) {
    for (let i = 0; i < SPECS.length; i++) {
      for (const line of requote(m, i, false)) {
        yield line;
        emitted++;
      }
    }
  }

  let crashStep = 0;
  while (emitted < opts.events) {
    ts += rng.int(1, 250);
    if (takers.length < takerCount && rng.chance(Math.min(0.05, (takerCount * 4) / opts.events))) {
      for (const line of openTaker()) {
        yield line;
        emitted++;
      }
      continue;
    }
    if (rng.chance(badLineRate)) {
      const raw = rng.pick(['{"type":"order.new","symbol":', '{"type":"order.new","symbol":"BTC-PERP","id":"x","account":"a","side":"up","qty":"1"}', '{"type":"teleport"}', "[1,2,3]"]);
      core.apply({ kind: "raw", raw });
      yield { raw };
      emitted++;
      continue;
    }
    const r = rng.float();
    const inCrash = emitted >= crashAt && crashStep < crashEvents;
    if (inCrash && r < 0.3) {
      // The crash: every instrument gaps down; makers follow, wider and thinner; takers dump.
      crashStep++;
      const step = Math.pow(1 - crashDepth, 1 / crashEvents);
      for (let i = 0; i < SPECS.length; i++) {
        price[i] = price[i]! * step * (1 + (rng.float() - 0.5) * 0.002);
        yield emit(mark(i));
        emitted++;
        for (const line of requote(rng.int(0, makers - 1), i, true)) {
          yield line;
          emitted++;
        }
      }
      yield emit({ type: "collateral.price", asset: "BTC", price: String(Math.max(1, Math.round(price[0]!))) });
      emitted++;
      continue;
    }
    if (r < 0.2) {
      // Mark move; one maker re-quotes the instrument.
      const i = rng.int(0, SPECS.length - 1);
      const gap = rng.chance(0.01) ? (rng.float() - 0.6) * 0.06 : 0;
      price[i] = price[i]! * (1 + (rng.float() - 0.5) * 2 * SPECS[i]!.volatility + gap);
      yield emit(mark(i));
      emitted++;
      if (i === 0 && rng.chance(0.2)) {
        yield emit({ type: "collateral.price", asset: "BTC", price: String(Math.max(1, Math.round(price[0]!))) });
        emitted++;
      }
      for (const line of requote(rng.int(0, makers - 1), i, inCrash)) {
        yield line;
        emitted++;
      }
      continue;
    }
    if (emitted % fundingEvery === 0) {
      const i = rng.int(0, SPECS.length - 1);
      yield emit({ type: "funding", symbol: SPECS[i]!.symbol, rate: fmt(BigInt(rng.int(-30_000, 30_000)), 8) });
      emitted++;
      continue;
    }
    if (takers.length === 0) continue;
    const t = takers[rng.int(0, takers.length - 1)]!;
    const i = rng.int(0, SPECS.length - 1);
    const spec = SPECS[i]!;
    const sym = spec.symbol;
    const eq = equityOf(t);
    if (eq < t.capital * 0.2) {
      // Bust (liquidated, or close to it): it tops up now and then.
      if (rng.chance(0.03)) {
        yield emit({ type: "deposit", id: `d${nextId++}`, account: t.name, asset: "USDT", amount: String(t.capital) });
        emitted++;
      }
      continue;
    }
    if (r < 0.62) {
      // Aggressive: IOC/FOK limit a little through the mark, or market; sometimes a reduce-only close.
      const pos = held(t, i);
      const closing = pos !== 0 && rng.chance(inCrash ? 0.6 : 0.3);
      const side: Side = closing ? (pos > 0 ? "sell" : "buy") : inCrash && rng.chance(0.7) ? "sell" : rng.chance(0.5) ? "buy" : "sell";
      const units = closing ? Math.abs(pos) * rng.pick([0.5, 1]) : (Math.max(0, eq) * rng.pick([0.1, 0.2, 0.4, 0.8]) * Math.min(leverageOf(t, i), 10) * 0.5) / price[i]!;
      if (units * price[i]! < 1) continue;
      if (!closing && !affords(t, i, side, units, price[i]! * (1 + (side === "buy" ? 1 : -1) * 0.01))) continue;
      const lots = Number(lotsOf(i, units));
      const id = `o${nextId++}`;
      const cmd: OrderCommand = rng.chance(0.25)
        ? { type: "order.new", symbol: sym, id, account: t.name, side, orderType: "market", qty: lots, tif: "IOC", reduceOnly: closing }
        : {
            type: "order.new", symbol: sym, id, account: t.name, side, orderType: "limit",
            price: Number(ticksOf(i, price[i]! * (1 + (side === "buy" ? 1 : -1) * 0.002))), qty: lots, tif: rng.chance(0.1) ? "FOK" : "IOC", reduceOnly: closing,
          };
      yield emit(wire(i, cmd));
    } else if (r < 0.8) {
      // Passive: a GTC or post-only order near the touch.
      const side: Side = rng.chance(0.5) ? "buy" : "sell";
      const px = price[i]! * (1 + (side === "buy" ? -1 : 1) * ((1 + rng.int(0, 30)) / 10_000));
      const units = (Math.max(0, eq) * rng.pick([0.1, 0.2, 0.4]) * Math.min(leverageOf(t, i), 10) * 0.3) / price[i]!;
      if (units * price[i]! < 1 || !affords(t, i, side, units, px)) continue;
      const id = `o${nextId++}`;
      yield emit(wire(i, {
        type: "order.new", symbol: sym, id, account: t.name, side, orderType: "limit", price: Number(ticksOf(i, px)),
        qty: Number(lotsOf(i, units)), tif: rng.chance(0.3) ? "POST_ONLY" : "GTC", stp: rng.pick(["cancel-taker", "cancel-maker", "cancel-both"] as const),
      }));
      if (rests(i, t.name, id)) passive.push([t, i, id]);
      if (passive.length > 4 * takerCount) passive.splice(0, passive.length - 4 * takerCount);
    } else if (r < 0.95 && passive.length > 0) {
      // Cancel or move a passive order; one that is gone is sometimes cancelled anyway (late).
      const k = rng.int(0, passive.length - 1);
      const [owner, pi, id] = passive[k]!;
      const ps = SPECS[pi]!;
      const gone = !rests(pi, owner.name, id);
      if (gone) {
        passive.splice(k, 1);
        if (rng.chance(0.9)) continue;
      }
      if (gone || rng.chance(0.5)) {
        if (!gone) passive.splice(k, 1);
        yield emit(wire(pi, { type: "order.cancel", symbol: ps.symbol, account: owner.name, id }));
      } else {
        const o = book(pi).order(owner.name, id)!;
        const px = price[pi]! * (1 + (o.side === "buy" ? -1 : 1) * ((1 + rng.int(0, 20)) / 10_000));
        const change = rng.chance(0.5) ? { price: Number(ticksOf(pi, px)) } : { qty: Math.max(1, Math.round(o.qty * rng.pick([0.5, 1.5]))) };
        yield emit(wire(pi, { type: "order.replace", symbol: ps.symbol, account: owner.name, id, ...change }));
      }
    } else {
      const amount = Math.max(1, Math.round(Math.max(0, eq) * rng.float() * 0.2));
      yield emit({ type: "withdraw", id: `w${nextId++}`, account: t.name, asset: "USDT", amount: String(amount) });
    }
    emitted++;
  }
}
