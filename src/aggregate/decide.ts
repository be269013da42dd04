// decide: (state, event) → effects, or a rejection. Pure: reads the state (and current margin
// figures through MarginView), never writes it. SPEC §4 fills, §6 funding, §8 rules.
import type {
  AssetEvent, DepositEvent, FundingEvent, InputEvent, InstrumentEvent, LeverageEvent, MarginModeEvent,
  MarginTransferEvent, MarkEvent, CollateralPriceEvent, OrderEvent, TradeEvent, WithdrawEvent,
} from "../events/types.js";
import type { OrderCommand } from "../matching/engine.js";
import { MAX_BOOKS_PER_ENGINE, MAX_QTY_LOTS } from "../matching/types.js";
import { RejectError, type Rejection } from "../events/errors.js";
import { abs, checkI64, divCeil, divFloor, inI64, min, max, OverflowError, RATE_SCALE, I64_MAX } from "../numbers/int.js";
import { decimalToString } from "../numbers/decimal.js";
import type { Effect, InstrumentParams, PositionValues } from "./effects.js";
import { Draft } from "./draft.js";
import { collateralValueMinor } from "./collateral.js";
import { DEFAULT_LEVERAGE, FEES, INSURANCE, type Instrument, type State, type Tier } from "./state.js";
import { fail, toLots, toMinor, toRateE8, toTicks } from "./units.js";

/** Current margin figures, as the margin engine computes them (SPEC §3). */
export interface MarginView {
  /** Cross equity and initial margin of an account (0/0 for an unknown account). */
  cross(account: string): { equityMinor: bigint; imMinor: bigint };
  /** Isolated equity (m + U) and initial margin of a position. */
  isolated(account: string, symbol: string): { equityMinor: bigint; imMinor: bigint };
  /**
   * What the account's open orders need from its cross wallet (docs/matching.md "Pre-trade
   * risk": Σ cross-symbol order charges + Σ isolated-symbol needs); 0 without orders.
   */
  openOrderMargin?(account: string): bigint;
}

/**
 * Effects, plus for an order event the book operation the pipeline runs inside the event's
 * transaction (its trades then apply like `trade` events).
 */
export type Decision = { ok: true; effects: Effect[]; order?: OrderCommand } | { ok: false; rejection: Rejection };

export function decide(state: State, event: InputEvent, margin: MarginView): Decision {
  try {
    if (event.type === "order.new" || event.type === "order.cancel" || event.type === "order.replace") {
      return { ok: true, effects: [], order: decideOrder(state, event) };
    }
    return { ok: true, effects: decideOrThrow(state, event, margin) };
  } catch (err) {
    if (err instanceof RejectError) return { ok: false, rejection: err.rejection };
    if (err instanceof OverflowError) {
      return { ok: false, rejection: { code: "E_OVERFLOW", message: err.message } };
    }
    throw err;
  }
}

function decideOrThrow(state: State, e: Exclude<InputEvent, OrderEvent>, margin: MarginView): Effect[] {
  switch (e.type) {
    case "asset": return decideAsset(state, e);
    case "instrument": return decideInstrument(state, e);
    case "deposit": return decideDeposit(state, e);
    case "withdraw": return decideWithdraw(state, e, margin);
    case "leverage": return decideLeverage(state, e);
    case "margin.mode": return decideMarginMode(state, e);
    case "margin.transfer": return decideTransfer(state, e, margin);
    case "trade": return decideTrade(state, e);
    case "mark": return decideMark(state, e);
    case "collateral.price": return decideCollateralPrice(state, e);
    case "funding": return decideFunding(state, e);
  }
}

// ---------------------------------------------------------------- reference data

function decideAsset(state: State, e: AssetEvent): Effect[] {
  const haircutE8 = toRateE8(e.haircut, "haircut", 0n, RATE_SCALE);
  if (e.settlement && haircutE8 !== 0n) fail("E_ASSET", "haircut", "the settlement asset has haircut 0");
  if (e.settlement && state.settlementAsset !== null && state.settlementAsset !== e.asset) {
    fail("E_ASSET", "settlement", `the settlement asset is already ${state.settlementAsset} (one per deployment)`);
  }
  const old = state.assets.get(e.asset);
  if (old !== undefined) {
    if (old.decimals !== e.decimals) fail("E_ASSET", "decimals", `cannot change decimals of ${e.asset} (${old.decimals})`);
    if (old.settlement !== e.settlement) fail("E_ASSET", "settlement", `cannot change whether ${e.asset} is the settlement asset`);
  }
  return [{ t: "asset", asset: { name: e.asset, decimals: e.decimals, haircutE8, settlement: e.settlement } }];
}

