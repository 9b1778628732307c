import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  atomOfCall,
  billedNanos,
  billedOf,
  engineLayer,
  fastOptions,
  layeredAtoms,
  ofType,
  planOf,
  requestsOf,
  runToEnd,
  serve
} from "./providerEngineFixtures.js"

// The engine against the local Messages API: the real SDK over real HTTP to the fake server, one
// test per failure class. Each asserts on the journal and on what the server saw and billed.

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
        const { id, end, events } = yield* runToEnd(planOf(atoms, options)).pipe(
          Effect.provide(engineLayer(server))
        )
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
        assert.deepStrictEqual(requests.filter((r) => r.early), [])
        const retryAfterUntil = new Map<string, number>()
        for (const request of requests) {
          const atom = atomOfCall(request.callId)!
          const until = retryAfterUntil.get(atom)
          if (until !== undefined) assert.isAtLeast(request.at, until, `${atom} retried before its retry-after`)
          if (request.retryAfterS !== null) retryAfterUntil.set(atom, request.at + request.retryAfterS * 1_000)
        }
        assert.strictEqual(end.summary.retries, requests.length - 2_000)
      }),
    120_000
  )
})
