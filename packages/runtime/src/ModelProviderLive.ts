import { classifyModelFailure } from "@devmatrix/core"
import { Clock, Effect, Layer } from "effect"
import { ModelCallError, ModelProvider } from "./ModelProvider.js"
import type { ModelProviderService } from "./ModelProvider.js"
import { makeAnthropicModel } from "./ModelProviderAnthropic.js"
import type { AnthropicModelOptions } from "./ModelProviderAnthropic.js"
import { makeScriptedModel } from "./ModelProviderScripted.js"
import type { ScriptedModelOptions } from "./ModelProviderScripted.js"

/** The model name of the offline scripted model. */
export const scriptedModel = "scripted"

/** Which providers a process can call: the scripted model always, Claude when it has a key or a local server. */
export interface ProviderChoice {
  readonly scripted?: ScriptedModelOptions | undefined
  /** Absent: no key and no base URL, so Claude models cannot be called. */
  readonly anthropic?: AnthropicModelOptions | undefined
}

/**
 * One provider per plan's model: `scripted` goes to the offline model, any other model to the
 * Anthropic Messages API. A plan resumed by another process calls the model it was started with.
 * Without Anthropic options a Claude model's calls fail as `authentication` (the plan stops with
 * that one message), never silently fall back to the scripted model.
 */
export const makeModelProviderFor = (choice: ProviderChoice): ModelProviderService => {
  const scripted = makeScriptedModel(choice.scripted ?? {})
  const anthropic = choice.anthropic === undefined ? undefined : makeAnthropicModel(choice.anthropic)
  const noKey = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.fail(
      new ModelCallError({
        failure: {
          ...classifyModelFailure({ status: 401, errorType: "authentication_error" }, now),
          message: "no ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a local Messages API) in this process"
        }
      })
    )
  )
  return {
    // One name whatever the process can reach: the prompt cache keys a model's answers by it.
    name: "by-model",
    acceptsSimulation: true,
    generate: (request) =>
      request.model === scriptedModel
        ? scripted.generate(request)
        : anthropic === undefined
          ? noKey
          : // The scripted model's `simulate` travels on the request; the Messages API never sees it.
            anthropic.generate({ ...request, simulate: undefined } as typeof request)
  }
}

export const ModelProviderFor = (choice: ProviderChoice): Layer.Layer<ModelProvider> =>
  Layer.succeed(ModelProvider, makeModelProviderFor(choice))
