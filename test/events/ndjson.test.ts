import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  NDJSON_LINE_MAX_BYTES,
  capRawText,
  entryToJsonLine,
  lineToEntry,
  parseNdjsonEntries,
  readNdjsonEntries,
} from "../../src/events/ndjson.js";
import { decodeEntry, encodeEntry, wtf8Length } from "../../src/events/codec.js";
import type { LogEntry } from "../../src/events/types.js";
import { anyStringArb, entryArb } from "../journal/support/arbitraries.js";

const dir = mkdtempSync(join(tmpdir(), "mmc-ndjson-"));
let fileNo = 0;
function tempFile(content: string | Buffer): string {
  const p = join(dir, `in-${fileNo++}.ndjson`);
  writeFileSync(p, content);
  return p;
}

async function readAll(path: string, chunkBytes?: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readNdjsonEntries(path, chunkBytes === undefined ? {} : { chunkBytes })) out.push(e);
  return out;
}

const MARK = '{"type":"mark","symbol":"BTC-PERP","price":"50000.5","ts":7}';

describe("lines to entries", () => {
  test("events, raw lines, blank lines, CRLF", () => {
    const text = `${MARK}\n\n   \t\nnot json\r\n{"type":"mark","symbol":"B","price":"1"}\r\n{"type":"nope"}`;
    const entries = [...parseNdjsonEntries(text)];
    expect(entries).toHaveLength(4);
    expect(entries[0]).toEqual({ kind: "event", event: { type: "mark", ts: 7, symbol: "BTC-PERP", price: { mantissa: 500005n, scale: 1 } } });
    expect(entries[1]).toEqual({ kind: "raw", raw: "not json\r" }); // the raw input, byte for byte
    expect(entries[2]!.kind).toBe("event"); // "\r" is JSON whitespace
    expect(entries[3]).toEqual({ kind: "raw", raw: '{"type":"nope"}' });
  });

  test("a BOM is dropped at the start of the input only", () => {
    const entries = [...parseNdjsonEntries(`\ufeff${MARK}\n\ufeff${MARK}`)];
    expect(entries[0]!.kind).toBe("event");
    expect(entries[1]).toEqual({ kind: "raw", raw: `\ufeff${MARK}` });
  });

  test("a line of exactly NDJSON_LINE_MAX_BYTES is parsed; one byte more is capped raw", () => {
    const pad = (n: number): string => MARK.slice(0, -1) + `,"x":"${"a".repeat(n)}"}`;
    const base = wtf8Length(pad(0));
    const atLimit = pad(NDJSON_LINE_MAX_BYTES - base);
    expect(wtf8Length(atLimit)).toBe(NDJSON_LINE_MAX_BYTES);
    expect(lineToEntry(atLimit)).toEqual({ kind: "raw", raw: atLimit }); // parsed: unknown field "x"
    const over = pad(NDJSON_LINE_MAX_BYTES - base + 1);
    const e = lineToEntry(over)!;
    expect(e.kind).toBe("raw");
    const raw = (e as { raw: string }).raw;
    expect(wtf8Length(raw)).toBeLessThanOrEqual(NDJSON_LINE_MAX_BYTES);
    expect(raw.endsWith(`…[mmc: line truncated from ${NDJSON_LINE_MAX_BYTES + 1} bytes]`)).toBe(true);
    expect(over.startsWith(raw.slice(0, raw.indexOf("…[mmc")))).toBe(true);
    // The capped text is a stable fixed point: re-reading it gives the same raw entry.
    expect(lineToEntry(entryToJsonLine(e))).toEqual(e);
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });

  test("an oversized valid event is not parsed (kept raw, capped)", () => {
    const spaced = MARK.replace(",", " ".repeat(NDJSON_LINE_MAX_BYTES) + ",");
    const e = lineToEntry(spaced)!;
    expect(e.kind).toBe("raw");
  });

  test("capping never splits a character and respects the byte budget", () => {
    fc.assert(
      fc.property(anyStringArb(40), fc.nat({ max: 8 }), (unit, extra) => {
        if (unit.length === 0) return;
        const text = unit.repeat(Math.ceil((NDJSON_LINE_MAX_BYTES + extra + 1) / Math.max(1, wtf8Length(unit))));
        const capped = capRawText(text);
        expect(wtf8Length(capped)).toBeLessThanOrEqual(NDJSON_LINE_MAX_BYTES);
        const head = capped.slice(0, capped.lastIndexOf("…[mmc"));
        expect(text.startsWith(head)).toBe(true);
        // Never ends on the first half of a surrogate pair that the text had whole.
        const last = head.charCodeAt(head.length - 1);
        const next = text.charCodeAt(head.length);
        expect(last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  test("an oversized blank line is skipped", () => {
    expect(lineToEntry(" ".repeat(NDJSON_LINE_MAX_BYTES + 5))).toBeNull();
  });
});

describe("entries to lines", () => {
  test("export then import is the identity on entries (random)", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 20 }), (entries) => {
        const text = entries.map(entryToJsonLine).join("\n") + "\n";
        expect([...parseNdjsonEntries(text)]).toStrictEqual(entries);
      }),
      { numRuns: 500 },
    );
  });

  test("events are written as canonical JSON (decimals as strings)", () => {
    const [e] = [...parseNdjsonEntries('{"price":50000,"symbol":"B","type":"mark"}')];
    expect(entryToJsonLine(e!)).toBe('{"type":"mark","symbol":"B","price":"50000"}');
  });

  test("raw text that is not one NDJSON line is written JSON-quoted", () => {
    for (const raw of ["a\nb", "", "  ", "\ufeffx", "lone \ud800"]) {
      const line = entryToJsonLine({ kind: "raw", raw });
      expect(line).toBe(JSON.stringify(raw));
      expect(JSON.parse(line)).toBe(raw);
      expect(line.includes("\n")).toBe(false);
    }
  });
});

describe("streaming file reader", () => {
  test("agrees with the string parser at every chunk size, across multi-byte characters", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 12 }), fc.constantFrom(1, 2, 3, 7, 64, 4096), async (entries, chunk) => {
        const text = entries.map(entryToJsonLine).join("\n");
        const path = tempFile(text);
        expect(await readAll(path, chunk)).toStrictEqual([...parseNdjsonEntries(text)]);
        expect(await readAll(path, chunk)).toStrictEqual(entries);
      }),
      { numRuns: 80 },
    );
  });

  test("BOM, CRLF, blank lines and no final newline", async () => {
    const path = tempFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${MARK}\r\n\r\n \n{bad\r\nlast`)]));
    for (const chunk of [1, 2, 5, 1000]) {
      const entries = await readAll(path, chunk);
      expect(entries.map((e) => (e.kind === "raw" ? e.raw : e.event.type))).toEqual(["mark", "{bad\r", "last"]);
    }
  });

  test("invalid UTF-8 becomes U+FFFD and then round-trips", async () => {
    const path = tempFile(Buffer.concat([Buffer.from("ab"), Buffer.from([0xff, 0xc3]), Buffer.from("\n"), Buffer.from(MARK)]));
    const entries = await readAll(path, 3);
    expect(entries[0]).toEqual({ kind: "raw", raw: "ab\ufffd\ufffd" });
    const again = [...parseNdjsonEntries(entries.map(entryToJsonLine).join("\n"))];
    expect(again).toStrictEqual(entries);
  });

  test("a line longer than the limit spanning many chunks keeps only its head", async () => {
    const long = "é".repeat(NDJSON_LINE_MAX_BYTES); // 2 MiB of 2-byte characters
    const path = tempFile(`${MARK}\n${long}\n${" ".repeat(NDJSON_LINE_MAX_BYTES + 3)}\n${MARK}\n`);
    const entries = await readAll(path, 64 * 1024);
    expect(entries).toHaveLength(3);
    expect(entries[0]!.kind).toBe("event");
    expect(entries[2]!.kind).toBe("event");
    const raw = (entries[1] as { raw: string }).raw;
    expect(raw).toBe(capRawText(long));
    expect(raw.endsWith(`[mmc: line truncated from ${2 * NDJSON_LINE_MAX_BYTES} bytes]`)).toBe(true);
    expect(wtf8Length(raw)).toBeLessThanOrEqual(NDJSON_LINE_MAX_BYTES);
  });

  test("rejects a bad chunk size", async () => {
    await expect(readAll(tempFile(MARK), 0)).rejects.toThrow(RangeError);
  });
});
