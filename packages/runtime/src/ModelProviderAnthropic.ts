import Anthropic from "@anthropic-ai/sdk"
import { buildAtomPrompt, classifyModelFailure, extractCode, parseRateLimitSignal } from "@devmatrix/core"
import type { CacheTtl, FailedCall } from "@devmatrix/core"
import { Clock, Effect, Layer } from "effect"
import { ModelCallError, ModelProvider } from "./ModelProvider.js"
import type {
  ModelProviderService,
  ModelRequest,
  ModelResponse,
  ModelStopReason,
  ModelUsage
} from "./ModelProvider.js"

/** How the Anthropic provider connects and shapes its prompts. */
export interface AnthropicModelOptions {
  /**
   * The API key. Without one, a `baseURL` (a local stand-in) gets a placeholder key; without
   * either, every call fails at once as `authentication` (scope `provider`): the plan stops with
   * one message. The SDK's own fallbacks (environment, profile files) are never read: use
   * `anthropicOptionsFromEnv`. @default undefined
   */
  readonly apiKey?: string | undefined
  /** Where the Messages API is, e.g. a local server for tests. @default "https://api.anthropic.com" */
  readonly baseURL?: string | undefined
  /** A call's timeout when its request does not give one (requests always do). @default 600_000 */
  readonly timeoutMs?: number | undefined
  /** Sampling temperature when the request does not give one; the API's default when absent. */
  readonly defaultTemperature?: number | undefined
  /** Lifetime of the cached system prompt; `1h` costs 2x the input price to write, `5m` 1.25x. @default "5m" */
  readonly cacheTtl?: CacheTtl | undefined
  /** The longest answer the prompt asks for, in non-blank lines. @default 10 */
  readonly maxLines?: number | undefined
}

/** A placeholder key for a `baseURL` without one: a local stand-in does not check keys. */
const localKey = "devmatrix-local"

/**
 * The options the environment gives: `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` (empty values
 * count as absent).
 *
 * @example
 * const layer = ModelProviderAnthropic(anthropicOptionsFromEnv(process.env))
 */
export const anthropicOptionsFromEnv = (
  env: Readonly<Record<string, string | undefined>>
): AnthropicModelOptions => {
  const apiKey = env["ANTHROPIC_API_KEY"]?.trim()
  const baseURL = env["ANTHROPIC_BASE_URL"]?.trim()
  return {
    ...(apiKey !== undefined && apiKey !== "" ? { apiKey } : {}),
    ...(baseURL !== undefined && baseURL !== "" ? { baseURL } : {})
  }
}

const answeredStops: ReadonlySet<string> = new Set<ModelStopReason>([
  "end_turn",
  "stop_sequence",
  "tool_use",
  "pause_turn"
])

/** A stop reason with an answer to use (the others are billed failures). */
const isAnsweredStop = (stopReason: string): stopReason is ModelStopReason => answeredStops.has(stopReason)

type HeaderRecord = Record<string, string>

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null

/** Fetch `Headers` (names already in lower case) as a record; read by shape, not by class. */
const headerRecord = (headers: unknown): HeaderRecord | undefined =>
  isRecord(headers) && typeof headers["entries"] === "function"
    ? Object.fromEntries((headers as unknown as Headers).entries())
    : undefined

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined

/**
 * Billed usage from a message's `usage`, or undefined when it is not one. Cache writes are split
 * by lifetime when the API reports `cache_creation`; a bare `cache_creation_input_tokens` counts
 * as 5-minute writes (the default lifetime).
 */
const usageOf = (usage: unknown): ModelUsage | undefined => {
  if (!isRecord(usage)) return undefined
  const inputTokens = count(usage["input_tokens"])
  const outputTokens = count(usage["output_tokens"])
  if (inputTokens === undefined || outputTokens === undefined) return undefined
  const breakdown = isRecord(usage["cache_creation"]) ? usage["cache_creation"] : {}
  const split5m = count(breakdown["ephemeral_5m_input_tokens"]) ?? 0
  const split1h = count(breakdown["ephemeral_1h_input_tokens"]) ?? 0
  const written = count(usage["cache_creation_input_tokens"]) ?? 0
  // Never bill less than the total the API reported: an empty breakdown falls back to it.
  const [cacheWrite5mTokens, cacheWrite1hTokens] = split5m + split1h > 0 ? [split5m, split1h] : [written, 0]
  return {
    inputTokens,
    outputTokens,
    cacheWriteTokens: cacheWrite5mTokens + cacheWrite1hTokens,
    cacheWrite5mTokens,
    cacheWrite1hTokens,
    cacheReadTokens: count(usage["cache_read_input_tokens"]) ?? 0
  }
}