function decideInstrument(state: State, e: InstrumentEvent): Effect[] {
  const s = state.settlementAsset === null ? undefined : state.assets.get(state.settlementAsset);
  if (s === undefined) fail("E_INSTRUMENT", "symbol", "define the settlement asset before instruments");
  if (e.tickSize.mantissa <= 0n) fail("E_RANGE", "tickSize", "must be positive");
  if (e.lotSize.mantissa <= 0n) fail("E_RANGE", "lotSize", "must be positive");
  // k = tickSize · lotSize · 10^decimals must be a positive integer (SPEC §2).
  const kNum = e.tickSize.mantissa * e.lotSize.mantissa * 10n ** BigInt(s.decimals);
  const kDen = 10n ** BigInt(e.tickSize.scale + e.lotSize.scale);
  if (kNum % kDen !== 0n) {
    fail("E_INSTRUMENT", "tickSize", `tickSize × lotSize × 10^${s.decimals} = ${decimalToString({ mantissa: kNum, scale: e.tickSize.scale + e.lotSize.scale - s.decimals })} is not a positive integer`);
  }
  const kMinor = kNum / kDen;
  if (kMinor > I64_MAX) fail("E_OVERFLOW", "tickSize", "k overflows the 64-bit representation");
  const tiers: Tier[] = [];
  let prev: Tier | undefined;
  for (let i = 0; i < e.tiers.length; i++) {
    const t = e.tiers[i]!;
    const maxNotionalMinor = toMinor(t.maxNotional, s.decimals, `tiers[${i}].maxNotional`);
    if (maxNotionalMinor <= 0n) fail("E_RANGE", `tiers[${i}].maxNotional`, "must be positive");
    const mmrE8 = toRateE8(t.mmr, `tiers[${i}].mmr`, 0n, RATE_SCALE);
    let cumMinor = 0n;
    if (prev !== undefined) {
      if (maxNotionalMinor <= prev.maxNotionalMinor) fail("E_INSTRUMENT", `tiers[${i}].maxNotional`, "tiers must be in increasing maxNotional");
      if (mmrE8 < prev.mmrE8) fail("E_INSTRUMENT", `tiers[${i}].mmr`, "mmr must not decrease from tier to tier");
      // cum_n = cum_{n−1} + floor(maxNotional_{n−1} · (mmr_n − mmr_{n−1})) — floor (SPEC §2).
      cumMinor = checkI64(prev.cumMinor + divFloor(prev.maxNotionalMinor * (mmrE8 - prev.mmrE8), RATE_SCALE), `tiers[${i}] maintenance amount`);
    }
    const tier = { maxNotionalMinor, mmrE8, maxLeverage: t.maxLeverage, cumMinor };
    tiers.push(tier);
    prev = tier;
  }
  const params: InstrumentParams = {
    symbol: e.symbol,
    tickSize: e.tickSize,
    lotSize: e.lotSize,
    kMinor,
    tiers,
    makerFeeE8: toRateE8(e.makerFee, "makerFee", -RATE_SCALE, RATE_SCALE),
    takerFeeE8: toRateE8(e.takerFee, "takerFee", -RATE_SCALE, RATE_SCALE),
    liquidationFeeE8: toRateE8(e.liquidationFee, "liquidationFee", 0n, RATE_SCALE),
    insuranceShareE8: toRateE8(e.insuranceShare, "insuranceShare", 0n, RATE_SCALE),
  };
  const old = state.instruments.get(e.symbol);
  if (old === undefined && state.instruments.size >= MAX_BOOKS_PER_ENGINE) {
    fail("E_RANGE", "symbol", `at most ${MAX_BOOKS_PER_ENGINE} instruments (one order book each)`);
  }
  if (old !== undefined && old.kMinor !== kMinor) {
    fail("E_INSTRUMENT", "tickSize", `cannot change the contract size of ${e.symbol} (tickSize × lotSize)`);
  }
  if (old !== undefined && (decimalToString(old.tickSize) !== decimalToString(e.tickSize) || decimalToString(old.lotSize) !== decimalToString(e.lotSize))) {
    fail("E_INSTRUMENT", "tickSize", `cannot change tickSize or lotSize of ${e.symbol}`);
  }
  return [{ t: "instrument", params }];
}

