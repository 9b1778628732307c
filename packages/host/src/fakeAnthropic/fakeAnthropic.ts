import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { errorBody, invalidRequest } from "./apiError.js"
import type { ApiError } from "./apiError.js"
import { appendBilledCall } from "./billingLog.js"
import type { BilledCall, MessageUsage } from "./billingLog.js"
import { faultErrorOf } from "./faultAnswers.js"
import { finishReply } from "./finishReply.js"
import { seededRandom } from "@devmatrix/core"
import { defaultRandomFaultKinds, FaultPlan } from "./faults.js"
import type { Fault, FaultKind } from "./faults.js"
import { defaultFakeModels } from "./fakeModels.js"
import type { FakeModel } from "./fakeModels.js"
import { decodeMessagesRequest, isApiError } from "./messagesRequest.js"
import type { MessagesRequest } from "./messagesRequest.js"
import { defaultRateLimits, RateLimiter } from "./rateLimiter.js"
import type { RateLimits } from "./rateLimiter.js"
import { defaultResponder } from "./responder.js"
import type { FakeReply, Responder } from "./responder.js"
import { defaultCacheTtlMs, ServerPromptCache } from "./serverPromptCache.js"
import type { CacheTtlMs } from "./serverPromptCache.js"
import { tokensOf } from "./tokenizer.js"

/** How the local Messages API server behaves. */
export interface FakeAnthropicOptions {
  /** The port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number
  /** When set, any other `x-api-key` gets 401 `authentication_error`; else any key is taken. */
  readonly apiKey?: string
  /** How long a billed answer takes, in milliseconds: fixed, or uniform in a range. @default 0 */
  readonly latencyMs?: number | { readonly min: number; readonly max: number }
  /** Per-minute limits; unnamed ones keep their generous defaults (see `defaultRateLimits`). */
  readonly limits?: Partial<RateLimits>
  /** Share of accepted requests that get a random fault. @default 0 */
  readonly faultRate?: number
  /** The faults random ones are drawn from. @default ["rate_limit", "overloaded", "server_error", "drop"] */
  readonly faultKinds?: ReadonlyArray<Fault>
  /** Seeds the random faults and latencies: same seed, same draws. @default 1 */
  readonly seed?: number
  /** A file to which every billed call appends a JSON line (`BilledCall`). */
  readonly billingLog?: string
  /** Writes the model's answers. @default `defaultResponder` (the contract's prompt format) */
  readonly respond?: Responder
  /** The shortest prefix the prompt cache stores, in tokens. @default 1024 */
  readonly minCacheableTokens?: number
  /** Lifetimes of cache entries in milliseconds. @default { "5m": 300_000, "1h": 3_600_000 } */
  readonly cacheTtl?: Partial<CacheTtlMs>
  /** The server's clock in milliseconds (buckets, cache, logs). @default Date.now */
  readonly clock?: () => number
  /** Bodies larger than this get 413 `request_too_large`. @default 32 MB */
  readonly maxBodyBytes?: number
  /** The models the server knows and their limits. @default `defaultFakeModels` */
  readonly models?: ReadonlyArray<FakeModel>
}

/** One request as the server saw it: for tests that check how a client retried. */
export interface LoggedRequest {
  /** Arrival, in milliseconds of the server's clock. */
  readonly at: number
  readonly requestId: string
  /** The `x-devmatrix-call` header, or null. */
  readonly callId: string | null
  readonly model: string | null
  /** The HTTP status sent, or null when none was (a hang or a dropped connection). */
  readonly status: number | null
  readonly errorType: string | null
  /** The `retry-after` sent, in seconds, or null. */
  readonly retryAfterS: number | null
  /**
   * The request came before the `retry-after` its atom was last given, and was refused again.
   * Requests without an `x-devmatrix-call` header count as one atom.
   */
  readonly early: boolean
  /** The fault it got, or null. */
  readonly fault: FaultKind | null
}

/** A running local Messages API server. */
export interface FakeAnthropic {
  /** `http://127.0.0.1:PORT`: the SDK's `baseURL`, or `ANTHROPIC_BASE_URL`. */
  readonly url: string
  readonly port: number
  /** Every call billed so far, in order. */
  billed(): ReadonlyArray<BilledCall>
  /** Every request so far, in order of arrival. */
  requests(): ReadonlyArray<LoggedRequest>
  /** Queues faults for the next accepted requests, one each, in order, before any random ones. */
  inject(...faults: ReadonlyArray<Fault>): void
  /** Changes the share of random faults (and their kinds). */
  setFaultRate(rate: number, kinds?: ReadonlyArray<Fault>): void
  /** Stops listening and cuts the open connections (hung requests included). */
  close(): Promise<void>
}

