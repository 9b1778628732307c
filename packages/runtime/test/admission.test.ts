import type { Event } from "@devmatrix/core"
import {
  Engine,
  embeddedLayer,
  makeScriptedModel,
  makeLocalScheduler,
  ModelProvider,
  Store
} from "@devmatrix/runtime"
import type { ModelProviderService, SchedulerOptions } from "@devmatrix/runtime"
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Stream, TestClock } from "effect"
import fc from "fast-check"
import { atom, ofType, plan, randomDagAtoms, resultStepping, runPlan, tick } from "./enginePlans.js"
import { expectRunInvariants } from "./runInvariants.js"

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 25)

/** The engine on a provider of the test's, a memory store and no prompt cache, with scheduler options. */
const engineOn = (provider: ModelProviderService, scheduler: Partial<SchedulerOptions<unknown>> = {}) =>
  Effect.provide(
    embeddedLayer({
      provider: Layer.succeed(ModelProvider, provider),
      store: "memory:",
      promptCache: { disabled: true },
      scheduler
    })
  )

/** A provider that counts the calls in flight (the most at once too) around `inner`. */
const counting = (inner: ModelProviderService) => {
  const seen = { inFlight: 0, most: 0, calls: 0 }
  const provider: ModelProviderService = {
    ...inner,
    generate: (request) =>
      Effect.suspend(() => {
        seen.calls++
        seen.most = Math.max(seen.most, ++seen.inFlight)
        return Effect.ensuring(
          inner.generate(request),
          Effect.sync(() => seen.inFlight--)
        )
      })
  }
  return { provider, seen }
}

/**
 * From a journal: at each `atom.ready`, how many atoms of the plan were queued for admission and
 * how many were backing off before they queue again.
 */
const queueDepths = (events: ReadonlyArray<Event>) => {
  const queued = new Set<string>()
  const backingOff = new Set<string>()
  const atReady: Array<{ readonly queued: number; readonly backingOff: number }> = []
  for (const event of events) {
    if (!event.type.startsWith("atom.") || !("atomId" in event) || event.atomId === undefined) continue
    if (event.type === "atom.ready") atReady.push({ queued: queued.size, backingOff: backingOff.size })
    // Every atom event moves the atom: into the queue, into a backoff, or out of both.
    queued.delete(event.atomId)
    backingOff.delete(event.atomId)
    if (event.type === "atom.queued") queued.add(event.atomId)
    if (event.type === "atom.retrying" || event.type === "atom.throttled") backingOff.add(event.atomId)
  }
  return atReady
}

/** From a journal: the most atoms of one wave that were calling at once. */
const mostCallingPerWave = (events: ReadonlyArray<Event>) => {
  const calling = new Map<number, Set<string>>()
  let most = 0
  for (const event of events) {
    if (!("atomId" in event) || event.atomId === undefined || !("wave" in event)) continue
    const wave = calling.get(event.wave) ?? new Set<string>()
    calling.set(event.wave, wave)
    if (event.type === "atom.started") wave.add(event.atomId)
    else if (event.type !== "atom.queued" && event.type !== "atom.ready") wave.delete(event.atomId)
    most = Math.max(most, wave.size)
  }
  return most
}

