import {
  adaptiveLimiter,
  defaultLimiterSettings,
  latencyAimdLimiter,
  parseRateLimitSignal
} from "@devmatrix/core"
import type { AdaptiveLimiterState, CallObservation, LimiterPolicy } from "@devmatrix/core"
import { describe, expect, it } from "vitest"

const t0 = 1_000_000

/** The examples below start where slow start ends, at the initial limit (the ramp has tests of its own). */
const unramped = { rampStartLimit: defaultLimiterSettings.initialLimit }
const success = (atMs: number, latencyMs = 100): CallObservation => ({
  atMs,
  latencyMs,
  class: "success",
  inFlight: 1
})

/** Feeds `count` observations made by `make(i)`, returning the state and every change's reason. */
const feed = <S>(
  limiter: LimiterPolicy<S>,
  state: S,
  count: number,
  make: (i: number) => CallObservation
) => {
  const reasons: Array<string> = []
  for (let i = 0; i < count; i++) {
    const step = limiter.observe(state, make(i))
    state = step.state
    if (step.change) reasons.push(step.change.reason)
  }
  return { state, reasons }
}

describe("adaptiveLimiter: the reasons of its changes", () => {
  it("shrinks on a 429, once per flight, and holds every start for its retry-after", () => {
    const limiter = adaptiveLimiter(unramped)
    const start = limiter.initial(t0)
    const first = limiter.observe(start, {
      atMs: t0 + 500,
      latencyMs: 200,
      class: "rate_limited",
      inFlight: 100,
      rateLimits: { at: t0 + 500, retryAfterMs: 3_000 }
    })
    expect(first.change).toEqual({ from: 100, to: 75, reason: "429 from the provider: x0.75" })
    expect(limiter.waitMs(first.state, { inputTokens: 0, outputTokens: 0 }, t0 + 500)).toBe(3_000)
    // A call started before that shrink met the same overshoot: no second shrink for it.
    const second = limiter.observe(first.state, {
      atMs: t0 + 600,
      latencyMs: 400,
      class: "rate_limited",
      inFlight: 90
    })
    expect(second.change).toBeUndefined()
    // A call started after it is news: shrink again.
    const third = limiter.observe(second.state, {
      atMs: t0 + 900,
      latencyMs: 100,
      class: "rate_limited",
      inFlight: 70
    })
    expect(third.change?.to).toBe(56)
  })

  it("holds every start on a 429 only when its headers show a spent bucket; else the atom waits alone", () => {
    const limiter = adaptiveLimiter(unramped)
    const rateLimited = (remaining: number): CallObservation => ({
      atMs: t0 + 500,
      latencyMs: 200,
      class: "rate_limited",
      inFlight: 100,
      rateLimits: {
        at: t0 + 500,
        retryAfterMs: 2_000,
        requests: { limit: 4_000, remaining },
        inputTokens: { limit: 2_000_000, remaining: 1_500_000 }
      }
    })
    const noDemand = { inputTokens: 0, outputTokens: 0 }
    const spent = limiter.observe(limiter.initial(t0), rateLimited(0))
    expect(limiter.waitMs(spent.state, noDemand, t0 + 500)).toBe(2_000)
    const roomLeft = limiter.observe(limiter.initial(t0), rateLimited(3_000))
    expect(limiter.waitMs(roomLeft.state, noDemand, t0 + 500)).toBe(0)
    expect(roomLeft.change).toEqual({ from: 100, to: 75, reason: "429 from the provider: x0.75" })
  })

  it("follows the headers by Little's law, and names the bucket and rate", () => {
    const limiter = adaptiveLimiter(unramped)
    const at = t0 + 1_000
    const headers = parseRateLimitSignal(
      { "anthropic-ratelimit-requests-limit": "2400", "anthropic-ratelimit-requests-remaining": "2000" },
      at
    )
    const step = limiter.observe(limiter.initial(t0), { ...success(at, 1_000), rateLimits: headers })
    // 2,400 a minute is 0.04 a millisecond; x 1,000 ms x 1.05 headroom = 42.
    expect(step.change).toEqual({
      from: 100,
      to: 42,
      reason: "headers: 42 calls in flight sustain the provider's 2,400 requests/min and 1,000 ms per call"
    })
    // The mirror paces: its 2,000 left are the provider's, and are taken one per start.
    expect(step.state.provider.requests?.tokens).toBe(2_000)
  })

  it("follows a capacity change in the headers at once, not at +5 per cooldown", () => {
    const limiter = adaptiveLimiter(unramped)
    const signal = (limit: number, at: number) =>
      parseRateLimitSignal({ "anthropic-ratelimit-requests-limit": String(limit) }, at)
    let state = limiter.observe(limiter.initial(t0), {
      ...success(t0 + 10, 1_000),
      rateLimits: signal(2_400, t0 + 10)
    }).state
    const up = limiter.observe(state, { ...success(t0 + 20, 1_000), rateLimits: signal(6_000, t0 + 20) })
    expect(up.change?.to).toBe(105)
    state = up.state
    const down = limiter.observe(state, { ...success(t0 + 30, 1_000), rateLimits: signal(1_200, t0 + 30) })
    expect(down.change?.to).toBe(21)
  })

  it("after a 429, lets the headers lower the limit but not raise it for a cooldown", () => {
    const limiter = adaptiveLimiter(unramped)
    const headers = (at: number) => parseRateLimitSignal({ "anthropic-ratelimit-requests-limit": "2400" }, at)
    let state = limiter.observe(limiter.initial(t0), {
      ...success(t0 + 10, 1_000),
      rateLimits: headers(t0 + 10)
    }).state
    expect(state.limit).toBe(42)
    state = limiter.observe(state, { atMs: t0 + 20, latencyMs: 5, class: "rate_limited", inFlight: 42 }).state
    expect(state.limit).toBe(31)
    const within = limiter.observe(state, { ...success(t0 + 5_000, 1_000), rateLimits: headers(t0 + 5_000) })
    expect(within.change).toBeUndefined()
    const after = limiter.observe(state, { ...success(t0 + 10_020, 1_000), rateLimits: headers(t0 + 10_020) })
    expect(after.change?.to).toBe(42)
  })

  it("names the input-token bucket when it binds, at the tokens per call it saw", () => {
    const limiter = adaptiveLimiter(unramped)
    const at = t0 + 1_000
    let state = limiter.reserve(limiter.initial(t0), { inputTokens: 2_000, outputTokens: 500 }, t0)
    state = limiter.refund(
      state,
      { inputTokens: 2_000, outputTokens: 500 },
      { inputTokens: 2_000, outputTokens: 100 },
      at
    )
    const headers = parseRateLimitSignal(
      {
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-input-tokens-limit": "600000",
        "anthropic-ratelimit-output-tokens-limit": "600000",
        // The tightest of the two: not a bucket of its own when both are described.
        "anthropic-ratelimit-tokens-limit": "600000",
        "anthropic-ratelimit-tokens-remaining": "0"
      },
      at
    )
    const step = limiter.observe(state, { ...success(at, 2_000), rateLimits: headers })
    // 600,000 / 60,000 = 10 tokens a ms, / 2,000 per call = 0.005 calls a ms, x 2,000 ms x 1.05 = 11.
    expect(step.change?.reason).toBe(
      "headers: 11 calls in flight sustain the provider's 600,000 input tokens/min at 2,000 per call and 2,000 ms per call"
    )
    expect(step.state.provider.tokens).toBeUndefined()
  })

  it("without headers: +5 after 3 healthy windows, once the cooldown has passed", () => {
    const limiter = adaptiveLimiter(unramped)
    const { state, reasons } = feed(limiter, limiter.initial(t0), 60, (i) => success(t0 + 11_000 + i))
    expect(reasons).toEqual(["3 healthy windows: +5"])
    expect(state.limit).toBe(105)
    // Within the cooldown, healthy windows do not add.
    const early = feed(limiter, limiter.initial(t0), 60, (i) => success(t0 + i))
    expect(early.reasons).toEqual([])
  })

  it("slow start: from 20, the limit doubles per round of answers up to the initial limit", () => {
    const limiter = adaptiveLimiter()
    const start = limiter.initial(t0)
    expect(limiter.limitOf(start)).toBe(20)
    // Answers with the limit in use; within the cooldown, so the fallback adds nothing of its own.
    const { state, reasons } = feed(limiter, start, 140, (i) => ({ ...success(t0 + i), inFlight: 20 }))
    expect(reasons).toEqual([
      "slow start: 20 calls answered: x2",
      "slow start: 40 calls answered: x2",
      "slow start: 80 calls answered: x2"
    ])
    expect(state.limit).toBe(100)
    expect(state.ramping).toBe(false)
  })

  it("slow start ends at the first 429 (x0.75 from where it is) or at the limit the first headers imply", () => {
    const limiter = adaptiveLimiter()
    const ramped = feed(limiter, limiter.initial(t0), 20, (i) => success(t0 + i)).state
    expect(ramped.limit).toBe(40)
    const refusal = { at: t0 + 100, retryAfterMs: 1_000 }
    const refused = limiter.observe(ramped, {
      ...success(t0 + 100),
      class: "rate_limited",
      rateLimits: refusal
    })
    expect(refused.change).toEqual({ from: 40, to: 30, reason: "429 from the provider: x0.75" })
    expect(feed(limiter, refused.state, 200, (i) => success(t0 + 200 + i)).state.limit).toBe(30)
    // Headers whose limit is within the deadband of the ramp's still end it there, at once.
    const headers = parseRateLimitSignal({ "anthropic-ratelimit-requests-limit": "1200" }, t0 + 50)
    const told = limiter.observe(limiter.initial(t0), { ...success(t0 + 50, 1_000), rateLimits: headers })
    expect(told.change?.to).toBe(21)
    expect(told.state.ramping).toBe(false)
  })

  it("without headers: a limit in full use grows +5 per 3 healthy windows without waiting for the cooldown", () => {
    const limiter = adaptiveLimiter(unramped)
    const full = feed(limiter, limiter.initial(t0), 120, (i) => ({ ...success(t0 + i), inFlight: 95 }))
    expect(full.reasons).toEqual(["3 healthy windows: +5", "3 healthy windows: +5"])
    // Not in full use (fewer than 90% of the limit in flight): the cooldown holds.
    const idle = feed(limiter, limiter.initial(t0), 120, (i) => ({ ...success(t0 + i), inFlight: 89 }))
    expect(idle.reasons).toEqual([])
  })

  it("without headers: x0.75 when a window's p95 latency is far over the baseline", () => {
    const limiter = adaptiveLimiter(unramped)
    const calm = feed(limiter, limiter.initial(t0), 20, (i) => success(t0 + 11_000 + i, 100))
    const slow = feed(limiter, calm.state, 20, (i) => success(t0 + 12_000 + i, 400))
    expect(slow.reasons).toEqual(["latency: p95 400 ms is over 1.5x the baseline 100 ms: x0.75"])
    expect(slow.state.limit).toBe(75)
  })

  it("without headers: x0.75 when a window's calls fail", () => {
    const limiter = adaptiveLimiter(unramped)
    const { reasons } = feed(limiter, limiter.initial(t0), 20, (i) =>
      i < 4
        ? { atMs: t0 + 11_000 + i, latencyMs: 30_000, class: "timeout", inFlight: 1 }
        : success(t0 + 11_000 + i)
    )
    expect(reasons).toEqual(["errors: 4 of 20 calls failed: x0.75"])
  })

  it("holds on a 529 without shrinking, with a jitter drawn from its seed, doubling while they repeat", () => {
    const overloaded = (atMs: number): CallObservation => ({
      atMs,
      latencyMs: 50,
      class: "overloaded",
      inFlight: 50
    })
    const holdOf = (seed: number) => {
      const limiter = adaptiveLimiter({ ...unramped, seed })
      const step = limiter.observe(limiter.initial(t0), overloaded(t0))
      expect(step.change).toBeUndefined()
      expect(step.state.limit).toBe(100)
      return {
        limiter,
        state: step.state,
        holdMs: limiter.waitMs(step.state, { inputTokens: 0, outputTokens: 0 }, t0)
      }
    }
    const first = holdOf(7)
    expect(first.holdMs).toBeGreaterThanOrEqual(2_000)
    expect(first.holdMs).toBeLessThan(3_000)
    expect(holdOf(7).holdMs).toBe(first.holdMs)
    const holds = new Set([1, 2, 3, 4, 5].map((seed) => holdOf(seed).holdMs))
    expect(holds.size).toBeGreaterThan(1)
    const again = first.limiter.observe(first.state, overloaded(t0 + first.holdMs))
    const second = first.limiter.waitMs(again.state, { inputTokens: 0, outputTokens: 0 }, t0 + first.holdMs)
    expect(second).toBeGreaterThanOrEqual(4_000)
    expect(again.state.limit).toBe(100)
  })

  it("is pinned by an operator and unpinned, back within its bounds", () => {
    const limiter = adaptiveLimiter(unramped)
    const pinned = limiter.pin(limiter.initial(t0), 4, t0)
    expect(pinned.change).toEqual({ from: 100, to: 4, reason: "pinned by an operator" })
    const after429 = limiter.observe(pinned.state, {
      atMs: t0 + 1,
      latencyMs: 1,
      class: "rate_limited",
      inFlight: 4
    })
    expect(after429.state.limit).toBe(4)
    const unpinned = limiter.pin(after429.state, undefined, t0 + 2)
    expect(unpinned.change).toEqual({ from: 4, to: 10, reason: "unpinned" })
  })
})

