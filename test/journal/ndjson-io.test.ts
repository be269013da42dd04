import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entryToJsonLine, parseNdjsonEntries } from "../../src/events/ndjson.js";
import { JournalWriter, exportJournal, importNdjson, readJournal, verifyJournal } from "../../src/journal/index.js";
import { entryArb } from "./support/arbitraries.js";

const dir = mkdtempSync(join(tmpdir(), "mmc-journal-io-"));
let n = 0;
const tempPath = (ext: string): string => join(dir, `f-${n++}.${ext}`);

const LOG = [
  '{"type":"asset","asset":"USDT","decimals":2,"settlement":true}',
  '{"type":"deposit","id":"d1","account":"alice","asset":"USDT","amount":"100","ts":1000}',
  "this is not json",
  "",
  '{"type":"mark","symbol":"BTC-PERP","price":"50000"}',
  '{"type":"mark","symbol":"BTC-PERP","price":"50001","ts":900}',
  '{"type":"bogus","ts":5000}',
  '{"type":"funding","symbol":"BTC-PERP","rate":"0.0001"}',
].join("\n");

async function exportToString(path: string): Promise<string> {
  const lines: string[] = [];
  await exportJournal(path, (line) => lines.push(line));
  return lines.map((l) => l + "\n").join("");
}

describe("import", () => {
  test("assigns seq and ts per SPEC §8 (own ts, else the previous event's, from 0)", async () => {
    const src = tempPath("ndjson");
    writeFileSync(src, LOG);
    const dst = tempPath("mmcj");
    const progress: number[] = [];
    const head = await importNdjson(src, dst, { onProgress: (k) => progress.push(k), progressEvery: 3 });
    const records = [...readJournal(dst)];
    expect(records.map((r) => [r.seq, r.ts, r.sourceSeq, r.entry?.kind])).toEqual([
      [1, 0, 0, "event"],
      [2, 1000, 0, "event"],
      [3, 1000, 0, "raw"],
      [4, 1000, 0, "event"],
      [5, 900, 0, "event"], // ts may go backwards; the log keeps what it was given
      [6, 900, 0, "raw"], // a raw entry's own "ts" is not trusted
      [7, 900, 0, "event"],
    ]);
    expect(progress).toEqual([3, 6, 7]);
    expect(head.seq).toBe(7);
    expect(verifyJournal(dst)).toMatchObject({ ok: true, lastSeq: 7, headHash: head.hash });
  });

  test("refuses to overwrite an existing file, and removes its partial output on failure", async () => {
    const src = tempPath("ndjson");
    writeFileSync(src, LOG);
    const dst = tempPath("mmcj");
    writeFileSync(dst, "precious");
    await expect(importNdjson(src, dst)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(dst, "utf8")).toBe("precious");
    const missing = tempPath("mmcj");
    await expect(importNdjson(join(dir, "no-such-file"), missing)).rejects.toThrow(/ENOENT/);
    expect(existsSync(missing)).toBe(false);
  });
});

describe("export", () => {
  test("export then import gives the identical head hash (fixed log)", async () => {
    const src = tempPath("ndjson");
    writeFileSync(src, LOG);
    const j1 = tempPath("mmcj");
    const h1 = await importNdjson(src, j1);
    const exported = await exportToString(j1);
    const src2 = tempPath("ndjson");
    writeFileSync(src2, exported);
    const j2 = tempPath("mmcj");
    const h2 = await importNdjson(src2, j2);
    expect(h2).toEqual(h1);
    expect(readFileSync(j2).equals(readFileSync(j1))).toBe(true);
    // And the exported text is itself a fixed point.
    expect(await exportToString(j2)).toBe(exported);
  });

  test("export then import gives the identical head hash (random logs)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 25 }), async (entries) => {
        const src = tempPath("ndjson");
        writeFileSync(src, entries.map(entryToJsonLine).join("\n"));
        const j1 = tempPath("mmcj");
        const h1 = await importNdjson(src, j1);
        expect([...readJournal(j1)].map((r) => r.entry)).toStrictEqual(entries);
        const src2 = tempPath("ndjson");
        writeFileSync(src2, await exportToString(j1));
        const h2 = await importNdjson(src2, tempPath("mmcj"));
        expect(h2.hash).toBe(h1.hash);
      }),
      { numRuns: 40 },
    );
  });

  test("writes to a stream without ending it, skips derived records", async () => {
    const j = tempPath("mmcj");
    const w = JournalWriter.open(j);
    const entries = [...parseNdjsonEntries(LOG)];
    for (const [i, e] of entries.entries()) {
      w.appendInput(e, e.kind === "event" && e.event.ts !== undefined ? e.event.ts : 0, i);
      w.appendDerived(i + 1, 0, new TextEncoder().encode('{"type":"margin.call"}'));
    }
    w.close();
    const out = tempPath("ndjson");
    const stream = createWriteStream(out);
    const count = await exportJournal(j, stream);
    expect(count).toBe(entries.length);
    expect(stream.writableEnded).toBe(false);
    stream.end();
    await once(stream, "finish");
    expect(readFileSync(out, "utf8")).toBe(entries.map((e) => entryToJsonLine(e) + "\n").join(""));
  });

  test("a damaged journal makes export throw after the good lines", async () => {
    const src = tempPath("ndjson");
    writeFileSync(src, LOG);
    const j = tempPath("mmcj");
    await importNdjson(src, j);
    const bytes = readFileSync(j);
    bytes[bytes.length - 40]! ^= 1;
    writeFileSync(j, bytes);
    const lines: string[] = [];
    await expect(exportJournal(j, (l) => lines.push(l))).rejects.toMatchObject({ reason: "checksum", seq: 7 });
    expect(lines).toHaveLength(6);
  });
});
