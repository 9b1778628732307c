import type { ModelFailureReason, ModelFailureScope } from "@devmatrix/core"
import { anthropicOptionsFromEnv, makeAnthropicModel } from "@devmatrix/runtime"
import type { AnthropicModelOptions, ModelCallError, ModelRequest } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { errorBody, messageBody, messagesServer } from "./anthropicProviderHttp.js"
import type { MessagesServer, ScriptedReply } from "./anthropicProviderHttp.js"

const request: ModelRequest = {
  model: "claude-sonnet-4-5",
  masterplanId: "mp-1",
  atomId: "add",
  attempt: 2,
  language: "typescript",
  instruction: "Add two numbers.",
  defines: ["add"],
  dependencies: [{ atomId: "num", code: "export type Num = number\n" }],
  feedback: ["missing symbol add"],
  maxTokens: 512,
  timeoutMs: 10_000
}

const modelOn = (server: MessagesServer, options: AnthropicModelOptions = {}) =>
  makeAnthropicModel({ baseURL: server.baseURL, apiKey: "test-key", ...options })

/** One call answered by `reply`: its failure, and the number of HTTP requests it made. */
const failWith = (reply: ScriptedReply, call: Partial<ModelRequest> = {}) =>
  Effect.gen(function* () {
    const server = yield* messagesServer
    server.reply(reply)
    const error = yield* Effect.flip(modelOn(server).generate({ ...request, ...call }))
    return { error, requests: server.requests.length }
  })

const expectFailure = (
  error: ModelCallError,
  reason: ModelFailureReason,
  retryable: boolean,
  scope: ModelFailureScope = "atom"
) => {
  assert.strictEqual(error.failure.reason, reason)
  assert.strictEqual(error.failure.retryable, retryable)
  assert.strictEqual(error.failure.scope, scope)
}

