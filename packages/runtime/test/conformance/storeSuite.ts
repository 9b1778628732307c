import type { Event, EventBody, RunOptions } from "@devmatrix/core"
import { emptySummary, idProblem, maxIdLength, RunOptions as RunOptionsSchema } from "@devmatrix/core"
import type { Store, StoreError } from "@devmatrix/runtime"
import { Store as StoreTag } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Layer } from "effect"
import fc from "fast-check"

const options: RunOptions = RunOptionsSchema.make({})

const newPlan = (id: string, atoms = ["a", "b", "c"], createdAt = 1_000) => ({
  masterplan: {
    id,
    name: `plan ${id}`,
    status: "submitted" as const,
    options,
    atomCount: atoms.length,
    waveCount: 2,
    createdAt
  },
  plan: { name: `plan ${id}`, atoms: atoms.map((atomId) => ({ id: atomId, instruction: "x" })) },
  atoms: atoms.map((atomId, index) => ({ atomId, index, wave: index === 0 ? 0 : 1 }))
})

/** Stamps bodies as the engine does: seq from `from`, `at` from 2000. */
const stamp = (masterplanId: string, bodies: ReadonlyArray<EventBody>, from = 1): Array<Event> =>
  bodies.map((body, i) => ({ ...body, masterplanId, seq: from + i, at: 2_000 + from + i }))

const completed = (atomId: string, attempts: number): EventBody => ({
  type: "atom.completed",
  atomId,
  wave: 0,
  attempts,
  model: "scripted",
  confidence: 0.9,
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.002,
  acceptedBy: "validation"
})
const cost = (atomId: string, attempt: number, costUsd = 0.002): EventBody => ({
  type: "cost.updated",
  atomId,
  attempt,
  model: "scripted",
  inputTokens: 10,
  outputTokens: 5,
  costUsd,
  totalUsd: costUsd
})

/** A first wave of `count` atoms, as one batch: each made ready, then started. */
const firstWave = (masterplanId: string, count: number): Array<Event> => {
  const atomIds = Array.from({ length: count }, (_, i) => `w${i}`)
  return stamp(masterplanId, [
    { type: "masterplan.started" },
    ...atomIds.map((atomId): EventBody => ({ type: "atom.ready", atomId, wave: 0 })),
    ...atomIds.map((atomId): EventBody => ({ type: "atom.started", atomId, wave: 0, attempt: 1 }))
  ])
}

