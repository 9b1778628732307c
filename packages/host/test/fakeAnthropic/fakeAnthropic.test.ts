import { tokensOf } from "@devmatrix/host"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  APIError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  NotFoundError
} from "./anthropicSdk.js"
import { atomPrompt, rejectionOf, serve } from "./harness.js"

const model = "claude-sonnet-4-5"
const user = (content: string) => ({ role: "user" as const, content })

/** The SDK's error, with what a provider reads from it. */
const apiErrorOf = async (promise: Promise<unknown>) => {
  const error = await rejectionOf(promise)
  expect(error).toBeInstanceOf(APIError)
  const api = error as InstanceType<typeof APIError>
  return { error: api, status: api.status, type: api.type, message: api.apiMessage, requestId: api.requestID }
}

describe("the fake Messages API: validation", () => {
  it("refuses a missing or wrong key with 401 authentication_error, and a missing version with 400", async () => {
    const { server, client } = await serve({ apiKey: "right" })
    const base = { model, max_tokens: 10, messages: [user("hi")] }
    const wrong = await apiErrorOf(
      client.messages.create(base, { headers: { "x-api-key": "wrong", authorization: null } })
    )
    expect(wrong.error).toBeInstanceOf(AuthenticationError)
    expect([wrong.status, wrong.type, wrong.message]).toEqual([
      401,
      "authentication_error",
      "invalid x-api-key"
    ])
    const bearer = await apiErrorOf(
      client.messages.create(base, { headers: { authorization: "Bearer wrong" } })
    )
    expect([bearer.status, bearer.type]).toEqual([401, "authentication_error"])
    const missing = await apiErrorOf(client.messages.create(base, { headers: { authorization: null } }))
    expect([missing.status, missing.type, missing.message]).toEqual([
      401,
      "authentication_error",
      "x-api-key header is required"
    ])
    const version = await apiErrorOf(client.messages.create(base, { headers: { "anthropic-version": null } }))
    expect([version.status, version.type, version.message]).toEqual([
      400,
      "invalid_request_error",
      "anthropic-version: header is required"
    ])
    expect((await client.messages.create(base)).type).toBe("message")
    expect(server.requests().map((request) => request.status)).toEqual([401, 401, 401, 400, 200])
  })

  it("answers errors with the real body shape and a request-id header", async () => {
    const { server } = await serve()
    const response = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-nope", max_tokens: 5, messages: [user("hi")] })
    })
    const body = (await response.json()) as Record<string, unknown>
    expect(response.status).toBe(404)
    expect(response.headers.get("request-id")).toMatch(/^req_[0-9A-Za-z]{24}$/)
    expect(body).toEqual({
      type: "error",
      error: { type: "not_found_error", message: "model: claude-nope" },
      request_id: response.headers.get("request-id")
    })
  })

  const invalid: ReadonlyArray<[string, Record<string, unknown>, string]> = [
    ["max_tokens missing", { messages: [user("hi")] }, "max_tokens: Field required"],
    [
      "max_tokens not an integer",
      { max_tokens: 1.5, messages: [user("hi")] },
      "max_tokens: Input should be a valid integer"
    ],
    [
      "max_tokens zero",
      { max_tokens: 0, messages: [user("hi")] },
      "max_tokens: Input should be greater than or equal to 1"
    ],
    ["messages empty", { max_tokens: 5, messages: [] }, "messages: at least one message is required"],
    [
      "a first message from the assistant",
      { max_tokens: 5, messages: [{ role: "assistant", content: "hi" }] },
      `messages: first message must use the "user" role`
    ],
    [
      "two user turns in a row",
      { max_tokens: 5, messages: [user("a"), user("b")] },
      `messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row`
    ],
    [
      "an unknown role",
      { max_tokens: 5, messages: [{ role: "system", content: "a" }] },
      "messages.0.role: Input should be 'user' or 'assistant'"
    ],
    [
      "a content block that is not text",
      { max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] },
      "messages.0.content.0.type: Input tag 'image' found using 'type' does not match the expected tag: 'text' (this server takes text blocks only)"
    ],
    [
      "an empty user turn",
      { max_tokens: 5, messages: [user("")] },
      "messages.0: all messages must have non-empty content except for the optional final assistant message"
    ],
    [
      "system not text",
      { max_tokens: 5, system: 7, messages: [user("a")] },
      "system: Input should be a valid string or a valid list"
    ],
    [
      "temperature above 1",
      { max_tokens: 5, temperature: 1.5, messages: [user("a")] },
      "temperature: Input should be less than or equal to 1"
    ],
    [
      "temperature below 0",
      { max_tokens: 5, temperature: -0.1, messages: [user("a")] },
      "temperature: Input should be greater than or equal to 0"
    ],
    [
      "cache_control of another type",
      {
        max_tokens: 5,
        messages: [
          { role: "user", content: [{ type: "text", text: "a", cache_control: { type: "persistent" } }] }
        ]
      },
      "messages.0.content.0.cache_control.type: Input should be 'ephemeral'"
    ],
    [
      "cache_control with a ttl it does not know",
      {
        max_tokens: 5,
        system: [{ type: "text", text: "s", cache_control: { type: "ephemeral", ttl: "2h" } }],
        messages: [user("a")]
      },
      "system.0.cache_control.ttl: Input should be '5m' or '1h'"
    ],
    [
      "five cache breakpoints",
      {
        max_tokens: 5,
        system: Array.from({ length: 5 }, (_, i) => ({
          type: "text",
          text: `s${i}`,
          cache_control: { type: "ephemeral" }
        })),
        messages: [user("a")]
      },
      "A maximum of 4 blocks with cache_control may be provided. Found 5."
    ]
  ]

  it.each(invalid)("refuses %s with 400 invalid_request_error", async (_, body, message) => {
    const { server, client } = await serve()
    const error = await apiErrorOf(client.messages.create({ model, ...body } as never))
    expect(error.error).toBeInstanceOf(BadRequestError)
    expect([error.status, error.type, error.message]).toEqual([400, "invalid_request_error", message])
    expect(server.billed()).toEqual([])
  })

  it("refuses max_tokens over the model's output limit", async () => {
    // A small model: the SDK itself refuses a non-streaming call whose max_tokens may take 10 minutes.
    const { client } = await serve({
      models: [{ id: "small", aliases: ["small-1"], contextWindow: 1_000, maxOutputTokens: 100 }]
    })
    const error = await apiErrorOf(
      client.messages.create({ model: "small-1", max_tokens: 101, messages: [user("a")] })
    )
    expect([error.status, error.type, error.message]).toEqual([
      400,
      "invalid_request_error",
      "max_tokens: 101 > 100, which is the maximum allowed number of output tokens for small-1"
    ])
    expect(
      (await client.messages.create({ model: "small-1", max_tokens: 100, messages: [user("a")] })).model
    ).toBe("small-1")
  })

  it("refuses an unknown model with 404 not_found_error naming it", async () => {
    const { client } = await serve()
    const error = await apiErrorOf(
      client.messages.create({ model: "claude-9", max_tokens: 5, messages: [user("a")] })
    )
    expect(error.error).toBeInstanceOf(NotFoundError)
    expect([error.status, error.type, error.message]).toEqual([404, "not_found_error", "model: claude-9"])
  })

  it("refuses a prompt longer than the context window, counting its tokens", async () => {
    const { client } = await serve({ models: [{ id: "tiny", contextWindow: 100, maxOutputTokens: 50 }] })
    const text = "x".repeat(400) // 100 tokens, + 4 for the message, + 8 for the request
    const error = await apiErrorOf(
      client.messages.create({ model: "tiny", max_tokens: 5, messages: [user(text)] })
    )
    expect([error.status, error.type, error.message]).toEqual([
      400,
      "invalid_request_error",
      "prompt is too long: 112 tokens > 100 maximum"
    ])
  })

  it("refuses a body over the size limit with 413 request_too_large", async () => {
    const { client } = await serve({ maxBodyBytes: 2_000 })
    const error = await apiErrorOf(
      client.messages.create({ model, max_tokens: 5, messages: [user("y".repeat(3_000))] })
    )
    expect(error.error).toBeInstanceOf(ContentTooLargeError)
    expect([error.status, error.type]).toEqual([413, "request_too_large"])
  })
})

