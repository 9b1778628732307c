import {
  Engine,
  EngineLive,
  makeScriptedModel,
  makeStoreMemory,
  ModelProvider,
  Store
} from "@devmatrix/runtime"
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"

describe("the summary's cost by model", () => {
  it("counts a model of any name, one named like an Object.prototype key included", async () => {
    const scripted = makeScriptedModel({ seed: 1 })
    const models = ["__proto__", "constructor", "toString"]
    let call = 0
    const provider = Layer.succeed(ModelProvider, {
      name: "odd names",
      generate: (request) =>
        Effect.map(scripted.generate(request), (response) => ({ ...response, model: models[call++ % 3]! }))
    })
    const end = await Effect.runPromise(
      Effect.gen(function* () {
        const engine = yield* Engine
        const atoms = Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, instruction: "x" }))
        const id = yield* engine.submit({ name: "odd-models", atoms })
        yield* Stream.runDrain(engine.events(id))
        return yield* engine.result(id)
      }).pipe(
        Effect.provide(
          EngineLive.pipe(Layer.provide(Layer.merge(provider, Layer.sync(Store, makeStoreMemory))))
        ),
        Effect.scoped
      )
    )
    expect(Object.keys(end.summary.costByModel).sort()).toEqual([...models].sort())
    const byModel = Object.values(end.summary.costByModel).reduce((sum, cost) => sum + cost, 0)
    expect(byModel).toBeCloseTo(end.summary.costUsd, 12)
    expect(end.summary.costUsd).toBeGreaterThan(0)
  })
})
