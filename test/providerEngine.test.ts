import { costOfUsage, defaultPriceTable, findModelPrice } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { defaultResponder } from "@devmatrix/host"
import type { FakeAnthropic } from "@devmatrix/host"
import { Engine } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import {
  atomOfCall,
  attemptOfCall,
  billedNanos,
  billedOf,
  engineLayer,
  fastOptions,
  journalOf,
  layeredAtoms,
  model,
  ofType,
  planOf,
  realSleep,
  requestsOf,
  runToEnd,
  serve
} from "./providerEngineFixtures.js"
import type { PlanAtom } from "./providerEngineFixtures.js"

const atom = (id: string, dependsOn: ReadonlyArray<string> = []): PlanAtom => ({
  id,
  dependsOn,
  instruction: `implement ${id}`,
  defines: [`fn_${id}`]
})

/** Three roots, each with a child and a grandchild: whichever root is called first has dependents. */
const familyAtoms = ["r0", "r1", "r2"].flatMap((root) => [
  atom(root),
  atom(`${root}c`, [root]),
  atom(`${root}g`, [`${root}c`])
])

/** The journal up to (and with) the first event of `type`, while the plan runs on. */
const journalUntil = (id: string, type: Event["type"]) =>
  Effect.flatMap(Engine, (engine) =>
    Stream.runCollect(engine.events(id).pipe(Stream.takeUntil((event) => event.type === type)))
  ).pipe(Effect.map(Chunk.toArray))

/** The max_tokens of each request the server accepted, by call id: the responder sees them. */
const recordingMaxTokens = () => {
  const maxTokens = new Map<string, number>()
  return {
    maxTokens,
    respond: (request: Parameters<typeof defaultResponder>[0]) => {
      if (request.callId !== undefined) maxTokens.set(request.callId, request.maxTokens)
      return defaultResponder(request)
    }
  }
}

/** The one request the server answered with an injected fault of `kind`. */
const faultedRequest = (server: FakeAnthropic, id: string, kind: string) => {
  const faulted = requestsOf(server, id).filter((request) => request.fault === kind)
  assert.strictEqual(faulted.length, 1, `one request got ${kind}`)
  return faulted[0]!
}

// The engine against the local Messages API: the real SDK over real HTTP to the fake server, one
// test per failure class. Each asserts on the journal and on what the server saw and billed.

/** Runs a plan whose first call hits the spend limit, and checks the pause (see its test). */
const spendLimitPauses = (server: FakeAnthropic) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const concurrency = 5
    const id = yield* engine.submit(planOf(layeredAtoms(200, 20), fastOptions({ concurrency })))
    const untilPaused = yield* journalUntil(id, "masterplan.paused")
    const paused = untilPaused.at(-1)!
    assert.strictEqual(paused.type, "masterplan.paused")
    if (paused.type !== "masterplan.paused") return
    assert.strictEqual(paused.by, "spend_limit")
    // Still paused a while later: the result is not reached, and no call started after the pause.
    const result = yield* Effect.timeout(engine.result(id), "1500 millis").pipe(Effect.option)
    assert.isTrue(Option.isNone(result))
    const requestsWhilePaused = requestsOf(server, id)
    yield* engine.cancel(id, "test over")
    const end = yield* engine.result(id)
    assert.strictEqual(end.type, "masterplan.cancelled")
    const events = yield* journalOf(engine, id)
    const pausedSeq = paused.seq
    const startedBeforePause = ofType(events, "atom.started").filter((e) => e.seq < pausedSeq)
    const pausedAt = events.findIndex((e) => e.seq === pausedSeq)
    assert.deepStrictEqual(
      ofType(events.slice(pausedAt), "atom.started"),
      [],
      "no atom started after the pause"
    )
    // One request per call started before the pause: the spend-limited one and those in flight.
    assert.strictEqual(requestsWhilePaused.length, startedBeforePause.length)
    assert.isAtMost(requestsWhilePaused.length, 2 * concurrency)
    assert.strictEqual(requestsOf(server, id).length, requestsWhilePaused.length)
    const spendLimited = requestsWhilePaused.filter((r) => r.fault === "spend_limit")
    assert.strictEqual(spendLimited.length, 1)
    // Nothing retried the spend-limited call.
    const limitedAtom = atomOfCall(spendLimited[0]!.callId)
    assert.strictEqual(requestsWhilePaused.filter((r) => atomOfCall(r.callId) === limitedAtom).length, 1)
  })

