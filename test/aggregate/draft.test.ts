// The Draft against a plain model of what it promises: reads see the draft's own writes, else
// the state, else zero/defaults; effects() gives the opened accounts, then one write per
// (account, asset) and (account, symbol) in order of first touch with its last value, then the
// other effects — whether the draft scans its accounts or indexes them (more than 8).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Draft } from "../../src/aggregate/draft.js";
import type { Effect, PositionValues } from "../../src/aggregate/effects.js";
import { SmallMap, type Account, type Position, type State } from "../../src/aggregate/state.js";

const NAMES = Array.from({ length: 14 }, (_, i) => `acct-${String(i).padStart(2, "0")}`);
const EXISTING = new Set(NAMES.filter((_, i) => i % 3 !== 2)); // accounts the state already has
const ASSETS = ["USDT", "BTC"];
const SYMBOLS = ["BTC-PERP", "ETH-PERP"];

type Op =
  | { op: "add" | "set"; a: number; asset: number; v: bigint }
  | { op: "pos"; a: number; symbol: number; q: bigint }
  | { op: "push"; a: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom("add" as const, "set" as const), a: fc.nat(NAMES.length - 1), asset: fc.nat(1), v: fc.bigInt({ min: -1000n, max: 1000n }) }),
  fc.record({ op: fc.constant("pos" as const), a: fc.nat(NAMES.length - 1), symbol: fc.nat(1), q: fc.bigInt({ min: -50n, max: 50n }) }),
  fc.record({ op: fc.constant("push" as const), a: fc.nat(NAMES.length - 1) }),
);

function makeState(): State {
  const accounts = new Map<string, Account>();
  let slot = 0;
  for (const name of EXISTING) {
    const balances = new SmallMap<bigint>().set("USDT", 100n);
    const positions = new SmallMap<Position>();
    positions.set("BTC-PERP", { account: name, symbol: "BTC-PERP", slot: slot, qtyLots: 3n, costLotTicks: 30n, isolatedMarginMinor: 0n, mode: "cross", leverage: 5, callLatched: false });
    accounts.set(name, { name, slot: slot++, balances, positions, crossCallLatched: false, isolatedCount: 0 });
  }
  return { accounts } as unknown as State;
}

describe("Draft", () => {
  test("reads its writes over the state; effects in first-touch order with last values (scanned and indexed accounts)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const state = makeState();
        const d = new Draft(state);
        // The model: writes by key in first-touch order, opened accounts in order.
        const writes = new Map<string, Effect>();
        const opened: string[] = [];
        const others: Effect[] = [];
        const open = (name: string): void => {
          if (!state.accounts.has(name) && !opened.includes(name)) opened.push(name);
        };
        const modelBalance = (name: string, asset: string): bigint => {
          const w = writes.get(`b|${name}|${asset}`);
          if (w !== undefined && w.t === "balance") return w.valueMinor;
          return state.accounts.get(name)?.balances.get(asset) ?? 0n;
        };
        const modelPosition = (name: string, symbol: string): PositionValues => {
          const w = writes.get(`p|${name}|${symbol}`);
          if (w !== undefined && w.t === "position") return w.values;
          const p = state.accounts.get(name)?.positions.get(symbol);
          return p === undefined
            ? { qtyLots: 0n, costLotTicks: 0n, isolatedMarginMinor: 0n, mode: "cross", leverage: 7 }
            : { qtyLots: p.qtyLots, costLotTicks: p.costLotTicks, isolatedMarginMinor: p.isolatedMarginMinor, mode: p.mode, leverage: p.leverage };
        };
        for (const o of ops) {
          // A fresh string each time (as decoded events carry): the draft must match by content.
          const name = NAMES[o.a]!.split("").join("");
          if (o.op === "push") {
            const e: Effect = { t: "latch.cross", account: name, on: true };
            d.push(e);
            others.push(e);
          } else if (o.op === "pos") {
            const symbol = SYMBOLS[o.symbol]!;
            expect(d.position(name, symbol, 7)).toEqual(modelPosition(name, symbol));
            const values = { ...modelPosition(name, symbol), qtyLots: o.q, costLotTicks: o.q * 10n };
            d.setPosition(name, symbol, values);
            open(name);
            writes.set(`p|${name}|${symbol}`, { t: "position", account: name, symbol, values }); // a rewrite keeps its place
          } else {
            const asset = ASSETS[o.asset]!;
            expect(d.balance(name, asset)).toBe(modelBalance(name, asset));
            const value = o.op === "set" ? o.v : modelBalance(name, asset) + o.v;
            if (o.op === "set") d.setBalance(name, asset, o.v);
            else d.addBalance(name, asset, o.v);
            if (o.op === "set" || o.v !== 0n) {
              open(name);
              writes.set(`b|${name}|${asset}`, { t: "balance", account: name, asset, valueMinor: value });
            }
          }
          expect(d.hasAccount(name)).toBe(state.accounts.has(name) || opened.includes(name));
        }
        const expected: Effect[] = [...opened.map((account): Effect => ({ t: "account.open", account })), ...writes.values(), ...others];
        expect(d.effects()).toEqual(expected);
        expect(() => d.effects()).toThrow(/twice/);
      }),
      { numRuns: 400 },
    );
  });

  test("effects name an existing account by the state's own string", () => {
    const state = makeState();
    const d = new Draft(state);
    d.addBalance("acct-00".split("").join(""), "USDT", 5n);
    const [e] = d.effects();
    expect(e).toEqual({ t: "balance", account: "acct-00", asset: "USDT", valueMinor: 105n });
    expect(e!.t === "balance" && e!.account === state.accounts.get("acct-00")!.name).toBe(true);
  });
});
