import { RunOptions } from "@devmatrix/core"
import type { Event, ModelFailure, PlanInputEncoded } from "@devmatrix/core"
import {
  Engine,
  EngineLive,
  makeScriptedModel,
  makeStoreMemory,
  ModelCallError,
  ModelProvider,
  scriptedCode,
  Store,
  StoreError
} from "@devmatrix/runtime"
import type { ModelProviderService, StoreService } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import {
  Cause,
  Chunk,
  Clock,
  Context,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Schema,
  Stream,
  TestClock,
  TestContext
} from "effect"
import fc from "fast-check"
import { expectRunInvariants } from "./runInvariants.js"

/** A chain-and-fan plan: 30 atoms, each depending on the one three places before it. */
const atoms = Array.from({ length: 30 }, (_, i) => ({
  id: `a${i}`,
  dependsOn: i >= 3 ? [`a${i - 3}`] : [],
  instruction: `step ${i}`
}))
const plan = { name: "recoverable", options: { concurrency: 3 }, atoms } as unknown as PlanInputEncoded

/** The scripted model (1 s per call) counting the calls that returned, by atom and attempt. */
const countingModel = (paid: Array<string>, latencyMs = 1_000) =>
  Layer.sync(ModelProvider, () => {
    const model = makeScriptedModel({ latencyMs })
    return {
      name: model.name,
      acceptsSimulation: true,
      generate: (request) =>
        model
          .generate(request)
          .pipe(Effect.tap(() => Effect.sync(() => paid.push(`${request.atomId}#${request.attempt}`))))
    }
  })

const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A new engine on `store` recovers a plan and runs it for `seconds` of simulated time; how it ended. */
const recoverToEnd = (store: StoreService, masterplanId: string, seconds: number) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    yield* engine.recover(masterplanId)
    const result = yield* Effect.fork(engine.result(masterplanId))
    yield* advance(seconds)
    return yield* result
  }).pipe(
    Effect.provide(
      EngineLive.pipe(Layer.provide(countingModel([])), Layer.provide(Layer.succeed(Store, store)))
    ),
    Effect.scoped
  )

/** Lets the engines run `times` steps of simulated time: a turn of the event loop, then `step`. */
const advance = (times: number, step: Duration.DurationInput = "1 second") =>
  Effect.forEach(Array.from({ length: times }), () => Effect.zipRight(tick, TestClock.adjust(step)), {
    discard: true
  })