/** A plan under a small hard limit pauses on it, then completes when raised (see its test). */
const budgetPausesThenCompletes = (server: FakeAnthropic) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const hardUsd = 0.12
    const atoms = layeredAtoms(60, 60)
    const id = yield* engine.submit(planOf(atoms, fastOptions({ concurrency: 5, budget: { hardUsd } })))
    const untilPaused = yield* journalUntil(id, "masterplan.paused")
    const paused = untilPaused.at(-1)!
    assert.strictEqual(paused.type, "masterplan.paused")
    if (paused.type !== "masterplan.paused") return
    assert.strictEqual(paused.by, "budget")
    const hardLimit = ofType(untilPaused, "cost.hard_limit")
    assert.strictEqual(hardLimit.length, 1)
    assert.strictEqual(hardLimit[0]!.limitUsd, hardUsd)
    // The calls in flight end; nothing else is called while it stays paused.
    const result = yield* Effect.timeout(engine.result(id), "1 second").pipe(Effect.option)
    assert.isTrue(Option.isNone(result))
    const requestsWhilePaused = requestsOf(server, id)
    const pausedJournal = yield* journalUntil(id, "masterplan.paused")
    assert.strictEqual(pausedJournal.at(-1)!.seq, paused.seq)
    yield* engine.raiseBudget(id, { hardUsd: 100 })
    yield* engine.resume(id)
    const end = yield* engine.result(id)
    assert.strictEqual(end.type, "masterplan.completed")
    const events = yield* journalOf(engine, id)
    const pausedAt = events.findIndex((e) => e.seq === paused.seq)
    const raisedAt = events.findIndex((e) => e.type === "budget.raised")
    const startedBeforePause = ofType(events.slice(0, pausedAt), "atom.started")
    assert.deepStrictEqual(ofType(events.slice(pausedAt, raisedAt), "atom.started"), [])
    assert.strictEqual(requestsWhilePaused.length, startedBeforePause.length)
    assert.isBelow(requestsWhilePaused.length, atoms.length)
    // Committed spend before the raise never went over the hard limit.
    for (const cost of ofType(events.slice(0, raisedAt), "cost.updated"))
      assert.isAtMost(cost.totalUsd, hardUsd)
    // Every atom was called (and billed) once: the resume called no completed atom again.
    const billed = billedOf(server, id).map((call) => atomOfCall(call.callId))
    assert.deepStrictEqual([...billed].sort(), atoms.map((a) => a.id).sort())
    assert.strictEqual(Math.round(end.summary.costUsd * 1e9), billedNanos(billedOf(server, id)).total)
  })

