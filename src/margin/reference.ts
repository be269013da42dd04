// The reference margin engine (SPEC §3): plain BigInt arithmetic, written to be obviously
// right rather than fast. It is the oracle the WASM kernel is tested against, bit for bit.
//
// Overflow: every figure of a position (q·M, N, q·M − C, U, MM, IM, E) is computed exactly and
// must fit in i64, else the position gets POS_OVERFLOW; an account gets ACCT_OVERFLOW when a
// sum does not fit or one of its cross positions overflowed. Whenever an overflow bit is set,
// the other numeric outputs of that entity are 0 (tier 0, no other status bits except
// ACCT_HAS_CROSS), so that both engines agree on every output.
//
// Input preconditions (checked, RangeError otherwise; see book.ts ERR_*): instrument/account
// indices in range, mode CROSS|ISOLATED, leverage >= 1, k >= 1, mark >= 0, 1 <= tier count <= 8,
// 0 <= mmr <= 1e8.
import { I64_MAX, TICK_MAX, abs, divCeil, divFloor, inI64 } from "../numbers/int.js";
import {
  DEFAULT_CAPACITY,
  ERR_ACCOUNT_INDEX,
  ERR_INSTRUMENT_INDEX,
  ERR_K,
  ERR_LEVERAGE,
  ERR_LIST_DUPLICATE,
  ERR_LIST_INDEX,
  ERR_MARK,
  ERR_MMR,
  ERR_MODE,
  ERR_TIER_COUNT,
  checkCapacity,
  checkOutputs,
  copyInputs,
  createBook,
  grownCapacity,
  inputErrorMessage,
  sameCapacity,
} from "./book.js";
import {
  ACCT_CALL_ZONE,
  ACCT_HAS_CROSS,
  ACCT_LIQUIDATABLE,
  ACCT_OVERFLOW,
  MAX_TIERS,
  MODE_CROSS,
  MODE_ISOLATED,
  OUTPUTS_FULL,
  POS_CALL_ZONE,
  POS_LIQUIDATABLE,
  POS_OVERFLOW,
  SUMMARY_LENGTH,
  SUM_ACCOUNTS,
  SUM_LIQ_ACCOUNTS,
  SUM_LIQ_POSITIONS,
  SUM_OVERFLOW_ACCOUNTS,
  SUM_OVERFLOW_POSITIONS,
  SUM_POSITIONS,
  SUM_ZONE_ACCOUNTS,
  SUM_ZONE_POSITIONS,
  type BookCapacity,
  type MarginBook,
  type MarginEngine,
  type Outputs,
} from "./engine.js";

const RATE = 100_000_000n;

class InputError extends RangeError {}

function fail(code: number, index: number): never {
  throw new InputError(inputErrorMessage(code, index));
}

export interface Tier {
  readonly maxNotional: bigint;
  readonly mmr: bigint;
  readonly cum: bigint;
}

/** The tier index for notional N: the first with N <= maxNotional, else the last. */
export function tierIndex(tiers: readonly Tier[], notional: bigint): number {
  for (let t = 0; t < tiers.length - 1; t++) if (notional <= tiers[t]!.maxNotional) return t;
  return tiers.length - 1;
}

/** MM = ceil(N·mmr/1e8) − cum with the tier chosen by N. */
export function maintenanceMargin(tiers: readonly Tier[], notional: bigint): bigint {
  const tier = tiers[tierIndex(tiers, notional)]!;
  return divCeil(notional * tier.mmr, RATE) - tier.cum;
}

/** The instrument's tiers (validated: count in [1, 8], each mmr in [0, 1e8]). */
export function instrumentTiers(book: MarginBook, inst: number, p: number): Tier[] {
  const count = book.inst_tier_count[inst]!;
  if (count < 1 || count > MAX_TIERS) fail(ERR_TIER_COUNT, p);
  const tiers: Tier[] = [];
  for (let t = 0; t < count; t++) {
    const j = inst * MAX_TIERS + t;
    const mmr = book.tier_mmr_e8[j]!;
    if (mmr < 0n || mmr > RATE) fail(ERR_MMR, p);
    tiers.push({ maxNotional: book.tier_max_notional_minor[j]!, mmr, cum: book.tier_cum_minor[j]! });
  }
  return tiers;
}