describe("crash recovery", () => {
  it.effect("a second engine on the same store finishes the plan without repeating a paid call", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const storeLayer = Layer.succeed(Store, store)
      const paid: Array<string> = []
      const engineOn = () => EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(storeLayer))

      // First process: runs a while, then stops mid-flight (as on Ctrl-C or a shutdown).
      const id = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan, { masterplanId: "mp-recover" })
        yield* advance(5)
        yield* tick
        yield* TestClock.adjust("500 millis")
        yield* engine.detach(id)
        return id
      }).pipe(Effect.provide(engineOn()), Effect.scoped)

      const before = yield* store.listAtoms(id)
      const completedBefore = new Set(before.filter((a) => a.status === "completed").map((a) => a.atomId))
      const inFlight = before.filter((a) => a.status === "running").map((a) => a.atomId)
      assert.isAbove(completedBefore.size, 0)
      assert.isBelow(completedBefore.size, atoms.length)
      assert.isAbove(inFlight.length, 0)
      const paidBefore = paid.length

      // Second process: finds the plan and finishes it.
      const end = yield* Effect.gen(function* () {
        const engine = yield* Engine
        assert.deepStrictEqual(yield* engine.recoverAll(), [id])
        const collecting = yield* Effect.fork(engine.result(id))
        yield* advance(60)
        return yield* collecting
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.strictEqual(end.type, "masterplan.completed")

      const journal: ReadonlyArray<Event> = yield* store.readEvents(id, 1)
      expectRunInvariants(journal, atoms, { concurrency: 3, mode: "eager" })
      // No atom that had completed was called again.
      for (const call of paid.slice(paidBefore))
        assert.isFalse(completedBefore.has(call.split("#")[0]!), call)
      // The atoms cut off mid-call were recorded as interrupted, then ran again under a new attempt number.
      const interrupted = journal.filter((e) => e.type === "atom.interrupted")
      assert.deepStrictEqual(
        interrupted.map((e) => ("atomId" in e ? e.atomId : "")).sort(),
        [...inFlight].sort()
      )
      assert.strictEqual(journal.filter((e) => e.type === "masterplan.resumed").length, 1)
      // Every call that returned is recorded once, and nothing else is.
      const costs = yield* store.listCostCommits(id)
      assert.deepStrictEqual(costs.map((c) => `${c.atomId}#${c.attempt}`).sort(), [...paid].sort())
      const rows = yield* store.listAtoms(id)
      assert.isTrue(rows.every((row) => row.status === "completed" && row.code !== undefined))
      // The summary carries on: calls and retries of both processes, cost of every call, time since the start.
      const count = (type: string) => journal.filter((e) => e.type === type).length
      assert.strictEqual(end.summary.calls, count("atom.started"))
      assert.strictEqual(end.summary.retries, count("atom.retrying"))
      assert.closeTo(
        end.summary.costUsd,
        costs.reduce((sum, c) => sum + c.costUsd, 0),
        1e-9
      )
      assert.strictEqual(end.summary.durationMs, end.at - journal[0]!.at)
      assert.strictEqual(
        Chunk.size(Chunk.fromIterable(journal.filter((e) => e.type === "atom.completed"))),
        atoms.length
      )
    })
  )

  it.effect(
    "closing the engine mid-run detaches the plan: what was journaled is committed, nothing paid is lost",
    () =>
      Effect.gen(function* () {
        const memory = makeStoreMemory()
        // Commits that take a real turn of the event loop, so that closing the engine finds some in flight.
        const slowCommits = Layer.succeed(Store, {
          ...memory,
          commit: (id, batch) => Effect.zipRight(tick, memory.commit(id, batch))
        })
        const paid: Array<string> = []
        const engineOn = () => EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(slowCommits))

        yield* Effect.gen(function* () {
          const engine = yield* Engine
          yield* engine.submit(plan, { masterplanId: "mp-closed" })
          yield* advance(4)
          // Calls answer at this instant; the scope closes before their events have been committed.
          yield* TestClock.adjust("1 second")
        }).pipe(Effect.provide(engineOn()), Effect.scoped)

        const record = yield* memory.getMasterplan("mp-closed")
        assert.strictEqual(record._tag, "Some")
        const journal = yield* memory.readEvents("mp-closed", 1)
        assert.strictEqual(journal.at(-1)?.seq, record._tag === "Some" ? record.value.lastSeq : -1)
        // Every call that returned before the close has its cost committed.
        const costs = yield* memory.listCostCommits("mp-closed")
        assert.isAbove(paid.length, 0)
        assert.deepStrictEqual(costs.map((c) => `${c.atomId}#${c.attempt}`).sort(), [...paid].sort())

        const end = yield* Effect.gen(function* () {
          const engine = yield* Engine
          assert.deepStrictEqual(yield* engine.recoverAll(), ["mp-closed"])
          const collecting = yield* Effect.fork(engine.result("mp-closed"))
          yield* advance(60)
          return yield* collecting
        }).pipe(Effect.provide(engineOn()), Effect.scoped)
        assert.strictEqual(end.type, "masterplan.completed")
        expectRunInvariants(yield* memory.readEvents("mp-closed", 1), atoms, {
          concurrency: 3,
          mode: "eager"
        })
      })
  )

  it.effect("plans recovered together each keep their own journal (own ids, own gap-free seq)", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const paid: Array<string> = []
      const engineOn = () =>
        EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(Layer.succeed(Store, store)))
      // Two plans that stop at different points of their journals.
      const ids = ["mp-one", "mp-two"]
      yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.submit(plan, { masterplanId: ids[0]!, options: { concurrency: 1 } })
        yield* engine.submit(plan, { masterplanId: ids[1]!, options: { concurrency: 3 } })
        yield* advance(4)
      }).pipe(Effect.provide(engineOn()), Effect.scoped)

      const ends = yield* Effect.gen(function* () {
        const engine = yield* Engine
        assert.deepStrictEqual([...(yield* engine.recoverAll())].sort(), ids)
        const collecting = yield* Effect.fork(Effect.all(ids.map((id) => engine.result(id))))
        yield* advance(120)
        return yield* collecting
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.deepStrictEqual(
        ends.map((end) => end.type),
        ["masterplan.completed", "masterplan.completed"]
      )
      for (const [i, id] of ids.entries()) {
        const journal = yield* store.readEvents(id, 1)
        assert.deepStrictEqual([...new Set(journal.map((e) => e.masterplanId))], [id])
        expectRunInvariants(journal, atoms, { concurrency: i === 0 ? 1 : 3, mode: "eager" })
      }
    })
  )

  it.effect("a backoff under way and the retry schedule carry over a restart", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const engineOn = () =>
        EngineLive.pipe(
          Layer.provide(Layer.succeed(ModelProvider, makeScriptedModel())),
          Layer.provide(Layer.succeed(Store, store))
        )
      const flaky = {
        name: "flaky",
        atoms: [{ id: "a", instruction: "x", simulate: { faults: ["server_error", "server_error"] } }]
      }
      // First process: the first attempt fails; the atom is backing off (about 5 s) when it stops.
      const id = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(flaky)
        yield* tick
        yield* TestClock.adjust("1 second")
        yield* engine.detach(id)
        return id
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      const [row] = yield* store.listAtoms(id)
      assert.strictEqual(row!.status, "retrying")
      const retryAt = row!.retryAt!

      // Second process: waits the rest of that backoff, and the next one continues the sequence (~10 s).
      yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.recover(id)
        const result = yield* Effect.fork(engine.result(id))
        yield* advance(40)
        assert.strictEqual((yield* result).type, "masterplan.completed")
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      const journal = yield* store.readEvents(id, 1)
      const started = journal.filter((e) => e.type === "atom.started")
      assert.deepStrictEqual(
        started.map((e) => (e.type === "atom.started" ? e.attempt : 0)),
        [1, 2, 3]
      )
      assert.isAtLeast(started[1]!.at, retryAt)
      const delays = journal.flatMap((e) => (e.type === "atom.retrying" ? [e.delayMs] : []))
      assert.strictEqual(delays.length, 2)
      assert.isTrue(delays[1]! >= 9_000 && delays[1]! <= 11_000, `second delay ${delays[1]}`)
    })
  )

  it.effect(
    "an attempt cut short by a restart is not a failure: the retry budget and the backoff are untouched",
    () =>
      Effect.gen(function* () {
        const store = makeStoreMemory()
        const engineOn = () =>
          EngineLive.pipe(Layer.provide(countingModel([])), Layer.provide(Layer.succeed(Store, store)))
        // One retry allowed. Attempt 1 is cut off mid-call; attempt 2 fails (a 500); attempt 3 answers.
        const unlucky = {
          name: "unlucky",
          options: { retry: { maxRetries: 1, initialMs: 2_000, jitter: 0 } },
          atoms: [{ id: "a", instruction: "x", simulate: { faults: ["transient", "server_error"] } }]
        }
        const id = yield* Effect.gen(function* () {
          const engine = yield* Engine
          const id = yield* engine.submit(unlucky)
          yield* tick
          yield* TestClock.adjust("500 millis")
          yield* engine.detach(id)
          return id
        }).pipe(Effect.provide(engineOn()), Effect.scoped)
        assert.strictEqual((yield* store.listAtoms(id))[0]!.status, "running")

        const end = yield* Effect.gen(function* () {
          const engine = yield* Engine
          yield* engine.recover(id)
          const result = yield* Effect.fork(engine.result(id))
          yield* advance(20)
          return yield* result
        }).pipe(Effect.provide(engineOn()), Effect.scoped)
        assert.strictEqual(end.type, "masterplan.completed")
        const journal = yield* store.readEvents(id, 1)
        assert.deepStrictEqual(
          journal.flatMap((e) => (e.type === "atom.started" ? [e.attempt] : [])),
          [1, 2, 3]
        )
        // The first failure waits the first delay of the schedule, as it would have without the restart.
        assert.deepStrictEqual(
          journal.flatMap((e) => (e.type === "atom.retrying" ? [e.delayMs] : [])),
          [2_000]
        )
      })
  )

  it.effect("an atom waiting for its reviewer keeps its paid output across a restart", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const paid: Array<string> = []
      const engineOn = () =>
        EngineLive.pipe(Layer.provide(countingModel(paid, 0)), Layer.provide(Layer.succeed(Store, store)))
      const unsure = {
        name: "unsure",
        atoms: [
          { id: "u", instruction: "x", simulate: { confidence: 0.2 } },
          { id: "after", dependsOn: ["u"], instruction: "y" }
        ]
      }
      const id = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(unsure)
        for (let i = 0; i < 3; i++) yield* tick
        yield* engine.detach(id)
        return id
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      const [u] = yield* store.listAtoms(id)
      assert.strictEqual(u!.status, "review")
      assert.deepStrictEqual(paid, ["u#1"])

      yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.recover(id)
        for (let i = 0; i < 3; i++) yield* tick
        yield* engine.review(id, "u", { edit: "export const u = 1" })
        assert.strictEqual((yield* engine.result(id)).type, "masterplan.completed")
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      // The reviewed atom was not called again; only its dependent was.
      assert.deepStrictEqual(paid, ["u#1", "after#1"])
      const rows = yield* store.listAtoms(id)
      assert.strictEqual(rows[0]!.code, "export const u = 1")
      assert.isTrue(rows.every((row) => row.status === "completed"))
    })
  )

  it.effect(
    "reviews journaled while no process runs the plan are applied by its resume: approve, edit, reject",
    () =>
      Effect.gen(function* () {
        const store = makeStoreMemory()
        const paid: Array<string> = []
        const engineOn = () =>
          EngineLive.pipe(Layer.provide(countingModel(paid, 0)), Layer.provide(Layer.succeed(Store, store)))
        const reviewed = ["approved", "edited", "rejected"]
        const unsure = {
          name: "reviewed-offline",
          atoms: [
            { id: "sure", instruction: "x" },
            ...reviewed.map((id) => ({ id, instruction: id, simulate: { confidence: 0.2 } })),
            ...reviewed.map((id) => ({ id: `after-${id}`, dependsOn: [id], instruction: `after ${id}` }))
          ]
        }
        // The run goes as far as it can without a reviewer, says so, and stops.
        const { id, waiting } = yield* Effect.gen(function* () {
          const engine = yield* Engine
          const id = yield* engine.submit(unsure)
          const seen = yield* Stream.runCollect(
            engine.events(id).pipe(Stream.takeUntil((e) => e.type === "review.waiting"))
          )
          yield* engine.detach(id)
          return { id, waiting: Chunk.toArray(seen).filter((e) => e.type === "review.waiting") }
        }).pipe(Effect.provide(engineOn()), Effect.scoped)
        assert.deepStrictEqual(
          waiting.map((e) => (e.type === "review.waiting" ? e.atoms : 0)),
          [3]
        )
        assert.deepStrictEqual(paid.toSorted(), ["approved#1", "edited#1", "rejected#1", "sure#1"])

        const end = yield* Effect.gen(function* () {
          const engine = yield* Engine
          // No process runs the plan: each decision is journaled in its store.
          yield* engine.review(id, "approved", "APPROVE", { principal: "ann" })
          yield* engine.review(id, "edited", { edit: "export const edited = 1" }, { principal: "bob" })
          yield* engine.review(id, "rejected", { reject: "not what was asked" }, { principal: "cy" })
          const again = yield* Effect.flip(engine.review(id, "approved", "APPROVE"))
          assert.strictEqual(again._tag, "AtomNotInReview")
          assert.include(again.message, "is reviewed already (approve)")
          const done = yield* Effect.flip(engine.review(id, "sure", "APPROVE"))
          assert.include(
            done.message,
            `atom "sure" of masterplan "${id}" is not waiting for a review (it is completed)`
          )
          const unknown = yield* Effect.flip(engine.review(id, "nope", "APPROVE"))
          assert.strictEqual(unknown.message, `masterplan "${id}" has no atom "nope"`)
          const rows = new Map((yield* store.listAtoms(id)).map((row) => [row.atomId, row]))
          assert.strictEqual(rows.get("edited")!.status, "review")
          assert.strictEqual(rows.get("edited")!.code, "export const edited = 1")
          assert.deepStrictEqual(rows.get("rejected")!.reviewed, {
            decision: "reject",
            reason: "not what was asked"
          })

          yield* engine.recover(id)
          return yield* engine.result(id)
        }).pipe(Effect.provide(engineOn()), Effect.scoped)
        assert.strictEqual(end.type, "masterplan.failed")
        const journal = yield* store.readEvents(id, 1)
        expectRunInvariants(journal, unsure.atoms, { concurrency: 100, mode: "eager" })
        // One `atom.reviewed` per decision, journaled when it was made, with its reviewer.
        assert.deepStrictEqual(
          journal.flatMap((e) =>
            e.type === "atom.reviewed" ? [[e.atomId, e.decision, e.principal, e.reason]] : []
          ),
          [
            ["approved", "approve", "ann", undefined],
            ["edited", "edit", "bob", undefined],
            ["rejected", "reject", "cy", "not what was asked"]
          ]
        )
        const ends = new Map(
          journal.flatMap((e): Array<[string, Record<string, unknown>]> =>
            e.type === "atom.completed" || e.type === "atom.failed" || e.type === "atom.skipped"
              ? [[e.atomId, e]]
              : []
          )
        )
        assert.deepInclude(ends.get("approved"), { type: "atom.completed", acceptedBy: "review" })
        assert.deepInclude(ends.get("edited"), { type: "atom.completed", acceptedBy: "review" })
        assert.deepInclude(ends.get("rejected"), {
          type: "atom.failed",
          reason: "rejected",
          error: "not what was asked"
        })
        assert.strictEqual(ends.get("after-rejected")?.type, "atom.skipped")
        // The reviewed atoms were not called again; only the dependents of the accepted ones were.
        assert.deepStrictEqual(paid.toSorted(), [
          "after-approved#1",
          "after-edited#1",
          "approved#1",
          "edited#1",
          "rejected#1",
          "sure#1"
        ])
        const rows = new Map((yield* store.listAtoms(id)).map((row) => [row.atomId, row]))
        assert.strictEqual(rows.get("edited")!.code, "export const edited = 1")
        assert.strictEqual(
          rows.get("approved")!.code,
          scriptedCode({ atomId: "approved", language: "typescript", defines: [] })
        )
        assert.strictEqual(rows.get("rejected")!.status, "failed")
      })
  )

  it.effect("a paused plan stays paused after a restart until it is resumed", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const paid: Array<string> = []
      const engineOn = () =>
        EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(Layer.succeed(Store, store)))
      yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.submit(plan, { masterplanId: "mp-paused" })
        yield* tick
        yield* TestClock.adjust("1 second")
        yield* engine.pause("mp-paused", "waiting for the budget")
        yield* tick
        yield* TestClock.adjust("1 second")
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan("mp-paused")).status, "paused")

      const end = yield* Effect.gen(function* () {
        const engine = yield* Engine
        assert.deepStrictEqual(yield* engine.recoverAll(), ["mp-paused"])
        const paidAtRestart = paid.length
        yield* advance(10)
        assert.strictEqual(paid.length, paidAtRestart, "no call while paused")
        yield* engine.resume("mp-paused")
        const result = yield* Effect.fork(engine.result("mp-paused"))
        yield* advance(60)
        return yield* result
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.strictEqual(end.type, "masterplan.completed")
      const journal = yield* store.readEvents("mp-paused", 1)
      const types = journal.map((e) => e.type)
      const repaused = types.lastIndexOf("masterplan.paused")
      assert.isAbove(repaused, types.indexOf("masterplan.paused"))
      assert.notInclude(types.slice(repaused, types.lastIndexOf("masterplan.resumed")), "atom.started")
      expectRunInvariants(journal, atoms, { concurrency: 3, mode: "eager" })
    })
  )

  it.effect("a plan stopped before its first commit starts afresh, its journal whole", () =>
    Effect.gen(function* () {
      const memory = makeStoreMemory()
      const neverCommits = Layer.succeed(Store, {
        ...memory,
        commit: () => Effect.fail(new StoreError({ reason: "Corrupt", store: "gone:", detail: "killed" }))
      })
      yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan, { masterplanId: "mp-early" })
        yield* Effect.flip(engine.result(id))
      }).pipe(
        Effect.provide(EngineLive.pipe(Layer.provide(countingModel([])), Layer.provide(neverCommits))),
        Effect.scoped
      )
      assert.strictEqual(Option.getOrThrow(yield* memory.getMasterplan("mp-early")).lastSeq, 0)

      const end = yield* recoverToEnd(memory, "mp-early", 60)
      assert.strictEqual(end.type, "masterplan.completed")
      const journal = yield* memory.readEvents("mp-early", 1)
      assert.deepStrictEqual(
        journal.slice(0, 2).map((e) => e.type),
        ["masterplan.submitted", "masterplan.started"]
      )
      const phases = yield* memory.listPhases("mp-early")
      assert.deepStrictEqual(
        phases.map((p) => `${p.phase}:${p.status}`),
        [
          "discovery:skipped",
          "planning:skipped",
          "atomization:skipped",
          "execution:completed",
          "acceptance:skipped"
        ]
      )
    })
  )

  it.effect("a plan stored with a field plans no longer have still resumes", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const options = RunOptions.make({ concurrency: 3 })
      yield* store.createMasterplan({
        masterplan: {
          id: "mp-old",
          name: "old",
          status: "running",
          options,
          atomCount: 2,
          waveCount: 2,
          createdAt: 0
        },
        plan: {
          name: "old",
          options: Schema.encodeSync(RunOptions)(options),
          legacyField: true,
          atoms: [
            { id: "a", instruction: "x" },
            { id: "b", dependsOn: ["a"], instruction: "y" }
          ]
        },
        atoms: [
          { atomId: "a", index: 0, wave: 0 },
          { atomId: "b", index: 1, wave: 1 }
        ]
      })
      const end = yield* recoverToEnd(store, "mp-old", 5)
      assert.strictEqual(end.type, "masterplan.completed")
    })
  )

  it.effect("an ended masterplan is not resumed", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const id = yield* engine.submit({ name: "x", atoms: [{ id: "a", instruction: "x" }] })
      yield* Stream.runDrain(engine.events(id))
      const error = yield* Effect.flip(engine.recover(id))
      assert.strictEqual(error._tag, "MasterplanNotResumable")
    }).pipe(
      Effect.provide(
        EngineLive.pipe(
          Layer.provide(countingModel([], 0)),
          Layer.provide(Layer.sync(Store, makeStoreMemory))
        )
      )
    )
  )
})

