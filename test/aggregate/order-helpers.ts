// Order event builders for the pipeline tests (BTC-PERP unless overridden; decimal strings).
import type { Wire } from "../helpers/core.js";

/** A limit order at `price`, or a market order when `price` is null. */
export function order(id: string, account: string, side: "buy" | "sell", price: string | null, qty: string, extra: Wire = {}): Wire {
  const o: Wire = { type: "order.new", symbol: "BTC-PERP", id, account, side, qty, ...extra };
  if (price === null) o.orderType = "market";
  else o.price = price;
  return o;
}

export const cancel = (id: string, account: string): Wire => ({ type: "order.cancel", symbol: "BTC-PERP", id, account });

export const replace = (id: string, account: string, change: Wire): Wire => ({ type: "order.replace", symbol: "BTC-PERP", id, account, ...change });