interface PositionFigures {
  notional: bigint;
  upnl: bigint;
  mm: bigint;
  im: bigint;
  equity: bigint;
  tier: number;
  overflow: boolean;
  liquidatable: boolean;
  callZone: boolean;
}

function validatePosition(book: MarginBook, p: number, accountLimit: number): void {
  const inst = book.pos_instrument[p]!;
  const acct = book.pos_account[p]!;
  const mode = book.pos_mode[p]!;
  if (inst < 0 || inst >= book.capacity.instruments) fail(ERR_INSTRUMENT_INDEX, p);
  if (acct < 0 || acct >= accountLimit) fail(ERR_ACCOUNT_INDEX, p);
  if (mode !== MODE_CROSS && mode !== MODE_ISOLATED) fail(ERR_MODE, p);
  if (book.pos_leverage[p]! < 1) fail(ERR_LEVERAGE, p);
  if (book.inst_k_minor[inst]! < 1n) fail(ERR_K, p);
  if (book.inst_mark_ticks[inst]! < 0n) fail(ERR_MARK, p);
  const tc = book.inst_tier_count[inst]!;
  if (tc < 1 || tc > MAX_TIERS) fail(ERR_TIER_COUNT, p);
}

/** The exact figures of position p at its instrument's current mark. */
export function positionFigures(book: MarginBook, p: number, accountLimit: number): PositionFigures {
  validatePosition(book, p, accountLimit);
  const q = book.pos_qty_lots[p]!;
  const cost = book.pos_cost_lot_ticks[p]!;
  const inst = book.pos_instrument[p]!;
  const isolated = book.pos_mode[p] === MODE_ISOLATED;
  const mark = book.inst_mark_ticks[inst]!;
  const k = book.inst_k_minor[inst]!;

  const qm = q * mark;
  const notional = abs(q) * mark * k;
  const diff = qm - cost;
  const upnl = k * diff;
  const tierCount = book.inst_tier_count[inst]!;
  let tier = tierCount - 1;
  for (let t = 0; t < tierCount - 1; t++) {
    if (notional <= book.tier_max_notional_minor[inst * MAX_TIERS + t]!) {
      tier = t;
      break;
    }
  }
  const mmr = book.tier_mmr_e8[inst * MAX_TIERS + tier]!;
  // The selected tier's rate must be valid, unless N or U already overflowed (the tier is
  // then moot: the position only reports POS_OVERFLOW).
  if ((mmr < 0n || mmr > RATE) && [qm, notional, diff, upnl].every(inI64)) fail(ERR_MMR, p);
  const mm = divCeil(notional * mmr, RATE) - book.tier_cum_minor[inst * MAX_TIERS + tier]!;
  const im = divCeil(notional, BigInt(book.pos_leverage[p]!));
  const equity = isolated ? book.pos_isolated_margin_minor[p]! + upnl : upnl;

  const overflow = ![qm, notional, diff, upnl, mm, im, equity].every(inI64);
  if (overflow) {
    return { notional: 0n, upnl: 0n, mm: 0n, im: 0n, equity: 0n, tier: 0, overflow, liquidatable: false, callZone: false };
  }
  const active = isolated && q !== 0n;
  return {
    notional,
    upnl,
    mm,
    im,
    equity,
    tier,
    overflow,
    liquidatable: active && equity < mm,
    callZone: active && 4n * equity <= 5n * mm,
  };
}

interface AccountSums {
  equity: bigint;
  mm: bigint;
  im: bigint;
  hasCross: boolean;
  overflow: boolean;
}

function checkCount(n: number, cap: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > cap) throw new RangeError(`${what} must be an integer in [0, ${cap}], got ${n}`);
}

function checkPositionIndex(book: MarginBook, p: number, what: string): void {
  if (!Number.isSafeInteger(p) || p < 0 || p >= book.capacity.positions) {
    throw new RangeError(`${what}: position index must be in [0, ${book.capacity.positions}), got ${p}`);
  }
}