// ---------------------------------------------------------------- funds

/** Rejects an id already applied. */
function checkNotDuplicate(state: State, type: string, id: string): void {
  if (state.seenIds.hasId(type, id)) fail("E_DUPLICATE", "id", `${type} ${JSON.stringify(id)} was already applied`);
}

function decideDeposit(state: State, e: DepositEvent): Effect[] {
  checkNotDuplicate(state, e.type, e.id);
  const asset = state.assets.get(e.asset);
  if (asset === undefined) fail("E_UNKNOWN", "asset", `unknown asset ${e.asset}`);
  const amount = toMinor(e.amount, asset.decimals, "amount");
  if (amount <= 0n) fail("E_RANGE", "amount", "must be positive");
  const d = new Draft(state);
  d.addBalance(e.account, e.asset, amount);
  d.push({ t: "id", idType: e.type, id: e.id, seen: true });
  return d.effects();
}

function decideWithdraw(state: State, e: WithdrawEvent, margin: MarginView): Effect[] {
  checkNotDuplicate(state, e.type, e.id);
  const asset = state.assets.get(e.asset);
  if (asset === undefined) fail("E_UNKNOWN", "asset", `unknown asset ${e.asset}`);
  const account = state.accounts.get(e.account);
  if (account === undefined) fail("E_UNKNOWN", "account", `unknown account ${e.account}`);
  const amount = toMinor(e.amount, asset.decimals, "amount");
  if (amount <= 0n) fail("E_RANGE", "amount", "must be positive");
  const before = account.balances.get(e.asset) ?? 0n;
  const after = before - amount;
  if (after < 0n) fail("E_MARGIN", "amount", `would leave the ${e.asset} balance below 0`);
  const sDecimals = state.assets.get(state.settlementAsset!)?.decimals ?? 0;
  const equityDrop = collateralValueMinor(before, asset, sDecimals) - collateralValueMinor(after, asset, sDecimals);
  const cross = margin.cross(e.account);
  const orders = margin.openOrderMargin?.(e.account) ?? 0n;
  if (cross.equityMinor - equityDrop < cross.imMinor + orders) {
    fail("E_MARGIN", "amount", orders === 0n ? "would leave cross equity below initial margin" : "would leave cross equity below initial margin plus the open orders' margin");
  }
  const d = new Draft(state);
  d.setBalance(e.account, e.asset, after);
  d.push({ t: "id", idType: e.type, id: e.id, seen: true });
  return d.effects();
}

// ---------------------------------------------------------------- position settings

function instrumentOf(state: State, symbol: string): Instrument {
  const inst = state.instruments.get(symbol);
  if (inst === undefined) fail("E_UNKNOWN", "symbol", `unknown symbol ${symbol}`);
  return inst;
}

/** The tier of notional N (SPEC §3): first with N ≤ maxNotional, else the last. */
export function tierOf(inst: Instrument, notionalMinor: bigint): Tier {
  for (const t of inst.tiers) if (notionalMinor <= t.maxNotionalMinor) return t;
  return inst.tiers[inst.tiers.length - 1]!;
}

/** Default leverage of a new position: 10, or the first tier's maximum if that is lower. */
export function defaultLeverage(inst: Instrument): number {
  return Math.min(DEFAULT_LEVERAGE, inst.tiers[0]!.maxLeverage);
}

function decideLeverage(state: State, e: LeverageEvent): Effect[] {
  const inst = instrumentOf(state, e.symbol);
  const d = new Draft(state);
  const p = d.positionValues(e.account, e.symbol) ?? flatValues(defaultLeverage(inst));
  const notional = abs(p.qtyLots) * inst.markTicks * inst.kMinor;
  const tier = tierOf(inst, notional);
  if (e.leverage < 1 || e.leverage > tier.maxLeverage) {
    fail("E_LEVERAGE", "leverage", `must be within [1, ${tier.maxLeverage}] for the position's tier`);
  }
  d.setPosition(e.account, e.symbol, { qtyLots: p.qtyLots, costLotTicks: p.costLotTicks, isolatedMarginMinor: p.isolatedMarginMinor, mode: p.mode, leverage: e.leverage });
  return d.effects();
}

