import { assert, describe, expect, it } from "@effect/vitest"
import { BudgetExceeded, CostLedger, CostLedgerLocal } from "@devmatrix/runtime"
import { Effect, Either, Schema } from "effect"
import type { Layer } from "effect"

const plan = "mp-1"
const scope = (atomId: string, wave = 0) => ({ wave, atomId })

/** What every CostLedger implementation must do; the Redis ledger of a later issue runs it too. */
const suite = (name: string, layer: Layer.Layer<CostLedger>) =>
  describe(name, () => {
    it.effect("of 100 concurrent reservations of which only one fits, admits exactly one", () =>
      Effect.gen(function* () {
        const ledger = yield* CostLedger
        yield* ledger.open(plan, { hardUsd: 1 }, [])
        const outcomes = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) =>
            Effect.yieldNow().pipe(
              Effect.zipRight(ledger.reserve(plan, `${plan}/a${i}/1`, 0.6, scope(`a${i}`))),
              Effect.either
            )
          ),
          { concurrency: "unbounded" }
        )
        expect(outcomes.filter(Either.isRight)).toHaveLength(1)
        const refused = outcomes.filter(Either.isLeft).map((o) => o.left)
        expect(refused).toHaveLength(99)
        expect(refused.every((e) => e._tag === "BudgetExceeded" && e.level === "plan")).toBe(true)
        expect(yield* ledger.snapshot(plan)).toEqual({
          hardUsd: 1,
          softUsd: 0.8,
          committedUsd: 0,
          reservedUsd: 0.6
        })
        yield* ledger.close(plan)
      }).pipe(Effect.provide(layer))
    )

    it.effect("of 100 concurrent reservations of $0.10 under $1, admits exactly ten", () =>
      Effect.gen(function* () {
        const ledger = yield* CostLedger
        yield* ledger.open(plan, { hardUsd: 1 }, [])
        const outcomes = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) =>
            Effect.yieldNow().pipe(
              Effect.zipRight(ledger.reserve(plan, `r${i}`, 0.1, scope(`a${i}`))),
              Effect.either
            )
          ),
          { concurrency: "unbounded" }
        )
        expect(outcomes.filter(Either.isRight)).toHaveLength(10)
        expect((yield* ledger.snapshot(plan)).reservedUsd).toBe(1)
      }).pipe(Effect.provide(layer))
    )

    it.effect("commits the actual cost once, releases the rest and signals the soft limit once", () =>
      Effect.gen(function* () {
        const ledger = yield* CostLedger
        yield* ledger.open(plan, { hardUsd: 1 }, [])
        const held = yield* ledger.reserve(plan, "a/1", 0.9, scope("a", 2))
        assert.deepStrictEqual(held, {
          masterplanId: plan,
          reservationId: "a/1",
          usd: 0.9,
          wave: 2,
          atomId: "a"
        })
        const first = yield* ledger.commit(plan, "a/1", 0.85)
        expect(first.signals).toEqual([{ type: "soft_limit", totalUsd: 0.85, limitUsd: 0.8 }])
        expect((yield* ledger.commit(plan, "a/1", 0.85)).signals).toEqual([])
        expect(yield* ledger.snapshot(plan)).toMatchObject({ committedUsd: 0.85, reservedUsd: 0 })
        const again = yield* Effect.flip(ledger.reserve(plan, "a/1", 0.01, scope("a", 2)))
        expect(again).toMatchObject({ _tag: "CostLedgerError", reason: "AlreadyCommitted" })
      }).pipe(Effect.provide(layer))
    )

    it.effect(
      "refuses with the level, the limit and the amounts; a release or a raise lets the call in",
      () =>
        Effect.gen(function* () {
          const ledger = yield* CostLedger
          yield* ledger.open(plan, { hardUsd: 1, perAtomUsd: 0.5 }, [])
          yield* ledger.reserve(plan, "a/1", 0.5, scope("a"))
          const atom = yield* Effect.flip(ledger.reserve(plan, "a/2", 0.25, scope("a")))
          expect(atom).toMatchObject({
            _tag: "BudgetExceeded",
            level: "atom",
            limitUsd: 0.5,
            wouldBeUsd: 0.75
          })
          expect(atom.message).toBe(
            "atom budget of $0.5 exceeded: reserving $0.25 for a/2 would bring it to $0.75"
          )
          yield* ledger.release(plan, "a/1")
          yield* ledger.reserve(plan, "a/2", 0.25, scope("a"))
          yield* ledger.reserve(plan, "b/1", 0.5, scope("b"))
          const full = yield* Effect.flip(ledger.reserve(plan, "c/1", 0.5, scope("c")))
          expect(full.message).toBe(
            "plan budget of $1 exceeded: reserving $0.5 for c/1 would bring it to $1.25"
          )
          yield* ledger.raise(plan, { hardUsd: 2 })
          yield* ledger.reserve(plan, "c/1", 0.5, scope("c"))
          expect(yield* ledger.snapshot(plan)).toEqual({
            hardUsd: 2,
            softUsd: 1.6,
            committedUsd: 0,
            reservedUsd: 1.25
          })
        }).pipe(Effect.provide(layer))
    )

    it.effect(
      "recovers from the journal's committed costs, keeps an open ledger, and forgets a closed one",
      () =>
        Effect.gen(function* () {
          const ledger = yield* CostLedger
          const totals = yield* ledger.open(plan, { hardUsd: 1 }, [
            { id: "a/1", usd: 0.7, wave: 0, atomId: "a" },
            { id: "b/1", usd: 0.2 }
          ])
          expect(totals).toEqual({ hardUsd: 1, softUsd: 0.8, committedUsd: 0.9, reservedUsd: 0 })
          // Soft limit already crossed before the restart: no second signal.
          yield* ledger.reserve(plan, "c/1", 0.05, scope("c"))
          expect((yield* ledger.commit(plan, "c/1", 0.05)).signals).toEqual([])
          expect((yield* ledger.open(plan, { hardUsd: 5 }, [])).committedUsd).toBe(0.95)
          yield* ledger.close(plan)
          const closed = yield* Effect.flip(ledger.snapshot(plan))
          expect(closed).toMatchObject({ _tag: "CostLedgerError", reason: "NotOpen" })
          expect(closed.message).toBe(`no cost ledger is open for masterplan "${plan}"`)
          expect((yield* Effect.flip(ledger.reserve("other", "x", 0.1, scope("x"))))._tag).toBe(
            "CostLedgerError"
          )
        }).pipe(Effect.provide(layer))
    )

    it.effect("reports an overrun: a call that cost more than it held is committed all the same", () =>
      Effect.gen(function* () {
        const ledger = yield* CostLedger
        yield* ledger.open(plan, { hardUsd: 10 }, [])
        yield* ledger.reserve(plan, "a/1", 0.1, scope("a"))
        expect((yield* ledger.commit(plan, "a/1", 0.12)).signals).toEqual([
          { type: "overrun", reservationId: "a/1", reservedUsd: 0.1, actualUsd: 0.12 }
        ])
        expect((yield* ledger.snapshot(plan)).committedUsd).toBe(0.12)
      }).pipe(Effect.provide(layer))
    )
  })

suite("CostLedgerLocal", CostLedgerLocal)

describe("BudgetExceeded", () => {
  it("goes through its Schema unchanged (it is journaled and sent to clients)", () => {
    const error = new BudgetExceeded({
      masterplanId: plan,
      reservationId: "a/1",
      level: "wave",
      limitUsd: 2,
      requestedUsd: 0.5,
      wouldBeUsd: 2.25
    })
    const wire = Schema.encodeSync(BudgetExceeded)(error)
    expect(wire).toEqual({
      _tag: "BudgetExceeded",
      masterplanId: plan,
      reservationId: "a/1",
      level: "wave",
      limitUsd: 2,
      requestedUsd: 0.5,
      wouldBeUsd: 2.25
    })
    expect(Schema.decodeUnknownSync(BudgetExceeded)(JSON.parse(JSON.stringify(wire)))).toEqual(error)
  })
})