describe("adaptiveLimiter: token admission", () => {
  const limiter = adaptiveLimiter({ ...unramped, buckets: { inputTokensPerMinute: 10_000 } })
  const demand = { inputTokens: 6_000, outputTokens: 1_000 }

  it("admits what fits, makes the next wait for the refill, and takes back the unused part", () => {
    let state: AdaptiveLimiterState = limiter.initial(t0)
    expect(limiter.waitMs(state, demand, t0)).toBe(0)
    state = limiter.reserve(state, demand, t0)
    // 4,000 left, 2,000 missing at 10,000 a minute: 12 s.
    expect(limiter.waitMs(state, demand, t0)).toBe(12_000)
    state = limiter.refund(state, demand, { inputTokens: 1_000, outputTokens: 10 }, t0)
    expect(limiter.waitMs(state, demand, t0)).toBe(0)
  })

  it("lets a demand larger than the bucket go alone once the bucket is full", () => {
    let state = limiter.reserve(limiter.initial(t0), { inputTokens: 5_000, outputTokens: 0 }, t0)
    const huge = { inputTokens: 50_000, outputTokens: 0 }
    expect(limiter.waitMs(state, huge, t0)).toBe(30_000)
    state = limiter.reserve(state, huge, t0 + 30_000)
    expect(state.configured.inputTokens?.tokens).toBe(0)
  })

  it("keeps its own account while a rounded header agrees, and resyncs to it when it does not", () => {
    const adaptive = adaptiveLimiter(unramped)
    const at = t0
    const header = (remaining: number) =>
      parseRateLimitSignal(
        {
          "anthropic-ratelimit-input-tokens-limit": "100000",
          "anthropic-ratelimit-input-tokens-remaining": String(remaining)
        },
        at
      )
    let state = adaptive.observe(adaptive.initial(t0), { ...success(at), rateLimits: header(50_000) }).state
    // New: the least "50,000, rounded to the nearest thousand" may be.
    expect(state.provider.inputTokens?.tokens).toBe(49_500)
    state = adaptive.refund(
      state,
      { inputTokens: 300, outputTokens: 0 },
      { inputTokens: 0, outputTokens: 0 },
      at
    )
    // 49,800 is what 50,000 may round from: the mirror's own account stands.
    state = adaptive.observe(state, { ...success(at), rateLimits: header(50_000) }).state
    expect(state.provider.inputTokens?.tokens).toBe(49_800)
    // Someone else spent 20,000: the header proves the mirror wrong, and it takes the least it may be.
    state = adaptive.observe(state, { ...success(at), rateLimits: header(30_000) }).state
    expect(state.provider.inputTokens?.tokens).toBe(29_500)
    // Keeps 1,000 (the rounding) in reserve: 28,500 fit, 28,501 do not.
    expect(adaptive.waitMs(state, { inputTokens: 28_500, outputTokens: 0 }, at)).toBe(0)
    expect(adaptive.waitMs(state, { inputTokens: 28_501, outputTokens: 0 }, at)).toBeGreaterThan(0)
  })
})

describe("latencyAimdLimiter", () => {
  it("adds one per success with half the limit in use, and backs off x0.9 on a drop or a slow call", () => {
    const limiter = latencyAimdLimiter()
    const start = limiter.initial(t0)
    const idle = limiter.observe(start, success(t0, 100))
    expect(idle.change).toBeUndefined()
    const busy = limiter.observe(idle.state, { ...success(t0, 100), inFlight: 10 })
    expect(busy.change).toEqual({
      from: 20,
      to: 21,
      reason: "latency AIMD: a success with half the limit in use: +1"
    })
    const drop = limiter.observe(busy.state, {
      atMs: t0,
      latencyMs: 100,
      class: "rate_limited",
      inFlight: 10
    })
    expect(drop.change).toEqual({ from: 21, to: 18, reason: "latency AIMD: rate_limited: x0.9" })
    const slow = limiter.observe(drop.state, { ...success(t0, 1_000), inFlight: 10 })
    expect(slow.change?.to).toBe(16)
    expect(limiter.waitMs(slow.state, { inputTokens: 1e9, outputTokens: 1e9 }, t0)).toBe(0)
  })
})