/** Large batches and retried commits: what the engine gives a store at scale and after a lost answer. */
export const scaleAndReplaySuite = (name: string, layer: () => Layer.Layer<Store, StoreError>) =>
  describe(`Store conformance, scale and replay: ${name}`, () => {
    const withStore = <A, E>(body: (store: Store["Type"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(StoreTag, body).pipe(Effect.provide(layer()))

    it.effect("takes a first wave of 70,000 atoms in one commit", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const count = 70_000
          const atomIds = Array.from({ length: count }, (_, i) => `w${i}`)
          yield* store.createMasterplan(newPlan("big", atomIds))
          const events = firstWave("big", count)
          yield* store.commit("big", { events, results: [] })
          const record = Option.getOrThrow(yield* store.getMasterplan("big"))
          assert.strictEqual(record.lastSeq, events.length)
          assert.strictEqual((yield* store.readEvents("big", 1)).length, events.length)
          const atoms = yield* store.listAtoms("big")
          assert.strictEqual(atoms.filter((atom) => atom.status === "running").length, count)
        })
      )
    )

    it.effect(
      "a batch committed again (its answer was lost) is stored once; a different one is a conflict",
      () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.createMasterplan(newPlan("p"))
            const batch = stamp("p", [
              { type: "atom.started", atomId: "a", wave: 0, attempt: 1 },
              cost("a", 1),
              completed("a", 1)
            ])
            yield* store.commit("p", { events: batch, results: [{ atomId: "a", code: "const a = 1" }] })
            yield* store.commit("p", { events: batch, results: [{ atomId: "a", code: "const a = 1" }] })
            yield* store.commit("p", { events: batch.slice(1), results: [] })
            assert.deepStrictEqual(yield* store.readEvents("p", 1), batch)
            const [a] = yield* store.listAtoms("p")
            assert.deepStrictEqual([a!.status, a!.attempts, a!.costUsd], ["completed", 1, 0.002])
            const other = stamp("p", [{ type: "atom.ready", atomId: "b", wave: 1 }], 2)
            assert.strictEqual(
              (yield* Effect.flip(store.commit("p", { events: other, results: [] }))).reason,
              "Conflict"
            )
            const overlapping = stamp(
              "p",
              [completed("a", 1), { type: "atom.ready", atomId: "b", wave: 1 }],
              3
            )
            assert.strictEqual(
              (yield* Effect.flip(store.commit("p", { events: overlapping, results: [] }))).reason,
              "Conflict"
            )
            assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan("p")).lastSeq, 3)
          })
        )
    )

    it.effect(
      "a journal committed in any split, with any batches committed again, is the journal committed once (property)",
      () =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 30 }),
              fc.array(fc.record({ size: fc.integer({ min: 1, max: 6 }), again: fc.boolean() }), {
                minLength: 1,
                maxLength: 30
              }),
              async (atomIds, splits) => {
                const events = stamp(
                  "p",
                  atomIds.flatMap((atomId, i): Array<EventBody> => [
                    { type: "atom.started", atomId, wave: 0, attempt: i + 1 },
                    cost(atomId, i + 1, 0.001 * (i + 1))
                  ])
                )
                const read = (replays: boolean) =>
                  Effect.runPromise(
                    withStore((store) =>
                      Effect.gen(function* () {
                        yield* store.createMasterplan(newPlan("p"))
                        let at = 0
                        for (let k = 0; at < events.length; k++) {
                          const { size, again } = splits[k % splits.length]!
                          const batch = { events: events.slice(at, at + size), results: [] }
                          yield* store.commit("p", batch)
                          if (replays && again) yield* store.commit("p", batch)
                          at += size
                        }
                        return {
                          events: yield* store.readEvents("p", 1),
                          atoms: yield* store.listAtoms("p"),
                          costs: yield* store.listCostCommits("p"),
                          lastSeq: Option.getOrThrow(yield* store.getMasterplan("p")).lastSeq
                        }
                      })
                    )
                  )
                assert.deepStrictEqual(await read(true), await read(false))
              }
            ),
            { numRuns: propertyRuns(10) }
          )
        )
    )
  })

/** Runs of a property test: `fallback`, or `DEVMATRIX_PROPERTY_RUNS` for a longer search. */
const propertyRuns = (fallback: number): number => {
  const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"])
  return Number.isInteger(runs) && runs > 0 ? runs : fallback
}

/**
 * What every Store must do, run against each implementation (memory, SQLite, PostgreSQL).
 * `layer` builds a fresh, empty store each time it is provided.
 */
