import type { Event, PlanInputEncoded } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import type { SubmitOptions } from "@devmatrix/runtime"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import fc from "fast-check"

/** Plans and runs for the engine's tests: a plan's atoms, and a run stepped on the test clock. */

export const atom = (id: string, dependsOn: ReadonlyArray<string> = [], extra: object = {}) => ({
  id,
  dependsOn: [...dependsOn],
  instruction: `implement ${id}`,
  ...extra
})

export const plan = (atoms: ReadonlyArray<ReturnType<typeof atom>>, options: object = {}): PlanInputEncoded =>
  ({ name: "test-plan", options, atoms }) as unknown as PlanInputEncoded

/** Lets the real event loop turn: actors' promise callbacks run between clock steps. */
export const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

export const fiberDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.map(fiber.poll, (exit) => exit._tag === "Some")

/** Submits a plan and collects its whole journal, stepping the test clock through backoffs. */
export const runPlan = (input: unknown, submit: SubmitOptions = {}) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit(input, submit)
    const collecting = yield* Effect.fork(Stream.runCollect(engine.events(id)))
    while (!(yield* fiberDone(collecting))) {
      yield* tick
      yield* TestClock.adjust("1 minute")
    }
    const events = Chunk.toArray(yield* Fiber.join(collecting))
    return { id, events, end: yield* engine.result(id) }
  })

export const ofType = <T extends Event["type"]>(events: ReadonlyArray<Event>, type: T) =>
  events.filter((e): e is Extract<Event, { type: T }> => e.type === type)

/** A random DAG of 1 to `maxSize` atoms `n0`, `n1`, ...: each depends on up to 3 of those before it. */
export const randomDagAtoms = (maxSize: number) =>
  fc
    .integer({ min: 1, max: maxSize })
    .chain((size) => fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: size, maxLength: size }))
    .map((depPicks) =>
      depPicks.map((picks, i) => atom(`n${i}`, i === 0 ? [] : [...new Set(picks.map((p) => `n${p % i}`))]))
    )

/** Waits for a plan's end, stepping the test clock by `step` between turns of the event loop. */
export const resultStepping = (masterplanId: string, step: Parameters<typeof TestClock.adjust>[0]) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const waiting = yield* Effect.fork(engine.result(masterplanId))
    while (!(yield* fiberDone(waiting))) {
      yield* tick
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(waiting)
  })