describe("one process at a time per masterplan (the lease)", () => {
  it.effect("a plan another engine is running is not taken over; once that engine lets go, it is", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      // Slow calls (10 s): the plan is still running after the 30 s this test watches it.
      const engineOn = () =>
        EngineLive.pipe(Layer.provide(countingModel([], 10_000)), Layer.provide(Layer.succeed(Store, store)))
      const runner = yield* Layer.build(engineOn())
      const other = yield* Layer.build(engineOn())
      const first = Context.get(runner, Engine)
      const second = Context.get(other, Engine)
      const id = yield* first.submit(plan, { masterplanId: "mp-leased" })
      yield* tick
      yield* TestClock.adjust("1 second")
      const refused = yield* Effect.flip(second.recover(id))
      assert.strictEqual(refused._tag, "MasterplanNotResumable")
      assert.include(refused.message, "another process is running it")
      assert.deepStrictEqual(yield* second.recoverAll(), [])
      // Renewed while it runs: still refused long after the first lease would have lapsed.
      yield* advance(6, "5 seconds")
      assert.strictEqual((yield* Effect.flip(second.recover(id)))._tag, "MasterplanNotResumable")
      yield* first.detach(id)
      yield* second.recover(id)
      const result = yield* Effect.fork(second.result(id))
      yield* advance(40, "5 seconds")
      assert.strictEqual((yield* result).type, "masterplan.completed")
      expectRunInvariants(yield* store.readEvents(id, 1), atoms, { concurrency: 3, mode: "eager" })
    }).pipe(Effect.scoped)
  )

  it.effect(
    "recover with cancel: a plan no process runs is cancelled without a call; one another engine runs is refused",
    () =>
      Effect.gen(function* () {
        const store = makeStoreMemory()
        const paid: Array<string> = []
        const engineOn = () =>
          EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(Layer.succeed(Store, store)))
        const runner = yield* Layer.build(engineOn())
        const other = yield* Layer.build(engineOn())
        const first = Context.get(runner, Engine)
        const second = Context.get(other, Engine)
        const id = yield* first.submit(plan, { masterplanId: "mp-cancel-stored" })
        yield* advance(5)
        const refused = yield* Effect.flip(second.recover(id, { cancel: {} }))
        assert.include(refused.message, "another process is running it")
        // Stopped mid-flight: some atoms done, some cut off in their calls.
        yield* first.detach(id)
        const lastSeq = Option.getOrThrow(yield* store.getMasterplan(id)).lastSeq
        const paidBefore = paid.length
        yield* second.recover(id, { cancel: { reason: "not needed", by: { principal: "op" } } })
        const end = yield* second.result(id)
        assert.strictEqual(end.type, "masterplan.cancelled")
        assert.include(end, { reason: "not needed", principal: "op" })
        // Nothing ran: the cancellation is the only event after the stop, and no call was made.
        const after = yield* store.readEvents(id, lastSeq + 1)
        assert.deepStrictEqual(
          after.map((e) => e.type),
          ["masterplan.cancelled"]
        )
        yield* advance(5)
        assert.strictEqual(paid.length, paidBefore)
        const summary = end.type === "masterplan.cancelled" ? end.summary : undefined
        assert.strictEqual(summary?.atoms.completed, paidBefore)
        assert.strictEqual(
          (yield* Effect.flip(second.recover(id, { cancel: {} })))._tag,
          "MasterplanNotResumable"
        )
        assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan(id)).status, "cancelled")
      }).pipe(Effect.scoped)
  )

  it.effect("an engine whose lease was taken stops running the plan and says so", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const paid: Array<string> = []
      const engine = Context.get(
        yield* Layer.build(
          EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(Layer.succeed(Store, store)))
        ),
        Engine
      )
      const id = yield* engine.submit(plan, { masterplanId: "mp-taken" })
      const result = yield* Effect.fork(engine.result(id))
      yield* tick
      // Another process takes the plan over (it found this one gone, or the lease lapsed there).
      const holder = Option.getOrThrow(yield* store.getMasterplan(id)).lease!.owner
      const now = yield* Clock.currentTimeMillis
      yield* store.acquireLease(id, {
        owner: "elsewhere/1/x",
        untilMs: now + 60_000,
        nowMs: now,
        replacing: holder
      })
      yield* advance(6)
      const error = yield* Effect.flip(Fiber.join(result))
      assert.strictEqual(error._tag, "StoreError")
      // Said by its next commit (refused: it no longer holds the lease) or its next renewal.
      assert.match(error.message, /another process \(elsewhere\/1\/x\)/)
      // It stopped: no more calls, and it no longer holds the plan.
      const paidWhenStopped = paid.length
      yield* advance(10)
      assert.strictEqual(paid.length, paidWhenStopped)
      assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan(id)).lease?.owner, "elsewhere/1/x")
    }).pipe(Effect.scoped)
  )
})

