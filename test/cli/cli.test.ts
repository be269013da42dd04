// The CLI as a user meets it: help, exit codes (0 ok, 1 failed, 2 usage), --json, and the
// journal tools catching tampering. Runs the built binary (npm test builds first).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { JournalWriter, readJournal } from "../../src/journal/index.js";
import { Core } from "../../src/pipeline.js";
import { encodeDerived } from "../../src/outputs/derived.js";
import { entry } from "../helpers/core.js";

const BIN = resolve(import.meta.dirname, "../../bin/mmc.js");
const dir = mkdtempSync(join(tmpdir(), "mmc-cli-"));

function mmc(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const log = join(dir, "m.ndjson");
const journal = join(dir, "m.journal");

describe("mmc CLI", () => {
  it("--help lists the commands; unknown commands and bad options exit 2", () => {
    const help = mmc("--help");
    expect(help.code).toBe(0);
    for (const c of ["demo", "replay", "verify", "import", "export", "process", "generate"]) expect(help.stdout).toContain(c);
    expect(mmc("frobnicate").code).toBe(2);
    expect(mmc("replay").code).toBe(2); // missing argument
    expect(mmc("generate", "--events", "many").code).toBe(2);
    expect(mmc("generate", "--calm", "--order-flow", "--events", "10").code).toBe(2);
  });

  it("generate --calm: the same seed's steady market — far fewer liquidations", () => {
    const stress = mmc("generate", "--seed", "5", "--accounts", "200", "--events", "8000").stdout.trim().split("\n");
    const calm = mmc("generate", "--seed", "5", "--accounts", "200", "--events", "8000", "--calm").stdout.trim().split("\n");
    expect(calm).toHaveLength(8000);
    expect(calm).not.toEqual(stress);
    const liquidations = (lines: string[]): number => {
      const f = join(dir, "calm-check.ndjson");
      writeFileSync(f, lines.join("\n") + "\n");
      return (JSON.parse(mmc("replay", f, "--json").stdout) as { liquidations: unknown[] }).liquidations.length;
    };
    expect(liquidations(calm) * 2).toBeLessThan(liquidations(stress));
  });

  it("generate → import → verify prints the head hash; export → import reproduces it", () => {
    expect(mmc("generate", "--seed", "3", "--accounts", "30", "--events", "2000", "--out", log).code).toBe(0);
    expect(mmc("import", log, journal, "--no-progress").code).toBe(0);
    const v = mmc("verify", journal, "--json");
    expect(v.code).toBe(0);
    const head = JSON.parse(v.stdout) as { ok: boolean; lastSeq: number; headHash: string };
    expect(head).toMatchObject({ ok: true, lastSeq: 2000 });
    const exported = join(dir, "exported.ndjson");
    expect(mmc("export", journal, "--out", exported).code).toBe(0);
    const again = join(dir, "again.journal");
    expect(mmc("import", exported, again, "--no-progress").code).toBe(0);
    expect(JSON.parse(mmc("verify", again, "--json").stdout).headHash).toBe(head.headHash);
  });

  it("replay --json prints the SPEC §9 report; the same for the log and its journal", () => {
    const a = mmc("replay", log, "--json");
    const b = mmc("replay", journal, "--json");
    expect(a.code).toBe(0);
    const report = JSON.parse(a.stdout);
    expect(Object.keys(report)).toEqual(expect.arrayContaining(["seq", "stateHash", "accounts", "marks", "liquidations", "adl", "rejected"]));
    expect(report.seq).toBe(2000);
    expect(b.stdout).toBe(a.stdout);
    const until = JSON.parse(mmc("replay", log, "--json", "--until", "100").stdout);
    expect(until.seq).toBe(100);
  });

  it("verify and replay catch a flipped byte (exit 1, with the seq)", () => {
    const bytes = readFileSync(journal);
    const flipped = Buffer.from(bytes);
    const at = Math.floor(bytes.length / 2);
    flipped[at] = flipped[at]! ^ 0x01;
    const bad = join(dir, "flipped.journal");
    writeFileSync(bad, flipped);
    const v = mmc("verify", bad);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/BROKEN at seq \d+/);
    const r = mmc("replay", bad, "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken journal at seq \d+/);
  });

  it("verify catches a removed record", () => {
    const records = [...readJournal(journal)];
    const victim = records[500]!;
    const next = records[501]!;
    const bytes = readFileSync(journal);
    const cut = Buffer.concat([bytes.subarray(0, victim.offset), bytes.subarray(next.offset)]);
    const bad = join(dir, "removed.journal");
    writeFileSync(bad, cut);
    const v = JSON.parse(mmc("verify", bad, "--json").stdout) as { ok: boolean; seq: number };
    expect(v.ok).toBe(false);
    expect(v.seq).toBe(victim.seq + 1);
  });

  it("process journals derived records; replay audits them and rejects a journal that disagrees", () => {
    const processed = join(dir, "processed.journal");
    const p = mmc("process", log, processed, "--json", "--no-progress");
    expect(p.code).toBe(0);
    const result = JSON.parse(p.stdout) as { derivedRecords: number; stateHash: string };
    expect(result.derivedRecords).toBeGreaterThan(0);
    expect(JSON.parse(mmc("replay", processed, "--json").stdout).stateHash).toBe(result.stateHash);

    // A well-chained journal whose derived record says something the engine does not conclude.
    const forged = join(dir, "forged.journal");
    const w = JournalWriter.open(forged);
    const core = new Core();
    for (const line of readFileSync(log, "utf8").split("\n").filter((l) => l !== "").slice(0, 200)) {
      const r = core.apply(entry(line));
      w.appendInput(entry(line), r.ts, 0);
      for (const o of r.outputs) w.appendDerived(r.seq, r.ts, encodeDerived(o));
      if (r.seq === 150) w.appendDerived(r.seq, r.ts, encodeDerived({ type: "rejected", seq: 150, code: "E_MARGIN", message: "forged" }));
    }
    w.close();
    expect(mmc("verify", forged).code).toBe(0); // the chain itself is intact
    const r = mmc("replay", forged, "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/audit: seq 150/);
  });
});
