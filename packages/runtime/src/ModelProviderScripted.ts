import { classifyModelFailure, hashString, seededRandom } from "@devmatrix/core"
import type { AtomSimulation, ScriptedBehaviour, SimulatedFault } from "@devmatrix/core"
import { Clock, Duration, Effect, Layer } from "effect"
import { appendFileSync } from "node:fs"
import { ModelCallError, ModelProvider } from "./ModelProvider.js"
import type { ModelProviderService, ModelRequest, ModelResponse } from "./ModelProvider.js"

/**
 * A request as the scripted model reads it: the atom's `simulate` instructions travel with it.
 * The engine attaches them only for a provider whose service says `acceptsSimulation: true`.
 */
export type ScriptedModelRequest = ModelRequest & {
  /** Instructions for the offline scripted model: faults, confidence, output, latency. */
  readonly simulate?: AtomSimulation | undefined
  /**
   * The plan's stored behaviour (seed, latency, fault rate): used where the model's own options do
   * not say otherwise, so a resumed plan answers as its run began.
   */
  readonly behaviour?: ScriptedBehaviour | undefined
}

/** The scripted model's service: it reads `simulate`, so it takes the wider request. */
export interface ScriptedModelService extends ModelProviderService {
  readonly acceptsSimulation: true
  readonly generate: (request: ScriptedModelRequest) => Effect.Effect<ModelResponse, ModelCallError>
}

/** A latency in milliseconds: fixed, or drawn uniformly from a range for each call. */
export type LatencyMs = number | { readonly min: number; readonly max: number }

/** How the offline model behaves. Same seed, same plan: same answers, same faults. */
export interface ScriptedModelOptions {
  /** @default 1 */
  readonly seed?: number
  /** @default 0 */
  readonly latencyMs?: LatencyMs
  /** Share of attempts that fail with a transient fault (connection reset, 500, 429, 529). @default 0 */
  readonly faultRate?: number
  /** Confidence reported when the atom does not say. @default 0.95 */
  readonly confidence?: number
  /**
   * A file to which every answered call appends one JSON line (masterplan, atom, attempt, usage):
   * a record of what was "paid" that outlives the process, for crash tests and audits.
   */
  readonly callLog?: string
}

const randomFaults: ReadonlyArray<SimulatedFault> = [
  "transient",
  "rate_limited",
  "overloaded",
  "server_error"
]

/**
 * The `retry-after` of a simulated 429 or 529: a real one always says when to come back, and the
 * whole plan waits that long (the provider's bucket is empty for every call), so it is short here.
 */
export const scriptedRetryAfterMs = 100

const failureFor = (fault: SimulatedFault, nowMs: number): ModelCallError => {
  const retryAfter = { "retry-after-ms": String(scriptedRetryAfterMs) }
  const call = {
    transient: { code: "ECONNRESET", message: "socket hang up (simulated)" },
    rate_limited: {
      status: 429,
      errorType: "rate_limit_error",
      message: "rate limited (simulated)",
      headers: retryAfter
    },
    overloaded: {
      status: 529,
      errorType: "overloaded_error",
      message: "overloaded (simulated)",
      headers: retryAfter
    },
    server_error: { status: 500, errorType: "api_error", message: "internal server error (simulated)" },
    timeout: { code: "ETIMEDOUT", message: "request timed out (simulated)" },
    non_retryable: { status: 400, errorType: "invalid_request_error", message: "invalid request (simulated)" }
  }[fault]
  return new ModelCallError({ failure: classifyModelFailure(call, nowMs) })
}

const identifier = (atomId: string): string => {
  const camel = atomId.replace(/[^A-Za-z0-9]+(.)?/g, (_, next: string | undefined) =>
    (next ?? "").toUpperCase()
  )
  return /^[A-Za-z_]/.test(camel) ? camel : `atom_${camel}`
}

