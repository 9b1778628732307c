import { describe, expect, it } from "vitest"
import { classifyModelFailure } from "../../src/retry/classifyModelFailure.js"
import { overloadHoldMs, providerReactionTo } from "../../src/retry/providerReaction.js"

const now = 1_000_000

describe("providerReactionTo", () => {
  it("fails the plan on a refused key or account, pauses it on the spend limit, holds it on an overload", () => {
    const reactionTo = (call: Parameters<typeof classifyModelFailure>[0]) =>
      providerReactionTo(classifyModelFailure(call, now))
    const refused = reactionTo({ status: 401, errorType: "authentication_error" })
    expect(refused?._tag).toBe("fail")
    expect(refused?._tag === "fail" && refused.reason).toMatch(/authentication/)
    expect(reactionTo({ status: 402, errorType: "billing_error" })?._tag).toBe("fail")
    const spent = reactionTo({
      status: 429,
      errorType: "rate_limit_error",
      errorCode: "enforced_spend_limit_reached"
    })
    expect(spent?._tag).toBe("pause")
    expect(spent?._tag === "pause" && spent.reason).toMatch(/spend limit/)
    expect(reactionTo({ status: 529, errorType: "overloaded_error" })).toEqual({
      _tag: "hold",
      ms: overloadHoldMs
    })
    expect(
      reactionTo({ status: 529, errorType: "overloaded_error", headers: { "retry-after": "7" } })
    ).toEqual({
      _tag: "hold",
      ms: 7_000
    })
  })

  it("leaves the atom's own failures to its retry policy", () => {
    for (const call of [
      { status: 429, errorType: "rate_limit_error" },
      { status: 500, errorType: "api_error" },
      { status: 400, errorType: "invalid_request_error" },
      { code: "ECONNRESET" }
    ])
      expect(providerReactionTo(classifyModelFailure(call, now)), JSON.stringify(call)).toBeUndefined()
  })
})