describe("a store that stops committing", () => {
  it.effect("fails the run with the store's error, stops paying, and lets the plan be recovered", () =>
    Effect.gen(function* () {
      const memory = makeStoreMemory()
      let commits = 0
      const failing = Layer.succeed(Store, {
        ...memory,
        commit: (id, batch) =>
          ++commits > 2
            ? Effect.fail(new StoreError({ reason: "Unavailable", store: "flaky:", detail: "disk full" }))
            : memory.commit(id, batch)
      })
      const paid: Array<string> = []
      const outcome = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan)
        const streamed = yield* Effect.fork(Stream.runDrain(engine.events(id)))
        const result = yield* Effect.fork(engine.result(id))
        yield* advance(10)
        const failed = {
          stream: yield* Effect.flip(Fiber.join(streamed)),
          result: yield* Effect.flip(Fiber.join(result))
        }
        // Stopped: no call is made once the journal could not be kept.
        const paidWhenFailed = paid.length
        yield* advance(10)
        assert.strictEqual(paid.length, paidWhenFailed)
        // And this engine may take the plan up again (here the store goes on refusing its commits).
        yield* engine.recover(id)
        const again = yield* Effect.fork(engine.result(id))
        yield* advance(10)
        assert.include((yield* Effect.flip(Fiber.join(again))).message, "disk full")
        return failed
      }).pipe(
        Effect.provide(EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(failing))),
        Effect.scoped
      )
      assert.strictEqual(outcome.result._tag, "StoreError")
      assert.include(outcome.stream.message, "disk full")
    })
  )

  it.effect("a commit that dies (a bug in a store) ends the run with that defect instead of hanging", () =>
    Effect.gen(function* () {
      const memory = makeStoreMemory()
      const broken = Layer.succeed(Store, { ...memory, commit: () => Effect.die(new Error("store bug")) })
      const exit = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan)
        const result = yield* Effect.fork(engine.result(id))
        yield* advance(5)
        return yield* Fiber.await(result)
      }).pipe(
        Effect.provide(EngineLive.pipe(Layer.provide(countingModel([])), Layer.provide(broken))),
        Effect.scoped
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.include(Cause.pretty(exit._tag === "Failure" ? exit.cause : Cause.empty), "store bug")
    })
  )

  it.effect("a commit that fails for a moment (a dropped connection) is tried again: nothing is lost", () =>
    Effect.gen(function* () {
      const memory = makeStoreMemory()
      let commits = 0
      const blip = Layer.succeed(Store, {
        ...memory,
        commit: (id, batch) =>
          Effect.suspend(() =>
            ++commits % 4 === 0
              ? Effect.fail(
                  new StoreError({ reason: "Unavailable", store: "blip:", detail: "connection reset" })
                )
              : memory.commit(id, batch)
          )
      })
      const paid: Array<string> = []
      const end = yield* Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit(plan, { masterplanId: "mp-blip" })
        const result = yield* Effect.fork(engine.result(id))
        yield* advance(60)
        return yield* result
      }).pipe(
        Effect.provide(EngineLive.pipe(Layer.provide(countingModel(paid)), Layer.provide(blip))),
        Effect.scoped
      )
      assert.strictEqual(end.type, "masterplan.completed")
      assert.isAbove(commits, 8)
      expectRunInvariants(yield* memory.readEvents("mp-blip", 1), atoms, { concurrency: 3, mode: "eager" })
      const costs = yield* memory.listCostCommits("mp-blip")
      assert.deepStrictEqual(costs.map((c) => `${c.atomId}#${c.attempt}`).sort(), [...paid].sort())
    })
  )
})

