import { makeScriptedModel, ModelProvider } from "@devmatrix/runtime"
import type { ModelProviderService, ScriptedModelOptions } from "@devmatrix/runtime"
import { Effect, Layer } from "effect"
import type { InFlightMeter } from "./inFlightMeter.js"

/**
 * The scripted model (its seeded latency) behind a meter of the bench's own: a call counts as in
 * flight from the moment the engine asks the provider until its answer is back, which is what a real
 * provider's rate limit sees.
 */
export const meteredScriptedProvider = (
  options: ScriptedModelOptions,
  meter: InFlightMeter
): Layer.Layer<ModelProvider> => {
  const scripted = makeScriptedModel(options)
  const metered: ModelProviderService = {
    name: "scripted (metered)",
    acceptsSimulation: true,
    generate: (request) =>
      Effect.suspend(() => {
        meter.started()
        return scripted.generate(request).pipe(Effect.ensuring(Effect.sync(meter.ended)))
      })
  }
  return Layer.succeed(ModelProvider, metered)
}
