import { compilePlan } from "@devmatrix/core"
import { Engine, embeddedLayer, scriptedRetryAfterMs, Store } from "@devmatrix/runtime"
import type { ScriptedModelOptions, SubmitOptions } from "@devmatrix/runtime"
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import fc from "fast-check"
import { atom, fiberDone, ofType, plan, randomDagAtoms, runPlan, tick } from "./enginePlans.js"
import { expectRunInvariants } from "./runInvariants.js"

const withEngine = (scripted: ScriptedModelOptions = {}) =>
  Effect.provide(embeddedLayer({ scripted, store: "memory:" }))

const diamond = [atom("a"), atom("b", ["a"]), atom("c", ["a"]), atom("d", ["b", "c"]), atom("e")]

describe("Engine", () => {
  it.effect("runs a plan to completion, journaling every step with a gap-free seq", () =>
    Effect.gen(function* () {
      const { events, end } = yield* runPlan(plan(diamond))
      expectRunInvariants(events, diamond, { concurrency: 100, mode: "eager" })
      assert.strictEqual(end.type, "masterplan.completed")
      assert.deepStrictEqual(end.summary.atoms, {
        total: 5,
        completed: 5,
        failed: 0,
        skipped: 0,
        cancelled: 0,
        blocked: 0,
        review: 0
      })
      assert.strictEqual(end.summary.waves, 3)
      assert.isTrue(end.summary.costUsd > 0)
      assert.strictEqual(end.summary.calls, 5)
      const types = events.map((e) => e.type)
      assert.deepStrictEqual(types.slice(0, 2), ["masterplan.submitted", "masterplan.started"])
      assert.strictEqual(ofType(events, "wave.completed").length, 3)
      assert.strictEqual(ofType(events, "atom.completed").length, 5)
    }).pipe(withEngine())
  )

  it.effect("retries transient faults with backoff and still completes every atom", () =>
    Effect.gen(function* () {
      const atoms = [atom("a", [], { simulate: { faults: ["transient", "server_error"] } }), atom("b", ["a"])]
      const { events, end } = yield* runPlan(plan(atoms))
      assert.strictEqual(end.type, "masterplan.completed")
      const retrying = ofType(events, "atom.retrying")
      assert.deepStrictEqual(
        retrying.map((e) => [e.atomId, e.attempt, e.reason]),
        [
          ["a", 1, "connection"],
          ["a", 2, "server_error"]
        ]
      )
      // Default policy: 5 s then 10 s, ±10%.
      expect(retrying[0]!.delayMs).toBeGreaterThanOrEqual(4_500)
      expect(retrying[1]!.delayMs).toBeGreaterThanOrEqual(9_000)
      assert.strictEqual(end.summary.retries, 2)
      assert.strictEqual(end.summary.calls, 4)
    }).pipe(withEngine())
  )

  it.effect(
    "fails an atom on a non-retryable fault, skips its transitive dependents, completes the rest",
    () =>
      Effect.gen(function* () {
        const atoms = [
          atom("a"),
          atom("bad", ["a"], { simulate: { faults: ["non_retryable"] } }),
          atom("child", ["bad"]),
          atom("grandchild", ["child", "a"]),
          atom("sibling", ["a"]),
          atom("free")
        ]
        const { events, end } = yield* runPlan(plan(atoms))
        expectRunInvariants(events, atoms, { concurrency: 100, mode: "eager" })
        assert.strictEqual(end.type, "masterplan.failed")
        const status = new Map(
          events
            .filter((e) => /^atom\.(completed|failed|skipped)$/.test(e.type))
            .map((e) => ["atomId" in e ? e.atomId : "", e.type])
        )
        assert.deepStrictEqual(Object.fromEntries(status), {
          a: "atom.completed",
          bad: "atom.failed",
          child: "atom.skipped",
          grandchild: "atom.skipped",
          sibling: "atom.completed",
          free: "atom.completed"
        })
        assert.deepStrictEqual(
          ofType(events, "atom.skipped").map((e) => e.becauseOf),
          ["bad", "bad"]
        )
        assert.strictEqual(end.summary.failures[0]?.atomId, "bad")
        assert.strictEqual(end.summary.failures[0]?.reason, "invalid_request")
        if (end.type === "masterplan.failed") assert.match(end.reason, /1 atom\(s\) failed, 2 skipped/)
      }).pipe(withEngine())
  )

  it.effect("gives up after maxRetries and names the last failure", () =>
    Effect.gen(function* () {
      const atoms = [atom("a", [], { simulate: { faults: ["timeout", "server_error", "server_error"] } })]
      const { events, end } = yield* runPlan(plan(atoms, { retry: { maxRetries: 2 } }))
      assert.strictEqual(end.type, "masterplan.failed")
      assert.strictEqual(ofType(events, "atom.started").length, 3)
      assert.deepStrictEqual(
        ofType(events, "atom.failed").map((e) => [e.reason, e.attempts]),
        [["server_error", 3]]
      )
    }).pipe(withEngine())
  )

  it.effect(
    "a 429 or 529 is push back, not failure: the atom goes back through admission and keeps its retries",
    () =>
      Effect.gen(function* () {
        const pushBacks = [
          "rate_limited",
          "overloaded",
          "rate_limited",
          "overloaded",
          "rate_limited"
        ] as const
        const atoms = [atom("a", [], { simulate: { faults: [...pushBacks] } }), atom("b", ["a"])]
        const { events, end } = yield* runPlan(plan(atoms, { retry: { maxRetries: 0 } }))
        assert.strictEqual(end.type, "masterplan.completed")
        assert.deepStrictEqual(
          ofType(events, "atom.throttled").map((e) => [e.atomId, e.attempt, e.reason, e.retryAfterMs]),
          pushBacks.map((reason, i) => ["a", i + 1, reason, scriptedRetryAfterMs])
        )
        assert.deepStrictEqual(ofType(events, "atom.retrying"), [])
        // Each push back held the plan's admission for the provider's retry-after: no call came sooner.
        const started = ofType(events, "atom.started").filter((e) => e.atomId === "a")
        const throttled = ofType(events, "atom.throttled")
        throttled.forEach((push, i) => assert.isAtLeast(started[i + 1]!.at - push.at, scriptedRetryAfterMs))
        assert.strictEqual(end.summary.throttled, 5)
        assert.strictEqual(end.summary.retries, 0)
      }).pipe(withEngine())
  )

  it.effect("in waves mode starts no atom before the previous wave completed", () =>
    Effect.gen(function* () {
      const { events, end } = yield* runPlan(plan(diamond, { mode: "waves" }))
      expectRunInvariants(events, diamond, { concurrency: 100, mode: "waves" })
      assert.strictEqual(end.type, "masterplan.completed")
    }).pipe(withEngine())
  )

  it.effect("cancels: in-flight atoms are cancelled and masterplan.cancelled is the last event", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const atoms = Array.from({ length: 20 }, (_, i) => atom(`a${i}`, i > 0 ? [`a${i - 1}`] : []))
      const id = yield* engine.submit(plan(atoms))
      const collecting = yield* Effect.fork(Stream.runCollect(engine.events(id)))
      yield* tick
      yield* TestClock.adjust("3 seconds")
      yield* tick
      yield* engine.cancel(id, "enough")
      const events = Chunk.toArray(yield* Fiber.join(collecting))
      const end = events.at(-1)!
      assert.strictEqual(end.type, "masterplan.cancelled")
      if (end.type === "masterplan.cancelled") {
        assert.strictEqual(end.reason, "enough")
        assert.strictEqual(end.summary.atoms.completed + end.summary.atoms.cancelled, 20)
        assert.isTrue(end.summary.atoms.cancelled > 0)
      }
      expectRunInvariants(events, atoms, { concurrency: 100, mode: "eager" })
    }).pipe(withEngine({ latencyMs: 1_000 }))
  )

  it.effect("replays the journal from any seq, live or after the end", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const { id, events } = yield* runPlan(plan(diamond))
      const replay = Chunk.toArray(yield* Stream.runCollect(engine.events(id, { fromSeq: 10 })))
      assert.deepStrictEqual(replay, events.slice(9))
    }).pipe(withEngine())
  )

  it.effect(
    "hands each commit to its followers as it returns: the whole journal, in order, then the end; a follower that throws is dropped, the plan goes on",
    () =>
      Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan(diamond))
        const batches: Array<ReadonlyArray<number>> = []
        let ended = 0
        let thrownAt = 0
        const following = yield* engine.followCommits(id, {
          committed: (events) => void batches.push(events.map((e) => e.seq)),
          ended: () => void ended++
        })
        yield* engine.followCommits(id, {
          committed: () => {
            thrownAt++
            throw new Error("a follower's bug")
          },
          ended: () => assert.fail("a dropped follower is not told of the end")
        })
        const collecting = yield* Effect.fork(Stream.runCollect(engine.events(id)))
        while (!(yield* fiberDone(collecting))) {
          yield* tick
          yield* TestClock.adjust("1 minute")
        }
        const journal = Chunk.toArray(yield* Fiber.join(collecting)).map((e) => e.seq)
        assert.strictEqual((yield* engine.result(id)).type, "masterplan.completed")
        // The writer tells its followers as it stops, just after the terminal commit.
        for (let turn = 0; ended === 0 && turn < 100; turn++) yield* tick
        // Gap-free from the first seq after the one committed when it began; each batch a commit.
        assert.deepStrictEqual(batches.flat(), journal.slice(following.committedSeq))
        assert.isTrue(batches.every((batch) => batch.length > 0))
        assert.strictEqual(ended, 1)
        assert.strictEqual(thrownAt, 1)
        // Its writer has stopped: nothing is left to follow.
        const late = yield* Effect.either(engine.followCommits(id, { committed: () => {}, ended: () => {} }))
        assert.isTrue(Either.isLeft(late) && late.left._tag === "MasterplanNotFound")
      }).pipe(withEngine())
  )

  it.effect("reads a journal of several pages whole, live and after the end, from any seq", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      // About 3,000 events: three pages and a part.
      const atoms = Array.from({ length: 600 }, (_, i) => atom(`p${i}`, i >= 100 ? [`p${i - 100}`] : []))
      const { id, events } = yield* runPlan(plan(atoms))
      assert.isAbove(events.length, 2_500)
      assert.deepStrictEqual(
        events.map((e) => e.seq),
        events.map((_, i) => i + 1)
      )
      for (const fromSeq of [1, 999, 1_000, 1_001, 2_001, events.length])
        assert.deepStrictEqual(
          Chunk.toArray(yield* Stream.runCollect(engine.events(id, { fromSeq }))),
          events.slice(fromSeq - 1)
        )
    }).pipe(withEngine())
  )

  it.effect("holds low-confidence atoms for review, without a permit, until a reviewer decides", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const atoms = [
        atom("unsure", [], { simulate: { confidence: 0.3 } }),
        atom("after", ["unsure"]),
        atom("other")
      ]
      const id = yield* engine.submit(plan(atoms, { concurrency: 1 }))
      const collecting = yield* Effect.fork(Stream.runCollect(engine.events(id)))
      for (let i = 0; i < 5; i++) yield* tick
      yield* engine.review(id, "unsure", "APPROVE")
      const events = Chunk.toArray(yield* Fiber.join(collecting))
      expectRunInvariants(events, atoms, { concurrency: 1, mode: "eager" })
      const types = events.filter((e) => "atomId" in e && e.atomId === "unsure").map((e) => e.type)
      expect(types).toContain("atom.review")
      expect(ofType(events, "atom.completed").find((e) => e.atomId === "unsure")?.acceptedBy).toBe("review")
      // "other" ran while "unsure" waited for its reviewer: review holds no permit.
      const reviewSeq = events.find((e) => e.type === "atom.review")!.seq
      const otherDone = ofType(events, "atom.completed").find((e) => e.atomId === "other")!.seq
      expect(otherDone).toBeGreaterThan(reviewSeq)
      const error = yield* Effect.flip(engine.review(id, "other", "APPROVE"))
      assert.strictEqual(error._tag, "AtomNotInReview")
    }).pipe(withEngine())
  )

  it.effect("says once per stretch when nothing can run until a reviewer decides (review.waiting)", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const atoms = [
        atom("unsure", [], { simulate: { confidence: 0.3 } }),
        atom("other"),
        atom("after", ["unsure"]),
        atom("unsure-too", ["after"], { simulate: { confidence: 0.3 } })
      ]
      const id = yield* engine.submit(plan(atoms))
      const reviewed: Array<string> = []
      // Each time the plan says it waits, the reviewer approves what waits: the plan then goes on.
      const events = Chunk.toArray(
        yield* Stream.runCollect(
          engine.events(id).pipe(
            Stream.tap((event) => {
              if (event.type !== "review.waiting") return Effect.void
              const next = reviewed.length === 0 ? "unsure" : "unsure-too"
              reviewed.push(next)
              return engine.review(id, next, "APPROVE")
            })
          )
        )
      )
      expectRunInvariants(events, atoms, { concurrency: 100, mode: "eager" })
      expect(events.at(-1)?.type).toBe("masterplan.completed")
      const waiting = ofType(events, "review.waiting")
      expect(waiting.map((e) => e.atoms)).toEqual([1, 1])
      // The first came only once "other" had completed: until then something could still run.
      const otherDone = ofType(events, "atom.completed").find((e) => e.atomId === "other")!.seq
      expect(waiting[0]!.seq).toBeGreaterThan(otherDone)
      expect(reviewed).toEqual(["unsure", "unsure-too"])
    }).pipe(withEngine())
  )

  it.effect("pauses admission and resumes it", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const atoms = Array.from({ length: 6 }, (_, i) => atom(`a${i}`))
      const id = yield* engine.submit(plan(atoms, { concurrency: 2 }))
      yield* engine.pause(id, "operator")
      const collecting = yield* Effect.fork(Stream.runCollect(engine.events(id)))
      for (let i = 0; i < 3; i++) {
        yield* tick
        yield* TestClock.adjust("1 second")
      }
      yield* engine.resume(id)
      while (!(yield* fiberDone(collecting))) {
        yield* tick
        yield* TestClock.adjust("1 second")
      }
      const events = Chunk.toArray(yield* Fiber.join(collecting))
      const types = events.map((e) => e.type)
      const paused = types.indexOf("masterplan.paused")
      const resumed = types.indexOf("masterplan.resumed")
      expect(paused).toBeGreaterThan(0)
      // While paused, no atom started.
      expect(types.slice(paused, resumed)).not.toContain("atom.started")
      expectRunInvariants(events, atoms, { concurrency: 2, mode: "eager" })
    }).pipe(withEngine({ latencyMs: 100 }))
  )

  /** Eight atoms, three at a time, the first three mid-call (their model answers after 1 s). */
  const threeCallsInFlight = Effect.gen(function* () {
    const engine = yield* Engine
    const store = yield* Store
    const atoms = Array.from({ length: 8 }, (_, i) => atom(`a${i}`))
    const id = yield* engine.submit(plan(atoms, { concurrency: 3 }))
    for (let i = 0; i < 5; i++) yield* tick
    return { engine, store, id }
  })

  it.effect("detach with a grace period starts no call and keeps the answers of those in flight", () =>
    Effect.gen(function* () {
      const { engine, store, id } = yield* threeCallsInFlight
      const detaching = yield* Effect.fork(engine.detach(id, { graceMs: 5_000 }))
      yield* tick
      // The three calls in flight answer within the grace period.
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 5; i++) yield* tick
      yield* Fiber.join(detaching)
      const journal = yield* store.readEvents(id, 1)
      assert.strictEqual(ofType(journal, "atom.started").length, 3)
      assert.strictEqual(ofType(journal, "atom.completed").length, 3)
      const rows = yield* store.listAtoms(id)
      assert.strictEqual(rows.filter((row) => row.status === "completed" && row.code !== undefined).length, 3)
    }).pipe(withEngine({ latencyMs: 1_000 }))
  )

  it.effect("detach without a grace period interrupts the calls in flight: nothing completes", () =>
    Effect.gen(function* () {
      const { engine, store, id } = yield* threeCallsInFlight
      yield* engine.detach(id)
      yield* TestClock.adjust("1 second")
      const journal = yield* store.readEvents(id, 1)
      assert.strictEqual(ofType(journal, "atom.started").length, 3)
      assert.strictEqual(ofType(journal, "atom.completed").length, 0)
    }).pipe(withEngine({ latencyMs: 1_000 }))
  )

  describe("rejects a bad plan before anything runs", () => {
    const cases: ReadonlyArray<[string, unknown, RegExp]> = [
      [
        "a dependency cycle",
        plan([atom("a", ["c"]), atom("b", ["a"]), atom("c", ["b"])]),
        /cycle: (a -> c -> b -> a|.*a.*b.*c)/
      ],
      ["an unknown dependency", plan([atom("a", ["ghost"])]), /"a".*"ghost"/],
      ["a duplicate atom id", plan([atom("a"), atom("a")]), /duplicate.*"a"/],
      ["a wrong type", { name: "x", atoms: [{ id: "a", instruction: 5 }] }, /atoms\[0\]\.instruction/],
      ["no atoms", { name: "x", atoms: [] }, /atoms/],
      ["a bad option", { ...plan([atom("a")]), options: { mode: "sideways" } }, /mode/]
    ]
    it.effect.each(cases)("%s", ([, input, message]) =>
      Effect.gen(function* () {
        const engine = yield* Engine
        const error = yield* Effect.flip(engine.submit(input))
        expect(error.message).toMatch(message)
        expect(["PlanInputError", "PlanGraphError"]).toContain(error._tag)
      }).pipe(withEngine())
    )
  })

  describe("a plan compiled already (compilePlan, as the CLI checks a plan file)", () => {
    it.effect(
      "runs as the plan it was compiled from, stored as given, its options resolved with the submission's",
      () =>
        Effect.gen(function* () {
          const input = plan(diamond, { concurrency: 2 })
          const compiled = Either.getOrThrow(compilePlan(input))
          const { id, end } = yield* runPlan(compiled, { options: { concurrency: 1 } })
          assert.strictEqual(end.type, "masterplan.completed")
          const record = Option.getOrThrow(yield* (yield* Store).getMasterplan(id))
          assert.strictEqual(record.options.concurrency, 1)
          expect(record.plan).toMatchObject({ name: input.name, atoms: input.atoms })
        }).pipe(withEngine())
    )

    it.effect(
      "is known by how it was made, not by its shape: a look-alike is decoded as a plan, and refused",
      () =>
        Effect.gen(function* () {
          const compiled = Either.getOrThrow(compilePlan(plan(diamond)))
          const error = yield* Effect.flip((yield* Engine).submit({ ...compiled }))
          expect(error._tag).toBe("PlanInputError")
          expect(error.message).toMatch(/graph: unknown field/)
        }).pipe(withEngine())
    )
  })

  it.effect("refuses a misspelled option given at submission, naming it", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const error = yield* Effect.flip(
        engine.submit(plan([atom("a")]), { options: { concurency: 3 } as SubmitOptions["options"] & object })
      )
      expect(error._tag).toBe("PlanInputError")
      expect(error.message).toMatch(/concurency/)
    }).pipe(withEngine())
  )

  it.live(
    "on random DAGs, limits and faults: dependencies, the limit and one end per atom hold in both modes",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            randomDagAtoms(30),
            fc.integer({ min: 1, max: 6 }),
            fc.constantFrom("eager" as const, "waves" as const),
            fc.double({ min: 0, max: 0.5, noNaN: true }),
            fc.integer({ min: 0, max: 1_000 }),
            async (atoms, concurrency, mode, faultRate, seed) => {
              const input = plan(atoms, {
                concurrency,
                mode,
                retry: { initialMs: 0, maxRetries: 2, jitter: 0 }
              })
              // Live clock: latencies are real (0-2 ms) and backoffs are zero, so nothing needs stepping.
              const events = await Effect.runPromise(
                Effect.gen(function* () {
                  const engine = yield* Engine
                  const id = yield* engine.submit(input)
                  return Chunk.toArray(yield* Stream.runCollect(engine.events(id)))
                }).pipe(withEngine({ faultRate, seed, latencyMs: { min: 0, max: 2 } }))
              )
              expectRunInvariants(events, atoms, { concurrency, mode })
            }
          ),
          { numRuns: 40 }
        )
      )
  )
})
