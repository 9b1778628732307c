import { callClassOf, overloadHoldMs, staticLimiter, withOverloadHold } from "@devmatrix/core"
import type { CallClass } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const demand = { inputTokens: 100, outputTokens: 2_048 }

const observation = (atMs: number, callClass: CallClass, retryAfterMs?: number) => ({
  atMs,
  latencyMs: 10,
  class: callClass,
  inFlight: 1,
  ...(retryAfterMs !== undefined ? { rateLimits: { at: atMs, retryAfterMs } } : {})
})

describe("withOverloadHold", () => {
  const policy = withOverloadHold(staticLimiter(5))

  it("holds every start for retry-after after a 529, or overloadHoldMs without one", () => {
    let state = policy.initial(0)
    expect(policy.waitMs(state, demand, 0)).toBe(0)
    state = policy.observe(state, observation(1_000, "overloaded", 7_000)).state
    expect(policy.waitMs(state, demand, 1_000)).toBe(7_000)
    expect(policy.waitMs(state, demand, 8_000)).toBe(0)
    state = policy.observe(state, observation(10_000, "overloaded")).state
    expect(policy.waitMs(state, demand, 10_500)).toBe(overloadHoldMs - 500)
    // A 429 is the atom's own limit, not the provider's overload: no hold.
    state = policy.observe(policy.initial(0), observation(0, "rate_limited", 9_000)).state
    expect(policy.waitMs(state, demand, 0)).toBe(0)
  })

  it("overlapping holds: the one that ends last wins, and the wait is never negative (property)", () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 60_000 }), fc.option(fc.integer({ min: 0, max: 30_000 }))),
          {
            maxLength: 20
          }
        ),
        fc.integer({ min: 0, max: 120_000 }),
        (overloads, nowMs) => {
          let state = policy.initial(0)
          let until = 0
          for (const [atMs, retryAfterMs] of overloads) {
            state = policy.observe(state, observation(atMs, "overloaded", retryAfterMs ?? undefined)).state
            until = Math.max(until, atMs + (retryAfterMs ?? overloadHoldMs))
          }
          expect(policy.waitMs(state, demand, nowMs)).toBe(Math.max(0, until - nowMs))
          expect(policy.limitOf(state)).toBe(5)
        }
      )
    ))

  it("pins and unpins the limit of the policy it wraps, keeping the hold", () => {
    let state = policy.observe(policy.initial(0), observation(0, "overloaded", 1_000)).state
    const pinned = policy.pin(state, 2, 0)
    expect(pinned.change).toEqual({ from: 5, to: 2, reason: "pinned by an operator" })
    state = pinned.state
    expect([policy.limitOf(state), policy.waitMs(state, demand, 0)]).toEqual([2, 1_000])
    expect(policy.pin(state, undefined, 0).change).toEqual({ from: 2, to: 5, reason: "unpinned" })
  })
})

describe("callClassOf", () => {
  it.each([
    [undefined, "success"],
    ["max_tokens", "success"],
    ["refusal", "success"],
    ["validation", "success"],
    ["rate_limited", "rate_limited"],
    ["overloaded", "overloaded"],
    ["timeout", "timeout"],
    ["server_error", "error"],
    ["connection", "error"],
    ["invalid_request", "error"]
  ] as const)("%s is %s", (reason, callClass) => {
    expect(callClassOf(reason)).toBe(callClass)
  })
})