const textOf = (content: ReadonlyArray<unknown>): string =>
  content
    .flatMap((block) =>
      isRecord(block) && block["type"] === "text" && typeof block["text"] === "string" ? [block["text"]] : []
    )
    .join("")

/** The first `code` along an error's `cause` chain (undici nests the socket's code there). */
const networkCodeOf = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && isRecord(current); depth++) {
    if (typeof current["code"] === "string") return current["code"]
    current = current["cause"]
  }
  return undefined
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : "unknown error"

/**
 * What a thrown SDK error says, read from its fields rather than by `instanceof` (a second copy
 * of the SDK would not share the classes): the status, the body's `error.type`,
 * `error.details.error_code` and `error.message`, the headers, the network code.
 */
const failedCallOf = (error: unknown): FailedCall => {
  const name = error instanceof Error ? error.name : ""
  if (name === "APIConnectionTimeoutError")
    return { code: "ETIMEDOUT", message: `no answer within the request's timeout (${messageOf(error)})` }
  if (name === "APIUserAbortError") return { code: "ECONNABORTED", message: "the call was aborted" }
  if (name === "APIConnectionError")
    return { code: networkCodeOf(error) ?? "ECONNABORTED", message: messageOf(error) }
  if (isRecord(error) && typeof error["status"] === "number") {
    const body = isRecord(error["error"]) && isRecord(error["error"]["error"]) ? error["error"]["error"] : {}
    const details = isRecord(body["details"]) ? body["details"] : {}
    return {
      status: error["status"],
      errorType: typeof body["type"] === "string" ? body["type"] : undefined,
      errorCode: typeof details["error_code"] === "string" ? details["error_code"] : undefined,
      message: typeof body["message"] === "string" ? body["message"] : messageOf(error),
      headers: headerRecord(error["headers"])
    }
  }
  return { message: messageOf(error) }
}

const callError = (error: unknown, nowMs: number): ModelCallError => {
  const call = failedCallOf(error)
  const rateLimits = call.headers !== undefined ? parseRateLimitSignal(call.headers, nowMs) : undefined
  return new ModelCallError({
    failure: classifyModelFailure(call, nowMs),
    cause: error,
    ...(rateLimits !== undefined ? { rateLimits } : {})
  })
}

interface Answered {
  readonly data: unknown
  readonly headers: HeaderRecord
  readonly requestId: string | undefined
  /** Why the body of a 200 could not be read, when it could not. */
  readonly unreadable?: string
}

/** A 200: the message as a response, a billed failure (no answer to use), or a malformed body. */
const responseOf = (
  request: ModelRequest,
  answered: Answered,
  nowMs: number
): Effect.Effect<ModelResponse, ModelCallError> => {
  const rateLimits = parseRateLimitSignal(answered.headers, nowMs)
  const signal = rateLimits !== undefined ? { rateLimits } : {}
  const { data } = answered
  const usage = isRecord(data) ? usageOf(data["usage"]) : undefined
  if (!isRecord(data) || usage === undefined || !Array.isArray(data["content"])) {
    const failure = classifyModelFailure(
      {
        status: 200,
        message:
          answered.unreadable !== undefined
            ? `the response body is not JSON: ${answered.unreadable}`
            : "the response body is not a message",
        headers: answered.headers
      },
      nowMs
    )
    return Effect.fail(new ModelCallError({ failure, ...signal }))
  }
  const stopReason = typeof data["stop_reason"] === "string" ? data["stop_reason"] : "unknown"
  if (!isAnsweredStop(stopReason)) {
    const failure = classifyModelFailure(
      { status: 200, stopReason, message: `stop_reason ${stopReason}`, headers: answered.headers },
      nowMs
    )
    return Effect.fail(new ModelCallError({ failure, billed: { model: request.model, usage }, ...signal }))
  }
  return Effect.succeed({
    text: extractCode(textOf(data["content"])),
    // The name the call was priced under; the API answers with the dated version of an alias.
    model: request.model,
    usage,
    stopReason,
    ...signal,
    ...(answered.requestId !== undefined ? { requestId: answered.requestId } : {})
  })
}