const defaultMaxBodyBytes = 32 * 1024 * 1024

// randomUUID draws from a pooled entropy cache: much cheaper per call than randomBytes.
const idOf = (prefix: string): string => prefix + randomUUID().replaceAll("-", "").slice(0, 24)

/** The atom a call belongs to: `<masterplanId>/<atomId>` of `<masterplanId>/<atomId>/<attempt>`. */
const retryKeyOf = (callId: string | null): string =>
  callId === null ? "" : callId.includes("/") ? callId.slice(0, callId.lastIndexOf("/")) : callId

const headerOf = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Reads a body up to `limit` bytes; undefined when it is longer. */
const readBody = (request: IncomingMessage, limit: number): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let over = false
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) over = true
      else chunks.push(chunk)
    })
    request.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)))
    request.on("error", reject)
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Starts a local server that speaks the Anthropic Messages API as the real one does: request
 * validation with the real error bodies, usage counted from the text, a prompt cache, rate-limit
 * headers from continuous token buckets, injected or random faults, and a log of what it billed.
 *
 * @example
 * import Anthropic from "@anthropic-ai/sdk"
 * import { startFakeAnthropic } from "@devmatrix/host"
 *
 * const server = await startFakeAnthropic({ limits: { requestsPerMinute: 50 } })
 * const client = new Anthropic({ apiKey: "test", baseURL: server.url, maxRetries: 0 })
 * server.inject({ kind: "rate_limit", retryAfterS: 2 })
 * await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "Atom: a" }] }).catch(console.log) // 429
 * await server.close()
 */
