import { classifyModelFailure, parseRetryAfterMs } from "@devmatrix/core"
import type { FailedCall, ModelFailureReason, ModelFailureScope } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const now = Date.UTC(2026, 10, 23, 12, 0, 0)

describe("classifyModelFailure", () => {
  const table: ReadonlyArray<[string, FailedCall, ModelFailureReason, boolean, ModelFailureScope]> = [
    [
      "429 rate_limit_error (ours)",
      { status: 429, errorType: "rate_limit_error" },
      "rate_limited",
      true,
      "atom"
    ],
    [
      "529 overloaded_error (everyone's)",
      { status: 529, errorType: "overloaded_error" },
      "overloaded",
      true,
      "provider"
    ],
    [
      "429 spend limit, as the scripted model says it",
      { status: 429, errorType: "enforced_spend_limit_reached" },
      "spend_limit",
      false,
      "provider"
    ],
    [
      "429 spend limit, as the API says it (error.details.error_code)",
      { status: 429, errorType: "rate_limit_error", errorCode: "enforced_spend_limit_reached" },
      "spend_limit",
      false,
      "provider"
    ],
    [
      "400 spend limit the organisation set itself",
      {
        status: 400,
        errorType: "invalid_request_error",
        message:
          "You have reached your specified API usage limits. You will regain access on 2027-01-01 at 00:00 UTC."
      },
      "spend_limit",
      false,
      "provider"
    ],
    ["500", { status: 500, errorType: "api_error" }, "server_error", true, "atom"],
    ["502", { status: 502 }, "server_error", true, "atom"],
    ["503", { status: 503 }, "server_error", true, "atom"],
    ["504", { status: 504 }, "timeout", true, "atom"],
    ["409 conflict_error", { status: 409, errorType: "conflict_error" }, "conflict", true, "atom"],
    ["connection reset", { code: "ECONNRESET" }, "connection", true, "atom"],
    ["connection aborted", { code: "ECONNABORTED" }, "connection", true, "atom"],
    ["broken pipe", { code: "EPIPE" }, "connection", true, "atom"],
    ["our timeout", { code: "ETIMEDOUT" }, "timeout", true, "atom"],
    ["a 200 that is not a message", { status: 200, message: "malformed" }, "server_error", true, "atom"],
    ["stop_reason max_tokens", { status: 200, stopReason: "max_tokens" }, "max_tokens", true, "atom"],
    ["stop_reason refusal", { status: 200, stopReason: "refusal" }, "refusal", false, "atom"],
    [
      "stop_reason model_context_window_exceeded",
      { status: 200, stopReason: "model_context_window_exceeded" },
      "request_too_large",
      false,
      "atom"
    ],
    [
      "400 invalid request",
      { status: 400, errorType: "invalid_request_error" },
      "invalid_request",
      false,
      "atom"
    ],
    [
      "400 prompt is too long",
      {
        status: 400,
        errorType: "invalid_request_error",
        message: "prompt is too long: 200251 tokens > 200000 maximum"
      },
      "request_too_large",
      false,
      "atom"
    ],
    [
      "413 request_too_large",
      { status: 413, errorType: "request_too_large" },
      "request_too_large",
      false,
      "atom"
    ],
    ["404 not_found_error", { status: 404, errorType: "not_found_error" }, "not_found", false, "atom"],
    ["401", { status: 401 }, "authentication", false, "provider"],
    ["403 permission", { status: 403, errorType: "permission_error" }, "authentication", false, "provider"],
    ["402 billing_error", { status: 402, errorType: "billing_error" }, "billing", false, "provider"],
    ["nothing known", {}, "unknown", false, "atom"]
  ]
  it.each(table)("%s", (_, call, reason, retryable, scope) => {
    const failure = classifyModelFailure(call, now)
    expect(failure.reason).toBe(reason)
    expect(failure.retryable).toBe(retryable)
    expect(failure.scope).toBe(scope)
  })

  it("keeps the status and the provider's retry-after", () => {
    expect(classifyModelFailure({ status: 429, headers: { "retry-after": "7" } }, now)).toMatchObject({
      status: 429,
      retryAfterMs: 7000
    })
  })

  it("drops a retry-after on a failure that is not retried", () => {
    const failure = classifyModelFailure(
      { status: 429, errorCode: "enforced_spend_limit_reached", headers: { "retry-after": "60" } },
      now
    )
    expect(failure.retryAfterMs).toBeUndefined()
  })

  it("names the limit of a request too large", () => {
    expect(
      classifyModelFailure(
        { status: 413, message: "Request exceeds the maximum allowed number of bytes." },
        now
      ).message
    ).toContain("32 MB")
    expect(
      classifyModelFailure(
        { status: 400, message: "prompt is too long: 200251 tokens > 200000 maximum" },
        now
      ).message
    ).toContain("200000 maximum")
  })

  it("classifies every simulated fault of the scripted model as before", () => {
    const simulated: ReadonlyArray<[FailedCall, ModelFailureReason, boolean]> = [
      [{ code: "ECONNRESET" }, "connection", true],
      [{ status: 429, errorType: "rate_limit_error" }, "rate_limited", true],
      [{ status: 529, errorType: "overloaded_error" }, "overloaded", true],
      [{ status: 500, errorType: "api_error" }, "server_error", true],
      [{ code: "ETIMEDOUT" }, "timeout", true],
      [{ status: 400, errorType: "invalid_request_error" }, "invalid_request", false]
    ]
    for (const [call, reason, retryable] of simulated)
      expect(classifyModelFailure(call, now)).toMatchObject({ reason, retryable })
  })

  it("never throws, and is retryable exactly for the transient reasons", () => {
    const transient = new Set([
      "rate_limited",
      "overloaded",
      "server_error",
      "timeout",
      "connection",
      "conflict",
      "max_tokens"
    ])
    fc.assert(
      fc.property(
        fc.record(
          {
            status: fc.integer({ min: 0, max: 700 }),
            errorType: fc.string(),
            errorCode: fc.string(),
            code: fc.constantFrom("ECONNRESET", "ETIMEDOUT", "EPIPE", "X"),
            stopReason: fc.constantFrom("max_tokens", "refusal", "end_turn"),
            message: fc.string(),
            headers: fc.dictionary(fc.string(), fc.string())
          },
          { requiredKeys: [] }
        ),
        (call) => {
          const failure = classifyModelFailure(call, now)
          expect(failure.retryable).toBe(transient.has(failure.reason))
          if (!failure.retryable) expect(failure.retryAfterMs).toBeUndefined()
        }
      )
    )
  })
})

describe("parseRetryAfterMs", () => {
  it("reads seconds, milliseconds and HTTP dates", () => {
    expect(parseRetryAfterMs({ "retry-after": "2" }, now)).toBe(2000)
    expect(parseRetryAfterMs({ "retry-after-ms": "150", "retry-after": "2" }, now)).toBe(150)
    expect(parseRetryAfterMs({ "retry-after": new Date(now + 30_000).toUTCString() }, now)).toBe(30_000)
  })

  it("ignores what it cannot read", () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined()
    expect(parseRetryAfterMs({ "retry-after": "soon" }, now)).toBeUndefined()
    expect(parseRetryAfterMs({ "retry-after": "-3" }, now)).toBeUndefined()
  })
})
