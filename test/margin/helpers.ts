// Shared helpers for the margin tests: both engines, book data written identically into each,
// output comparison, and a randomized generator that aims at the edges (i64 bounds, tier
// boundaries, rounding, liquidation and margin-call thresholds).
import { BOOK_FIELDS, BOOK_INPUT_FIELD_COUNT, RESULT_LISTS } from "../../src/margin/book.js";
import { MAX_TIERS, MODE_CROSS, MODE_ISOLATED, type MarginBook, type MarginEngine } from "../../src/margin/engine.js";
import { createKernelMarginEngine } from "../../src/margin/kernel.js";
import { createReferenceMarginEngine } from "../../src/margin/reference.js";
import { I64_MAX, I64_MIN, divCeil, divFloor, inI64 } from "../../src/numbers/int.js";
import { Prng } from "../../src/util/prng.js";

export const ENGINES: readonly { readonly name: string; readonly create: () => MarginEngine }[] = [
  { name: "kernel", create: () => createKernelMarginEngine() },
  { name: "reference", create: () => createReferenceMarginEngine() },
];

export const RATE = 100_000_000n;

export interface TierData {
  maxNotional: bigint;
  mmr: bigint;
  cum: bigint;
}

export interface InstrumentData {
  mark: bigint;
  k: bigint;
  tiers: TierData[];
}

export interface PositionData {
  q: bigint;
  cost: bigint;
  margin: bigint;
  inst: number;
  acct: number;
  lev: number;
  mode: number;
  /** pos_call_latch (default 0). */
  latch?: number;
}

export interface BookData {
  instruments: InstrumentData[];
  accountBase: bigint[];
  positions: PositionData[];
  /** acct_call_latch per account (default 0). */
  accountLatch?: number[];
}

/** SPEC §3: cum_0 = 0, cum_n = cum_{n−1} + floor(maxNotional_{n−1}·(mmr_n − mmr_{n−1})). */
export function specCums(tiers: { maxNotional: bigint; mmr: bigint }[]): bigint[] {
  const cums: bigint[] = [];
  tiers.forEach((t, n) => {
    if (n === 0) cums.push(0n);
    else {
      const prev = tiers[n - 1]!;
      cums.push(cums[n - 1]! + divFloor(prev.maxNotional * (t.mmr - prev.mmr), RATE));
    }
  });
  return cums;
}

export function withSpecCums(tiers: { maxNotional: bigint; mmr: bigint }[]): TierData[] {
  const cums = specCums(tiers);
  return tiers.map((t, n) => ({ maxNotional: t.maxNotional, mmr: t.mmr, cum: cums[n]! }));
}

export function writeBook(e: MarginEngine, d: BookData): void {
  e.ensureCapacity({
    positions: Math.max(1, d.positions.length),
    accounts: Math.max(1, d.accountBase.length),
    instruments: Math.max(1, d.instruments.length),
  });
  const b = e.book;
  d.instruments.forEach((inst, i) => {
    b.inst_mark_ticks[i] = inst.mark;
    b.inst_k_minor[i] = inst.k;
    b.inst_tier_count[i] = inst.tiers.length;
    for (let t = 0; t < MAX_TIERS; t++) {
      const tier = inst.tiers[t];
      b.tier_max_notional_minor[i * MAX_TIERS + t] = tier?.maxNotional ?? 0n;
      b.tier_mmr_e8[i * MAX_TIERS + t] = tier?.mmr ?? 0n;
      b.tier_cum_minor[i * MAX_TIERS + t] = tier?.cum ?? 0n;
    }
  });
  d.accountBase.forEach((base, a) => {
    b.acct_base_minor[a] = base;
    b.acct_call_latch[a] = d.accountLatch?.[a] ?? 0;
  });
  d.positions.forEach((p, j) => {
    b.pos_qty_lots[j] = p.q;
    b.pos_cost_lot_ticks[j] = p.cost;
    b.pos_isolated_margin_minor[j] = p.margin;
    b.pos_instrument[j] = p.inst;
    b.pos_account[j] = p.acct;
    b.pos_leverage[j] = p.lev;
    b.pos_mode[j] = p.mode;
    b.pos_call_latch[j] = p.latch ?? 0;
  });
}