/** Three runs of one plan through one engine with the store's prompt cache (see its test). */
const cacheServesReruns = (server: FakeAnthropic) =>
  Effect.gen(function* () {
    const count = 200
    const options = fastOptions({ concurrency: 50, promptCache: true })
    const atoms = layeredAtoms(count, 20)
    const first = yield* runToEnd(planOf(atoms, options))
    assert.strictEqual(first.end.type, "masterplan.completed")
    assert.strictEqual(requestsOf(server, first.id).length, count)
    // The cache is written in the background: let the last writes land.
    yield* realSleep(500)

    const second = yield* runToEnd(planOf(atoms, options))
    assert.strictEqual(second.end.type, "masterplan.completed")
    const hits = ofType(second.events, "cache.hit")
    assert.isAtLeast(hits.length, 0.9 * count)
    assert.strictEqual(second.end.summary.cacheHits, hits.length)
    assert.isAtMost(second.end.summary.costUsd, 0.1 * first.end.summary.costUsd)
    assert.isAtLeast(second.end.summary.cacheSavedUsd, 0.9 * first.end.summary.costUsd)
    const hitAtoms = new Set(hits.map((e) => e.atomId))
    const secondRequests = requestsOf(server, second.id)
    assert.deepStrictEqual(
      secondRequests.filter((r) => hitAtoms.has(atomOfCall(r.callId)!)),
      [],
      "no request for an atom answered from the cache"
    )
    assert.strictEqual(secondRequests.length, count - hits.length)
    yield* realSleep(500)

    const changed = new Set(atoms.filter((_, index) => index % 10 === 3).map((a) => a.id))
    const edited = atoms.map((a) =>
      changed.has(a.id) ? { ...a, instruction: `${a.instruction}, faster` } : a
    )
    const third = yield* runToEnd(planOf(edited, options))
    assert.strictEqual(third.end.type, "masterplan.completed")
    const thirdRequested = new Set(requestsOf(server, third.id).map((r) => atomOfCall(r.callId)!))
    for (const id of changed) assert.isTrue(thirdRequested.has(id), `${id} changed and was called`)
    assert.isAtMost(thirdRequested.size, changed.size + 0.05 * count)
    const share = third.end.summary.costUsd / first.end.summary.costUsd
    assert.isAtLeast(share, 0.05)
    assert.isAtMost(share, 0.2)
  })