describe("issue 16: admission", () => {
  it.live(
    "a bounded queue per plan: no atom is made ready while the plan has maxQueuedPerPlan waiting, none is lost, and waves keep their caps (property)",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            randomDagAtoms(40),
            fc.record({
              concurrency: fc.integer({ min: 1, max: 6 }),
              maxQueued: fc.integer({ min: 1, max: 5 }),
              waveConcurrency: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
              mode: fc.constantFrom("eager" as const, "waves" as const),
              faultRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
              seed: fc.integer({ min: 0, max: 1_000 })
            }),
            async (atoms, { concurrency, maxQueued, waveConcurrency, mode, faultRate, seed }) => {
              const input = plan(atoms, {
                concurrency,
                mode,
                ...(waveConcurrency !== undefined ? { waveConcurrency } : {}),
                retry: { initialMs: 0, maxRetries: 2, jitter: 0 }
              })
              const scripted = makeScriptedModel({ faultRate, seed, latencyMs: { min: 0, max: 2 } })
              const events = await Effect.runPromise(
                Effect.gen(function* () {
                  const engine = yield* Engine
                  const id = yield* engine.submit(input)
                  return Chunk.toArray(yield* Stream.runCollect(engine.events(id)))
                }).pipe(engineOn(scripted, { maxQueuedPerPlan: maxQueued }))
              )
              expectRunInvariants(events, atoms, { concurrency, mode })
              // An atom is made ready only while fewer than maxQueued wait (queued or backing off), or
              // while none is queued (backoffs hold no permit: a free one must not idle).
              const crowded = queueDepths(events).filter(
                (depth) => depth.queued > 0 && depth.queued + depth.backingOff >= maxQueued
              )
              expect(crowded).toEqual([])
              if (waveConcurrency !== undefined)
                expect(mostCallingPerWave(events)).toBeLessThanOrEqual(waveConcurrency)
            }
          ),
          { numRuns: runs }
        )
      )
  )

  it.effect("a wide plan over its queue bound holds its ready atoms back, and runs every one", () =>
    Effect.gen(function* () {
      const atoms = Array.from({ length: 50 }, (_, i) => atom(`w${i}`))
      const { events, end } = yield* runPlan(plan(atoms, { concurrency: 3 }))
      assert.strictEqual(end.type, "masterplan.completed")
      expect(ofType(events, "atom.completed")).toHaveLength(50)
      const queuedAtReady = queueDepths(events).map((depth) => depth.queued + depth.backingOff)
      // 50 independent atoms ready at once, of which 5 are queued; the rest follow as atoms start.
      expect(queuedAtReady.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 2])
      expect(Math.max(...queuedAtReady)).toBe(4)
      // The first atoms queued are the ones that start first: nothing jumps the queue.
      expect(
        ofType(events, "atom.started")
          .map((e) => e.atomId)
          .slice(0, 3)
      ).toEqual(["w0", "w1", "w2"])
    }).pipe(engineOn(makeScriptedModel({ latencyMs: 10 }), { maxQueuedPerPlan: 5 }))
  )

  it.effect("atoms backing off do not keep a plan whose queue they fill from using its free permits", () =>
    Effect.gen(function* () {
      const failingOnce = { simulate: { faults: ["transient"] } }
      const atoms = [atom("a0", [], failingOnce), atom("a1", [], failingOnce)].concat(
        Array.from({ length: 12 }, (_, i) => atom(`w${i}`))
      )
      const { events, end } = yield* runPlan(
        plan(atoms, { concurrency: 3, retry: { initialMs: 10_000, jitter: 0 } })
      )
      assert.strictEqual(end.type, "masterplan.completed")
      const startedAt = ofType(events, "atom.started")[0]!.at
      // a0 and a1 fill the plan's 2 slots while they back off for 10 s; the others ran meanwhile.
      const others = ofType(events, "atom.completed").filter((e) => e.atomId.startsWith("w"))
      expect(others).toHaveLength(12)
      expect(others.every((e) => e.at < startedAt + 10_000)).toBe(true)
      expect(
        ofType(events, "atom.retrying")
          .map((e) => e.atomId)
          .sort()
      ).toEqual(["a0", "a1"])
    }).pipe(engineOn(makeScriptedModel({ latencyMs: 10 }), { maxQueuedPerPlan: 2 }))
  )

  it.effect(
    "a full engine: a submit waits for room, fails with AdmissionQueueFull after maxQueueWaitMs with nothing stored, and one that waits gets in once a plan ends",
    () =>
      Effect.gen(function* () {
        const engine = yield* Engine
        const store = yield* Store
        const release = yield* Deferred.make<void>()
        holdUntil.current = Deferred.await(release)
        // `big` claims 3 slots (its bound per plan), `pair` 2: the engine's 5 are taken.
        yield* engine.submit(plan(Array.from({ length: 10 }, (_, i) => atom(`b${i}`))), {
          masterplanId: "big"
        })
        yield* engine.submit(plan([atom("p0"), atom("p1")]), { masterplanId: "pair" })
        const refused = yield* Effect.fork(engine.submit(plan([atom("x")]), { masterplanId: "refused" }))
        yield* tick
        yield* TestClock.adjust("9999 millis")
        expect(refused.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        const failure = yield* Effect.flip(Fiber.join(refused))
        expect(failure).toMatchObject({
          _tag: "AdmissionQueueFull",
          masterplanId: "refused",
          requested: 1,
          claimed: 5,
          maxQueuedPerEngine: 5,
          waitedMs: 10_000
        })
        expect(failure.message).toMatch(/the engine is busy: masterplan "refused" needs 1/)
        expect((yield* store.listMasterplans()).map((record) => record.id).sort()).toEqual(["big", "pair"])
        // One that waits while the plans run gets in when they end and give their slots back.
        const later = yield* Effect.fork(engine.submit(plan([atom("y")]), { masterplanId: "later" }))
        yield* tick
        expect(later.unsafePoll()).toBeNull()
        yield* Deferred.succeed(release, undefined)
        for (let i = 0; i < 20 && later.unsafePoll() === null; i++) {
          yield* tick
          yield* TestClock.adjust("100 millis")
        }
        expect(yield* Fiber.join(later)).toBe("later")
        for (const id of ["big", "pair", "later"])
          expect((yield* resultStepping(id, "1 second")).type).toBe("masterplan.completed")
      }).pipe(engineOn(held, { maxQueuedPerPlan: 3, maxQueuedPerEngine: 5, maxQueueWaitMs: 10_000 }))
  )

  it.effect("a tenant's cap holds the calls of all its plans", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const ids = yield* Effect.all(
        [0, 1, 2].map((p) =>
          engine.submit(
            plan(
              Array.from({ length: 6 }, (_, i) => atom(`t${p}-${i}`)),
              { concurrency: 5 }
            )
          )
        )
      )
      for (const id of ids) yield* resultStepping(id, "1 second")
      expect(tenantSeen.most).toBe(2)
      expect(tenantSeen.calls).toBe(18)
    }).pipe(engineOn(tenantProvider, { tenantLimits: { default: 2 } }))
  )

  it.effect(
    "a provider that never answers: the permit is reclaimed after its lease (callTimeoutMs + 30 s), the attempt fails as a timeout through the atom's retries, and the rest of the plan runs",
    () =>
      Effect.gen(function* () {
        const { events, end } = yield* runPlan(
          plan([atom("stuck"), atom("after", ["stuck"]), atom("free")], {
            concurrency: 1,
            callTimeoutMs: 1_000,
            retry: { maxRetries: 1, initialMs: 100, jitter: 0 }
          })
        )
        assert.strictEqual(end.type, "masterplan.failed")
        // Two attempts of `stuck`, each hanging until its lease ran out and its call was interrupted.
        expect(hanging.interrupted).toEqual(["stuck/1", "stuck/2"])
        const retrying = ofType(events, "atom.retrying")
        expect(retrying).toMatchObject([{ atomId: "stuck", reason: "timeout", attempt: 1 }])
        expect(retrying[0]!.error).toMatch(
          /its call held a concurrency permit for 31000 ms, past the permit's lease of 31000 ms: abandoned, and the permit reclaimed/
        )
        const failed = ofType(events, "atom.failed")
        expect(failed).toMatchObject([{ atomId: "stuck", reason: "timeout", attempts: 2 }])
        expect(ofType(events, "atom.skipped")).toMatchObject([{ atomId: "after", becauseOf: "stuck" }])
        // `free` waited behind the hung call (concurrency 1) and ran once its permit came back.
        expect(ofType(events, "atom.completed").map((e) => e.atomId)).toEqual(["free"])
        expect(end.summary.atoms).toMatchObject({ completed: 1, failed: 1, skipped: 1 })
        const limits = yield* (yield* Engine).limits()
        expect(limits.map((limit) => limit.permits)).toEqual([0])
      }).pipe(engineOn(hanging.provider))
  )

  it.effect("a scheduler option out of range is refused, naming it", () =>
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      expect(() =>
        makeLocalScheduler(runtime, () => 0, {
          limiter: () => ({}) as never,
          maxQueuedPerPlan: 0,
          tenantLimits: { a: 1.5 }
        })
      ).toThrow(
        /tenantLimits[\s\S]*"a"[\s\S]*an integer, actual 1.5[\s\S]*maxQueuedPerPlan[\s\S]*greater than or equal to 1, actual 0/
      )
    })
  )
})

/** Calls of the plans `big` and `pair` wait for `holdUntil.current`; the others answer at once. */
const holdUntil: { current: Effect.Effect<void> } = { current: Effect.void }
const heldScripted = makeScriptedModel({})
const held: ModelProviderService = {
  ...heldScripted,
  generate: (request) =>
    request.masterplanId === "big" || request.masterplanId === "pair"
      ? Effect.zipRight(holdUntil.current, heldScripted.generate(request))
      : heldScripted.generate(request)
}

const { provider: tenantProvider, seen: tenantSeen } = counting(makeScriptedModel({ latencyMs: 50 }))

/** A provider whose calls for atom `stuck` never answer (and ignore their timeout). */
const hanging = (() => {
  const scripted = makeScriptedModel({})
  const interrupted: Array<string> = []
  const provider: ModelProviderService = {
    ...scripted,
    generate: (request) =>
      request.atomId === "stuck"
        ? Effect.onInterrupt(Effect.never, () =>
            Effect.sync(() => interrupted.push(`${request.atomId}/${request.attempt}`))
          )
        : scripted.generate(request)
  }
  return { provider, interrupted }
})()