/** Status fields: the outputs a FLAGS compute must get exactly right. */
export const STATUS_FIELDS = ["pos_status", "acct_status"] as const;

/**
 * Every output field (or, with `only`, those fields), compared element by element — the
 * summary in full, each result list up to its count; returns a description of the first
 * difference.
 */
export function firstOutputDifference(
  a: MarginBook,
  b: MarginBook,
  nPos: number,
  nAcct: number,
  only?: readonly string[],
): string | null {
  const lists = new Map(RESULT_LISTS.map((l) => [l.name as string, l.countSlot]));
  for (const f of BOOK_FIELDS.slice(BOOK_INPUT_FIELD_COUNT)) {
    if (only !== undefined && !only.includes(f.name) && f.name !== "summary" && !lists.has(f.name)) continue;
    const slot = lists.get(f.name);
    const n =
      f.name === "summary" ? a.summary.length : slot !== undefined ? a.summary[slot]! : f.name.startsWith("pos_") ? nPos : nAcct;
    const x = a[f.name];
    const y = b[f.name];
    for (let j = 0; j < n; j++) {
      if (x[j] !== y[j]) return `${f.name}[${j}]: ${String(x[j])} vs ${String(y[j])}`;
    }
  }
  return null;
}

export function describePosition(b: MarginBook, p: number): string {
  const i = b.pos_instrument[p]!;
  const a = b.pos_account[p]!;
  const tiers: string[] = [];
  for (let t = 0; t < b.inst_tier_count[i]!; t++) {
    const j = i * MAX_TIERS + t;
    tiers.push(`{max ${b.tier_max_notional_minor[j]}, mmr ${b.tier_mmr_e8[j]}, cum ${b.tier_cum_minor[j]}}`);
  }
  return (
    `position ${p}: q ${b.pos_qty_lots[p]} C ${b.pos_cost_lot_ticks[p]} m ${b.pos_isolated_margin_minor[p]} ` +
    `mode ${b.pos_mode[p]} L ${b.pos_leverage[p]} acct ${a} (base ${b.acct_base_minor[a]}) inst ${i} ` +
    `(mark ${b.inst_mark_ticks[i]} k ${b.inst_k_minor[i]} tiers ${tiers.join(" ")})`
  );
}

// ---------------------------------------------------------------- randomized books

function clampI64(x: bigint): bigint {
  return x > I64_MAX ? I64_MAX : x < I64_MIN ? I64_MIN : x;
}

/** An i64 drawn to hit the edges often: 0, ±1, small, medium, near ±2^62, near the bounds, anything. */
export function edgyI64(r: Prng): bigint {
  switch (r.int(0, 7)) {
    case 0:
      return r.pick([0n, 1n, -1n, I64_MAX, I64_MIN, I64_MAX - 1n, I64_MIN + 1n]);
    case 1:
      return r.bigint(-1000n, 1000n);
    case 2:
      return r.bigint(-(10n ** 12n), 10n ** 12n);
    case 3:
      return r.bigint(-(10n ** 18n), 10n ** 18n);
    case 4:
      return (r.chance(0.5) ? 1n : -1n) * (1n << 62n) + r.bigint(-1000n, 1000n);
    case 5:
      return I64_MAX - r.bigint(0n, 1n << 20n);
    case 6:
      return I64_MIN + r.bigint(0n, 1n << 20n);
    default:
      return r.bigint(I64_MIN, I64_MAX);
  }
}

function randomMmr(r: Prng): bigint {
  return r.pick([0n, RATE, 400_000n, 500_000n, 1_000_000n, 2_500_000n, 5_000_000n, r.bigint(0n, RATE), r.bigint(1n, 100n)]);
}

