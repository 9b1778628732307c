import { Engine, embeddedLayer, Store } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const plan = { name: "p", atoms: [{ id: "a", instruction: "write a" }] }

describe("Engine.submit: input that cannot hurt (issue 13)", () => {
  it.effect(
    "refuses a masterplan id the stores would not give back as it was, naming it; stores nothing",
    () =>
      Effect.gen(function* () {
        const engine = yield* Engine
        for (const [masterplanId, problem] of [
          ["mp\ud800", "is not well-formed Unicode: an unpaired surrogate (U+D800) at position 2"],
          ["mp\u0000", "must not contain a control character: U+0000 at position 2"],
          ["", "must not be empty"]
        ] as const) {
          const error = yield* Effect.flip(engine.submit(plan, { masterplanId }))
          assert.strictEqual(error._tag, "PlanInputError")
          assert.strictEqual(error.message, `submit is invalid:\n  - masterplanId: ${problem}`)
        }
        assert.deepStrictEqual(yield* (yield* Store).listMasterplans(), [])
        assert.strictEqual(yield* engine.submit(plan, { masterplanId: "mp 😀" }), "mp 😀")
      }).pipe(Effect.provide(embeddedLayer({ store: "memory:" })))
  )

  it.effect("refuses a plan whose options cannot run (1e309 reads as Infinity)", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const error = yield* Effect.flip(engine.submit({ ...plan, options: { callTimeoutMs: Infinity } }))
      assert.include(
        error.message,
        "options.callTimeoutMs: expected a number above 0 and at most 86,400,000, got Infinity"
      )
    }).pipe(Effect.provide(embeddedLayer({ store: "memory:" })))
  )
})
