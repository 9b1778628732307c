import { describe, expect, it } from "vitest"
import type { APIError } from "./anthropicSdk.js"
import { RateLimitError } from "./anthropicSdk.js"
import { atomPrompt, rejectionOf, serve } from "./harness.js"

const model = "claude-sonnet-4-5"
const start = Date.UTC(2026, 11, 1, 12, 0, 0)
const request = (
  maxTokens = 100,
  system?: ReadonlyArray<{ type: "text"; text: string; cache_control?: { type: "ephemeral" } }>
) => ({
  model,
  max_tokens: maxTokens,
  ...(system !== undefined ? { system: [...system] } : {}),
  messages: [{ role: "user" as const, content: atomPrompt("a", ["fn"]) }]
})

/** A server on a clock the test moves, and a way to call it that returns the headers too. */
const serveAt = async (limits: Parameters<typeof serve>[0] = {}) => {
  let now = start
  const { server, client } = await serve({ clock: () => now, ...limits })
  return {
    server,
    advance: (ms: number) => (now += ms),
    send: async (body = request(), callId?: string) =>
      client.messages
        .create(body, callId !== undefined ? { headers: { "x-devmatrix-call": callId } } : {})
        .withResponse()
        .then(({ data, response }) => ({ data, headers: response.headers })),
    refusal: async (body = request(), callId?: string) => {
      const error = (await rejectionOf(
        client.messages.create(body, callId !== undefined ? { headers: { "x-devmatrix-call": callId } } : {})
      )) as InstanceType<typeof APIError>
      expect(error).toBeInstanceOf(RateLimitError)
      return error
    }
  }
}

describe("the fake Messages API: rate limits", () => {
  it("sends every family of rate-limit headers, token counts rounded to the thousand", async () => {
    const { send } = await serveAt({
      limits: { requestsPerMinute: 50, inputTokensPerMinute: 100_000, outputTokensPerMinute: 20_000 }
    })
    const system = [{ type: "text" as const, text: "s".repeat(8_000) }]
    const { data, headers } = await send(request(100, system))
    const input = data.usage.input_tokens
    expect(input).toBeGreaterThan(2_000)
    const header = (name: string) => headers.get(`anthropic-ratelimit-${name}`)
    expect([header("requests-limit"), header("requests-remaining")]).toEqual(["50", "49"])
    expect([header("input-tokens-limit"), header("input-tokens-remaining")]).toEqual([
      "100000",
      String(Math.round((100_000 - input) / 1_000) * 1_000)
    ])
    // Output was charged max_tokens at the start and refunded the unused part at the end.
    expect([header("output-tokens-limit"), header("output-tokens-remaining")]).toEqual(["20000", "20000"])
    // `tokens` is the tighter of the two (here output: 20,000 left against ~98,000).
    expect([header("tokens-limit"), header("tokens-remaining")]).toEqual(["20000", "20000"])
    // Reset: when the bucket is full again, as an RFC 3339 time (one request refills in 1.2 s).
    expect(header("requests-reset")).toBe(new Date(start + 2_000).toISOString().replace(".000Z", "Z"))
    expect(Date.parse(header("input-tokens-reset")!)).toBe(
      Math.ceil((start + (input * 60_000) / 100_000) / 1_000) * 1_000
    )
  })

  it("answers 429 with retry-after when the request bucket runs dry, and admits after the refill", async () => {
    const { server, send, refusal, advance } = await serveAt({ limits: { requestsPerMinute: 2 } })
    await send(request(), "mp/a/1")
    await send(request(), "mp/b/1")
    const refused = await refusal(request(), "mp/c/1")
    expect(refused.type).toBe("rate_limit_error")
    expect(refused.apiMessage).toContain("of 2 requests per minute")
    expect(refused.headers?.get("retry-after")).toBe("30") // one request refills in 30 s
    expect(refused.headers?.get("anthropic-ratelimit-requests-remaining")).toBe("0")
    advance(29_000)
    expect((await refusal(request(), "mp/c/2")).headers?.get("retry-after")).toBe("1")
    advance(1_000)
    await send(request(), "mp/c/3")
    expect(server.requests().map(({ status, early }) => [status, early])).toEqual([
      [200, false],
      [200, false],
      [429, false],
      [429, true],
      [200, false]
    ])
  })

  it("charges the input bucket with input and cache writes, never with cache reads", async () => {
    const { send, refusal } = await serveAt({ limits: { inputTokensPerMinute: 3_000 } })
    const cached = [
      { type: "text" as const, text: "c".repeat(8_000), cache_control: { type: "ephemeral" as const } }
    ]
    const written = await send(request(100, cached))
    expect(written.data.usage.cache_creation_input_tokens).toBe(2_008)
    // 2,008 written + the prompt: a second write would not fit, but a read costs the input bucket nothing.
    const read = await send(request(100, cached))
    expect(read.data.usage.cache_read_input_tokens).toBe(2_008)
    const uncached = [{ type: "text" as const, text: "u".repeat(8_000) }]
    expect((await refusal(request(100, uncached))).apiMessage).toContain("of 3,000 input tokens per minute")
  })

  it("charges max_tokens to the output bucket at the start, and refunds the unused part", async () => {
    const { send, refusal, advance } = await serveAt({ limits: { outputTokensPerMinute: 1_000 } })
    const first = await send(request(1_000))
    const used = first.data.usage.output_tokens
    expect(used).toBeGreaterThan(0)
    // Refunded: all but the tokens used is back at once.
    await send(request(1_000 - used))
    const refused = await refusal(request(1_000))
    expect(refused.apiMessage).toContain("of 1,000 output tokens per minute")
    // 2 × used tokens missing, refilled at 1,000 per minute.
    expect(refused.headers?.get("retry-after")).toBe(String(Math.ceil((2 * used * 60) / 1_000)))
    advance(Number(refused.headers?.get("retry-after")) * 1_000)
    await send(request(1_000))
  })
})