export const storeSuite = (name: string, layer: () => Layer.Layer<Store, StoreError>) =>
  describe(`Store conformance: ${name}`, () => {
    const withStore = <A, E>(body: (store: Store["Type"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(StoreTag, body).pipe(Effect.provide(layer()))

    it.effect("creates, finds and lists masterplans; a second create of the same id is a conflict", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createMasterplan(newPlan("p1", ["a"], 1_000))
          yield* store.createMasterplan(newPlan("p2", ["a"], 2_000))
          const found = Option.getOrThrow(yield* store.getMasterplan("p1"))
          assert.strictEqual(found.name, "plan p1")
          assert.strictEqual(found.lastSeq, 0)
          assert.deepStrictEqual(found.options, options)
          assert.deepStrictEqual((found.plan as { name: string }).name, "plan p1")
          assert.deepStrictEqual(
            (yield* store.listMasterplans()).map((p) => p.id),
            ["p2", "p1"]
          )
          assert.isTrue(Option.isNone(yield* store.getMasterplan("nope")))
          const error = yield* Effect.flip(store.createMasterplan(newPlan("p1")))
          assert.strictEqual(error.reason, "Conflict")
        })
      )
    )

    it.effect(
      "appends events gap-free, reads any range back, and refuses a gap without applying anything",
      () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.createMasterplan(newPlan("p"))
            const first = stamp("p", [
              { type: "masterplan.started" },
              { type: "atom.ready", atomId: "a", wave: 0 }
            ])
            yield* store.commit("p", { events: first, results: [] })
            const gap = stamp("p", [{ type: "atom.queued", atomId: "a", wave: 0, priority: 0 }], 4)
            const error = yield* Effect.flip(store.commit("p", { events: gap, results: [] }))
            assert.strictEqual(error.reason, "Conflict")
            const second = stamp("p", [{ type: "atom.queued", atomId: "a", wave: 0, priority: 0 }], 3)
            yield* store.commit("p", { events: second, results: [] })
            assert.deepStrictEqual(yield* store.readEvents("p", 1), [...first, ...second])
            assert.deepStrictEqual(yield* store.readEvents("p", 2, 2), first.slice(1, 2))
            const record = Option.getOrThrow(yield* store.getMasterplan("p"))
            assert.strictEqual(record.lastSeq, 3)
            assert.strictEqual(record.status, "running")
            const missing = yield* Effect.flip(
              store.commit("ghost", { events: stamp("ghost", [{ type: "masterplan.started" }]), results: [] })
            )
            assert.strictEqual(missing.reason, "NotFound")
          })
        )
    )

    it.effect(
      "projects events onto atom rows, stores a result once, and records each paid attempt once",
      () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.createMasterplan(newPlan("p"))
            const events = stamp("p", [
              { type: "atom.started", atomId: "a", wave: 0, attempt: 1 },
              cost("a", 1),
              {
                type: "atom.retrying",
                atomId: "a",
                wave: 0,
                attempt: 1,
                reason: "validation",
                error: "bad",
                delayMs: 0
              },
              { type: "atom.started", atomId: "a", wave: 0, attempt: 2 },
              cost("a", 2),
              completed("a", 2),
              { type: "atom.started", atomId: "b", wave: 1, attempt: 1 },
              {
                type: "atom.failed",
                atomId: "b",
                wave: 1,
                reason: "invalid_request",
                error: "HTTP 400",
                attempts: 1
              },
              { type: "atom.skipped", atomId: "c", wave: 1, becauseOf: "b" }
            ])
            yield* store.commit("p", { events: events.slice(0, 4), results: [] })
            yield* store.commit("p", {
              events: events.slice(4),
              results: [{ atomId: "a", code: "export const a = 1" }]
            })
            // The same attempt paid again (a replayed commit) is not a second payment.
            yield* store.commit("p", { events: stamp("p", [cost("a", 2)], 10), results: [] })
            const atoms = yield* store.listAtoms("p")
            assert.deepStrictEqual(
              atoms.map((a) => [a.atomId, a.status, a.attempts]),
              [
                ["a", "completed", 2],
                ["b", "failed", 1],
                ["c", "skipped", 0]
              ]
            )
            assert.strictEqual(atoms[0]!.code, "export const a = 1")
            assert.strictEqual(atoms[0]!.confidence, 0.9)
            assert.strictEqual(atoms[1]!.error, "invalid_request: HTTP 400")
            assert.match(atoms[2]!.error ?? "", /"b" failed/)
            const costs = yield* store.listCostCommits("p")
            assert.deepStrictEqual(
              costs.map((c) => [c.atomId, c.attempt]),
              [
                ["a", 1],
                ["a", 2]
              ]
            )
          })
        )
    )

    it.effect("keeps when a retrying atom's backoff ends (whole milliseconds)", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createMasterplan(newPlan("p"))
          const events = stamp("p", [
            { type: "atom.started", atomId: "a", wave: 0, attempt: 1 },
            {
              type: "atom.retrying",
              atomId: "a",
              wave: 0,
              attempt: 1,
              reason: "overloaded",
              error: "529",
              delayMs: 1500.4
            }
          ])
          yield* store.commit("p", { events, results: [] })
          const [a] = yield* store.listAtoms("p")
          assert.strictEqual(a!.status, "retrying")
          assert.strictEqual(a!.retryAt, events[1]!.at + 1501)
        })
      )
    )

    it.effect("keeps a reviewer's decision on an atom in review, and an edit's code, for its resume", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createMasterplan(newPlan("p"))
          yield* store.commit("p", {
            events: stamp("p", [
              { type: "atom.started", atomId: "a", wave: 0, attempt: 1 },
              { type: "atom.review", atomId: "a", wave: 0, confidence: 0.25 }
            ]),
            results: [{ atomId: "a", code: "const a = 0" }]
          })
          const [inReview] = yield* store.listAtoms("p")
          assert.strictEqual(inReview!.status, "review")
          assert.strictEqual(inReview!.reviewed, undefined)
          yield* store.commit("p", {
            events: stamp(
              "p",
              [
                {
                  type: "atom.reviewed",
                  atomId: "a",
                  wave: 0,
                  decision: "reject",
                  reason: "wrong",
                  principal: "ann"
                }
              ],
              3
            ),
            results: []
          })
          const [rejected] = yield* store.listAtoms("p")
          // Still in review (its resume applies the decision), with the decision and the code under review.
          assert.strictEqual(rejected!.status, "review")
          assert.deepStrictEqual(rejected!.reviewed, { decision: "reject", reason: "wrong" })
          assert.strictEqual(rejected!.code, "const a = 0")
          assert.strictEqual(rejected!.confidence, 0.25)
          yield* store.createMasterplan(newPlan("q"))
          yield* store.commit("q", {
            events: stamp("q", [
              { type: "atom.review", atomId: "a", wave: 0, confidence: 0.5 },
              { type: "atom.reviewed", atomId: "a", wave: 0, decision: "edit" }
            ]),
            results: [{ atomId: "a", code: "const a = 2" }]
          })
          const [edited] = yield* store.listAtoms("q")
          assert.deepStrictEqual(edited!.reviewed, { decision: "edit" })
          assert.strictEqual(edited!.code, "const a = 2")
        })
      )
    )

    it.effect("counts interrupted attempts and keeps phase checkpoints", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createMasterplan(newPlan("p"))
          yield* store.commit("p", {
            events: stamp("p", [
              { type: "masterplan.phase", phase: "discovery", status: "skipped" },
              { type: "masterplan.phase", phase: "execution", status: "started" },
              { type: "atom.started", atomId: "a", wave: 0, attempt: 1 },
              { type: "atom.interrupted", atomId: "a", wave: 0, attempt: 1 },
              { type: "masterplan.resumed", reason: "recovery" },
              { type: "masterplan.phase", phase: "execution", status: "started" },
              { type: "masterplan.phase", phase: "execution", status: "completed", durationMs: 42 }
            ]),
            results: []
          })
          const [a] = yield* store.listAtoms("p")
          assert.deepStrictEqual([a!.status, a!.attempts, a!.interrupted], ["ready", 1, 1])
          const phases = new Map((yield* store.listPhases("p")).map((row) => [row.phase, row]))
          assert.strictEqual(phases.get("discovery")!.status, "skipped")
          assert.strictEqual(phases.get("planning")!.status, "pending")
          assert.deepStrictEqual(
            [
              phases.get("execution")!.status,
              phases.get("execution")!.attempts,
              phases.get("execution")!.durationMs
            ],
            ["completed", 2, 42]
          )
        })
      )
    )

    it.effect("deletes finished masterplans older than the cutoff, and only those", () =>
      withStore((store) =>
        Effect.gen(function* () {
          for (const id of ["old-done", "new-done", "old-running"]) yield* store.createMasterplan(newPlan(id))
          const end = (id: string, at: number) =>
            store.commit(id, {
              events: [
                { type: "masterplan.started", masterplanId: id, seq: 1, at },
                {
                  type: "masterplan.cancelled",
                  masterplanId: id,
                  seq: 2,
                  at,
                  reason: "x",
                  summary: { ...emptySummary(3, 2), outcome: "cancelled" }
                }
              ],
              results: []
            })
          yield* end("old-done", 5_000)
          yield* end("new-done", 50_000)
          yield* store.commit("old-running", {
            events: [{ type: "masterplan.started", masterplanId: "old-running", seq: 1, at: 5_000 }],
            results: []
          })
          assert.deepStrictEqual(yield* store.deleteFinishedBefore(10_000), ["old-done"])
          assert.deepStrictEqual((yield* store.listMasterplans()).map((p) => p.id).sort(), [
            "new-done",
            "old-running"
          ])
          assert.isTrue(Option.isNone(yield* store.getMasterplan("old-done")))
        })
      )
    )

    it.effect("loses nothing however events are split into commits (group commit is invisible)", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 40 }),
            fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }),
            async (atomIds, sizes) => {
              const bodies: Array<EventBody> = atomIds.flatMap((atomId, i) => [
                { type: "atom.started", atomId, wave: 0, attempt: i + 1 },
                cost(atomId, i + 1, 0.001 * (i + 1))
              ])
              const events = stamp("p", bodies)
              const read = await Effect.runPromise(
                withStore((store) =>
                  Effect.gen(function* () {
                    yield* store.createMasterplan(newPlan("p"))
                    let at = 0
                    for (let k = 0; at < events.length; k++) {
                      const size = sizes[k % sizes.length]!
                      yield* store.commit("p", { events: events.slice(at, at + size), results: [] })
                      at += size
                    }
                    return {
                      events: yield* store.readEvents("p", 1),
                      atoms: yield* store.listAtoms("p"),
                      costs: yield* store.listCostCommits("p")
                    }
                  })
                )
              )
              assert.deepStrictEqual(read.events, events)
              const spent = atomIds.reduce((sum, _, i) => sum + 0.001 * (i + 1), 0)
              const rowTotal = read.atoms.reduce((sum, a) => sum + a.costUsd, 0)
              assert.closeTo(rowTotal, spent, 1e-9)
              assert.strictEqual(read.costs.length, atomIds.length)
            }
          ),
          { numRuns: 15 }
        )
      )
    )

    it.effect(
      "leases a masterplan to one process at a time: renewed by its holder, taken once it lapses or its holder is gone",
      () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.createMasterplan(newPlan("p"))
            const ask = (owner: string, nowMs: number, replacing?: string) =>
              store.acquireLease("p", { owner, untilMs: nowMs + 15_000, nowMs, replacing })
            assert.deepStrictEqual(yield* ask("A", 1_000), { _tag: "Granted" })
            // Renewed by its holder; refused to another while it runs.
            assert.deepStrictEqual(yield* ask("A", 6_000), { _tag: "Granted" })
            assert.deepStrictEqual(yield* ask("B", 7_000), {
              _tag: "Held",
              by: { owner: "A", untilMs: 21_000 }
            })
            const leased = Option.getOrThrow(yield* store.getMasterplan("p")).lease
            assert.deepStrictEqual(leased, { owner: "A", untilMs: 21_000 })
            assert.deepStrictEqual(
              (yield* store.listMasterplans()).map((p) => p.lease),
              [{ owner: "A", untilMs: 21_000 }]
            )
            // Taken from a holder the asker found gone, but not from one it did not name.
            assert.strictEqual((yield* ask("B", 8_000, "someone-else"))._tag, "Held")
            assert.deepStrictEqual(yield* ask("B", 8_000, "A"), { _tag: "Granted" })
            // Lapsed: anyone may take it.
            assert.deepStrictEqual(yield* ask("C", 23_001), { _tag: "Granted" })
            // Released only by its holder.
            yield* store.releaseLease("p", "B")
            assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan("p")).lease?.owner, "C")
            yield* store.releaseLease("p", "C")
            assert.isUndefined(Option.getOrThrow(yield* store.getMasterplan("p")).lease)
            assert.deepStrictEqual(yield* ask("D", 23_002), { _tag: "Granted" })
            const missing = yield* Effect.flip(
              store.acquireLease("nope", { owner: "A", untilMs: 1, nowMs: 0 })
            )
            assert.strictEqual(missing.reason, "NotFound")
          })
        )
    )

    it.effect(
      "loads what a recovering process needs: record, atoms, paid calls and the journal's counts",
      () =>
        withStore((store) =>
          Effect.gen(function* () {
            yield* store.createMasterplan(newPlan("p"))
            const started = (attempt: number): EventBody => ({
              type: "atom.started",
              atomId: "a",
              wave: 0,
              attempt
            })
            yield* store.commit("p", {
              events: stamp("p", [started(1), cost("a", 1), started(2), cost("a", 2), completed("a", 2)]),
              results: [{ atomId: "a", code: "const a = 1" }]
            })
            const snapshot = Option.getOrThrow(yield* store.loadForRecovery("p"))
            assert.strictEqual(snapshot.record.lastSeq, 5)
            assert.deepStrictEqual(
              snapshot.atoms.map((a) => [a.atomId, a.status, a.attempts, a.code]),
              [
                ["a", "completed", 2, "const a = 1"],
                ["b", "pending", 0, undefined],
                ["c", "pending", 0, undefined]
              ]
            )
            assert.deepStrictEqual(
              snapshot.costs.map((c) => c.attempt),
              [1, 2]
            )
            assert.deepStrictEqual(snapshot.eventCounts, {
              "atom.started": 2,
              "cost.updated": 2,
              "atom.completed": 1
            })
            assert.isTrue(Option.isNone(yield* store.loadForRecovery("nope")))
          })
        )
    )

    it.effect("refuses a commit from a process that no longer holds the lease (fencing)", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.createMasterplan(newPlan("p"))
          yield* store.acquireLease("p", { owner: "A", untilMs: 20_000, nowMs: 1_000 })
          const first = stamp("p", [{ type: "atom.ready", atomId: "a", wave: 0 }])
          yield* store.commit("p", { events: first, results: [], leaseOwner: "A" })
          // A's lease lapses and B takes the plan over: A's next commit is refused, B's goes in.
          yield* store.acquireLease("p", { owner: "B", untilMs: 60_000, nowMs: 30_000 })
          const next = stamp("p", [{ type: "atom.queued", atomId: "a", wave: 0, priority: 0 }], 2)
          const refused = yield* Effect.flip(
            store.commit("p", { events: next, results: [], leaseOwner: "A" })
          )
          assert.strictEqual(refused.reason, "Conflict")
          assert.include(refused.message, "another process (B)")
          yield* store.commit("p", { events: next, results: [], leaseOwner: "B" })
          assert.deepStrictEqual(
            (yield* store.readEvents("p", 1)).map((e) => e.seq),
            [1, 2]
          )
        })
      )
    )

    it.effect("never grants a lease to two processes at once, whatever they ask and when (property)", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                kind: fc.constantFrom("acquire" as const, "release" as const),
                owner: fc.constantFrom("A", "B", "C"),
                replacing: fc.option(fc.constantFrom("A", "B", "C"), { nil: undefined }),
                advanceMs: fc.integer({ min: 0, max: 20_000 })
              }),
              { minLength: 1, maxLength: 25 }
            ),
            async (steps) => {
              const outcomes = await Effect.runPromise(
                withStore((store) =>
                  Effect.gen(function* () {
                    yield* store.createMasterplan(newPlan("p"))
                    let now = 0
                    const seen: Array<string> = []
                    for (const step of steps) {
                      now += step.advanceMs
                      if (step.kind === "release") {
                        yield* store.releaseLease("p", step.owner)
                        seen.push("released")
                      } else {
                        const outcome = yield* store.acquireLease("p", {
                          owner: step.owner,
                          untilMs: now + 15_000,
                          nowMs: now,
                          replacing: step.replacing
                        })
                        seen.push(
                          outcome._tag === "Granted" ? `granted ${step.owner}` : `held by ${outcome.by.owner}`
                        )
                      }
                    }
                    return seen
                  })
                )
              )
              // The reference: one holder at most, taken only as `acquireLease` says.
              let holder: { owner: string; untilMs: number } | undefined
              let now = 0
              const expected = steps.map((step) => {
                now += step.advanceMs
                if (step.kind === "release") {
                  if (holder?.owner === step.owner) holder = undefined
                  return "released"
                }
                const free =
                  holder === undefined ||
                  holder.untilMs < now ||
                  holder.owner === step.owner ||
                  holder.owner === step.replacing
                if (!free) return `held by ${holder!.owner}`
                holder = { owner: step.owner, untilMs: now + 15_000 }
                return `granted ${step.owner}`
              })
              assert.deepStrictEqual(outcomes, expected)
            }
          ),
          { numRuns: 25 }
        )
      )
    )
    describe("odd but valid values come back exactly as given", () => {
      // Ids at their limits and in every script (DESIGN.md §6: what is accepted is what is stored).
      // Each is an `Id` the plan schema accepts: checked first, so that this proves what it says.
      const oddIds = [
        "😀𝄞\u{10FFFF}",
        "e\u0301",
        "\u00e9",
        "שלום عالم",
        `it's "q" \\ 100% _%s $1 ?`,
        "Robert'); DROP TABLE dm_atoms;--",
        "__proto__",
        "constructor",
        "x\u00a0y\u200bz",
        "a".repeat(maxIdLength),
        "𝒳".repeat(maxIdLength / 2),
        "A",
        "a"
      ]
      const oddText = `line 1\n\tline 2 \r\n ${oddIds.join(" | ")} \u2028 \\u0000 %`

      it("the plan checks each of them as an id", () => {
        assert.deepStrictEqual(
          oddIds.map((id) => idProblem(id)),
          oddIds.map(() => undefined)
        )
      })

      it.effect(
        "ids, names, plans, journals, errors and code; costs from 1e-12 to 1e15; times to 2^53 - 1",
        () =>
          withStore((store) =>
            Effect.gen(function* () {
              const masterplanId = oddIds[0]!
              const createdAt = Number.MAX_SAFE_INTEGER
              const plan = {
                name: oddText,
                atoms: oddIds.map((id, i) => ({
                  id,
                  instruction: oddText,
                  dependsOn: i > 0 ? [oddIds[i - 1]] : []
                })),
                options: {
                  ...options,
                  callTimeoutMs: 86_400_000,
                  retry: { ...options.retry, initialMs: 1e-12 }
                },
                extreme: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e-12, 1e308, 5e-324, 0.1 + 0.2]
              }
              yield* store.createMasterplan({
                masterplan: { ...newPlan(masterplanId, oddIds).masterplan, name: oddText, createdAt },
                plan,
                atoms: oddIds.map((atomId, index) => ({ atomId, index, wave: index }))
              })
              const at = Number.MAX_SAFE_INTEGER
              const events = oddIds.flatMap((atomId, i): Array<Event> => {
                const seq = i * 3
                const costUsd = i % 2 === 0 ? 1e-12 : 1e15
                return [
                  { type: "atom.started", masterplanId, seq: seq + 1, at, atomId, wave: i, attempt: 1 },
                  {
                    type: "cost.updated",
                    masterplanId,
                    seq: seq + 2,
                    at,
                    atomId,
                    attempt: 1,
                    model: oddText,
                    inputTokens: 2_147_483_647,
                    outputTokens: 0,
                    costUsd,
                    totalUsd: costUsd
                  },
                  i === oddIds.length - 1
                    ? {
                        type: "atom.failed",
                        masterplanId,
                        seq: seq + 3,
                        at,
                        atomId,
                        wave: i,
                        reason: "invalid_request",
                        error: oddText,
                        attempts: 1
                      }
                    : {
                        type: "atom.completed",
                        masterplanId,
                        seq: seq + 3,
                        at,
                        atomId,
                        wave: i,
                        attempts: 1,
                        model: oddText,
                        confidence: 1e-12,
                        inputTokens: 2_147_483_647,
                        outputTokens: 0,
                        costUsd,
                        acceptedBy: "validation"
                      }
                ]
              })
              yield* store.commit(masterplanId, {
                events,
                results: oddIds.slice(0, -1).map((atomId) => ({ atomId, code: oddText }))
              })
              const record = Option.getOrThrow(yield* store.getMasterplan(masterplanId))
              assert.deepStrictEqual(
                [record.id, record.name, record.createdAt, record.lastSeq],
                [masterplanId, oddText, createdAt, events.length]
              )
              assert.deepStrictEqual(record.plan, plan)
              assert.deepStrictEqual(
                (yield* store.listMasterplans()).map((p) => p.id),
                [masterplanId]
              )
              assert.deepStrictEqual(yield* store.readEvents(masterplanId, 1), events)
              const atoms = yield* store.listAtoms(masterplanId)
              assert.deepStrictEqual(
                atoms.map((a) => [a.atomId, a.code, a.error]),
                oddIds.map((id, i) => [
                  id,
                  i < oddIds.length - 1 ? oddText : undefined,
                  i < oddIds.length - 1 ? undefined : `invalid_request: ${oddText}`
                ])
              )
              assert.deepStrictEqual(
                atoms.map((a) => a.costUsd),
                oddIds.map((_, i) => (i % 2 === 0 ? 1e-12 : 1e15))
              )
              assert.deepStrictEqual(
                // In the order of their ids (which a store may list them by).
                (yield* store.listCostCommits(masterplanId))
                  .map((c) => [c.atomId, c.costUsd, c.inputTokens, c.model] as const)
                  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
                oddIds
                  .map((id, i) => [id, i % 2 === 0 ? 1e-12 : 1e15, 2_147_483_647, oddText] as const)
                  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              )
              const snapshot = Option.getOrThrow(yield* store.loadForRecovery(masterplanId))
              assert.deepStrictEqual(snapshot.record.plan, plan)
              assert.deepStrictEqual(
                snapshot.atoms.map((a) => a.atomId),
                oddIds
              )
            })
          )
      )

      it.effect("ids that differ only in normalization, case or invisible characters are different ids", () =>
        withStore((store) =>
          Effect.gen(function* () {
            const lookalikes = ["\u00e9", "e\u0301", "A", "a", "x y", "x\u00a0y", "xy", "x\u200by"]
            for (const id of lookalikes) yield* store.createMasterplan(newPlan(id, lookalikes))
            assert.deepStrictEqual(
              (yield* store.listMasterplans()).map((p) => p.id).sort(),
              [...lookalikes].sort()
            )
            for (const id of lookalikes) {
              assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan(id)).name, `plan ${id}`)
              assert.deepStrictEqual(
                (yield* store.listAtoms(id)).map((a) => a.atomId),
                lookalikes
              )
            }
          })
        )
      )

      it.effect("any ids the plan schema accepts, as masterplan and atom ids (property)", () =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.uniqueArray(
                fc
                  .fullUnicodeString({ minLength: 1, maxLength: 12 })
                  .filter((id) => idProblem(id) === undefined),
                { minLength: 1, maxLength: 8 }
              ),
              async (ids) => {
                const read = await Effect.runPromise(
                  withStore((store) =>
                    Effect.gen(function* () {
                      yield* store.createMasterplan(newPlan(ids[0]!, ids))
                      yield* store.commit(ids[0]!, {
                        events: ids.map((atomId, i) => ({
                          type: "atom.started" as const,
                          masterplanId: ids[0]!,
                          seq: i + 1,
                          at: 1_000,
                          atomId,
                          wave: 0,
                          attempt: 1
                        })),
                        results: []
                      })
                      return {
                        plan: Option.getOrThrow(yield* store.getMasterplan(ids[0]!)).plan,
                        atoms: (yield* store.listAtoms(ids[0]!)).map((a) => [a.atomId, a.status]),
                        journal: (yield* store.readEvents(ids[0]!, 1)).map((e) =>
                          e.type === "atom.started" ? e.atomId : ""
                        )
                      }
                    })
                  )
                )
                assert.deepStrictEqual(read.plan, newPlan(ids[0]!, ids).plan)
                assert.deepStrictEqual(
                  read.atoms,
                  ids.map((id) => [id, "running"])
                )
                assert.deepStrictEqual(read.journal, ids)
              }
            ),
            { numRuns: Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 10) }
          )
        )
      )
    })
  })