/** Small, valid code defining the symbols the atom must define. */
export const scriptedCode = (request: Pick<ModelRequest, "atomId" | "language" | "defines">): string => {
  const names = request.defines.length > 0 ? request.defines : [identifier(request.atomId)]
  const blocks = names.map((name) =>
    request.language === "python"
      ? `def ${name}(value):\n    return f"{value}:${request.atomId}"`
      : request.language === "javascript"
        ? `export function ${name}(value) {\n  return \`\${value}:${request.atomId}\`\n}`
        : `export function ${name}(value: string): string {\n  return \`\${value}:${request.atomId}\`\n}`
  )
  return blocks.join("\n\n") + "\n"
}

const latencyOf = (latency: LatencyMs, random: () => number): number =>
  typeof latency === "number" ? latency : latency.min + (latency.max - latency.min) * random()

/**
 * The offline model: deterministic from the seed, the atom and the attempt. It writes small valid
 * code, reports token usage (priced as Sonnet), waits the configured latency on Effect's clock (and
 * times out as a real call would), and injects faults: those an atom's `simulate.faults` lists,
 * then `faultRate` of the rest at random.
 */
export const makeScriptedModel = (options: ScriptedModelOptions = {}): ScriptedModelService => {
  const defaultConfidence = options.confidence ?? 0.95
  const callLog = options.callLog

  const answer = (
    request: ScriptedModelRequest,
    fault: SimulatedFault | undefined
  ): Effect.Effect<ModelResponse, ModelCallError> => {
    if (fault !== undefined)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(failureFor(fault, now)))
    const text = request.simulate?.output ?? scriptedCode(request)
    const promptLength =
      request.instruction.length + 12 + request.feedback.reduce((n, line) => n + line.length + 1, 0)
    const response: ModelResponse = {
      text,
      model: request.model,
      usage: {
        inputTokens: 150 + Math.ceil(promptLength / 4),
        outputTokens: Math.ceil(text.length / 4),
        cacheWriteTokens: 0,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0
      },
      stopReason: "end_turn",
      confidence: request.simulate?.confidence ?? defaultConfidence
    }
    if (callLog === undefined) return Effect.succeed(response)
    const { masterplanId, atomId, attempt } = request
    return Effect.as(
      Effect.sync(() =>
        appendFileSync(
          callLog,
          `${JSON.stringify({ masterplanId, atomId, attempt, model: response.model, ...response.usage })}\n`
        )
      ),
      response
    )
  }

  return {
    name: "scripted",
    acceptsSimulation: true,
    generate: (request: ScriptedModelRequest) =>
      Effect.suspend(() => {
        // What this process was told wins; else what the plan was started with; else the defaults.
        const seed = options.seed ?? request.behaviour?.seed ?? 1
        const latency = options.latencyMs ?? request.behaviour?.latencyMs ?? 0
        const faultRate = options.faultRate ?? request.behaviour?.faultRate ?? 0
        const random = seededRandom(hashString(`${seed}/${request.atomId}/${request.attempt}`))
        const delayMs = request.simulate?.latencyMs ?? latencyOf(latency, random)
        const fault =
          request.simulate?.faults[request.attempt - 1] ??
          (faultRate > 0 && random() < faultRate
            ? randomFaults[Math.floor(random() * randomFaults.length)]
            : undefined)
        // Like a real call, a slow answer is abandoned at the request's timeout.
        if (delayMs > request.timeoutMs)
          return Effect.zipRight(Effect.sleep(Duration.millis(request.timeoutMs)), answer(request, "timeout"))
        return delayMs > 0
          ? Effect.zipRight(Effect.sleep(Duration.millis(delayMs)), answer(request, fault))
          : answer(request, fault)
      })
  }
}

/** The scripted model as the `ModelProvider`. */
export const ModelProviderScripted = (options: ScriptedModelOptions = {}): Layer.Layer<ModelProvider> =>
  Layer.succeed(ModelProvider, makeScriptedModel(options))
