import type { Event } from "@devmatrix/core"
import { EngineLive, makeScriptedModel, makeStoreMemory, ModelProvider, Store } from "@devmatrix/runtime"
import { Engine } from "@devmatrix/runtime"
import { Duration, Effect, Layer, Stream } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

// However slowly the store commits, a call is paid for only while the calls paid before it whose
// outcome the journal does not hold yet are fewer than the concurrency limit: a crash can never
// cost more than the limit of calls.

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 20)

/** Events that end an attempt (the call's outcome is then known). */
const attemptEnds = new Set([
  "atom.retrying",
  "atom.review",
  "atom.completed",
  "atom.failed",
  "atom.cancelled"
])

/** The memory store, whose commits each wait the next of `delaysMs` (cycling) before landing. */
const slowStore = (delaysMs: ReadonlyArray<number>, onCommitted: (events: ReadonlyArray<Event>) => void) => {
  const store = makeStoreMemory()
  let commits = 0
  return Layer.succeed(Store, {
    ...store,
    commit: (masterplanId, batch) =>
      Effect.sleep(Duration.millis(delaysMs[commits++ % delaysMs.length]!)).pipe(
        Effect.zipRight(store.commit(masterplanId, batch)),
        Effect.tap(() => onCommitted(batch.events))
      )
  })
}

const dag = fc
  .integer({ min: 5, max: 80 })
  .chain((size) =>
    fc.tuple(
      ...Array.from({ length: size }, (_, i) =>
        fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, i - 1) }), { maxLength: i === 0 ? 0 : 3 })
      )
    )
  )
  .map((deps) =>
    deps.map((before, i) => ({
      id: `a${i}`,
      dependsOn: before.map((d) => `a${d}`),
      instruction: `atom ${i}`
    }))
  )

describe("the journal bounds what is paid", () => {
  it("calls paid for and not yet journaled never exceed the concurrency limit, whatever the commits' delays (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        dag,
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 15 }), fc.constant(50)), {
          minLength: 1,
          maxLength: 8
        }),
        fc.constantFrom("eager" as const, "waves" as const),
        async (atoms, concurrency, delaysMs, mode) => {
          let started = 0
          let endsCommitted = 0
          let worst = 0
          const scripted = makeScriptedModel({ latencyMs: { min: 0, max: 3 }, seed: 3 })
          const provider = Layer.succeed(ModelProvider, {
            name: "counting",
            generate: (request) =>
              Effect.suspend(() => {
                started++
                worst = Math.max(worst, started - endsCommitted)
                return scripted.generate(request)
              })
          })
          const store = slowStore(delaysMs, (events) => {
            for (const event of events) if (attemptEnds.has(event.type)) endsCommitted++
          })
          const end = await Effect.runPromise(
            Effect.gen(function* () {
              const engine = yield* Engine
              const id = yield* engine.submit({ name: "bound", options: { concurrency, mode }, atoms })
              yield* Stream.runDrain(engine.events(id))
              return yield* engine.result(id)
            }).pipe(
              Effect.provide(EngineLive.pipe(Layer.provide(Layer.merge(provider, store)))),
              Effect.scoped
            )
          )
          expect(end.type).toBe("masterplan.completed")
          expect(started).toBe(atoms.length)
          expect(worst).toBeLessThanOrEqual(concurrency)
        }
      ),
      { numRuns: runs }
    )
  }, 120_000)
})