/** Position figures (exact, no overflow check) used to aim generated values at thresholds. */
function exactFigures(inst: InstrumentData, p: PositionData): { n: bigint; u: bigint; mm: bigint } {
  const n = (p.q < 0n ? -p.q : p.q) * inst.mark * inst.k;
  const u = inst.k * (p.q * inst.mark - p.cost);
  let t = inst.tiers.length - 1;
  for (let j = 0; j < inst.tiers.length - 1; j++) {
    if (n <= inst.tiers[j]!.maxNotional) {
      t = j;
      break;
    }
  }
  const tier = inst.tiers[t]!;
  return { n, u, mm: divCeil(n * tier.mmr, RATE) - tier.cum };
}

export interface RandomBookOptions {
  positions: number;
  instruments: number;
  accounts: number;
  /** Fraction of positions drawn from the edge categories (the rest realistic). */
  edgy: number;
}

/**
 * A random book aimed at the edges. Phases: instruments (mark, k) → positions (q, C, mode, L)
 * → tiers placed at the positions' notionals (±1) → margins and bases placed at liquidation
 * and margin-call thresholds.
 */
export function randomBook(r: Prng, o: RandomBookOptions): BookData {
  const instruments: InstrumentData[] = [];
  for (let i = 0; i < o.instruments; i++) {
    const k = r.chance(0.85)
      ? r.pick([1n, 100n, 10_000n, 1_000_000n, RATE, r.bigint(1n, 1000n)])
      : r.pick([1n << 20n, 1n << 40n, r.bigint(1n, I64_MAX), I64_MAX]);
    const mark = r.chance(0.85)
      ? r.pick([0n, 1n, r.bigint(1n, 1_000_000n), r.bigint(1n, 100_000_000n)])
      : r.pick([r.bigint(0n, (1n << 53n) - 1n), r.bigint(0n, I64_MAX), I64_MAX]);
    instruments.push({ mark, k, tiers: [] });
  }

  const positions: PositionData[] = [];
  const kinds: string[] = [];
  for (let j = 0; j < o.positions; j++) {
    const inst = r.int(0, o.instruments - 1);
    const { mark, k } = instruments[inst]!;
    const mode = r.chance(0.5) ? MODE_CROSS : MODE_ISOLATED;
    const lev = r.chance(0.9) ? r.pick([1, 2, 3, 5, 7, 10, 20, 25, 50, 100, 125]) : r.int(1, 0x7fffffff);
    const sign = r.chance(0.5) ? 1n : -1n;
    let q = sign * r.bigint(1n, r.pick([10n, 1000n, 1_000_000n]));
    let cost = q * (mark + r.bigint(-(mark / 10n) - 1n, mark / 10n + 1n));
    let margin = r.bigint(0n, 10n ** 12n);
    let kind = "realistic";
    if (r.chance(o.edgy)) {
      kind = r.pick(["zero", "n-bound", "u-bound", "e-bound", "random", "liq-edge", "liq-edge", "call-edge"]);
      const mk = mark * k;
      switch (kind) {
        case "zero":
          q = 0n;
          cost = r.chance(0.5) ? 0n : r.bigint(-1000n, 1000n);
          break;
        case "n-bound":
          // |q|·M·k just below, at or above the i64 bound.
          if (mk > 0n) q = sign * clampI64(I64_MAX / mk + r.bigint(-1n, 1n));
          cost = clampI64(q * mark);
          break;
        case "u-bound": {
          // k·(q·M − C) just inside or outside the i64 range.
          const d = (r.chance(0.5) ? I64_MAX : I64_MIN) / k + r.bigint(-1n, 1n);
          cost = clampI64(q * mark - d);
          break;
        }
        case "random":
          q = edgyI64(r);
          cost = edgyI64(r);
          margin = edgyI64(r);
          break;
        default:
          break; // placed after tiers exist
      }
    }
    positions.push({ q, cost, margin, inst, acct: r.int(0, o.accounts - 1), lev, mode });
    kinds.push(kind);
  }

  // Tiers at the notionals of this instrument's positions (exactly, and ±1), so that
  // N = maxNotional and N = maxNotional ± 1 occur; sometimes random or unsorted.
  instruments.forEach((inst, i) => {
    const notionals = positions
      .filter((p) => p.inst === i)
      .map((p) => (p.q < 0n ? -p.q : p.q) * inst.mark * inst.k)
      .filter((n) => n <= I64_MAX);
    const count = r.int(1, MAX_TIERS);
    const maxes: bigint[] = [];
    for (let t = 0; t < count; t++) {
      const base = notionals.length > 0 && r.chance(0.8) ? r.pick(notionals) : r.bigint(0n, r.chance(0.5) ? 10n ** 15n : I64_MAX);
      maxes.push(clampI64(base + r.bigint(-1n, 1n)));
    }
    if (r.chance(0.9)) maxes.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    let mmrs = maxes.map(() => randomMmr(r));
    if (r.chance(0.8)) mmrs = mmrs.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const tiers = withSpecCums(maxes.map((maxNotional, t) => ({ maxNotional, mmr: mmrs[t]! })));
    for (const tier of tiers) {
      if (!inI64(tier.cum) || r.chance(0.05)) tier.cum = edgyI64(r);
    }
    inst.tiers = tiers;
  });

  // Margins at the isolated thresholds: E − MM ∈ {−1, 0, 1} (liquidation) or 4E − 5MM ∈ {−4..4}.
  positions.forEach((p, j) => {
    const kind = kinds[j]!;
    const inst = instruments[p.inst]!;
    const f = exactFigures(inst, p);
    if (kind === "liq-edge") p.margin = clampI64(f.mm - f.u + r.bigint(-1n, 1n));
    else if (kind === "call-edge") p.margin = clampI64(divFloor(5n * f.mm, 4n) - f.u + r.bigint(-1n, 1n));
    else if (kind === "e-bound") p.margin = clampI64((r.chance(0.5) ? I64_MAX : I64_MIN) - f.u + r.bigint(-1n, 1n));
  });

  // Account bases: realistic, extreme, or at the account's liquidation / call threshold.
  const crossU = new Array<bigint>(o.accounts).fill(0n);
  const crossMM = new Array<bigint>(o.accounts).fill(0n);
  for (const p of positions) {
    if (p.mode !== MODE_CROSS) continue;
    const f = exactFigures(instruments[p.inst]!, p);
    crossU[p.acct]! += f.u;
    crossMM[p.acct]! += f.mm;
  }
  const accountBase: bigint[] = [];
  for (let a = 0; a < o.accounts; a++) {
    const u = crossU[a]!;
    const mm = crossMM[a]!;
    const choice = r.int(0, 9);
    let base: bigint;
    if (choice < 5) base = r.bigint(-(10n ** 12n), 10n ** 13n);
    else if (choice < 7) base = mm - u + r.bigint(-1n, 1n); // E_a − MM_a ∈ {−1, 0, 1}
    else if (choice < 9) base = divFloor(5n * mm, 4n) - u + r.bigint(-1n, 1n); // at 4E = 5MM
    else base = edgyI64(r);
    accountBase.push(clampI64(base));
  }
  // Margin-call latches last (so the draws above do not depend on them): any value, on
  // cross and isolated positions alike, so that zone changes happen both ways.
  for (const p of positions) p.latch = r.chance(0.3) ? r.pick([1, 255]) : 0;
  const accountLatch = accountBase.map(() => (r.chance(0.3) ? 1 : 0));
  return { instruments, accountBase, positions, accountLatch };
}

/** Exchange-like tiers (maxNotional 50k … 200M settlement units × `unitMinor`), cum per SPEC. */
export function exchangeTiers(unitMinor: bigint, count = MAX_TIERS): TierData[] {
  const maxes = [50_000n, 250_000n, 1_000_000n, 5_000_000n, 20_000_000n, 50_000_000n, 100_000_000n, 200_000_000n];
  const mmrs = [400_000n, 500_000n, 1_000_000n, 2_500_000n, 5_000_000n, 10_000_000n, 12_500_000n, 15_000_000n];
  return withSpecCums(maxes.slice(0, count).map((m, t) => ({ maxNotional: m * unitMinor, mmr: mmrs[t]! })));
}