/** Highest tick a mark can take for position p: its notional must stay representable. */
export function liquidationDomainMax(q: bigint, k: bigint): bigint {
  const a = abs(q) * k;
  if (a === 0n || a > I64_MAX) return 0n;
  const m = I64_MAX / a;
  return m < TICK_MAX ? m : TICK_MAX;
}

/**
 * What a liquidation price depends on: the position's q, C, k, its tiers, and X — the isolated
 * margin m, or for a cross position D = (base + Σ U of the account's other cross positions)
 * − Σ MM of those positions.
 */
export interface LiquidationInputs {
  readonly q: bigint;
  readonly cost: bigint;
  readonly k: bigint;
  readonly x: bigint;
  readonly tiers: readonly Tier[];
}

/** The exact rule at mark M: X + k(qM − C) < MM(M), tier re-selected at N = |q|·M·k. */
export function isLiquidatableAt(inp: LiquidationInputs, mark: bigint): boolean {
  const notional = abs(inp.q) * mark * inp.k;
  return inp.x + inp.k * (inp.q * mark - inp.cost) < maintenanceMargin(inp.tiers, notional);
}

/**
 * SPEC §3 liquidation price, closed form per tier segment. With A = |q|·k and
 * G_t = X − k·C + cum_t, within the segment of tier t (the marks whose notional selects t):
 *   long:  X + kqM − kC < ceil(A·M·mmr/1e8) − cum  ⟺  floor(A·M·(1e8 − mmr)/1e8) < −G
 *          ⟺  A·M·(1e8 − mmr) < −G·1e8   (true on a prefix of the segment)
 *   short: ⟺  ceil(A·M·(1e8 + mmr)/1e8) > G  ⟺  A·M·(1e8 + mmr) > G·1e8   (a suffix)
 * Across segments the predicate need not be monotone (cum floors), so segments are scanned
 * from the best end (top for a long, bottom for a short) and the first hit wins.
 * Domain: ticks [1, liquidationDomainMax].
 */
export function solveLiquidationPrice(inp: LiquidationInputs): bigint | null {
  if (inp.q === 0n) return null;
  const a = abs(inp.q) * inp.k;
  const mMax = liquidationDomainMax(inp.q, inp.k);
  if (mMax < 1n) return null;
  const tiers = inp.tiers;
  // Segment of tier t: A·M above every earlier tier's maxNotional, and (except for the last
  // tier) A·M <= its own.
  const segments: { lo: bigint; hi: bigint; tier: Tier }[] = [];
  for (let t = 0; t < tiers.length; t++) {
    const tier = tiers[t]!;
    let lo = 1n;
    if (t > 0) {
      const earlier = tiers.slice(0, t).map((x) => x.maxNotional);
      const prevMax = earlier.reduce((m, v) => (v > m ? v : m));
      lo = divFloor(prevMax, a) + 1n;
    }
    const hi = t === tiers.length - 1 ? mMax : divFloor(tier.maxNotional, a);
    segments.push({ lo: lo < 1n ? 1n : lo, hi: hi > mMax ? mMax : hi, tier });
  }
  const b0 = inp.x - inp.k * inp.cost;
  if (inp.q > 0n) {
    for (const { lo, hi, tier } of segments.reverse()) {
      if (lo > hi) continue;
      const bound = -(b0 + tier.cum) * RATE; // pred(M) ⟺ A·M·w < bound
      const w = RATE - tier.mmr;
      if (bound <= 0n) continue;
      const top = w === 0n ? hi : (bound - 1n) / (a * w);
      const best = top < hi ? top : hi;
      if (best >= lo) return best;
    }
  } else {
    for (const { lo, hi, tier } of segments) {
      if (lo > hi) continue;
      const bound = (b0 + tier.cum) * RATE; // pred(M) ⟺ A·M·v > bound
      const v = RATE + tier.mmr;
      const bottom = bound < 0n ? lo : divFloor(bound, a * v) + 1n;
      const best = bottom > lo ? bottom : lo;
      if (best <= hi) return best;
    }
  }
  return null;
}

/**
 * Brute force (tests only): scans ticks [lo, hi] ∩ [1, domain max] with the exact rule and
 * returns the highest qualifying tick for a long, the lowest for a short, or null. For a cross
 * position X is rebuilt from the inputs of the account's other positions in [0, nPositions)
 * (not from the engine's outputs), so it checks that part too.
 */
