// MatchingEngine: one book per symbol, order commands in, copied events out. runMatch: the
// pure function behind `mmc match <orders.ndjson> --json` — instruments give each symbol its
// tick/lot grid, order prices/quantities are converted exactly to ticks/lots, and the result
// is printed back as decimal strings.
import { reject, type ErrorCode, type Rejection } from "../events/errors.js";
import { decimalToSteps, decimalToString, formatSteps, type Decimal } from "../numbers/decimal.js";
import { ALLOW_ALL_RISK_HOOKS, type BookDump, type BookFactory, type BookOptions, type OrderBook, type RiskHooks } from "./book.js";
import { createFastBook } from "./fast-book.js";
import { createNaiveBook } from "./naive-book.js";
import { parseMatchLine, validateMatchEvent, type MatchInput, type MatchValidation } from "./schema.js";
import type { BookEvent, BookTrade, CancelReason, OrderRequest, ReplaceRequest } from "./types.js";
import { MAX_BOOKS_PER_ENGINE, MAX_PRICE_TICKS, MAX_QTY_LOTS } from "./types.js";

/** Order commands, already in ticks and lots. */
export type OrderCommand =
  | ({ readonly type: "order.new"; readonly symbol: string } & OrderRequest)
  | {
      readonly type: "order.cancel"; readonly symbol: string; readonly account: string; readonly id: string;
      /** Default "user"; the pipeline cancels a liquidated account's orders with "liquidation". */
      readonly reason?: CancelReason;
    }
  | ({ readonly type: "order.replace"; readonly symbol: string; readonly account: string; readonly id: string } & ReplaceRequest);

export interface MatchingEngineOptions {
  /** Which book implementation; default "fast". */
  readonly book?: "fast" | "naive" | BookFactory;
  readonly hooks?: RiskHooks;
  /** Per-book limits (maxRestingOrders, maxLevelsPerSide). */
  readonly bookOptions?: Omit<BookOptions, "hooks">;
  /** Defaults to MAX_BOOKS_PER_ENGINE. */
  readonly maxBooks?: number;
}

export class MatchingEngine {
  private readonly books = new Map<string, OrderBook>();
  private readonly factory: BookFactory;
  private readonly bookOptions: BookOptions;
  private readonly maxBooks: number;
  /** Books operated on in the open transaction (null: none open). */
  private txBooks: OrderBook[] | null = null;
  /** symbols() (sorted), cached until a book is added or removed; null: stale. */
  private sortedSymbols: readonly string[] | null = null;

  constructor(opts: MatchingEngineOptions = {}) {
    const kind = opts.book ?? "fast";
    this.factory = kind === "fast" ? createFastBook : kind === "naive" ? createNaiveBook : kind;
    this.bookOptions = { ...opts.bookOptions, hooks: opts.hooks ?? ALLOW_ALL_RISK_HOOKS };
    this.maxBooks = opts.maxBooks ?? MAX_BOOKS_PER_ENGINE;
    if (!Number.isSafeInteger(this.maxBooks) || this.maxBooks < 1) throw new RangeError("engine: maxBooks must be a positive integer");
  }

  /** Opens a book for `symbol`. Idempotent; a rejection when the engine is full. */
  addSymbol(symbol: string): Rejection | null {
    if (typeof symbol !== "string" || symbol.length === 0) return reject("E_SCHEMA", "symbol", "expected a non-empty string");
    if (this.books.has(symbol)) return null;
    if (this.books.size >= this.maxBooks) return reject("E_RANGE", "symbol", `the engine already holds the maximum of ${this.maxBooks} books`);
    this.books.set(symbol, this.factory(symbol, this.bookOptions));
    this.sortedSymbols = null;
    return null;
  }

  /**
   * Drops the book of `symbol`; only a pristine one (never accepted an order), so nothing is
   * lost — used when the event that defined the symbol is rolled back.
   */
  removeSymbol(symbol: string): void {
    const b = this.books.get(symbol);
    if (b === undefined) return;
    if (!b.pristine()) throw new Error(`engine: cannot remove the used book ${symbol}`);
    this.books.delete(symbol);
    this.sortedSymbols = null;
  }

  /** Opens `symbol` (if needed) and loads a dump into its fresh book. */
  loadBook(symbol: string, dump: BookDump): void {
    const r = this.addSymbol(symbol);
    if (r !== null) throw new Error(`engine: ${r.message}`);
    this.books.get(symbol)!.load(dump);
  }

  // ---- transactions: every book an operation touches joins the open transaction

  beginTx(): void {
    if (this.txBooks !== null) throw new Error("engine: nested transaction");
    this.txBooks = [];
  }

  commitTx(): void {
    for (const b of this.txBooks ?? []) b.commitTx();
    this.txBooks = null;
  }

  /** Undoes every operation since beginTx, in every book (books are independent). */
  rollbackTx(): void {
    for (const b of this.txBooks ?? []) b.rollbackTx();
    this.txBooks = null;
  }

  hasSymbol(symbol: string): boolean {
    return this.books.has(symbol);
  }

