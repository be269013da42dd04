// An oversized input is kept truncated as a raw entry and rejected E_TOO_LARGE — by the core
// itself, so the report, a journal replay and the NATS `rejected` output give one code.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replayLog } from "../../src/replay.js";
import { buildReport } from "../../src/outputs/report.js";
import { importNdjson } from "../../src/journal/index.js";
import { NDJSON_LINE_MAX_BYTES } from "../../src/events/ndjson.js";

describe("oversized input", () => {
  it("is rejected E_TOO_LARGE from the NDJSON file and from its journal, and the run goes on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mmc-oversize-"));
    const log = join(dir, "big.ndjson");
    const huge = JSON.stringify({ type: "mark", symbol: "BTC-PERP", price: "1", pad: "x".repeat(NDJSON_LINE_MAX_BYTES) });
    writeFileSync(log, [
      JSON.stringify({ type: "asset", asset: "USDT", decimals: 6, settlement: true }),
      huge,
      '{"type":"mark"',
      JSON.stringify({ type: "deposit", id: "d", account: "a", asset: "USDT", amount: "5" }),
    ].join("\n") + "\n");
    const journal = join(dir, "big.journal");
    await importNdjson(log, journal);
    for (const source of [log, journal]) {
      const r = buildReport(await replayLog(source));
      expect(r.rejected.map((x) => [x.seq, x.code])).toEqual([[2, "E_TOO_LARGE"], [3, "E_JSON"]]);
      expect(r.accounts.a!.balances).toEqual({ USDT: "5.000000" });
    }
  });
});
