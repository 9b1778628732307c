import type { JsonObject, Language, ModelFailure, RateLimitSignal } from "@devmatrix/core"
import { Context, Data } from "effect"
import type { Effect } from "effect"

/** One request for one attempt at one atom: what a real provider needs to build its prompt. */
export interface ModelRequest {
  readonly model: string
  readonly masterplanId: string
  readonly atomId: string
  /** 1 for the first attempt; with the plan and the atom it names the call (`x-devmatrix-call`). */
  readonly attempt: number
  readonly language: Language
  readonly instruction: string
  /** Symbols the code must define. */
  readonly defines: ReadonlyArray<string>
  /**
   * The atom's payload as the plan gives it (its schema-checked `input`), absent when it has none.
   * The Anthropic provider shows it to the model as compact JSON; the scripted model ignores it.
   */
  readonly input?: JsonObject | undefined
  /** The accepted code of the atom's dependencies, which the prompt shows the model. */
  readonly dependencies: ReadonlyArray<{ readonly atomId: string; readonly code: string }>
  /** Why the previous attempt's output was refused. */
  readonly feedback: ReadonlyArray<string>
  /** The most output tokens the call may produce (and be billed for). */
  readonly maxTokens: number
  /** Sampling temperature; the provider's default when absent. */
  readonly temperature?: number | undefined
  /**
   * Abandon the call after this long and fail with a `timeout` failure. Providers apply it
   * themselves (the Anthropic SDK takes a per-request timeout), which costs far less than racing
   * every call against a timer fiber.
   */
  readonly timeoutMs: number
}

/** Token counts of one call, as the provider billed them. */
export interface ModelUsage {
  /** Input tokens read neither from nor into the cache. */
  readonly inputTokens: number
  readonly outputTokens: number
  /** Input tokens written to the cache: `cacheWrite5mTokens + cacheWrite1hTokens`. */
  readonly cacheWriteTokens: number
  /** Of those, written with the 5-minute lifetime (1.25x the input price). */
  readonly cacheWrite5mTokens: number
  /** Of those, written with the 1-hour lifetime (2x the input price). */
  readonly cacheWrite1hTokens: number
  /** Input tokens read from the cache. */
  readonly cacheReadTokens: number
}

/** Why the model stopped, as the Messages API says it. */
export type ModelStopReason =
  "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal" | "pause_turn"

/** What a provider answered. */
export interface ModelResponse {
  /** The answer's code (a real provider strips the fenced block its prompt asks for). */
  readonly text: string
  readonly model: string
  readonly usage: ModelUsage
  readonly stopReason: ModelStopReason
  /** A confidence the provider reports itself (the scripted model does); scored otherwise. */
  readonly confidence?: number | undefined
  /** What the response's headers said about the provider's rate limits, when they said anything. */
  readonly rateLimits?: RateLimitSignal | undefined
  /** The provider's id for the request (`request-id`), for support and logs. */
  readonly requestId?: string | undefined
}

/** A model call that failed, classified for the retry policy. */
export class ModelCallError extends Data.TaggedError("ModelCallError")<{
  readonly failure: ModelFailure
  /**
   * A call that was answered, and so paid for, without usable code (`max_tokens`, `refusal`): its
   * usage must still be committed to the ledger. Absent when nothing was billed.
   */
  readonly billed?: { readonly model: string; readonly usage: ModelUsage } | undefined
  /** What the failed response's headers said about the provider's rate limits. */
  readonly rateLimits?: RateLimitSignal | undefined
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
  /**
   * Whether the provider reads a plan's per-atom `simulate` instructions (`ScriptedModelRequest`):
   * only then does the engine attach them. @default false
   */
  readonly acceptsSimulation?: boolean | undefined
  readonly generate: (request: ModelRequest) => Effect.Effect<ModelResponse, ModelCallError>
}

export class ModelProvider extends Context.Tag("@devmatrix/runtime/ModelProvider")<
  ModelProvider,
  ModelProviderService
>() {}