  /** Symbols in code-unit order (a shared array: do not modify). */
  symbols(): readonly string[] {
    return (this.sortedSymbols ??= [...this.books.keys()].sort());
  }

  book(symbol: string): OrderBook | undefined {
    return this.books.get(symbol);
  }

  /** Applies one command; returns its events (copies, safe to keep). */
  apply(cmd: OrderCommand): BookEvent[] {
    const c = (typeof cmd === "object" && cmd !== null ? cmd : {}) as Partial<Record<string, unknown>>;
    const symbol = typeof c.symbol === "string" ? c.symbol : "";
    const type = c.type;
    const request = type === "order.cancel" ? "cancel" : type === "order.replace" ? "replace" : "new";
    const fail = (r: Rejection): BookEvent[] => [
      {
        type: "order.rejected", symbol, request,
        orderId: typeof c.id === "string" ? c.id : "",
        account: typeof c.account === "string" ? c.account : "",
        code: r.code, message: r.message,
      },
    ];
    if (type !== "order.new" && type !== "order.cancel" && type !== "order.replace") {
      return fail(reject("E_SCHEMA", "type", `expected "order.new", "order.cancel" or "order.replace"`));
    }
    const book = this.books.get(symbol);
    if (book === undefined) return fail(reject("E_UNKNOWN", "symbol", `unknown symbol ${JSON.stringify(symbol)}`));
    if (this.txBooks !== null && !this.txBooks.includes(book)) {
      book.beginTx();
      this.txBooks.push(book);
    }
    let events: readonly BookEvent[];
    if (cmd.type === "order.new") events = book.place(cmd);
    else if (cmd.type === "order.cancel") events = book.cancel(cmd.account, cmd.id, cmd.reason ?? "user");
    else events = book.replace(cmd.account, cmd.id, replaceChange(cmd));
    return events.map((e) => ({ ...e }));
  }
}

function replaceChange(cmd: ReplaceRequest): ReplaceRequest {
  const change: { price?: number; qty?: number } = {};
  if (cmd.price !== undefined) change.price = cmd.price;
  if (cmd.qty !== undefined) change.qty = cmd.qty;
  return change;
}

/**
 * RiskHooks that know positions only from the trades they are told about (long > 0) and
 * allow every order. runMatch feeds it each operation's trades, so reduce-only orders in
 * a standalone `mmc match` run reduce the positions built earlier in the same file.
 */
export class TradePositionHooks implements RiskHooks {
  private readonly positions = new Map<string, bigint>();

  positionLots(account: string, symbol: string): number {
    const q = this.positions.get(`${symbol}\u0000${account}`) ?? 0n;
    // A position beyond 2^53 lots only ever caps an order less than its own qty would.
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    return Number(q > max ? max : q < -max ? -max : q);
  }

  preTradeCheck(_order: Readonly<OrderRequest>, _symbol: string, _kind: "new" | "replace"): Rejection | null {
    return null;
  }

  applyTrade(t: BookTrade): void {
    const add = (account: string, lots: bigint): void => {
      const key = `${t.symbol}\u0000${account}`;
      this.positions.set(key, (this.positions.get(key) ?? 0n) + lots);
    };
    add(t.buyer, BigInt(t.qty));
    add(t.seller, -BigInt(t.qty));
  }
}

// ---- runMatch

export interface MatchTradeJson {
  readonly id: string;
  readonly symbol: string;
  readonly price: string;
  readonly qty: string;
  readonly buyer: string;
  readonly seller: string;
  readonly taker: "buyer" | "seller";
  readonly makerOrderId: string;
  readonly takerOrderId: string;
}

export interface MatchBookJson {
  /** [price, qty] as decimal strings, best first. */
  readonly bids: [string, string][];
  readonly asks: [string, string][];
}