/** How the retry test model answers a call, in the order calls return (an interrupted call takes none). */
type Answer = "ok" | "refused" | ModelFailure

const serverError: ModelFailure = { reason: "server_error", retryable: true, message: "HTTP 500 (test)" }

/**
 * A model that answers each call after 1 s with the next of `answers` (then "ok"): good code, a
 * placeholder the atom contract refuses, or a failure. `answered` is shared by the processes of one
 * run, so a restart changes no answer, only when it comes.
 */
const answeringModel = (
  answers: ReadonlyArray<Answer>,
  answered: { count: number }
): ModelProviderService => ({
  name: "answers",
  generate: (request) =>
    Effect.zipRight(
      Effect.sleep("1 second"),
      Effect.suspend(() => {
        const answer = answers[answered.count++] ?? "ok"
        if (typeof answer === "object") return Effect.fail(new ModelCallError({ failure: answer }))
        return Effect.succeed({
          text: answer === "ok" ? scriptedCode(request) : "// TODO",
          model: request.model,
          usage: {
            inputTokens: 100,
            outputTokens: 20,
            cacheWriteTokens: 0,
            cacheWrite5mTokens: 0,
            cacheWrite1hTokens: 0,
            cacheReadTokens: 0
          },
          stopReason: "end_turn" as const,
          confidence: 1
        })
      })
    )
})