export function bruteForceLiquidationPrice(
  book: MarginBook,
  nPositions: number,
  p: number,
  lo: bigint,
  hi: bigint,
): bigint | null {
  const inp = liquidationInputsFromInputs(book, nPositions, p);
  if (inp === null) return null;
  const mMax = liquidationDomainMax(inp.q, inp.k);
  const from = lo < 1n ? 1n : lo;
  const to = hi > mMax ? mMax : hi;
  if (inp.q > 0n) {
    for (let m = to; m >= from; m--) if (isLiquidatableAt(inp, m)) return m;
  } else {
    for (let m = from; m <= to; m++) if (isLiquidatableAt(inp, m)) return m;
  }
  return null;
}

/** Liquidation inputs of p computed from book inputs only (tests); null when q = 0. */
export function liquidationInputsFromInputs(book: MarginBook, nPositions: number, p: number): LiquidationInputs | null {
  const q = book.pos_qty_lots[p]!;
  if (q === 0n) return null;
  const inst = book.pos_instrument[p]!;
  const tiers = instrumentTiers(book, inst, p);
  let x: bigint;
  if (book.pos_mode[p] === MODE_ISOLATED) {
    x = book.pos_isolated_margin_minor[p]!;
  } else {
    const acct = book.pos_account[p]!;
    x = book.acct_base_minor[acct]!;
    for (let o = 0; o < nPositions; o++) {
      if (o === p || book.pos_account[o] !== acct || book.pos_mode[o] !== MODE_CROSS) continue;
      const oi = book.pos_instrument[o]!;
      const mark = book.inst_mark_ticks[oi]!;
      const k = book.inst_k_minor[oi]!;
      const oq = book.pos_qty_lots[o]!;
      x += k * (oq * mark - book.pos_cost_lot_ticks[o]!);
      x -= maintenanceMargin(instrumentTiers(book, oi, o), abs(oq) * mark * k);
    }
  }
  return { q, cost: book.pos_cost_lot_ticks[p]!, k: book.inst_k_minor[book.pos_instrument[p]!]!, x, tiers };
}

/** Bankruptcy price from its definition: (kC − m)/(kq), up for a long, down for a short; null if <= 0. */
export function solveBankruptcyPrice(q: bigint, cost: bigint, k: bigint, margin: bigint): bigint | null {
  if (q === 0n) return null;
  const price = q > 0n ? divCeil(k * cost - margin, k * q) : divFloor(margin - k * cost, -k * q);
  return price > 0n ? price : null;
}

export class ReferenceMarginEngine implements MarginEngine {
  readonly name = "reference" as const;
  private current: MarginBook;

  constructor(cap: BookCapacity = DEFAULT_CAPACITY) {
    this.current = createBook(checkCapacity(cap, "ReferenceMarginEngine"));
  }

  get book(): MarginBook {
    return this.current;
  }

  ensureCapacity(cap: BookCapacity): void {
    const next = grownCapacity(this.current.capacity, cap);
    if (sameCapacity(next, this.current.capacity)) return;
    const book = createBook(next);
    copyInputs(this.current, book);
    this.current = book;
  }

  /** `outputs` is accepted for the contract; the reference always writes every output. */
  computeAll(nPositions: number, nAccounts: number, outputs: Outputs = OUTPUTS_FULL): number {
    checkOutputs(outputs);
    const b = this.current;
    checkCount(nPositions, b.capacity.positions, "computeAll: nPositions");
    checkCount(nAccounts, b.capacity.accounts, "computeAll: nAccounts");
    const sums = new Map<number, AccountSums>();
    for (let a = 0; a < nAccounts; a++) sums.set(a, this.emptySums(a));
    const results = new Results();
    for (let p = 0; p < nPositions; p++) this.computePosition(p, nAccounts, sums, results);
    for (const [a, s] of sums) this.writeAccount(a, s, results);
    return results.write(b);
  }