export interface MatchRejectionJson {
  /** 1-based position of the entry among the non-blank inputs. */
  readonly seq: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface MatchResult {
  readonly trades: MatchTradeJson[];
  /** Every defined symbol, in code-unit order. */
  readonly book: Record<string, MatchBookJson>;
  readonly rejected: MatchRejectionJson[];
}

export interface RunMatchOptions {
  readonly book?: "fast" | "naive";
}

interface Grid {
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
}

/**
 * Runs a stream of matching inputs from an empty state. Entries are NDJSON lines
 * (strings; blank ones are skipped and take no seq) or already-parsed JSON values.
 */
export function runMatch(entries: readonly unknown[], opts: RunMatchOptions = {}): MatchResult {
  const hooks = new TradePositionHooks();
  const engine = new MatchingEngine({ book: opts.book ?? "fast", hooks });
  const grids = new Map<string, Grid>();
  const trades: MatchTradeJson[] = [];
  const rejected: MatchRejectionJson[] = [];
  let seq = 0;
  for (const entry of entries) {
    if (typeof entry === "string" && entry.trim() === "") continue;
    seq += 1;
    const v: MatchValidation = typeof entry === "string" ? parseMatchLine(entry) : validateMatchEvent(entry);
    if (!v.ok) {
      rejected.push({ seq, code: v.rejection.code, message: v.rejection.message });
      continue;
    }
    if (v.input === null) continue;
    const r = applyInput(v.input, engine, grids, hooks, trades);
    if (r !== null) rejected.push({ seq, code: r.code, message: r.message });
  }
  const book: Record<string, MatchBookJson> = {};
  for (const symbol of engine.symbols()) {
    const b = engine.book(symbol)!;
    const g = grids.get(symbol)!;
    const fmt = (levels: [number, number][]): [string, string][] =>
      levels.map(([p, q]) => [formatSteps(BigInt(p), g.tickSize), formatSteps(BigInt(q), g.lotSize)]);
    book[symbol] = { bids: fmt(b.levels("buy")), asks: fmt(b.levels("sell")) };
  }
  return { trades, book, rejected };
}

function applyInput(
  input: MatchInput,
  engine: MatchingEngine,
  grids: Map<string, Grid>,
  hooks: TradePositionHooks,
  trades: MatchTradeJson[],
): Rejection | null {
  if (input.type === "instrument") {
    if (input.tickSize.mantissa <= 0n) return reject("E_INSTRUMENT", "tickSize", "must be positive");
    if (input.lotSize.mantissa <= 0n) return reject("E_INSTRUMENT", "lotSize", "must be positive");
    const known = grids.get(input.symbol);
    if (known !== undefined) {
      // Re-stating the same grid is harmless; changing it under resting orders is not.
      if (decimalEq(known.tickSize, input.tickSize) && decimalEq(known.lotSize, input.lotSize)) return null;
      return reject("E_INSTRUMENT", "symbol", `${input.symbol} is already defined with another tickSize/lotSize`);
    }
    const full = engine.addSymbol(input.symbol);
    if (full !== null) return full;
    grids.set(input.symbol, { tickSize: input.tickSize, lotSize: input.lotSize });
    return null;
  }
  const grid = grids.get(input.symbol);
  if (grid === undefined) return reject("E_UNKNOWN", "symbol", `unknown symbol ${JSON.stringify(input.symbol)} (no instrument event before it)`);
  let cmd: OrderCommand;
  if (input.type === "order.new") {
    const qty = toSteps("qty", input.qty, grid.lotSize, "lot", MAX_QTY_LOTS);
    if (typeof qty !== "number") return qty;
    let price: number | undefined;
    if (input.price !== undefined) {
      const p = toSteps("price", input.price, grid.tickSize, "tick", MAX_PRICE_TICKS);
      if (typeof p !== "number") return p;
      price = p;
    }
    const base = {
      type: "order.new" as const, symbol: input.symbol, id: input.id, account: input.account, side: input.side,
      orderType: input.orderType, qty, tif: input.tif, reduceOnly: input.reduceOnly, stp: input.stp,
    };
    cmd = price === undefined ? base : { ...base, price };
  } else if (input.type === "order.cancel") {
    cmd = { type: "order.cancel", symbol: input.symbol, account: input.account, id: input.id };
  } else {
    const change: { price?: number; qty?: number } = {};
    if (input.price !== undefined) {
      const p = toSteps("price", input.price, grid.tickSize, "tick", MAX_PRICE_TICKS);
      if (typeof p !== "number") return p;
      change.price = p;
    }
    if (input.qty !== undefined) {
      const q = toSteps("qty", input.qty, grid.lotSize, "lot", MAX_QTY_LOTS);
      if (typeof q !== "number") return q;
      change.qty = q;
    }
    cmd = { type: "order.replace", symbol: input.symbol, account: input.account, id: input.id, ...change };
  }
  let rejection: Rejection | null = null;
  for (const e of engine.apply(cmd)) {
    if (e.type === "trade") {
      hooks.applyTrade(e);
      trades.push({
        id: e.id, symbol: e.symbol,
        price: formatSteps(BigInt(e.price), grid.tickSize), qty: formatSteps(BigInt(e.qty), grid.lotSize),
        buyer: e.buyer, seller: e.seller, taker: e.taker, makerOrderId: e.makerOrderId, takerOrderId: e.takerOrderId,
      });
    } else if (e.type === "order.rejected") {
      rejection = { code: e.code, message: e.message };
    }
  }
  return rejection;
}

/** A positive decimal as a whole number of grid steps, or the rejection naming `field`. */
function toSteps(field: string, d: Decimal, step: Decimal, unit: "tick" | "lot", max: number): number | Rejection {
  if (d.mantissa <= 0n) return reject("E_RANGE", field, "must be positive");
  const steps = decimalToSteps(d, step);
  if (steps === null) {
    return reject("E_PRECISION", field, `${decimalToString(d)} is off the ${unit} grid (${unit}Size ${decimalToString(step)})`);
  }
  if (steps > BigInt(max)) return reject("E_RANGE", field, `exceeds 2^53-1 ${unit}s`);
  return Number(steps);
}

function decimalEq(a: Decimal, b: Decimal): boolean {
  const scale = Math.max(a.scale, b.scale);
  return a.mantissa * 10n ** BigInt(scale - a.scale) === b.mantissa * 10n ** BigInt(scale - b.scale);
}