function decideMarginMode(state: State, e: MarginModeEvent): Effect[] {
  const inst = instrumentOf(state, e.symbol);
  const d = new Draft(state);
  const p = d.positionValues(e.account, e.symbol) ?? flatValues(defaultLeverage(inst));
  if (p.qtyLots !== 0n) fail("E_MODE", "mode", "the margin mode can change only while the position is flat");
  const s = state.settlementAsset;
  if (p.mode === "isolated" && e.mode === "cross" && p.isolatedMarginMinor !== 0n && s !== null) {
    d.addBalance(e.account, s, p.isolatedMarginMinor); // a flat isolated margin returns to B
  }
  d.setPosition(e.account, e.symbol, { qtyLots: p.qtyLots, costLotTicks: p.costLotTicks, isolatedMarginMinor: e.mode === "cross" ? 0n : p.isolatedMarginMinor, mode: e.mode, leverage: p.leverage });
  return d.effects();
}

function decideTransfer(state: State, e: MarginTransferEvent, margin: MarginView): Effect[] {
  instrumentOf(state, e.symbol);
  const s = state.assets.get(state.settlementAsset ?? "");
  if (s === undefined) fail("E_UNKNOWN", "symbol", "no settlement asset");
  const pos = state.accounts.get(e.account)?.positions.get(e.symbol);
  if (pos === undefined) fail("E_UNKNOWN", "account", `${e.account} has no position settings in ${e.symbol}`);
  if (pos.mode !== "isolated") fail("E_MODE", "symbol", `the ${e.symbol} position of ${e.account} is not isolated`);
  const amount = toMinor(e.amount, s.decimals, "amount");
  if (amount === 0n) fail("E_RANGE", "amount", "must not be zero");
  const d = new Draft(state);
  const B = d.balance(e.account, s.name);
  if (amount > 0n) {
    if (B - amount < 0n) fail("E_MARGIN", "amount", `would leave the ${s.name} balance below 0`);
    const cross = margin.cross(e.account);
    const orders = margin.openOrderMargin?.(e.account) ?? 0n;
    if (cross.equityMinor - amount < cross.imMinor + orders) {
      fail("E_MARGIN", "amount", orders === 0n ? "would leave cross equity below initial margin" : "would leave cross equity below initial margin plus the open orders' margin");
    }
  } else {
    if (pos.isolatedMarginMinor + amount < 0n) fail("E_MARGIN", "amount", "would leave the isolated margin below 0");
    const iso = margin.isolated(e.account, e.symbol);
    if (iso.equityMinor + amount < iso.imMinor) fail("E_MARGIN", "amount", "would leave isolated equity below the position's initial margin");
  }
  d.setBalance(e.account, s.name, B - amount);
  const p = d.positionValues(e.account, e.symbol)!; // pos, or the draft's write of it
  d.setPosition(e.account, e.symbol, withValues(p, p.qtyLots, p.costLotTicks, pos.isolatedMarginMinor + amount));
  return d.effects();
}

// ---------------------------------------------------------------- fills (SPEC §4)

/**
 * Fee of one side: pays ceil(N·f) for f ≥ 0, receives floor(N·|f|) for f < 0. Signed delta to
 * the payer. Both are floor(−N·f) (−ceil(x) = floor(−x)), taken as −ceil(m/1e8) of m = N·f:
 * for m ≥ 0 ceil(m/1e8) = trunc((m + 1e8 − 1)/1e8), for m < 0 it is trunc(m/1e8) (BigInt `/`
 * truncates toward zero). Three BigInt operations where divCeil/divFloor take five.
 */
export function feeDeltaMinor(notionalMinor: bigint, rateE8: bigint): bigint {
  if (rateE8 === 0n) return 0n;
  const m = notionalMinor * rateE8;
  return m >= 0n ? -((m + RATE_SCALE_LESS_1) / RATE_SCALE) : -(m / RATE_SCALE);
}

const RATE_SCALE_LESS_1 = RATE_SCALE - 1n;