  computeList(positions: Int32Array, count: number, outputs: Outputs = OUTPUTS_FULL): number {
    checkOutputs(outputs);
    const b = this.current;
    checkCount(count, positions.length, "computeList: count");
    if (count > b.capacity.positions) throw new RangeError("computeList: more entries than positions (duplicates)");
    const seen = new Set<number>();
    const sums = new Map<number, AccountSums>();
    for (let j = 0; j < count; j++) {
      const p = positions[j]!;
      if (p < 0 || p >= b.capacity.positions) fail(ERR_LIST_INDEX, j);
      if (seen.has(p)) fail(ERR_LIST_DUPLICATE, j);
      seen.add(p);
      const a = b.pos_account[p]!;
      if (a < 0 || a >= b.capacity.accounts) fail(ERR_ACCOUNT_INDEX, p);
      if (!sums.has(a)) sums.set(a, this.emptySums(a));
    }
    const results = new Results();
    for (let j = 0; j < count; j++) this.computePosition(positions[j]!, b.capacity.accounts, sums, results);
    for (const [a, s] of sums) this.writeAccount(a, s, results);
    return results.write(b);
  }

  liquidationPrice(p: number): bigint | null {
    const b = this.current;
    checkPositionIndex(b, p, "liquidationPrice");
    this.checkPriceInputs(p);
    const inst = b.pos_instrument[p]!;
    const tiers = instrumentTiers(b, inst, p);
    const q = b.pos_qty_lots[p]!;
    if (q === 0n) return null;
    let x: bigint;
    if (b.pos_mode[p] === MODE_ISOLATED) {
      x = b.pos_isolated_margin_minor[p]!;
    } else {
      // D from the current outputs: the account's figures without p's own U and MM.
      const a = b.pos_account[p]!;
      if ((b.acct_status[a]! & ACCT_OVERFLOW) !== 0 || (b.pos_status[p]! & POS_OVERFLOW) !== 0) return null;
      x = b.acct_equity_minor[a]! - b.pos_upnl_minor[p]! - (b.acct_mm_minor[a]! - b.pos_mm_minor[p]!);
    }
    return solveLiquidationPrice({ q, cost: b.pos_cost_lot_ticks[p]!, k: b.inst_k_minor[inst]!, x, tiers });
  }

  bankruptcyPrice(p: number): bigint | null {
    const b = this.current;
    checkPositionIndex(b, p, "bankruptcyPrice");
    this.checkPriceInputs(p);
    if (b.pos_mode[p] !== MODE_ISOLATED) return null;
    const k = b.inst_k_minor[b.pos_instrument[p]!]!;
    return solveBankruptcyPrice(b.pos_qty_lots[p]!, b.pos_cost_lot_ticks[p]!, k, b.pos_isolated_margin_minor[p]!);
  }

  /** What the price functions read: indices, mode, k (tiers are checked by instrumentTiers). */
  private checkPriceInputs(p: number): void {
    const b = this.current;
    const inst = b.pos_instrument[p]!;
    if (inst < 0 || inst >= b.capacity.instruments) fail(ERR_INSTRUMENT_INDEX, p);
    const acct = b.pos_account[p]!;
    if (acct < 0 || acct >= b.capacity.accounts) fail(ERR_ACCOUNT_INDEX, p);
    const mode = b.pos_mode[p]!;
    if (mode !== MODE_CROSS && mode !== MODE_ISOLATED) fail(ERR_MODE, p);
    if (b.inst_k_minor[inst]! < 1n) fail(ERR_K, p);
  }

  private emptySums(a: number): AccountSums {
    return { equity: this.current.acct_base_minor[a]!, mm: 0n, im: 0n, hasCross: false, overflow: false };
  }