describe("the engine on the Messages API", () => {
  it.live("a small plan completes, each atom called once, billed as the server billed it", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => serve())
      const atoms = layeredAtoms(6, 3)
      const { id, end, events } = yield* runToEnd(planOf(atoms)).pipe(Effect.provide(engineLayer(server)))
      assert.strictEqual(end.type, "masterplan.completed")
      assert.strictEqual(ofType(events, "atom.completed").length, 6)
      const requests = requestsOf(server, id)
      assert.deepStrictEqual(requests.map((r) => atomOfCall(r.callId)).sort(), atoms.map((a) => a.id).sort())
      assert.strictEqual(Math.round(end.summary.costUsd * 1e9), billedNanos(billedOf(server, id)).total)
    })
  )

  it.live(
    "2,000 atoms through 30% faults (429 with retry-after, 529, 5xx, dropped connections) all complete, each once, no retry early",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() =>
          serve({
            seed: 14,
            limits: { requestsPerMinute: 1_000_000, inputTokensPerMinute: 1e9, outputTokensPerMinute: 1e9 }
          })
        )
        // A 529 holds the whole plan's admission for 2 s: it is one draw in twelve, so that the
        // holds (not the calls) do not make the run minutes long.
        const twice = <A>(fault: A) => [fault, fault]
        server.setFaultRate(0.3, [
          ...twice({ kind: "rate_limit", retryAfterS: 1 } as const),
          { kind: "rate_limit", retryAfterS: 1 },
          ...twice({ kind: "server_error", status: 500 } as const),
          ...twice({ kind: "server_error", status: 502 } as const),
          ...twice({ kind: "server_error", status: 503 } as const),
          ...twice("drop" as const),
          "overloaded"
        ])
        const atoms = layeredAtoms(2_000, 200)
        const options = fastOptions({ concurrency: 250, retry: { maxRetries: 30 } })
        // Pinned, as `--concurrency 250` does: the 429s here are drawn at random, not met at a
        // limit, and an adaptive limit would shrink on each (the next test has it find a real one).
        const { id, end, events } = yield* Effect.zipRight(
          Effect.flatMap(Engine, (engine) => engine.setConcurrency(model, 250)),
          runToEnd(planOf(atoms, options))
        ).pipe(Effect.provide(engineLayer(server)))
        assert.strictEqual(end.type, "masterplan.completed")
        assert.strictEqual(end.summary.atoms.completed, 2_000)
        const completed = ofType(events, "atom.completed").map((e) => e.atomId)
        assert.deepStrictEqual([...completed].sort(), atoms.map((a) => a.id).sort())
        // Every atom was billed once: no answer was paid for twice, none was lost.
        const billed = billedOf(server, id).map((call) => atomOfCall(call.callId))
        assert.deepStrictEqual([...billed].sort(), atoms.map((a) => a.id).sort())
        const requests = requestsOf(server, id)
        const faults = new Map<string, number>()
        for (const request of requests)
          if (request.fault !== null) faults.set(request.fault, (faults.get(request.fault) ?? 0) + 1)
        for (const kind of ["rate_limit", "overloaded", "server_error", "drop"])
          assert.isAbove(faults.get(kind) ?? 0, 0, `some requests got ${kind}`)
        const faulted = requests.filter((r) => r.fault !== null).length
        assert.isAbove(faulted / requests.length, 0.2)
        // The server marks a request that came before its atom's retry-after; none did.
        assert.deepStrictEqual(
          requests.filter((r) => r.early),
          []
        )
        const retryAfterUntil = new Map<string, number>()
        for (const request of requests) {
          const atom = atomOfCall(request.callId)!
          const until = retryAfterUntil.get(atom)
          if (until !== undefined)
            assert.isAtLeast(request.at, until, `${atom} retried before its retry-after`)
          if (request.retryAfterS !== null)
            retryAfterUntil.set(atom, request.at + request.retryAfterS * 1_000)
        }
        // Every call beyond the first of each atom was a retry or a push back (429, 529), which
        // used up no retry...
        assert.isAbove(end.summary.throttled, 0)
        assert.strictEqual(
          end.summary.calls,
          2_000 + end.summary.retries + end.summary.throttled,
          "calls made = atoms + retries + push backs"
        )
        // ...and every request the server saw was one of those calls. A call can fail before the
        // server reads it (its pooled connection reset as the server dropped it): a connection
        // retry with no request behind it, which a loaded machine makes now and then.
        const connectionRetries = ofType(events, "atom.retrying").filter((e) => e.reason === "connection")
        assert.isAtMost(
          requests.length,
          end.summary.calls,
          "requests the server saw, against calls journaled"
        )
        assert.isAtMost(
          end.summary.calls - requests.length,
          connectionRetries.length,
          "calls the server never saw, against connection retries"
        )
        assert.strictEqual(end.summary.throttled, ofType(events, "atom.throttled").length)
      }),
    120_000
  )

  it.live(
    "the adaptive limit finds a requests-per-minute limit from the headers: every atom once, few 429s, none used up a retry",
    () =>
      Effect.gen(function* () {
        // 1,200 requests a minute (20 a second), a bucket of a full minute, as the API's.
        const server = yield* Effect.promise(() =>
          serve({
            latencyMs: 20,
            limits: { requestsPerMinute: 1_200, inputTokensPerMinute: 1e9, outputTokensPerMinute: 1e9 }
          })
        )
        const atoms = layeredAtoms(1_500, 300)
        const { id, end, events } = yield* runToEnd(
          planOf(atoms, fastOptions({ concurrency: 100, retry: { maxRetries: 0 } }))
        ).pipe(Effect.provide(engineLayer(server)))
        assert.strictEqual(end.type, "masterplan.completed")
        const billed = billedOf(server, id).map((call) => atomOfCall(call.callId))
        assert.deepStrictEqual([...billed].sort(), atoms.map((a) => a.id).sort())
        // The bucket holds 1,200: the first 1,200 calls fit it, the rest are paced to 20 a second.
        // Calls the bucket refused were pushed back, not failed (no retries were allowed).
        const refused = requestsOf(server, id).filter((r) => r.status === 429).length
        assert.strictEqual(end.summary.throttled, refused)
        assert.isBelow(refused, 150, `${refused} requests refused`)
        assert.deepStrictEqual(
          requestsOf(server, id).filter((r) => r.early),
          []
        )
        // The limit moved, and said why.
        const changes = ofType(events, "concurrency.limit_changed")
        assert.isAbove(changes.length, 0)
        for (const change of changes) assert.match(change.reason, /\w/)
      }),
    120_000
  )

  it.live(
    "400 invalid_request: that atom fails with no retry, its dependents are skipped, the rest complete",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve())
        server.inject({ kind: "invalid", message: "messages: text content blocks must be non-empty" })
        const { id, end, events } = yield* runToEnd(
          planOf(familyAtoms, fastOptions({ concurrency: 1 }))
        ).pipe(Effect.provide(engineLayer(server)))
        const bad = atomOfCall(faultedRequest(server, id, "invalid").callId)!
        assert.strictEqual(end.type, "masterplan.failed")
        const requests = requestsOf(server, id)
        assert.strictEqual(requests.filter((r) => atomOfCall(r.callId) === bad).length, 1)
        const failed = ofType(events, "atom.failed")
        assert.deepStrictEqual(
          failed.map((e) => [e.atomId, e.reason, e.attempts]),
          [[bad, "invalid_request", 1]]
        )
        assert.strictEqual(ofType(events, "atom.retrying").length, 0)
        assert.deepStrictEqual(
          ofType(events, "atom.skipped")
            .map((e) => e.atomId)
            .sort(),
          [`${bad}c`, `${bad}g`]
        )
        const others = familyAtoms.map((a) => a.id).filter((a) => !a.startsWith(bad))
        assert.deepStrictEqual(
          ofType(events, "atom.completed")
            .map((e) => e.atomId)
            .sort(),
          others.sort()
        )
        // The skipped atoms were never called.
        assert.deepStrictEqual(
          requests
            .filter((r) => atomOfCall(r.callId)?.startsWith(bad) === true)
            .map((r) => atomOfCall(r.callId)),
          [bad]
        )
      })
  )

  it.live(
    "401: the plan fails after at most a concurrency's worth of calls, with one reason naming authentication",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve({ apiKey: "the-right-key" }))
        const concurrency = 10
        const atoms = layeredAtoms(500, 50)
        const { id, end, events } = yield* runToEnd(planOf(atoms, fastOptions({ concurrency }))).pipe(
          Effect.provide(engineLayer(server))
        )
        assert.strictEqual(end.type, "masterplan.failed")
        if (end.type !== "masterplan.failed") return
        assert.match(end.reason, /authentication/)
        assert.strictEqual(ofType(events, "masterplan.failed").length, 1)
        const requests = requestsOf(server, id)
        assert.isAtLeast(requests.length, 1)
        assert.isAtMost(requests.length, concurrency)
        assert.isTrue(requests.every((r) => r.status === 401 && r.errorType === "authentication_error"))
        assert.strictEqual(ofType(events, "atom.completed").length, 0)
        assert.strictEqual(ofType(events, "atom.retrying").length, 0)
        assert.strictEqual(billedOf(server, id).length, 0)
      })
  )

  it.live(
    "spend-limit 429: the plan pauses by spend_limit, no request follows the calls in flight, it stays paused until cancelled",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve({ latencyMs: 50 }))
        server.inject("spend_limit")
        yield* Effect.provide(spendLimitPauses(server), engineLayer(server))
      })
  )

  it.live(
    "529: no call of the plan starts before the 2 s hold is over, the failed atom's nor the others'",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve({ latencyMs: 100 }))
        server.inject("overloaded")
        const atoms = layeredAtoms(30, 30)
        const { id, end, events } = yield* runToEnd(planOf(atoms, fastOptions({ concurrency: 3 }))).pipe(
          Effect.provide(engineLayer(server))
        )
        assert.strictEqual(end.type, "masterplan.completed")
        const overloaded = faultedRequest(server, id, "overloaded")
        assert.isNull(overloaded.retryAfterS)
        const holdMs = 2_000
        // The calls admitted after the engine heard the 529 (their atom.started comes after the
        // pushed-back atom's atom.throttled in the journal); the ones already in flight may arrive earlier.
        const retrying = ofType(events, "atom.throttled").find((e) => e.reason === "overloaded")!
        const startedAfter = new Set(
          ofType(events, "atom.started")
            .filter((e) => e.seq > retrying.seq)
            .map((e) => `${e.atomId}/${e.attempt}`)
        )
        const later = requestsOf(server, id).filter((r) =>
          startedAfter.has(`${atomOfCall(r.callId)}/${attemptOfCall(r.callId)}`)
        )
        assert.isAbove(later.filter((r) => atomOfCall(r.callId) !== retrying.atomId).length, 0)
        for (const request of later)
          assert.isAtLeast(request.at, overloaded.at + holdMs, `${request.callId} came during the hold`)
        assert.deepStrictEqual(
          requestsOf(server, id).filter((r) => r.early),
          []
        )
      })
  )

  it.live(
    "max_tokens: one retry with twice the max_tokens, which succeeds; both calls billed and journaled",
    () =>
      Effect.gen(function* () {
        const recording = recordingMaxTokens()
        const server = yield* Effect.promise(() => serve({ respond: recording.respond }))
        server.inject({ kind: "max_tokens", outputTokens: 5 })
        const { id, end, events } = yield* runToEnd(planOf([atom("only")])).pipe(
          Effect.provide(engineLayer(server))
        )
        assert.strictEqual(end.type, "masterplan.completed")
        const calls = requestsOf(server, id).map((r) => r.callId!)
        assert.deepStrictEqual(calls, [`${id}/only/1`, `${id}/only/2`])
        const first = recording.maxTokens.get(calls[0]!)!
        assert.strictEqual(recording.maxTokens.get(calls[1]!), first * 2)
        assert.deepStrictEqual(
          ofType(events, "atom.retrying").map((e) => [e.reason, e.attempt]),
          [["max_tokens", 1]]
        )
        const billed = billedOf(server, id)
        assert.deepStrictEqual(
          billed.map((call) => call.stopReason),
          ["max_tokens", "end_turn"]
        )
        assert.deepStrictEqual(
          ofType(events, "cost.updated").map((e) => e.attempt),
          [1, 2]
        )
        assert.strictEqual(Math.round(end.summary.costUsd * 1e9), billedNanos(billed).total)
      })
  )

  it.live(
    "max_tokens twice: the atom fails after its one larger retry, both calls billed and journaled",
    () =>
      Effect.gen(function* () {
        const recording = recordingMaxTokens()
        const server = yield* Effect.promise(() => serve({ respond: recording.respond }))
        server.inject({ kind: "max_tokens", outputTokens: 5 }, { kind: "max_tokens", outputTokens: 5 })
        const { id, end, events } = yield* runToEnd(planOf([atom("only")])).pipe(
          Effect.provide(engineLayer(server))
        )
        assert.strictEqual(end.type, "masterplan.failed")
        const calls = requestsOf(server, id).map((r) => r.callId!)
        assert.strictEqual(calls.length, 2)
        assert.strictEqual(recording.maxTokens.get(calls[1]!), recording.maxTokens.get(calls[0]!)! * 2)
        assert.deepStrictEqual(
          ofType(events, "atom.failed").map((e) => [e.reason, e.attempts]),
          [["max_tokens", 2]]
        )
        const billed = billedOf(server, id)
        assert.strictEqual(billed.length, 2)
        assert.deepStrictEqual(
          ofType(events, "cost.updated").map((e) => e.attempt),
          [1, 2]
        )
        assert.strictEqual(Math.round(end.summary.costUsd * 1e9), billedNanos(billed).total)
        assert.isAbove(end.summary.costUsd, 0)
      })
  )

  it.live("refusal: the atom fails with no retry, and the refusal is billed", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => serve())
      server.inject("refusal")
      const { id, end, events } = yield* runToEnd(planOf([atom("only")])).pipe(
        Effect.provide(engineLayer(server))
      )
      assert.strictEqual(end.type, "masterplan.failed")
      assert.strictEqual(requestsOf(server, id).length, 1)
      assert.deepStrictEqual(
        ofType(events, "atom.failed").map((e) => [e.reason, e.attempts]),
        [["refusal", 1]]
      )
      const billed = billedOf(server, id)
      assert.deepStrictEqual(
        billed.map((call) => call.stopReason),
        ["refusal"]
      )
      const costs = ofType(events, "cost.updated")
      assert.strictEqual(costs.length, 1)
      assert.strictEqual(Math.round(costs[0]!.costUsd * 1e9), billedNanos(billed).total)
      assert.isAbove(end.summary.costUsd, 0)
    })
  )

  for (const [fault, reason] of [
    ["hang", "timeout"],
    ["malformed", "server_error"],
    ["drop", undefined]
  ] as const)
    it.live(`${fault}: the call is retried and the atom completes`, () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve())
        server.inject(fault)
        const { id, end, events } = yield* runToEnd(
          planOf([atom("only")], fastOptions({ callTimeoutMs: 500 }))
        ).pipe(Effect.provide(engineLayer(server)))
        assert.strictEqual(end.type, "masterplan.completed")
        const requests = requestsOf(server, id)
        assert.deepStrictEqual(
          requests.map((r) => [r.callId, r.fault]),
          [
            [`${id}/only/1`, fault],
            [`${id}/only/2`, null]
          ]
        )
        const retrying = ofType(events, "atom.retrying")
        assert.strictEqual(retrying.length, 1)
        if (reason !== undefined) assert.strictEqual(retrying[0]!.reason, reason)
        // Only the answer that came was billed (a malformed 200 bills nothing).
        assert.strictEqual(billedOf(server, id).length, 1)
        assert.deepStrictEqual(
          ofType(events, "cost.updated").map((e) => e.attempt),
          [2]
        )
      })
    )

  it.live(
    "money to the cent: the summary's cost is the server's billed tokens at the price table's rates",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve({ seed: 9 }))
        // Billed failures (max_tokens, refusal) are paid too; the others bill nothing.
        server.setFaultRate(0.25, [
          "rate_limit",
          "server_error",
          "max_tokens",
          "refusal",
          "drop",
          "malformed"
        ])
        const { id, end, events } = yield* runToEnd(
          planOf(layeredAtoms(300, 30), fastOptions({ concurrency: 50, retry: { maxRetries: 20 } }))
        ).pipe(Effect.provide(engineLayer(server)))
        const billed = billedOf(server, id)
        assert.isTrue(billed.some((call) => call.stopReason === "max_tokens"))
        assert.isTrue(billed.some((call) => call.stopReason === "refusal"))
        const expected = billedNanos(billed)
        // Exactly in nano-dollars, hence to the cent.
        assert.strictEqual(Math.round(end.summary.costUsd * 1e9), expected.total)
        assert.strictEqual(Math.round(end.summary.costUsd * 100), Math.round(expected.total / 1e7))
        assert.deepStrictEqual(Object.keys(end.summary.costByModel), [model])
        assert.strictEqual(Math.round(end.summary.costByModel[model]! * 1e9), expected.byModel[model])
        // One cost.updated per billed call, each at what that call's usage costs.
        const price = findModelPrice(defaultPriceTable, model)!
        const billedByCall = new Map(
          billed.map((call) => [
            `${atomOfCall(call.callId)}/${attemptOfCall(call.callId)}`,
            costOfUsage(price, {
              inputTokens: call.usage.input_tokens,
              outputTokens: call.usage.output_tokens,
              cacheWrite5mTokens: call.usage.cache_creation.ephemeral_5m_input_tokens,
              cacheWrite1hTokens: call.usage.cache_creation.ephemeral_1h_input_tokens,
              cacheReadTokens: call.usage.cache_read_input_tokens
            })
          ])
        )
        const costs = ofType(events, "cost.updated")
        assert.strictEqual(billedByCall.size, billed.length)
        assert.deepStrictEqual(
          costs.map((e) => `${e.atomId}/${e.attempt}`).sort(),
          [...billedByCall.keys()].sort()
        )
        for (const cost of costs)
          assert.strictEqual(cost.costUsd, billedByCall.get(`${cost.atomId}/${cost.attempt}`))
        assert.strictEqual(Math.round(costs.at(-1)!.totalUsd * 1e9), expected.total)
      })
  )

  it.live(
    "budget: the plan pauses on its hard limit, spends no more than it, and completes once raised and resumed",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => serve({ latencyMs: 20 }))
        yield* Effect.provide(budgetPausesThenCompletes(server), engineLayer(server))
      })
  )

  it.live("prompt cache: a second run is answered from the cache, a third pays only for what changed", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => serve())
      yield* Effect.provide(cacheServesReruns(server), engineLayer(server, { promptCache: {} }))
    })
  )
})
