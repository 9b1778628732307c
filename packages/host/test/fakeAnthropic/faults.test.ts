import type { Fault } from "@devmatrix/host"
import { describe, expect, it } from "vitest"
import type { APIError } from "./anthropicSdk.js"
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  GatewayTimeoutError,
  InternalServerError,
  OverloadedError,
  RateLimitError,
  ServiceUnavailableError
} from "./anthropicSdk.js"
import { atomPrompt, rejectionOf, serve } from "./harness.js"

const model = "claude-sonnet-4-5"
const request = (atomId = "a") => ({
  model,
  max_tokens: 200,
  messages: [{ role: "user" as const, content: atomPrompt(atomId, ["fn"]) }]
})
const call = (id: string) => ({ headers: { "x-devmatrix-call": id } })

type ErrorClass = abstract new (...args: never) => Error

const errorFaults: ReadonlyArray<[string, Fault, ErrorClass, number, string]> = [
  ["rate_limit", { kind: "rate_limit", retryAfterS: 3 }, RateLimitError, 429, "rate_limit_error"],
  ["overloaded", "overloaded", OverloadedError, 529, "overloaded_error"],
  ["server_error", "server_error", InternalServerError, 500, "api_error"],
  ["server_error 502", { kind: "server_error", status: 502 }, InternalServerError, 502, "api_error"],
  ["server_error 503", { kind: "server_error", status: 503 }, ServiceUnavailableError, 503, "api_error"],
  ["server_error 504", { kind: "server_error", status: 504 }, GatewayTimeoutError, 504, "api_error"],
  ["spend_limit", "spend_limit", RateLimitError, 429, "rate_limit_error"],
  ["unauthorized", "unauthorized", AuthenticationError, 401, "authentication_error"],
  ["invalid", { kind: "invalid", message: "bad atom" }, BadRequestError, 400, "invalid_request_error"],
  ["too_large", "too_large", ContentTooLargeError, 413, "request_too_large"]
]

describe("the fake Messages API: faults as the SDK sees them", () => {
  it.each(errorFaults)("%s", async (name, fault, errorClass, status, type) => {
    const { server, client } = await serve()
    server.inject(fault)
    const error = (await rejectionOf(client.messages.create(request(), call("mp/a/1")))) as InstanceType<
      typeof APIError
    >
    expect(error).toBeInstanceOf(errorClass)
    expect([error.status, error.type]).toEqual([status, type])
    expect(error.requestID).toMatch(/^req_/)
    expect(error.headers?.get("anthropic-ratelimit-requests-limit")).toBe("4000")
    expect(error.headers?.get("retry-after")).toBe(name === "rate_limit" ? "3" : null)
    expect(error.errorCode).toBe(name === "spend_limit" ? "enforced_spend_limit_reached" : null)
    if (name === "invalid") expect(error.apiMessage).toBe("bad atom")
    // The fault was for one request only, and nothing was billed for it.
    expect(server.billed()).toEqual([])
    // (Another atom: a retry of this one would come before a retry-after.)
    await client.messages.create(request("b"), call("mp/b/1"))
    expect(server.requests().map((logged) => [logged.status, logged.fault])).toEqual([
      [status, typeof fault === "string" ? fault : fault.kind],
      [200, null]
    ])
  })

  it("hang: no answer until the client's timeout", async () => {
    const { server, client } = await serve({}, { timeout: 300 })
    server.inject("hang")
    const error = await rejectionOf(client.messages.create(request()))
    expect(error).toBeInstanceOf(APIConnectionTimeoutError)
    expect(server.requests()).toMatchObject([{ status: null, fault: "hang" }])
  })

  it("drop: the connection is cut mid-request", async () => {
    const { server, client } = await serve()
    server.inject("drop")
    const error = await rejectionOf(client.messages.create(request()))
    expect(error).toBeInstanceOf(APIConnectionError)
    expect(error).not.toBeInstanceOf(APIConnectionTimeoutError)
    expect(server.requests()).toMatchObject([{ status: null, fault: "drop" }])
  })

  it("malformed: a 200 whose body is not JSON", async () => {
    const { server, client } = await serve()
    server.inject("malformed")
    const error = await rejectionOf(client.messages.create(request()))
    expect(error).toBeInstanceOf(SyntaxError)
    expect(server.billed()).toEqual([])
  })

  it("refusal and max_tokens: answered and billed, with their stop reasons", async () => {
    const { server, client } = await serve()
    const whole = await client.messages.create(request())
    server.inject("refusal", { kind: "max_tokens", outputTokens: 4 }, "max_tokens")
    const refusal = await client.messages.create(request())
    expect(refusal.stop_reason).toBe("refusal")
    const cut = await client.messages.create(request())
    expect([cut.stop_reason, cut.usage.output_tokens]).toEqual(["max_tokens", 4])
    const half = await client.messages.create(request())
    expect(half.stop_reason).toBe("max_tokens")
    expect(half.usage.output_tokens).toBe(Math.floor(whole.usage.output_tokens / 2))
    expect(server.billed().map((billed) => billed.stopReason)).toEqual([
      "end_turn",
      "refusal",
      "max_tokens",
      "max_tokens"
    ])
  })

  it("refuses a retry of the same atom before its retry-after, and logs it as early", async () => {
    let now = 1_700_000_000_000
    const { server, client } = await serve({ clock: () => now })
    server.inject({ kind: "rate_limit", retryAfterS: 5 })
    await rejectionOf(client.messages.create(request(), call("mp/a/1")))
    now += 2_000
    const early = (await rejectionOf(client.messages.create(request(), call("mp/a/2")))) as InstanceType<
      typeof APIError
    >
    expect([early.status, early.headers?.get("retry-after")]).toEqual([429, "3"])
    // Another atom is not held back by this one's retry-after.
    await client.messages.create(request("b"), call("mp/b/1"))
    now += 3_000
    await client.messages.create(request(), call("mp/a/3"))
    expect(
      server
        .requests()
        .map(({ callId, status, early, retryAfterS }) => ({ callId, status, early, retryAfterS }))
    ).toEqual([
      { callId: "mp/a/1", status: 429, early: false, retryAfterS: 5 },
      { callId: "mp/a/2", status: 429, early: true, retryAfterS: 3 },
      { callId: "mp/b/1", status: 200, early: false, retryAfterS: null },
      { callId: "mp/a/3", status: 200, early: false, retryAfterS: null }
    ])
  })

  it("draws random faults from its seed: the same seed gives the same faults", async () => {
    const statuses = async (seed: number) => {
      const { server, client } = await serve({
        faultRate: 0.5,
        faultKinds: ["overloaded", "server_error"],
        seed
      })
      for (let i = 0; i < 30; i++) await client.messages.create(request(`a${i}`)).catch(() => undefined)
      return server.requests().map((logged) => logged.status)
    }
    const first = await statuses(7)
    expect(await statuses(7)).toEqual(first)
    expect(new Set(first)).toEqual(new Set([200, 529, 500]))
  })

  it("changes the fault rate while running, and injected faults come first", async () => {
    const { server, client } = await serve()
    server.setFaultRate(1, ["overloaded"])
    server.inject("unauthorized")
    await rejectionOf(client.messages.create(request()))
    await rejectionOf(client.messages.create(request()))
    server.setFaultRate(0)
    await client.messages.create(request())
    expect(server.requests().map((logged) => logged.status)).toEqual([401, 529, 200])
  })
})