function decideTrade(state: State, e: TradeEvent): Effect[] {
  checkNotDuplicate(state, e.type, e.id);
  const inst = instrumentOf(state, e.symbol);
  const price = toTicks(e.price, inst, "price");
  const qty = toLots(e.qty, inst, "qty");
  return tradeEffects(state, inst, price, qty, e.buyer, e.seller, e.taker, e.id);
}

/**
 * A fill (SPEC §4): buyer leg, seller leg, fees by the taker side to @fees, the first trade's
 * price as the mark, the id (external trades only), notes of insurance covers. The one path
 * for external `trade` events and the book's own trades. Throws OverflowError (E_OVERFLOW).
 */
export function tradeEffects(
  state: State, inst: Instrument, price: bigint, qty: bigint, buyer: string, seller: string, taker: "buyer" | "seller", tradeIdOrNull: string | null,
): Effect[] {
  const s = state.settlementAsset!;
  const notional = qty * price * inst.kMinor;
  if (BigInt.asIntN(64, notional) !== notional) checkI64(notional, "trade notional"); // throws
  const buyerFee = feeDeltaMinor(notional, taker === "buyer" ? inst.takerFeeE8 : inst.makerFeeE8);
  const sellerFee = feeDeltaMinor(notional, taker === "seller" ? inst.takerFeeE8 : inst.makerFeeE8);
  const d = new Draft(state);
  applyLeg(d, inst, s, buyer, qty, price, buyerFee);
  applyLeg(d, inst, s, seller, -qty, price, sellerFee);
  d.addBalance(FEES, s, -(buyerFee + sellerFee), "fee pool balance");
  if (inst.markTicks === 0n) d.push({ t: "mark", symbol: inst.symbol, ticks: price });
  if (tradeIdOrNull !== null) d.push({ t: "id", idType: "trade", id: tradeIdOrNull, seen: true });
  if (d.covers !== null) for (const c of d.covers) d.push({ t: "cover", ...c });
  return d.effects();
}

// ---------------------------------------------------------------- orders

const QTY_LOTS_MAX = BigInt(MAX_QTY_LOTS);

/** An order quantity as lots the book can hold (1..2^53−1). */
function orderLots(d: Parameters<typeof toLots>[0], inst: Instrument, field: string): number {
  const lots = toLots(d, inst, field);
  if (lots > QTY_LOTS_MAX) fail("E_RANGE", field, "exceeds 2^53-1 lots");
  return Number(lots);
}

/**
 * An order event → the book command (ticks and lots). Everything stateful — duplicate ids,
 * reduce-only, book limits, post-only, FOK, the pre-trade margin check — is the book's
 * (with the aggregate's RiskHooks), run by the pipeline inside the event's transaction.
 */
function decideOrder(state: State, e: OrderEvent): OrderCommand {
  const inst = instrumentOf(state, e.symbol);
  if (state.settlementAsset === null) fail("E_UNKNOWN", "symbol", "no settlement asset");
  if (e.type === "order.cancel") return { type: "order.cancel", symbol: e.symbol, account: e.account, id: e.id };
  const price = e.price === undefined ? undefined : Number(toTicks(e.price, inst, "price"));
  if (e.type === "order.replace") {
    const qty = e.qty === undefined ? undefined : orderLots(e.qty, inst, "qty");
    return {
      type: "order.replace", symbol: e.symbol, account: e.account, id: e.id,
      ...(price === undefined ? {} : { price }), ...(qty === undefined ? {} : { qty }),
    };
  }
  const base = {
    type: "order.new" as const, symbol: e.symbol, id: e.id, account: e.account, side: e.side, orderType: e.orderType,
    qty: orderLots(e.qty, inst, "qty"), tif: e.tif, reduceOnly: e.reduceOnly, stp: e.stp,
  };
  return price === undefined ? base : { ...base, price };
}

/**
 * One leg of a fill (SPEC §4), in this order: the position change (increase, or reduce with
 * realized PnL), the fee, the return of a flat isolated margin to B, then any remainder that
 * opens a position the other way (with isolated auto-margin). Exported for the liquidation
 * engine, which moves positions with fee 0.
 *
 * Every BigInt operation is a call and most allocate, so the signs are branched on rather than
 * multiplied in (buying: dLots > 0; a reduction has q of the other sign), |q| and |dLots| are
 * taken once, and a reduction that closes the position removes all of its cost (exactly
 * cost·|q|/|q|, the general formula's value). Same values as the formulas in the comments.
 */