/** Steps simulated time (a turn of the event loop, then at most a second) up to `targetMs`. */
const advanceTo = (targetMs: number) =>
  Effect.gen(function* () {
    for (let now = yield* Clock.currentTimeMillis; now < targetMs; now = yield* Clock.currentTimeMillis) {
      yield* tick
      yield* TestClock.adjust(Math.min(1_000, targetMs - now))
    }
  })

/** Steps simulated time until the plan has ended; its terminal event. */
const runToEnd = (masterplanId: string) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const result = yield* Effect.fork(engine.result(masterplanId))
    for (let step = 0; step < 1_000; step++) {
      const exit = yield* Fiber.poll(result)
      if (Option.isSome(exit)) return yield* exit.value
      yield* tick
      yield* TestClock.adjust("1 second")
    }
    return assert.fail(`${masterplanId} did not end`)
  })

/**
 * Runs a one-atom plan whose calls get `answers`, to its end; with `restartAtMs`, the process stops
 * that long after the submission and a new one recovers the plan. The journal of the run.
 */
const runRetried = (retry: Record<string, number>, answers: ReadonlyArray<Answer>, restartAtMs?: number) =>
  Effect.gen(function* () {
    const store = makeStoreMemory()
    const answered = { count: 0 }
    const engineOn = () =>
      EngineLive.pipe(
        Layer.provide(Layer.succeed(ModelProvider, answeringModel(answers, answered))),
        Layer.provide(Layer.succeed(Store, store))
      )
    const id = "mp-retried"
    const retried = { name: "retried", options: { retry }, atoms: [{ id: "a", instruction: "x" }] }
    const submittedAt = yield* Clock.currentTimeMillis
    yield* Effect.gen(function* () {
      const engine = yield* Engine
      yield* engine.submit(retried, { masterplanId: id })
      if (restartAtMs === undefined) return yield* runToEnd(id)
      yield* advanceTo(submittedAt + restartAtMs)
      yield* tick
      yield* engine.detach(id)
    }).pipe(Effect.provide(engineOn()), Effect.scoped)
    if (restartAtMs !== undefined)
      yield* Effect.gen(function* () {
        yield* (yield* Engine).recover(id)
        yield* runToEnd(id)
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
    return yield* store.readEvents(id, 1)
  })

const retryDelays = (journal: ReadonlyArray<Event>) =>
  journal.flatMap((e) => (e.type === "atom.retrying" ? [e.delayMs] : []))

/** For each retry, how long after its failure the next attempt started. */
const waitsBeforeRetries = (journal: ReadonlyArray<Event>) =>
  journal.flatMap((e, i) => {
    if (e.type !== "atom.retrying") return []
    const next = journal.slice(i).find((later) => later.type === "atom.started")
    return next === undefined ? [] : [next.at - e.at]
  })

describe("retries across a restart", () => {
  it.effect(
    "a restart during the second backoff leaves the sequence as it was (refused, transient, transient)",
    () =>
      Effect.gen(function* () {
        const retry = { initialMs: 1_000, jitter: 0 }
        const answers: ReadonlyArray<Answer> = ["refused", serverError, serverError, "ok"]
        const straight = yield* runRetried(retry, answers)
        // Attempts end at 1 s (refused), 2 s and 5 s (500s); the second backoff starts at 2 s.
        const restarted = yield* runRetried(retry, answers, 2_500)
        const resumedAt = restarted.findIndex((e) => e.type === "masterplan.resumed")
        assert.isAbove(resumedAt, 0)
        assert.deepInclude(
          restarted.slice(0, resumedAt).findLast((e) => e.type.startsWith("atom.")),
          {
            type: "atom.retrying",
            attempt: 2
          }
        )
        // Every failed attempt steps the sequence (a refused output is sent back at once, but counts).
        assert.deepStrictEqual(retryDelays(straight), [0, 2_000, 4_000])
        assert.deepStrictEqual(retryDelays(restarted), retryDelays(straight))
        assert.deepStrictEqual(waitsBeforeRetries(straight), [0, 2_000, 4_000])
        assert.deepStrictEqual(waitsBeforeRetries(restarted), waitsBeforeRetries(straight))
        assert.strictEqual(restarted.at(-1)?.type, "masterplan.completed")
      })
  )

  it.effect("a backoff restored after a restart is the atom's: a cancel ends it, and no call is made", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const answered = { count: 0 }
      const engineOn = () =>
        EngineLive.pipe(
          Layer.provide(Layer.succeed(ModelProvider, answeringModel([serverError], answered))),
          Layer.provide(Layer.succeed(Store, store))
        )
      const slow = {
        name: "slow-retry",
        options: { retry: { initialMs: 10_000, jitter: 0 } },
        atoms: [{ id: "a", instruction: "x" }]
      }
      // The call fails at 1 s; the process stops at 3 s, in a backoff that ends at 11 s.
      yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.submit(slow, { masterplanId: "mp-slow" })
        yield* advanceTo(3_000)
        yield* engine.detach("mp-slow")
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.strictEqual((yield* store.listAtoms("mp-slow"))[0]!.status, "retrying")

      const end = yield* Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.recover("mp-slow")
        yield* advanceTo(5_000)
        yield* engine.cancel("mp-slow", "enough")
        return yield* runToEnd("mp-slow")
      }).pipe(Effect.provide(engineOn()), Effect.scoped)
      assert.strictEqual(end.type, "masterplan.cancelled")
      const journal = yield* store.readEvents("mp-slow", 1)
      const resumed = journal.findIndex((e) => e.type === "masterplan.resumed")
      assert.deepStrictEqual(
        journal.slice(resumed).flatMap((e) => ("atomId" in e ? [e.type] : [])),
        ["atom.cancelled"]
      )
      assert.strictEqual(answered.count, 1)
      assert.strictEqual((yield* store.listAtoms("mp-slow"))[0]!.status, "cancelled")
    })
  )

  // Mostly failures that are retried: those are the histories where a restart could change something.
  const answerArb: fc.Arbitrary<Answer> = fc.oneof(
    { arbitrary: fc.constant("ok" as const), weight: 1 },
    { arbitrary: fc.constant("refused" as const), weight: 2 },
    {
      arbitrary: fc.record(
        {
          reason: fc.constantFrom<ModelFailure["reason"]>(
            "rate_limited",
            "overloaded",
            "server_error",
            "timeout",
            "connection"
          ),
          retryable: fc.constant(true),
          message: fc.constant("transient"),
          retryAfterMs: fc.integer({ min: 0, max: 5_000 })
        },
        { requiredKeys: ["reason", "retryable", "message"] }
      ),
      weight: 3
    },
    {
      arbitrary: fc.constant<Answer>({ reason: "invalid_request", retryable: false, message: "HTTP 400" }),
      weight: 1
    }
  )

  /** What a run decided: the delays, how the atom ended, and the failed attempts it counted. */
  const verdict = (journal: ReadonlyArray<Event>) => {
    const count = (type: string) => journal.filter((e) => e.type === type).length
    const failed = journal.find((e) => e.type === "atom.failed")
    return {
      delays: retryDelays(journal),
      end: journal.at(-1)?.type,
      failed: failed?.type === "atom.failed" ? failed.reason : undefined,
      countedAttempts: count("atom.started") - count("atom.interrupted") - count("atom.throttled")
    }
  }

  it("property: a restart at any point changes no retry delay and no retry-or-fail decision", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxRetries: fc.integer({ min: 0, max: 4 }),
          initialMs: fc.integer({ min: 0, max: 3_000 }),
          // Drawn as whole percents: fast-check's doubles crowd at the ends of their range.
          factor: fc.integer({ min: 150, max: 300 }).map((percent) => percent / 100),
          capMs: fc.integer({ min: 0, max: 20_000 }),
          jitter: fc.integer({ min: 0, max: 50 }).map((percent) => percent / 100)
        }),
        fc.array(answerArb, { maxLength: 6 }),
        fc.integer({ min: 0, max: 999 }).map((permille) => permille / 1000),
        (retry, answers, restartShare) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const straight = yield* runRetried(retry, answers)
              const durationMs = straight.at(-1)!.at - straight[0]!.at
              const restarted = yield* runRetried(retry, answers, Math.floor(restartShare * durationMs))
              assert.deepStrictEqual(verdict(restarted), verdict(straight))
              // Each backoff was waited out in full, across the restart too.
              const waits = waitsBeforeRetries(restarted)
              retryDelays(restarted).forEach((delay, i) => assert.isAtLeast(waits[i] ?? delay, delay))
            }).pipe(Effect.provide(TestContext.TestContext))
          )
      ),
      { numRuns: Number(process.env.DEVMATRIX_PROPERTY_RUNS) || 12 }
    )
  })
})