describe("the fake Messages API: answers and usage", () => {
  it("writes code defining the names the prompt asks for, with usage counted from the text", async () => {
    const { server, client } = await serve()
    const system = "You write one small atom of code."
    const prompt = atomPrompt("parse-date", ["parseDate", "formatDate"])
    const message = await client.messages.create({ model, max_tokens: 500, system, messages: [user(prompt)] })
    const text = message.content[0]?.type === "text" ? message.content[0].text : ""
    expect(text).toContain("export function parseDate(value: string): string")
    expect(text).toContain("export function formatDate(value: string): string")
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model,
      stop_reason: "end_turn",
      stop_sequence: null
    })
    expect(message.id).toMatch(/^msg_/)
    expect(message.usage).toEqual({
      input_tokens: tokensOf(system) + tokensOf(prompt) + 4 + 8,
      output_tokens: tokensOf(text),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      service_tier: "standard"
    })
    expect(server.billed()).toEqual([
      expect.objectContaining({ id: message.id, model, stopReason: "end_turn", usage: message.usage })
    ])
  })

  it("writes Python when asked, and cuts an answer longer than max_tokens", async () => {
    const { client } = await serve()
    const python = await client.messages.create({
      model,
      max_tokens: 500,
      messages: [user(atomPrompt("a", ["area"], "python"))]
    })
    expect(python.content[0]?.type === "text" ? python.content[0].text : "").toContain("def area(value):")
    const cut = await client.messages.create({
      model,
      max_tokens: 3,
      messages: [user(atomPrompt("a", ["area"]))]
    })
    expect(cut.stop_reason).toBe("max_tokens")
    expect(cut.usage.output_tokens).toBe(3)
    expect(cut.content[0]).toMatchObject({ text: "export funct" })
  })

  it("stops at a stop sequence, and counts a custom responder's text", async () => {
    const { client } = await serve({ respond: () => ({ text: "alpha END beta" }) })
    const message = await client.messages.create({
      model,
      max_tokens: 50,
      stop_sequences: ["END"],
      messages: [user("go")]
    })
    expect(message).toMatchObject({
      stop_reason: "stop_sequence",
      stop_sequence: "END",
      content: [{ text: "alpha " }]
    })
    expect(message.usage.output_tokens).toBe(2)
  })

  it("appends one JSON line per billed call to the billing log, with the call id", async () => {
    const billingLog = join(mkdtempSync(join(tmpdir(), "fake-anthropic-")), "billing.jsonl")
    const { server, client } = await serve({ billingLog })
    await client.messages.create(
      { model, max_tokens: 100, messages: [user(atomPrompt("a"))] },
      { headers: { "x-devmatrix-call": "mp/a/1" } }
    )
    await rejectionOf(client.messages.create({ model, max_tokens: 0, messages: [user("x")] }))
    await client.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [user(atomPrompt("b"))]
    })
    const lines = readFileSync(billingLog, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as unknown)
    expect(lines).toEqual(server.billed())
    expect(lines).toMatchObject([
      { callId: "mp/a/1", model, stopReason: "end_turn" },
      { callId: null, model: "claude-haiku-4-5" }
    ])
  })
})

