import {
  Engine,
  EngineLive,
  makeScriptedModel,
  makeStoreMemory,
  ModelProvider,
  Store
} from "@devmatrix/runtime"
import type { ModelProviderService, ModelRequest, ScriptedModelRequest } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

const request: ScriptedModelRequest = {
  model: "scripted",
  masterplanId: "mp",
  atomId: "a",
  attempt: 1,
  language: "typescript",
  instruction: "x",
  defines: [],
  dependencies: [],
  feedback: [],
  maxTokens: 256,
  timeoutMs: 10_000
}

/** Runs a two-atom plan whose atoms carry `simulate`, on `provider`; the requests it was sent. */
const requestsSeenBy = (provider: (seen: Array<ModelRequest>) => ModelProviderService) => {
  const seen: Array<ModelRequest> = []
  const services = Layer.merge(
    Layer.succeed(ModelProvider, provider(seen)),
    Layer.sync(Store, makeStoreMemory)
  )
  return Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit({
      name: "simulated",
      atoms: [
        { id: "a", instruction: "x", simulate: { faults: ["non_retryable"], confidence: 0.99 } },
        { id: "b", instruction: "y", simulate: { confidence: 0.99 } }
      ]
    })
    yield* Stream.runDrain(engine.events(id))
    return seen
  }).pipe(Effect.provide(EngineLive.pipe(Layer.provide(services))))
}

describe("ModelProviderScripted", () => {
  it.effect("answers with the plan's stored behaviour, unless its own options say otherwise", () =>
    Effect.gen(function* () {
      // Attempts whose faults a fault rate of 1 makes certain, and a seed that changes which fault.
      const faultsOf = (
        model: ReturnType<typeof makeScriptedModel>,
        behaviour?: { seed?: number; faultRate?: number }
      ) =>
        Effect.forEach([1, 2, 3, 4, 5, 6], (attempt) =>
          Effect.map(
            Effect.flip(model.generate({ ...request, attempt, behaviour })),
            (error) => error.failure.reason
          )
        )
      const stored = yield* faultsOf(makeScriptedModel(), { seed: 9, faultRate: 1 })
      assert.deepStrictEqual(stored, yield* faultsOf(makeScriptedModel({ seed: 9, faultRate: 1 })))
      assert.notDeepEqual(stored, yield* faultsOf(makeScriptedModel({ seed: 3 }), { seed: 9, faultRate: 1 }))
      const answered = yield* makeScriptedModel({ faultRate: 0 }).generate({
        ...request,
        behaviour: { faultRate: 1 }
      })
      assert.strictEqual(answered.model, "scripted")
    })
  )

  it.effect("reads the atom's simulate instructions from a ScriptedModelRequest", () =>
    Effect.gen(function* () {
      const model = makeScriptedModel()
      assert.isTrue(model.acceptsSimulation)
      const error = yield* Effect.flip(
        model.generate({ ...request, simulate: { faults: ["non_retryable"] } })
      )
      assert.strictEqual(error.failure.reason, "invalid_request")
      const answer = yield* model.generate({
        ...request,
        simulate: { faults: [], output: "export const x = 1\n" }
      })
      assert.strictEqual(answer.text, "export const x = 1\n")
      assert.deepStrictEqual(
        [answer.usage.cacheWriteTokens, answer.usage.cacheWrite5mTokens, answer.usage.cacheWrite1hTokens],
        [0, 0, 0]
      )
    })
  )

  it.scoped("the engine attaches simulate for a provider that accepts it", () =>
    Effect.gen(function* () {
      const scripted = makeScriptedModel()
      const seen = yield* requestsSeenBy((seen) => ({
        name: "accepting",
        acceptsSimulation: true,
        generate: (request) =>
          Effect.zipRight(
            Effect.sync(() => seen.push(request)),
            scripted.generate(request)
          )
      }))
      const first = seen.find((request) => request.atomId === "a")
      assert.deepStrictEqual((first as ScriptedModelRequest | undefined)?.simulate?.faults, ["non_retryable"])
    })
  )

  it.scoped("and never for a provider that does not say so", () =>
    Effect.gen(function* () {
      const scripted = makeScriptedModel()
      const seen = yield* requestsSeenBy((seen) => ({
        name: "real-like",
        generate: (request) =>
          Effect.zipRight(
            Effect.sync(() => seen.push(request)),
            scripted.generate(request)
          )
      }))
      assert.deepStrictEqual(seen.map((request) => request.atomId).sort(), ["a", "b"])
      for (const request of seen) assert.notProperty(request, "simulate")
    })
  )
})
