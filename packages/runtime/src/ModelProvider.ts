import type { AtomSimulation, Language, ModelFailure } from "@devmatrix/core"
import { Context, Data } from "effect"
import type { Effect } from "effect"

/** One request for one attempt at one atom. */
export interface ModelRequest {
  readonly model: string
  readonly masterplanId: string
  readonly atomId: string
  readonly attempt: number
  readonly language: Language
  readonly instruction: string
  /** Symbols the code must define. */
  readonly defines: ReadonlyArray<string>
  /** Why the previous attempt's output was refused. */
  readonly feedback: ReadonlyArray<string>
  readonly maxTokens: number
  /**
   * Abandon the call after this long and fail with a `timeout` failure. Providers apply it
   * themselves (the Anthropic SDK takes a per-request timeout), which costs far less than racing
   * every call against a timer fiber.
   */
  readonly timeoutMs: number
  /** Instructions for the offline scripted model; real providers ignore them. */
  readonly simulate?: AtomSimulation | undefined
}

/** Token counts of one call, as the provider billed them. */
export interface ModelUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheWriteTokens: number
  readonly cacheReadTokens: number
}

/** What a provider answered. */
export interface ModelResponse {
  readonly text: string
  readonly model: string
  readonly usage: ModelUsage
  readonly stopReason: "end_turn" | "max_tokens" | "stop_sequence"
  /** A confidence the provider reports itself (the scripted model does); scored otherwise. */
  readonly confidence?: number | undefined
}

/** A model call that failed, classified for the retry policy. */
export class ModelCallError extends Data.TaggedError("ModelCallError")<{
  readonly failure: ModelFailure
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.failure.reason}: ${this.failure.message}`
  }
}

/** Makes one model call: text, usage and stop reason, or a classified failure. */
export interface ModelProviderService {
  /** The provider's name, for reports (`scripted`, `anthropic`). */
  readonly name: string
  readonly generate: (request: ModelRequest) => Effect.Effect<ModelResponse, ModelCallError>
}

export class ModelProvider extends Context.Tag("@devmatrix/runtime/ModelProvider")<
  ModelProvider,
  ModelProviderService
>() {}
