import { parseRateLimitSignal } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const now = Date.UTC(2026, 11, 1, 12, 0, 0)

describe("parseRateLimitSignal", () => {
  it("reads every bucket and retry-after, names in any case", () => {
    const signal = parseRateLimitSignal(
      {
        "Retry-After": "3",
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-12-01T12:00:03Z",
        "anthropic-ratelimit-tokens-limit": "100000",
        "anthropic-ratelimit-tokens-remaining": "91000",
        "anthropic-ratelimit-tokens-reset": "2026-12-01T12:00:06Z",
        "ANTHROPIC-RATELIMIT-INPUT-TOKENS-LIMIT": "80000",
        "anthropic-ratelimit-input-tokens-remaining": "79000",
        "anthropic-ratelimit-input-tokens-reset": "2026-12-01T12:00:01Z",
        "anthropic-ratelimit-output-tokens-limit": "16000",
        "anthropic-ratelimit-output-tokens-remaining": "12000",
        "anthropic-ratelimit-output-tokens-reset": "2026-12-01T12:00:15Z",
        "content-type": "application/json"
      },
      now
    )
    expect(signal).toEqual({
      at: now,
      retryAfterMs: 3000,
      requests: { limit: 50, remaining: 0, resetAtMs: now + 3000 },
      tokens: { limit: 100000, remaining: 91000, resetAtMs: now + 6000 },
      inputTokens: { limit: 80000, remaining: 79000, resetAtMs: now + 1000 },
      outputTokens: { limit: 16000, remaining: 12000, resetAtMs: now + 15000 }
    })
  })

  it("leaves absent buckets absent and ignores unreadable values", () => {
    const signal = parseRateLimitSignal(
      {
        "anthropic-ratelimit-requests-limit": "fifty",
        "anthropic-ratelimit-requests-remaining": "7",
        "anthropic-ratelimit-requests-reset": "soon",
        "anthropic-ratelimit-tokens-limit": "",
        "anthropic-ratelimit-output-tokens-limit": "-5"
      },
      now
    )
    expect(signal).toEqual({ at: now, requests: { remaining: 7 } })
  })

  it("is undefined for a response without rate-limit headers", () => {
    expect(parseRateLimitSignal({ "content-type": "application/json" }, now)).toBeUndefined()
    expect(parseRateLimitSignal({}, now)).toBeUndefined()
  })

  it("keeps a header named like an Object.prototype key a header", () => {
    expect(parseRateLimitSignal({ ["__proto__"]: "x", constructor: "y" }, now)).toBeUndefined()
  })

  it("never throws on arbitrary header maps, and every number it reports is finite and non-negative", () => {
    const names = fc.oneof(
      fc.string(),
      fc.constantFrom(
        "retry-after",
        "retry-after-ms",
        ...["requests", "tokens", "input-tokens", "output-tokens"].flatMap((bucket) =>
          ["limit", "remaining", "reset"].map((field) => `anthropic-ratelimit-${bucket}-${field}`)
        )
      )
    )
    const values = fc.oneof(
      fc.string(),
      fc.integer().map(String),
      fc.date().map((date) => date.toISOString())
    )
    fc.assert(
      fc.property(fc.dictionary(names, fc.option(values, { nil: undefined })), (headers) => {
        const signal = parseRateLimitSignal(headers, now)
        if (signal === undefined) return
        expect(signal.at).toBe(now)
        for (const bucket of [signal.requests, signal.tokens, signal.inputTokens, signal.outputTokens])
          for (const value of [bucket?.limit, bucket?.remaining])
            if (value !== undefined) expect(Number.isFinite(value) && value >= 0).toBe(true)
        if (signal.retryAfterMs !== undefined) expect(signal.retryAfterMs).toBeGreaterThanOrEqual(0)
      })
    )
  })
})