describe("ModelProviderAnthropic", () => {
  it.scoped("sends the atom's prompt with the call header, the timeout and no SDK retries", () =>
    Effect.gen(function* () {
      const server = yield* messagesServer
      yield* modelOn(server, { defaultTemperature: 0.2 }).generate(request)
      assert.strictEqual(server.requests.length, 1)
      const [received] = server.requests
      assert.strictEqual(received!.path, "/v1/messages")
      assert.strictEqual(received!.headers["x-devmatrix-call"], "mp-1/add/2")
      assert.strictEqual(received!.headers["authorization"], "Bearer test-key")
      assert.strictEqual(received!.headers["x-stainless-retry-count"], "0")
      assert.strictEqual(received!.headers["x-stainless-timeout"], "10")
      const body = received!.body
      assert.strictEqual(body["model"], "claude-sonnet-4-5")
      assert.strictEqual(body["max_tokens"], 512)
      assert.strictEqual(body["temperature"], 0.2)
      const system = body["system"] as Array<{ cache_control?: unknown }>
      assert.deepStrictEqual(system.at(-1)!.cache_control, { type: "ephemeral" })
      const messages = body["messages"] as Array<{ role: string; content: Array<{ text: string }> }>
      const text = messages[0]!.content.map((block) => block.text).join("\n")
      for (const line of ["Atom: add", "Language: typescript", "Define: add"])
        assert.include(text.split("\n"), line)
      assert.include(text, "export type Num = number")
      assert.include(text, "Your previous answer was refused: missing symbol add")
    })
  )

  it.scoped("asks for 1-hour caching and the request's own temperature when told", () =>
    Effect.gen(function* () {
      const server = yield* messagesServer
      yield* modelOn(server, { cacheTtl: "1h", defaultTemperature: 0.2 }).generate({
        ...request,
        temperature: 0.7
      })
      const body = server.requests[0]!.body
      assert.strictEqual(body["temperature"], 0.7)
      const system = body["system"] as Array<{ cache_control?: unknown }>
      assert.deepStrictEqual(system.at(-1)!.cache_control, { type: "ephemeral", ttl: "1h" })
    })
  )

  it.scoped(
    "answers with the code of the fenced block, usage by cache lifetime, request id and rate limits",
    () =>
      Effect.gen(function* () {
        const server = yield* messagesServer
        server.reply({
          headers: {
            "request-id": "req_42",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-12-01T12:00:01Z",
            "anthropic-ratelimit-input-tokens-remaining": "79000"
          },
          body: messageBody("Here it is:\n```ts\nexport const add = (a: number, b: number) => a + b\n```", {
            usage: {
              input_tokens: 40,
              output_tokens: 25,
              cache_creation_input_tokens: 1500,
              cache_read_input_tokens: 300,
              cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 500 }
            }
          })
        })
        const response = yield* modelOn(server).generate(request)
        assert.strictEqual(response.text, "export const add = (a: number, b: number) => a + b\n")
        assert.strictEqual(response.model, "claude-sonnet-4-5")
        assert.strictEqual(response.stopReason, "end_turn")
        assert.strictEqual(response.requestId, "req_42")
        assert.deepStrictEqual(response.usage, {
          inputTokens: 40,
          outputTokens: 25,
          cacheWriteTokens: 1500,
          cacheWrite5mTokens: 1000,
          cacheWrite1hTokens: 500,
          cacheReadTokens: 300
        })
        assert.deepStrictEqual(response.rateLimits?.requests, {
          limit: 50,
          remaining: 49,
          resetAtMs: Date.parse("2026-12-01T12:00:01Z")
        })
        assert.deepStrictEqual(response.rateLimits?.inputTokens, { remaining: 79000 })
      })
  )

  it.scoped("counts cache writes reported without a breakdown as 5-minute writes", () =>
    Effect.gen(function* () {
      const server = yield* messagesServer
      server.reply({
        body: messageBody("export const one = 1", {
          usage: {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: 700,
            cache_read_input_tokens: null
          }
        })
      })
      const response = yield* modelOn(server).generate(request)
      assert.strictEqual(response.text, "export const one = 1")
      assert.deepStrictEqual(response.usage, {
        inputTokens: 10,
        outputTokens: 5,
        cacheWriteTokens: 700,
        cacheWrite5mTokens: 700,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0
      })
    })
  )

  it.scoped("429 rate_limit_error: rate_limited, retried no sooner than retry-after, with the signal", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({
        status: 429,
        headers: { "retry-after": "7", "anthropic-ratelimit-requests-remaining": "0" },
        body: errorBody("rate_limit_error", "This request would exceed your account's rate limit.")
      })
      expectFailure(error, "rate_limited", true)
      assert.strictEqual(error.failure.retryAfterMs, 7000)
      assert.strictEqual(error.failure.status, 429)
      assert.deepStrictEqual(error.rateLimits?.requests, { remaining: 0 })
      assert.strictEqual(error.rateLimits?.retryAfterMs, 7000)
      assert.strictEqual(requests, 1)
    })
  )

  it.scoped("529 overloaded_error: overloaded, the whole provider backs off", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({
        status: 529,
        body: errorBody("overloaded_error", "Overloaded")
      })
      expectFailure(error, "overloaded", true, "provider")
      assert.strictEqual(requests, 1)
    })
  )

  for (const [status, reason] of [
    [500, "server_error"],
    [502, "server_error"],
    [503, "server_error"],
    [504, "timeout"]
  ] as const)
    it.scoped(`${status}: transient (${reason}), one request`, () =>
      Effect.gen(function* () {
        const { error, requests } = yield* failWith({
          status,
          body: errorBody("api_error", "Internal server error")
        })
        expectFailure(error, reason, true)
        assert.strictEqual(requests, 1)
      })
    )

  it.scoped("409 conflict_error: transient, and the SDK does not retry it itself", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({
        status: 409,
        body: errorBody("conflict_error", "Conflict")
      })
      expectFailure(error, "conflict", true)
      assert.strictEqual(requests, 1)
    })
  )

  it.scoped("a dropped connection: connection, transient", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({ drop: true })
      expectFailure(error, "connection", true)
      assert.strictEqual(requests, 1)
    })
  )

  it.scoped("no answer within the request's timeout: timeout, transient, the connection closed", () =>
    Effect.gen(function* () {
      const server = yield* messagesServer
      server.reply({ hang: true })
      const error = yield* Effect.flip(modelOn(server).generate({ ...request, timeoutMs: 200 }))
      expectFailure(error, "timeout", true)
      yield* Effect.promise(() => server.requests[0]!.closedEarly)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scoped("400 invalid_request_error: the atom fails, no retry", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({
        status: 400,
        body: errorBody("invalid_request_error", "max_tokens: Field required")
      })
      expectFailure(error, "invalid_request", false)
      assert.strictEqual(error.failure.message, "max_tokens: Field required")
      assert.strictEqual(requests, 1)
    })
  )

  for (const [status, type] of [
    [401, "authentication_error"],
    [403, "permission_error"]
  ] as const)
    it.scoped(`${status} ${type}: authentication, the plan stops (scope provider)`, () =>
      Effect.gen(function* () {
        const { error, requests } = yield* failWith({ status, body: errorBody(type, "invalid x-api-key") })
        expectFailure(error, "authentication", false, "provider")
        assert.strictEqual(requests, 1)
      })
    )

  it.scoped("402 billing_error: billing, the plan stops (scope provider)", () =>
    Effect.gen(function* () {
      const { error } = yield* failWith({
        status: 402,
        body: errorBody("billing_error", "Your credit balance is too low")
      })
      expectFailure(error, "billing", false, "provider")
    })
  )

  it.scoped("404 not_found_error: not_found, not retried", () =>
    Effect.gen(function* () {
      const { error } = yield* failWith({
        status: 404,
        body: errorBody("not_found_error", "model: claude-nope")
      })
      expectFailure(error, "not_found", false)
    })
  )

  it.scoped("413 from the proxy (not JSON): request_too_large, naming the limit", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({
        status: 413,
        body: "<html><body>413 Request Entity Too Large</body></html>",
        contentType: "text/html"
      })
      expectFailure(error, "request_too_large", false)
      assert.include(error.failure.message, "32 MB")
      assert.strictEqual(requests, 1)
    })
  )

  it.scoped("400 prompt is too long: request_too_large, naming the limit", () =>
    Effect.gen(function* () {
      const { error } = yield* failWith({
        status: 400,
        body: errorBody("invalid_request_error", "prompt is too long: 200251 tokens > 200000 maximum")
      })
      expectFailure(error, "request_too_large", false)
      assert.include(error.failure.message, "200000 maximum")
    })
  )

  it.scoped(
    "429 enforced_spend_limit_reached: spend_limit, never retried, the plan pauses (scope provider)",
    () =>
      Effect.gen(function* () {
        const { error, requests } = yield* failWith({
          status: 429,
          body: errorBody(
            "rate_limit_error",
            "You have reached your monthly spend limit for your usage tier.",
            {
              error_code: "enforced_spend_limit_reached"
            }
          )
        })
        expectFailure(error, "spend_limit", false, "provider")
        assert.isUndefined(error.failure.retryAfterMs)
        assert.strictEqual(requests, 1)
      })
  )

  it.scoped("stop_reason max_tokens: max_tokens, retryable (with a larger max_tokens), billed", () =>
    Effect.gen(function* () {
      const usage = { input_tokens: 90, output_tokens: 512 }
      const { error } = yield* failWith({
        body: messageBody("export const add = (a", { stopReason: "max_tokens", usage })
      })
      expectFailure(error, "max_tokens", true)
      assert.deepStrictEqual(error.billed, {
        model: "claude-sonnet-4-5",
        usage: {
          inputTokens: 90,
          outputTokens: 512,
          cacheWriteTokens: 0,
          cacheWrite5mTokens: 0,
          cacheWrite1hTokens: 0,
          cacheReadTokens: 0
        }
      })
    })
  )

  it.scoped("stop_reason refusal: refusal, not retried with the same prompt, billed", () =>
    Effect.gen(function* () {
      const { error } = yield* failWith({
        body: messageBody("", { stopReason: "refusal", usage: { input_tokens: 90, output_tokens: 3 } })
      })
      expectFailure(error, "refusal", false)
      assert.strictEqual(error.billed?.usage.outputTokens, 3)
    })
  )

  for (const [what, reply] of [
    ["a JSON content type with a body that is not JSON", { body: "{ not json" }],
    ["a body that is not JSON at all", { body: "<html>oops</html>", contentType: "text/html" }],
    ["JSON that is not a message", { body: { hello: "world" } }]
  ] as const)
    it.scoped(`a 200 with ${what}: transient, nothing billed, its rate limits read`, () =>
      Effect.gen(function* () {
        const { error, requests } = yield* failWith({
          ...reply,
          headers: { "anthropic-ratelimit-requests-remaining": "12" }
        })
        expectFailure(error, "server_error", true)
        assert.isUndefined(error.billed)
        assert.deepStrictEqual(error.rateLimits?.requests, { remaining: 12 })
        assert.strictEqual(requests, 1)
      })
    )

  it.scoped("interrupting the call aborts the HTTP request: the server sees the connection close", () =>
    Effect.gen(function* () {
      const server = yield* messagesServer
      server.reply({ hang: true })
      const received = server.nextRequest()
      const call = yield* Effect.fork(modelOn(server).generate(request))
      const seen = yield* Effect.promise(() => received)
      const exit = yield* Fiber.interrupt(call)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* Effect.promise(() => seen.closedEarly)
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scoped("fails at once as authentication without a key or a base URL, sending nothing", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(makeAnthropicModel({}).generate(request))
      expectFailure(error, "authentication", false, "provider")
      assert.include(error.failure.message, "ANTHROPIC_API_KEY")
    })
  )
})

describe("anthropicOptionsFromEnv", () => {
  it("reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, empty values as absent", () => {
    assert.deepStrictEqual(
      anthropicOptionsFromEnv({ ANTHROPIC_API_KEY: "sk-1", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" }),
      { apiKey: "sk-1", baseURL: "http://127.0.0.1:9" }
    )
    assert.deepStrictEqual(anthropicOptionsFromEnv({ ANTHROPIC_API_KEY: "", PATH: "/bin" }), {})
  })
})
