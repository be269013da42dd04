// evolveAll's Resolution (src/aggregate/evolve.ts): the ADL mirror and the book sync take each
// effect's kind and account/position from it instead of reading `e.t` and looking the names
// up, so for every effect of a forward batch it must name exactly what a look-up by name finds
// after the batch. Checked on the effects `decide` makes for random trades (new accounts,
// opens, flips, closes, isolated positions with auto-margin, fees) and deposits.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decide } from "../../src/aggregate/decide.js";
import { evolveAll, K_BALANCE, K_COVER, K_NOTE, K_OTHER, K_POSITION, Resolution } from "../../src/aggregate/evolve.js";
import { btcPerp, deposit, entry, given, mark, trade, USDT } from "../helpers/core.js";
import type { InputEvent } from "../../src/events/types.js";

const NAMES = ["alice", "bob", "carol", "dave"];
const NO_MARGIN = { cross: () => ({ equityMinor: 0n, imMinor: 0n }), isolated: () => ({ equityMinor: 0n, imMinor: 0n }) };

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant("trade" as const), buyer: fc.integer({ min: 0, max: 3 }), seller: fc.integer({ min: 0, max: 3 }), qty: fc.integer({ min: 1, max: 40 }), price: fc.integer({ min: 45_000, max: 55_000 }) }),
  fc.record({ kind: fc.constant("deposit" as const), account: fc.integer({ min: 0, max: 3 }), amount: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ kind: fc.constant("isolated" as const), account: fc.integer({ min: 0, max: 3 }) }),
);

describe("evolveAll's Resolution", () => {
  it("names, for every effect of a batch, the kind and the account/position a look-up finds after it", () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), (steps) => {
      const core = given([USDT, btcPerp({ takerFee: "0.0005", makerFee: "-0.0001" }), mark("50000"), deposit("alice", "1000000"), deposit("bob", "1000000")]);
      const state = core.state;
      const res = new Resolution();
      for (const step of steps) {
        const wire = step.kind === "trade"
          ? trade(NAMES[step.buyer]!, NAMES[step.seller]!, String(step.price), `0.${String(step.qty).padStart(3, "0")}`)
          : step.kind === "deposit"
            ? deposit(NAMES[step.account]!, String(step.amount))
            : { type: "margin.mode", account: NAMES[step.account]!, symbol: "BTC-PERP", mode: "isolated" };
        const e = entry(wire);
        if (e.kind !== "event") throw new Error("test event did not validate");
        const d = decide(state, e.event as InputEvent, NO_MARGIN);
        if (!d.ok) continue; // e.g. a mode change of an open position
        evolveAll(state, d.effects, res);
        expect(res.count).toBe(d.effects.length);
        let covers = 0;
        d.effects.forEach((ef, i) => {
          const kind = res.kinds[i];
          if (ef.t === "balance") {
            expect(kind).toBe(K_BALANCE);
            expect(res.accounts[i]).toBe(state.accounts.get(ef.account));
          } else if (ef.t === "position") {
            expect(kind).toBe(K_POSITION);
            expect(res.accounts[i]).toBe(state.accounts.get(ef.account));
            expect(res.positions[i]).toBe(state.accounts.get(ef.account)!.positions.get(ef.symbol));
          } else if (ef.t === "id") expect(kind).toBe(K_NOTE);
          else if (ef.t === "cover") {
            expect(kind).toBe(K_COVER);
            covers++;
          } else expect(kind).toBe(K_OTHER);
        });
        expect(res.covers).toBe(covers);
      }
    }), { numRuns: 100 });
  });
});
