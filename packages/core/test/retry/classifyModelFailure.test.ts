import { classifyModelFailure, parseRetryAfterMs } from "@devmatrix/core"
import type { FailedCall, ModelFailureReason } from "@devmatrix/core"
import { describe, expect, it } from "vitest"

const now = Date.UTC(2026, 10, 23, 12, 0, 0)

describe("classifyModelFailure", () => {
  const table: ReadonlyArray<[string, FailedCall, ModelFailureReason, boolean]> = [
    ["429 rate_limit_error (ours)", { status: 429, errorType: "rate_limit_error" }, "rate_limited", true],
    ["529 overloaded_error (everyone's)", { status: 529, errorType: "overloaded_error" }, "overloaded", true],
    [
      "429 spend limit (terminal)",
      { status: 429, errorType: "enforced_spend_limit_reached" },
      "spend_limit",
      false
    ],
    ["500", { status: 500 }, "server_error", true],
    ["503", { status: 503 }, "server_error", true],
    ["504", { status: 504 }, "timeout", true],
    ["connection reset", { code: "ECONNRESET" }, "connection", true],
    ["connection aborted", { code: "ECONNABORTED" }, "connection", true],
    ["broken pipe", { code: "EPIPE" }, "connection", true],
    ["our timeout", { code: "ETIMEDOUT" }, "timeout", true],
    ["400 invalid request", { status: 400, errorType: "invalid_request_error" }, "invalid_request", false],
    ["401", { status: 401 }, "authentication", false],
    ["403 permission", { status: 403, errorType: "permission_error" }, "authentication", false],
    ["nothing known", {}, "unknown", false]
  ]
  it.each(table)("%s", (_, call, reason, retryable) => {
    const failure = classifyModelFailure(call, now)
    expect(failure.reason).toBe(reason)
    expect(failure.retryable).toBe(retryable)
  })

  it("keeps the status and the provider's retry-after", () => {
    expect(classifyModelFailure({ status: 429, headers: { "retry-after": "7" } }, now)).toMatchObject({
      status: 429,
      retryAfterMs: 7000
    })
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
