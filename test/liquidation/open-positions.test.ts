// ADL's open-position index (src/liquidation/open-positions.ts) stays exactly the state's
// open positions, by side, with current float copies of q and C, and its float mirror (every
// position's q, C, m, mode, account and instrument slots, each account's position list) stays
// the state's, through any sequence of opens, changes, flips, closes, mode switches and removals
// (undo of a creation pops the last slot, and a later position reuses it) — checked after every
// step against the state itself.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { OpenPositions } from "../../src/liquidation/open-positions.js";
import type { Effect } from "../../src/aggregate/effects.js";
import type { Position, State } from "../../src/aggregate/state.js";

type Op = { kind: "open" | "set"; account: number; symbol: number; qty: bigint; cost: bigint; isolated: boolean } | { kind: "removeLast" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("open" as const, "set" as const), account: fc.integer({ min: 0, max: 5 }), symbol: fc.integer({ min: 0, max: 2 }), qty: fc.bigInt({ min: -5n, max: 5n }), cost: fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }), isolated: fc.boolean() }),
  fc.constant({ kind: "removeLast" as const }),
);

describe("OpenPositions index", () => {
  it("matches the state after every step of random opens, changes, closes and removals", () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const accounts = new Map<string, { name: string; slot: number; positions: Map<string, Position> }>();
      const positionsBySlot: Position[] = [];
      const instruments = new Map([0, 1, 2].map((i) => [`S${i}`, { symbol: `S${i}`, slot: i }]));
      const state = { accounts, positionsBySlot, instruments } as unknown as State;
      const index = new OpenPositions(state);
      for (const op of ops) {
        let effects: Effect[] = [];
        if (op.kind === "removeLast") {
          const pos = positionsBySlot.pop();
          if (pos === undefined) continue;
          accounts.get(pos.account)!.positions.delete(pos.symbol);
          effects = [{ t: "position.remove", account: pos.account, symbol: pos.symbol }];
        } else {
          const name = `a${op.account}`;
          const symbol = `S${op.symbol}`;
          let acct = accounts.get(name);
          if (acct === undefined) accounts.set(name, (acct = { name, slot: accounts.size, positions: new Map() }));
          let pos = acct.positions.get(symbol);
          if (pos === undefined) {
            if (op.kind === "set") continue;
            pos = { account: name, symbol, slot: positionsBySlot.length, qtyLots: 0n, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage: 10, callLatched: false };
            positionsBySlot.push(pos);
            acct.positions.set(symbol, pos);
          }
          const mode = op.isolated ? "isolated" : "cross";
          pos.qtyLots = op.qty;
          pos.costLotTicks = op.cost;
          pos.isolatedMarginMinor = op.isolated ? op.cost / 7n : 0n;
          pos.mode = mode;
          effects = [{ t: "position", account: name, symbol, values: { qtyLots: op.qty, costLotTicks: op.cost, isolatedMarginMinor: pos.isolatedMarginMinor, mode, leverage: 10 } }];
        }
        index.afterEffects(effects);
        const bad = index.check();
        if (bad !== null) throw new Error(bad);
      }
      // A fresh index built from the final state holds the same entries.
      expect(new OpenPositions(state).check()).toBeNull();
    }), { numRuns: 500 });
  });
});

describe("OpenPositions: undoing new positions in a big book", () => {
  it("does O(removed) work, not a scan of the instrument per removal", () => {
    // Given 100k open positions in one symbol, when 1000 new ones are created and then
    // removed (an undo), then the index is exact again and the removals stay cheap: a scan
    // per removal would visit 10^8 entries.
    type Acct = { name: string; slot: number; positions: Map<string, Position> };
    // Counts lookups: the work of the removals, deterministically (no timing in unit tests).
    class CountingMap extends Map<string, Acct> {
      gets = 0;
      override get(k: string): Acct | undefined {
        this.gets++;
        return super.get(k);
      }
    }
    const accounts = new CountingMap();
    const positionsBySlot: Position[] = [];
    const accountsBySlot: { name: string; slot: number; positions: Map<string, Position> }[] = [];
    const instruments = new Map([["X", { symbol: "X", slot: 0 }]]);
    const state = { accounts, positionsBySlot, accountsBySlot, instruments, assets: new Map(), settlementAsset: null } as unknown as State;
    const index = new OpenPositions(state);
    const open = (i: number): Effect => {
      const name = `a${i}`;
      const acct = { name, slot: accountsBySlot.length, positions: new Map<string, Position>() };
      accounts.set(name, acct);
      accountsBySlot.push(acct);
      const pos: Position = { account: name, symbol: "X", slot: positionsBySlot.length, qtyLots: BigInt(i % 2 === 0 ? 1 : -1), costLotTicks: 100n, isolatedMarginMinor: 0n, mode: "cross", leverage: 10, callLatched: false };
      positionsBySlot.push(pos);
      acct.positions.set("X", pos);
      return { t: "position", account: name, symbol: "X", values: { qtyLots: pos.qtyLots, costLotTicks: 100n, isolatedMarginMinor: 0n, mode: "cross", leverage: 10 } };
    };
    index.afterEffects(Array.from({ length: 100_000 }, (_, i) => open(i)));
    index.afterEffects(Array.from({ length: 1000 }, (_, i) => open(100_000 + i)));
    const removals: Effect[] = [];
    for (let i = 0; i < 1000; i++) {
      const pos = positionsBySlot.pop()!;
      accounts.get(pos.account)!.positions.delete("X");
      removals.push({ t: "position.remove", account: pos.account, symbol: "X" });
    }
    accounts.gets = 0;
    index.afterEffects(removals);
    const lookups = accounts.gets;
    expect(index.check()).toBeNull();
    expect(index.side("X", true).size + index.side("X", false).size).toBe(100_000);
    // A few lookups per removal; a scan of the instrument per removal would make 10^8.
    expect(lookups).toBeLessThanOrEqual(10 * removals.length);
  });
});
