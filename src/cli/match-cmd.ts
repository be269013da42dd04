// `mmc match <orders.ndjson>`: runs order events through the matching engine alone and
// prints { trades, book, rejected } (decimal strings, best price first).
import { readFileSync } from "node:fs";
import { runMatch } from "../matching/engine.js";

export function matchCommand(file: string, opts: { json?: boolean; book?: "fast" | "naive" }): number {
  const entries = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  const result = runMatch(entries, { book: opts.book ?? "fast" });
  if (opts.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(`trades ${result.trades.length}  rejected ${result.rejected.length}\n`);
  for (const [symbol, book] of Object.entries(result.book)) {
    process.stdout.write(`${symbol}: best bid ${book.bids[0]?.join(" × ") ?? "-"}  best ask ${book.asks[0]?.join(" × ") ?? "-"}  (${book.bids.length} bid / ${book.asks.length} ask levels)\n`);
  }
  return 0;
}