export const startFakeAnthropic = async (options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> => {
  const clock = options.clock ?? Date.now
  const models = options.models ?? defaultFakeModels
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes
  const respond = options.respond ?? defaultResponder
  const seed = options.seed ?? 1
  const latencyRandom = seededRandom(seed ^ 0x5bd1e995)
  const latency = options.latencyMs ?? 0
  const limiter = new RateLimiter({ ...defaultRateLimits, ...options.limits }, clock())
  const cache = new ServerPromptCache(options.minCacheableTokens ?? 1024, {
    ...defaultCacheTtlMs,
    ...options.cacheTtl
  })
  const faults = new FaultPlan(options.faultRate ?? 0, options.faultKinds ?? defaultRandomFaultKinds, seed)
  const billed: Array<BilledCall> = []
  const logged: Array<LoggedRequest> = []
  /** Per atom, the time before which a retry is early: the last `retry-after` it was given. */
  const notBefore = new Map<string, number>()

  const send = (
    response: ServerResponse,
    status: number,
    body: string,
    headers: Readonly<Record<string, string>>
  ): void => {
    response.writeHead(status, {
      "content-type": "application/json",
      ...limiter.headers(clock()),
      ...headers
    })
    response.end(body)
  }

  const answer = async (http: IncomingMessage, response: ServerResponse): Promise<void> => {
    const at = clock()
    const requestId = idOf("req_")
    const callId = headerOf(http, "x-devmatrix-call") ?? null
    const entry = {
      at,
      requestId,
      callId,
      model: null as string | null,
      early: false,
      fault: null as FaultKind | null
    }
    const log = (status: number | null, errorType: string | null, retryAfterS: number | null): void => {
      logged.push({ ...entry, status, errorType, retryAfterS })
    }
    const fail = (error: ApiError) => {
      const retryAfter = error.headers?.["retry-after"]
      const retryAfterS = retryAfter !== undefined ? Number(retryAfter) : null
      if (retryAfterS !== null) notBefore.set(retryKeyOf(callId), clock() + retryAfterS * 1_000)
      log(error.status, error.type, retryAfterS)
      send(response, error.status, errorBody(error, requestId), { "request-id": requestId, ...error.headers })
    }

    if (http.method !== "POST" || (http.url ?? "").split("?")[0] !== "/v1/messages")
      return fail({ status: 404, type: "not_found_error", message: "Not Found" })
    const declared = Number(headerOf(http, "content-length") ?? 0)
    const body = declared > maxBodyBytes ? undefined : await readBody(http, maxBodyBytes)
    if (body === undefined) {
      // Do not read the rest of an oversized body: answer, then close the connection.
      response.setHeader("connection", "close")
      return fail({
        status: 413,
        type: "request_too_large",
        message: "Request exceeds the maximum allowed number of bytes."
      })
    }
    // The API takes the key as `x-api-key`; SDKs from 1.x send it as `Authorization: Bearer`.
    const bearer = /^Bearer\s+(.+)$/i.exec(headerOf(http, "authorization") ?? "")?.[1]
    const key = headerOf(http, "x-api-key") ?? bearer
    if (key === undefined || key === "")
      return fail({ status: 401, type: "authentication_error", message: "x-api-key header is required" })
    if (options.apiKey !== undefined && key !== options.apiKey)
      return fail({ status: 401, type: "authentication_error", message: "invalid x-api-key" })
    if (headerOf(http, "anthropic-version") === undefined)
      return fail(invalidRequest("anthropic-version: header is required"))
    let json: unknown
    try {
      json = JSON.parse(body.toString("utf8"))
    } catch {
      return fail(invalidRequest("The request body is not valid JSON."))
    }
    const decoded = decodeMessagesRequest(json, models)
    if (isApiError(decoded)) return fail(decoded)
    const request: MessagesRequest = { ...decoded, ...(callId !== null ? { callId } : {}) }
    entry.model = request.model

    const plan = cache.plan(request, at)
    if (plan.promptTokens > request.limits.contextWindow)
      return fail(
        invalidRequest(
          `prompt is too long: ${plan.promptTokens} tokens > ${request.limits.contextWindow} maximum`
        )
      )
    const waitUntil = notBefore.get(retryKeyOf(callId))
    if (waitUntil !== undefined && at < waitUntil) {
      entry.early = true
      return fail({
        status: 429,
        type: "rate_limit_error",
        message: "This request came before the retry-after it was given. Please wait before retrying.",
        headers: { "retry-after": String(Math.ceil((waitUntil - at) / 1_000)) }
      })
    }
    const fault = faults.next()
    entry.fault = fault?.kind ?? null
    if (fault?.kind === "hang") return log(null, null, null)
    if (fault?.kind === "drop") {
      log(null, null, null)
      http.socket.destroy()
      return
    }
    const faultError = fault !== undefined ? faultErrorOf(fault, at) : undefined
    if (faultError !== undefined) return fail(faultError)

    const admission = limiter.admit(
      {
        inputTokens: plan.inputTokens + plan.cacheWrite5mTokens + plan.cacheWrite1hTokens,
        maxOutputTokens: request.maxTokens
      },
      at
    )
    if (!admission.admitted)
      return fail({
        status: 429,
        type: "rate_limit_error",
        message: admission.message,
        headers: { "retry-after": String(Math.max(1, Math.ceil(admission.waitMs / 1_000))) }
      })
    cache.commit(plan, at)

    let reply: FakeReply
    try {
      reply = fault?.kind === "refusal" ? { text: "", stopReason: "refusal" } : await respond(request)
    } catch (error) {
      limiter.refundOutput(request.maxTokens, clock())
      return fail({ status: 500, type: "api_error", message: `the responder failed: ${String(error)}` })
    }
    const { text, stopReason, stopSequence } = finishReply(request, reply, fault)
    const delayMs =
      typeof latency === "number" ? latency : latency.min + (latency.max - latency.min) * latencyRandom()
    if (delayMs > 0) await sleep(delayMs)
    if (fault?.kind === "malformed") {
      limiter.refundOutput(request.maxTokens, clock())
      log(200, null, null)
      send(response, 200, `{"id":"${idOf("msg_")}","type":"message","content":[{"type":"text","text":"`, {
        "request-id": requestId
      })
      return
    }
    const outputTokens = tokensOf(text)
    limiter.refundOutput(request.maxTokens - outputTokens, clock())
    const usage: MessageUsage = {
      input_tokens: plan.inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: plan.cacheWrite5mTokens + plan.cacheWrite1hTokens,
      cache_read_input_tokens: plan.cacheReadTokens,
      cache_creation: {
        ephemeral_5m_input_tokens: plan.cacheWrite5mTokens,
        ephemeral_1h_input_tokens: plan.cacheWrite1hTokens
      },
      service_tier: "standard"
    }
    const id = idOf("msg_")
    const call: BilledCall = { id, callId, at: clock(), model: request.model, stopReason, usage }
    billed.push(call)
    if (options.billingLog !== undefined) appendBilledCall(options.billingLog, call)
    log(200, null, null)
    const message = {
      id,
      type: "message",
      role: "assistant",
      model: request.model,
      content: [{ type: "text", text }],
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage
    }
    send(response, 200, JSON.stringify(message), { "request-id": requestId })
  }

  const server = createServer((http, response) => {
    answer(http, response).catch((error: unknown) => {
      if (!response.headersSent)
        send(
          response,
          500,
          errorBody({ status: 500, type: "api_error", message: String(error) }, idOf("req_")),
          {}
        )
      else response.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    billed: () => [...billed],
    requests: () => [...logged],
    inject: (...injected) => faults.inject(injected),
    setFaultRate: (rate, kinds) => faults.setRate(rate, kinds),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })
  }
}