describe("the fake Messages API: prompt cache", () => {
  const longSystem = (ttl?: "5m" | "1h") => [
    {
      type: "text" as const,
      text: (ttl === "1h" ? "h" : "r").repeat(8_000),
      cache_control: { type: "ephemeral" as const, ...(ttl ? { ttl } : {}) }
    }
  ]

  it("writes a long prefix once, then reads it; the rest stays input", async () => {
    let now = 1_000_000
    const { client } = await serve({ clock: () => now })
    const ask = (atom: string) =>
      client.messages.create({
        model,
        max_tokens: 200,
        system: longSystem(),
        messages: [user(atomPrompt(atom))]
      })
    const first = await ask("a")
    const prefix = 2_000 + 8 // the system block's tokens and the request's own
    expect(first.usage).toMatchObject({
      cache_creation_input_tokens: prefix,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: prefix, ephemeral_1h_input_tokens: 0 },
      input_tokens: tokensOf(atomPrompt("a")) + 4
    })
    now += 60_000
    const second = await ask("b")
    expect(second.usage).toMatchObject({
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: prefix,
      input_tokens: tokensOf(atomPrompt("b")) + 4
    })
  })

  it("keeps a 5-minute entry 5 minutes from its last read, and a 1-hour entry an hour", async () => {
    let now = 0
    const { client } = await serve({ clock: () => now })
    const ask = (ttl: "5m" | "1h") =>
      client.messages.create({
        model,
        max_tokens: 50,
        system: longSystem(ttl),
        messages: [user(`ttl ${ttl}`)]
      })
    expect((await ask("5m")).usage.cache_creation?.ephemeral_5m_input_tokens).toBe(2_008)
    expect((await ask("1h")).usage.cache_creation?.ephemeral_1h_input_tokens).toBe(2_008)
    now = 4 * 60_000 // a read refreshes the 5-minute entry...
    expect((await ask("5m")).usage.cache_read_input_tokens).toBe(2_008)
    now = 8 * 60_000 // ...so 8 minutes after its write it still holds
    expect((await ask("5m")).usage.cache_read_input_tokens).toBe(2_008)
    now = 14 * 60_000 // 6 minutes after its last read it has expired and is written again
    expect((await ask("5m")).usage).toMatchObject({
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 2_008
    })
    expect((await ask("1h")).usage.cache_read_input_tokens).toBe(2_008)
    now = 14 * 60_000 + 3_600_000 + 1
    expect((await ask("1h")).usage).toMatchObject({
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_1h_input_tokens: 2_008 }
    })
  })

  it("reads the longest held prefix and writes only what follows it, each part at its own TTL", async () => {
    const { client } = await serve()
    const ask = (context: string) =>
      client.messages.create({
        model,
        max_tokens: 50,
        system: longSystem("1h"),
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: context, cache_control: { type: "ephemeral" } },
              { type: "text", text: atomPrompt("a") }
            ]
          }
        ]
      })
    const context = "d".repeat(4_000) // 1,000 tokens of accepted dependency code
    const first = await ask(context)
    expect(first.usage).toMatchObject({
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_1h_input_tokens: 2_008, ephemeral_5m_input_tokens: 4 + 1_000 },
      input_tokens: tokensOf(atomPrompt("a"))
    })
    const same = await ask(context)
    expect(same.usage).toMatchObject({ cache_read_input_tokens: 3_012, cache_creation_input_tokens: 0 })
    const other = await ask("e".repeat(4_000))
    expect(other.usage).toMatchObject({
      cache_read_input_tokens: 2_008,
      cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 1_004 }
    })
  })

  it("does not cache a prefix shorter than minCacheableTokens", async () => {
    const { client } = await serve()
    const system = [
      { type: "text" as const, text: "short rules", cache_control: { type: "ephemeral" as const } }
    ]
    for (let i = 0; i < 2; i++) {
      const message = await client.messages.create({ model, max_tokens: 50, system, messages: [user("a")] })
      expect(message.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
    }
  })
})