  /** Writes p's outputs, records it in `results`, and adds a cross position to its account. */
  private computePosition(p: number, accountLimit: number, sums: Map<number, AccountSums>, results: Results): void {
    const b = this.current;
    const f = positionFigures(b, p, accountLimit);
    b.pos_notional_minor[p] = f.notional;
    b.pos_upnl_minor[p] = f.upnl;
    b.pos_mm_minor[p] = f.mm;
    b.pos_im_minor[p] = f.im;
    b.pos_equity_minor[p] = f.equity;
    b.pos_tier[p] = f.tier;
    b.pos_status[p] = f.overflow
      ? POS_OVERFLOW
      : (f.liquidatable ? POS_LIQUIDATABLE : 0) | (f.callZone ? POS_CALL_ZONE : 0);
    results.position(p, f.liquidatable, f.overflow, f.callZone !== (b.pos_call_latch[p] !== 0));
    if (b.pos_mode[p] === MODE_CROSS) {
      const s = sums.get(b.pos_account[p]!)!;
      s.equity += f.upnl;
      s.mm += f.mm;
      s.im += f.im;
      s.overflow ||= f.overflow;
      s.hasCross ||= b.pos_qty_lots[p] !== 0n;
    }
  }

  /** Writes account a's outputs from its sums and records it in `results`. */
  private writeAccount(a: number, s: AccountSums, results: Results): void {
    const b = this.current;
    const overflow = s.overflow || !inI64(s.equity) || !inI64(s.mm) || !inI64(s.im);
    const has = s.hasCross ? ACCT_HAS_CROSS : 0;
    if (overflow) {
      b.acct_equity_minor[a] = 0n;
      b.acct_mm_minor[a] = 0n;
      b.acct_im_minor[a] = 0n;
      b.acct_status[a] = ACCT_OVERFLOW | has;
      results.account(a, false, true, b.acct_call_latch[a] !== 0);
      return;
    }
    const liquidatable = s.hasCross && s.equity < s.mm;
    const callZone = s.hasCross && 4n * s.equity <= 5n * s.mm;
    b.acct_equity_minor[a] = s.equity;
    b.acct_mm_minor[a] = s.mm;
    b.acct_im_minor[a] = s.im;
    b.acct_status[a] = has | (liquidatable ? ACCT_LIQUIDATABLE : 0) | (callZone ? ACCT_CALL_ZONE : 0);
    results.account(a, liquidatable, false, callZone !== (b.acct_call_latch[a] !== 0));
  }
}

/** The compact results of one compute call (engine.ts SUM_* and the result lists). */
class Results {
  positions = 0;
  accounts = 0;
  overflowPositions = 0;
  overflowAccounts = 0;
  readonly liqPositions: number[] = [];
  readonly liqAccounts: number[] = [];
  readonly zonePositions: number[] = [];
  readonly zoneAccounts: number[] = [];

  position(p: number, liquidatable: boolean, overflow: boolean, zoneChanged: boolean): void {
    this.positions++;
    if (liquidatable) this.liqPositions.push(p);
    if (overflow) this.overflowPositions++;
    if (zoneChanged) this.zonePositions.push(p);
  }

  account(a: number, liquidatable: boolean, overflow: boolean, zoneChanged: boolean): void {
    this.accounts++;
    if (liquidatable) this.liqAccounts.push(a);
    if (overflow) this.overflowAccounts++;
    if (zoneChanged) this.zoneAccounts.push(a);
  }

  /** Writes the summary and the lists; returns the liquidatable count. */
  write(b: MarginBook): number {
    const s = b.summary;
    s.fill(0, 0, SUMMARY_LENGTH);
    s[SUM_POSITIONS] = this.positions;
    s[SUM_ACCOUNTS] = this.accounts;
    s[SUM_LIQ_POSITIONS] = this.liqPositions.length;
    s[SUM_LIQ_ACCOUNTS] = this.liqAccounts.length;
    s[SUM_OVERFLOW_POSITIONS] = this.overflowPositions;
    s[SUM_OVERFLOW_ACCOUNTS] = this.overflowAccounts;
    s[SUM_ZONE_POSITIONS] = this.zonePositions.length;
    s[SUM_ZONE_ACCOUNTS] = this.zoneAccounts.length;
    b.list_liq_positions.set(this.liqPositions);
    b.list_liq_accounts.set(this.liqAccounts);
    b.list_zone_positions.set(this.zonePositions);
    b.list_zone_accounts.set(this.zoneAccounts);
    return this.liqPositions.length + this.liqAccounts.length;
  }
}

export function createReferenceMarginEngine(cap: BookCapacity = DEFAULT_CAPACITY): ReferenceMarginEngine {
  return new ReferenceMarginEngine(cap);
}