const missingKey = (nowMs: number): ModelCallError =>
  new ModelCallError({
    failure: classifyModelFailure(
      {
        errorType: "authentication_error",
        message: "no Anthropic API key: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a local server)"
      },
      nowMs
    )
  })

/**
 * The Anthropic Messages API as a model provider, on `@anthropic-ai/sdk`. The SDK's retries are
 * off (`maxRetries: 0`, on the client and per request): the runtime's schedule owns retries, and
 * the SDK would otherwise retry a spend-limit 429. Each call carries the request's timeout, an
 * `AbortSignal` (interrupting the call aborts the HTTP request) and the header
 * `x-devmatrix-call: <masterplanId>/<atomId>/<attempt>`. Every failure is a `ModelCallError`
 * classified by `classifyModelFailure`, with the rate-limit signal of its response. A 200 is a
 * failure too, with its `billed` usage, when its `stop_reason` leaves no answer to use:
 * `max_tokens`, `refusal`, `model_context_window_exceeded` (as `request_too_large`) or one this
 * code does not know (as `server_error`). A 200 whose body is not a message is a transient
 * `server_error`, billed nothing. The answer's text is the code of its fenced block
 * (`extractCode`), and `model` is the name the call was made (and is priced) under.
 *
 * @example
 * const model = makeAnthropicModel({ apiKey: process.env.ANTHROPIC_API_KEY })
 */
export const makeAnthropicModel = (options: AnthropicModelOptions = {}): ModelProviderService => {
  const apiKey = options.apiKey ?? (options.baseURL !== undefined ? localKey : undefined)
  const name = "anthropic"
  if (apiKey === undefined)
    return {
      name,
      generate: () => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(missingKey(now)))
    }
  const client = new Anthropic({
    apiKey,
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
    timeout: options.timeoutMs ?? 600_000,
    maxRetries: 0
  })
  const promptOptions = {
    ...(options.cacheTtl !== undefined ? { cacheTtl: options.cacheTtl } : {}),
    ...(options.maxLines !== undefined ? { maxLines: options.maxLines } : {})
  }

  const call = (request: ModelRequest, signal: AbortSignal): Promise<Answered> => {
    const prompt = buildAtomPrompt(request, promptOptions)
    const temperature = request.temperature ?? options.defaultTemperature
    const pending = client.messages.create(
      {
        model: request.model,
        max_tokens: request.maxTokens,
        system: prompt.system,
        messages: prompt.messages,
        ...(temperature !== undefined ? { temperature } : {})
      },
      {
        signal,
        timeout: request.timeoutMs,
        maxRetries: 0,
        headers: { "x-devmatrix-call": `${request.masterplanId}/${request.atomId}/${request.attempt}` }
      }
    )
    return pending.withResponse().then(
      ({ data, response, request_id }) => ({
        data,
        headers: Object.fromEntries(response.headers.entries()),
        requestId: request_id ?? undefined
      }),
      // A 200 whose JSON does not parse: the response (and its rate-limit headers) still arrived.
      (error: unknown) => {
        if (!(error instanceof SyntaxError)) throw error
        return pending.asResponse().then((response) => ({
          data: undefined,
          headers: Object.fromEntries(response.headers.entries()),
          requestId: response.headers.get("request-id") ?? undefined,
          unreadable: error.message
        }))
      }
    )
  }

  return {
    name,
    generate: (request) =>
      Effect.tryPromise({ try: (signal) => call(request, signal), catch: (error) => error }).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(callError(error, now))),
          onSuccess: (answered) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => responseOf(request, answered, now))
        })
      )
  }
}

/** The Anthropic provider as the `ModelProvider` (see `makeAnthropicModel`). */
export const ModelProviderAnthropic = (options: AnthropicModelOptions = {}): Layer.Layer<ModelProvider> =>
  Layer.sync(ModelProvider, () => makeAnthropicModel(options))