export function applyLeg(d: Draft, inst: Instrument, s: string, account: string, dLots: bigint, price: bigint, feeDelta: bigint): void {
  const symbol = inst.symbol;
  const p = d.positionValues(account, symbol) ?? flatValues(defaultLeverage(inst));
  const isolated = p.mode === "isolated";
  const q = p.qtyLots;
  const buying = dLots > 0n;
  let remainder = 0n; // lots left to open the other way, ≥ 0
  if (q === 0n || (q > 0n) === buying) {
    // Increase: q + dLots, cost + dLots·price.
    d.setPosition(account, symbol, withValues(p, q + dLots, p.costLotTicks + dLots * price, p.isolatedMarginMinor));
    if (isolated) autoMargin(d, inst, s, account, buying ? dLots : -dLots, price);
  } else {
    // Reduce by c = min(|dLots|, |q|): removed = trunc(cost·c / |q|) (toward zero, SPEC §2),
    // realized = k·(sign(q)·c·price − removed), q − sign(q)·c, cost − removed.
    const aq = buying ? -q : q;
    const ad = buying ? dLots : -dLots;
    let c: bigint;
    let removed: bigint;
    if (ad < aq) {
      c = ad;
      removed = (p.costLotTicks * ad) / aq; // BigInt division truncates toward zero
    } else {
      c = aq;
      removed = p.costLotTicks; // the position closes
      if (ad !== aq) remainder = ad - aq;
    }
    const cp = c * price;
    const realized = inst.kMinor * (buying ? -cp - removed : cp - removed);
    if (!isolated) d.addBalance(account, s, realized);
    d.setPosition(account, symbol, withValues(p, buying ? q + c : q - c, p.costLotTicks - removed, isolated ? p.isolatedMarginMinor + realized : p.isolatedMarginMinor));
  }
  if (isolated) {
    const v = d.positionValues(account, symbol)!;
    d.setPosition(account, symbol, withValues(v, v.qtyLots, v.costLotTicks, v.isolatedMarginMinor + feeDelta));
    if (v.qtyLots === 0n) returnIsolatedMargin(d, inst, s, account);
  } else {
    d.addBalance(account, s, feeDelta);
  }
  if (remainder !== 0n) {
    // Open the rest the other way: sign(dLots)·remainder lots at price.
    const v = d.positionValues(account, symbol)!;
    const r = buying ? remainder : -remainder;
    d.setPosition(account, symbol, withValues(v, r, r * price, v.isolatedMarginMinor));
    if (isolated) autoMargin(d, inst, s, account, remainder, price);
  }
}

/**
 * New position values with p's mode and leverage: an explicit five-field object (cheaper on
 * the fill path than a spread with overrides, and of one shape wherever it is built).
 */
function withValues(p: PositionValues, qtyLots: bigint, costLotTicks: bigint, isolatedMarginMinor: bigint): PositionValues {
  return { qtyLots, costLotTicks, isolatedMarginMinor, mode: p.mode, leverage: p.leverage };
}

/** The values of a position not opened yet (Draft.position's defaults). */
function flatValues(leverage: number): PositionValues {
  return { qtyLots: 0n, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage };
}

/** Isolated auto-margin: min(ceil(a·p·k / L), max(0, B)) moves from B to m (SPEC §4). */
function autoMargin(d: Draft, inst: Instrument, s: string, account: string, aLots: bigint, price: bigint): void {
  const p = d.positionValues(account, inst.symbol)!;
  const B = d.balance(account, s);
  const move = min(divCeil(aLots * price * inst.kMinor, BigInt(p.leverage)), max(0n, B));
  if (move === 0n) return;
  d.setBalance(account, s, B - move);
  d.setPosition(account, inst.symbol, withValues(p, p.qtyLots, p.costLotTicks, p.isolatedMarginMinor + move));
}

