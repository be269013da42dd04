// Test fixtures for the matching suites: both book implementations, order builders,
// a stub RiskHooks whose positions the test controls, and event digests.
import type { Rejection } from "../../src/events/errors.js";
import type { BookFactory, OrderBook, RiskHooks } from "../../src/matching/book.js";
import { createFastBook } from "../../src/matching/fast-book.js";
import { createNaiveBook } from "../../src/matching/naive-book.js";
import type { BookEvent, BookTrade, OrderRequest, Side } from "../../src/matching/types.js";

export const SYMBOL = "BTC-PERP";

export const IMPLEMENTATIONS: readonly (readonly [name: string, create: BookFactory])[] = [
  ["naive", createNaiveBook],
  ["fast", createFastBook],
];

type Extra = Partial<Omit<OrderRequest, "id" | "account" | "side">>;

/** GTC limit order (override anything with `extra`). */
export function limit(side: Side, id: string, account: string, price: number, qty: number, extra: Extra = {}): OrderRequest {
  return { id, account, side, orderType: "limit", price, qty, tif: "GTC", ...extra };
}

export const buy = (id: string, account: string, price: number, qty: number, extra: Extra = {}): OrderRequest =>
  limit("buy", id, account, price, qty, extra);
export const sell = (id: string, account: string, price: number, qty: number, extra: Extra = {}): OrderRequest =>
  limit("sell", id, account, price, qty, extra);

/** Market order (IOC unless `extra.tif` says otherwise). */
export function market(side: Side, id: string, account: string, qty: number, extra: Extra = {}): OrderRequest {
  return { id, account, side, orderType: "market", qty, tif: "IOC", ...extra };
}

/** Copies a book's output (the fast book reuses its event objects). */
export function copy(events: readonly BookEvent[]): BookEvent[] {
  return events.map((e) => ({ ...e }));
}

/** Places orders that must all rest untouched (the "given" of a scenario). */
export function given(book: OrderBook, ...orders: OrderRequest[]): void {
  for (const o of orders) {
    const ev = copy(book.place(o));
    if (ev.length !== 1 || ev[0]!.type !== "order.accepted") {
      throw new Error(`given: ${o.id} did not simply rest: ${JSON.stringify(ev)}`);
    }
  }
}

/** Trades as [price, qty, makerOrderId, takerOrderId]. */
export function trades(events: readonly BookEvent[]): [number, number, string, string][] {
  return events.filter((e): e is BookTrade => e.type === "trade").map((t) => [t.price, t.qty, t.makerOrderId, t.takerOrderId]);
}

/** Event types in order, cancels with their reason, rejections with their code. */
export function kinds(events: readonly BookEvent[]): string[] {
  return events.map((e) =>
    e.type === "order.cancelled" ? `cancelled:${e.orderId}:${e.reason}:${e.qty}` : e.type === "order.rejected" ? `rejected:${e.code}` : e.type,
  );
}

export function rejection(events: readonly BookEvent[]): { code: string; message: string } | undefined {
  const r = events.find((e) => e.type === "order.rejected");
  return r === undefined || r.type !== "order.rejected" ? undefined : { code: r.code, message: r.message };
}

export function snapshot(book: OrderBook): { bids: [number, number][]; asks: [number, number][] } {
  return { bids: book.levels("buy"), asks: book.levels("sell") };
}

/** RiskHooks whose positions (by account, any symbol) and denials the test sets. */
export class StubHooks implements RiskHooks {
  readonly positions = new Map<string, number>();
  readonly denied = new Map<string, Rejection>();
  readonly checks: { order: OrderRequest; kind: "new" | "replace" }[] = [];

  positionLots(account: string): number {
    return this.positions.get(account) ?? 0;
  }

  preTradeCheck(order: Readonly<OrderRequest>, _symbol: string, kind: "new" | "replace"): Rejection | null {
    this.checks.push({ order: { ...order }, kind });
    return this.denied.get(order.account) ?? null;
  }
}