/** A flat isolated position's margin returns to B; a negative one is first topped up by @insurance. */
export function returnIsolatedMargin(d: Draft, inst: Instrument, s: string, account: string): void {
  const p = d.position(account, inst.symbol);
  const m = p.isolatedMarginMinor;
  if (m === 0n) return;
  if (m < 0n) {
    d.addBalance(INSURANCE, s, m, "insurance fund balance");
    (d.covers ??= []).push({ account, symbol: inst.symbol, amountMinor: -m });
  }
  else d.addBalance(account, s, m);
  d.setPosition(account, inst.symbol, withValues(p, p.qtyLots, p.costLotTicks, 0n));
}

// ---------------------------------------------------------------- prices, funding

function decideMark(state: State, e: MarkEvent): Effect[] {
  const inst = instrumentOf(state, e.symbol);
  return [{ t: "mark", symbol: inst.symbol, ticks: toTicks(e.price, inst, "price") }];
}

function decideCollateralPrice(state: State, e: CollateralPriceEvent): Effect[] {
  const asset = state.assets.get(e.asset);
  if (asset === undefined) fail("E_UNKNOWN", "asset", `unknown asset ${e.asset}`);
  if (asset.settlement) fail("E_ASSET", "asset", "the settlement asset's price is 1 by definition");
  const priceE8 = toRateE8(e.price, "price", 0n, I64_MAX);
  return [{ t: "collateral.price", asset: e.asset, priceE8 }];
}

function decideFunding(state: State, e: FundingEvent): Effect[] {
  const inst = instrumentOf(state, e.symbol);
  if (inst.markTicks === 0n) fail("E_UNKNOWN", "symbol", `${e.symbol} has no mark price yet`);
  const rateE8 = toRateE8(e.rate, "rate", -RATE_SCALE, RATE_SCALE);
  const s = state.settlementAsset!;
  // No Draft (a record per holder: the cost at 100k holders). An account holds at most one
  // position per instrument, so each holder is written once, in position order (the order a
  // Draft's first touches give); only @insurance, which may hold a position too, is written
  // twice: its write takes the surplus in place. Same effects, same overflow checks in the
  // same order, as the Draft version (test/simulation/funding.test.ts compares the two).
  const perLotE8 = inst.markTicks * inst.kMinor * rateE8;
  const writes: Effect[] = [];
  let insuranceWrite = -1;
  let paid = 0n;
  let received = 0n;
  for (const pos of inst.positions) {
    if (pos.qtyLots === 0n) continue;
    // P = q·M·k·rate (scaled by 1e8); P > 0 pays. Payers pay ceil(|P|), receivers get floor(|P|).
    const scaled = pos.qtyLots * perLotE8;
    if (scaled === 0n) continue;
    const delta = scaled > 0n ? -divCeil(scaled, RATE_SCALE) : divFloor(-scaled, RATE_SCALE);
    if (delta < 0n) paid -= delta;
    else received += delta;
    if (pos.mode === "isolated") {
      const m = pos.isolatedMarginMinor + delta;
      if (!inI64(m)) checkI64(m, `isolated margin of ${pos.account} in ${inst.symbol}`);
      const values: PositionValues = { qtyLots: pos.qtyLots, costLotTicks: pos.costLotTicks, isolatedMarginMinor: m, mode: pos.mode, leverage: pos.leverage };
      writes.push({ t: "position", account: pos.account, symbol: inst.symbol, values });
    } else if (delta !== 0n) {
      const v = (state.accounts.get(pos.account)!.balances.get(s) ?? 0n) + delta;
      if (!inI64(v)) checkI64(v, `balance of ${pos.account} in ${s}`);
      if (pos.account === INSURANCE) insuranceWrite = writes.length;
      writes.push({ t: "balance", account: pos.account, asset: s, valueMinor: v });
    }
  }
  const surplus = paid - received;
  if (surplus !== 0n) {
    const ins = state.accounts.get(INSURANCE);
    const before = insuranceWrite >= 0 ? (writes[insuranceWrite] as { valueMinor: bigint }).valueMinor : (ins?.balances.get(s) ?? 0n);
    const v = checkI64(before + surplus, "insurance fund balance");
    const w: Effect = { t: "balance", account: INSURANCE, asset: s, valueMinor: v };
    if (insuranceWrite >= 0) writes[insuranceWrite] = w;
    else writes.push(w);
    if (ins === undefined) writes.unshift({ t: "account.open", account: INSURANCE });
  }
  return writes;
}
