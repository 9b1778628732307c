import { adaptiveLimiter, defaultLimiterSettings, tokenBucket } from "@devmatrix/core"
import type {
  AdaptiveLimiterSettings,
  AdaptiveLimiterState,
  BucketName,
  CallClass,
  CallObservation,
  RateLimitSignal,
  TokenDemand
} from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)

const bucketHeader = fc.record(
  {
    limit: fc.integer({ min: 1, max: 2_000_000 }),
    remaining: fc.integer({ min: 0, max: 2_000_000 }),
    resetAtMs: fc.integer({ min: 0, max: 1e7 })
  },
  { requiredKeys: [] }
)

const signalAt = (atMs: number) =>
  fc
    .record(
      {
        retryAfterMs: fc.integer({ min: 0, max: 120_000 }),
        requests: bucketHeader,
        inputTokens: bucketHeader,
        outputTokens: bucketHeader,
        tokens: bucketHeader
      },
      { requiredKeys: [] }
    )
    .map((signal): RateLimitSignal => ({ at: atMs, ...signal }))

const classes = fc.constantFrom<CallClass>("success", "rate_limited", "overloaded", "timeout", "error")

const demands = fc.record({
  inputTokens: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 5_000_000 })),
  outputTokens: fc.oneof(fc.integer({ min: 0, max: 8_000 }), fc.integer({ min: 0, max: 1_000_000 }))
})

/** One thing that happens to a limiter, `afterMs` after the previous one. */
type Step =
  | {
      readonly op: "end"
      readonly afterMs: number
      readonly observation: Omit<CallObservation, "atMs"> & {
        readonly withHeaders: boolean
        readonly signal: Omit<RateLimitSignal, "at">
      }
    }
  | { readonly op: "admit"; readonly afterMs: number; readonly demand: TokenDemand }
  | { readonly op: "refund"; readonly afterMs: number; readonly which: number; readonly used: TokenDemand }

const steps = fc.array(
  fc.oneof(
    fc.record({
      op: fc.constant("end" as const),
      afterMs: fc.integer({ min: 0, max: 5_000 }),
      observation: fc.record({
        latencyMs: fc.integer({ min: 0, max: 30_000 }),
        class: classes,
        inFlight: fc.integer({ min: 1, max: 600 }),
        withHeaders: fc.boolean(),
        signal: signalAt(0).map(({ at: _at, ...rest }) => rest)
      })
    }),
    fc.record({
      op: fc.constant("admit" as const),
      afterMs: fc.integer({ min: 0, max: 5_000 }),
      demand: demands
    }),
    fc.record({
      op: fc.constant("refund" as const),
      afterMs: fc.integer({ min: 0, max: 5_000 }),
      which: fc.nat(),
      used: demands
    })
  ),
  { maxLength: 80 }
)

const settingsArb = fc
  .record({
    minLimit: fc.integer({ min: 1, max: 60 }),
    span: fc.integer({ min: 0, max: 500 }),
    initialLimit: fc.integer({ min: -10, max: 800 }),
    rampStartLimit: fc.integer({ min: -10, max: 800 }),
    increaseStep: fc.integer({ min: 1, max: 30 }),
    decreaseFactor: fc.double({ min: 0.05, max: 0.99, noNaN: true }),
    cooldownMs: fc.integer({ min: 0, max: 20_000 }),
    windowCalls: fc.integer({ min: 1, max: 30 }),
    seed: fc.integer(),
    withBuckets: fc.boolean(),
    bucketLimit: fc.integer({ min: 1, max: 500_000 })
  })
  .map((s): Partial<AdaptiveLimiterSettings> => ({
    minLimit: s.minLimit,
    maxLimit: s.minLimit + s.span,
    initialLimit: s.initialLimit,
    rampStartLimit: s.rampStartLimit,
    increaseStep: s.increaseStep,
    decreaseFactor: s.decreaseFactor,
    cooldownMs: s.cooldownMs,
    windowCalls: s.windowCalls,
    seed: s.seed,
    ...(s.withBuckets
      ? {
          buckets: {
            requestsPerMinute: s.bucketLimit,
            inputTokensPerMinute: s.bucketLimit * 10,
            tokensPerMinute: s.bucketLimit * 20
          }
        }
      : {})
  }))

const amountOf = (name: BucketName, demand: TokenDemand) =>
  name === "requests"
    ? 1
    : name === "inputTokens"
      ? demand.inputTokens
      : name === "outputTokens"
        ? demand.outputTokens
        : demand.inputTokens + demand.outputTokens

const bucketsOf = (state: AdaptiveLimiterState) =>
  [...Object.entries(state.provider), ...Object.entries(state.configured)] as Array<
    [BucketName, NonNullable<AdaptiveLimiterState["provider"][BucketName]>]
  >

/**
 * Drives a limiter through the steps as a scheduler would: a call is admitted only when `waitMs`
 * is 0 (and fewer than the limit are in flight), then reserved; refunds settle earlier admissions.
 * `check` runs after every step.
 */
const drive = (
  overrides: Partial<AdaptiveLimiterSettings>,
  plan: ReadonlyArray<Step>,
  check: (state: AdaptiveLimiterState, step: Step, before: AdaptiveLimiterState, nowMs: number) => void,
  start?: (state: AdaptiveLimiterState, nowMs: number) => AdaptiveLimiterState
) => {
  const limiter = adaptiveLimiter(overrides)
  let now = 1_000_000
  let state = limiter.initial(now)
  if (start) state = start(state, now)
  const admitted: Array<TokenDemand> = []
  for (const step of plan) {
    now += step.afterMs
    const before = state
    if (step.op === "end") {
      const { withHeaders, signal, ...rest } = step.observation
      state = limiter.observe(state, {
        ...rest,
        atMs: now,
        rateLimits: withHeaders ? { at: now, ...signal } : undefined
      }).state
    } else if (step.op === "admit") {
      const waitMs = limiter.waitMs(state, step.demand, now)
      expect(waitMs).toBeGreaterThanOrEqual(0)
      expect(Number.isFinite(waitMs)).toBe(true)
      if (waitMs === 0 && admitted.length < limiter.limitOf(state)) {
        // Admitted: every bucket holds the demand (or, larger than the bucket, the bucket is full).
        for (const [name, bucket] of bucketsOf(state)) {
          const held = tokenBucket.refill(bucket, now).tokens
          expect(held + 1e-6).toBeGreaterThanOrEqual(Math.min(amountOf(name, step.demand), bucket.capacity))
        }
        state = limiter.reserve(state, step.demand, now)
        admitted.push(step.demand)
      }
    } else if (admitted.length > 0) {
      const [reserved] = admitted.splice(step.which % admitted.length, 1)
      state = limiter.refund(state, reserved!, step.used, now)
    }
    for (const [, bucket] of bucketsOf(state)) {
      expect(bucket.tokens).toBeGreaterThanOrEqual(0)
      expect(bucket.tokens).toBeLessThanOrEqual(bucket.capacity)
    }
    check(state, step, before, now)
  }
  return { limiter, state, now }
}

describe("adaptiveLimiter (properties)", () => {
  it("keeps the limit an integer within [min, max] under any sequence of observations", () => {
    fc.assert(
      fc.property(settingsArb, steps, (overrides, plan) => {
        drive(overrides, plan, (state) => {
          expect(Number.isInteger(state.limit)).toBe(true)
          expect(state.limit).toBeGreaterThanOrEqual(overrides.minLimit!)
          expect(state.limit).toBeLessThanOrEqual(overrides.maxLimit!)
        })
      }),
      { numRuns }
    )
  })

  it("never overdraws a bucket with admitted estimates, through refunds and header resyncs", () => {
    // The check is inside `drive`: each admission finds the demand in every bucket.
    fc.assert(
      fc.property(settingsArb, steps, (overrides, plan) => {
        drive(
          {
            ...overrides,
            buckets: { requestsPerMinute: 50, inputTokensPerMinute: 40_000, outputTokensPerMinute: 8_000 }
          },
          plan,
          () => {}
        )
      }),
      { numRuns }
    )
  })

  it("never lowers the limit for a 529 as it does for a 429, and holds every start after one", () => {
    fc.assert(
      fc.property(settingsArb, steps, fc.integer({ min: 0, max: 30_000 }), (overrides, plan, latencyMs) => {
        const { limiter, state, now } = drive(overrides, plan, () => {})
        const at = now + 1
        const overloaded = limiter.observe(state, { atMs: at, latencyMs, class: "overloaded", inFlight: 1 })
        expect(overloaded.state.limit).toBe(state.limit)
        expect(overloaded.change).toBeUndefined()
        expect(
          limiter.waitMs(overloaded.state, { inputTokens: 0, outputTokens: 0 }, at)
        ).toBeGreaterThanOrEqual(defaultLimiterSettings.overloadHoldMs)
        // The same call answered 429 is our limit: it shrinks when it can.
        const limited = limiter.observe(state, { atMs: at, latencyMs: 0, class: "rate_limited", inFlight: 1 })
        if (
          !state.pinned &&
          state.limit > overrides.minLimit! &&
          Math.floor(state.limit * overrides.decreaseFactor!) < state.limit
        )
          expect(limited.state.limit).toBeLessThan(state.limit)
      }),
      { numRuns }
    )
  })

  it("a 529 with headers never moves the limit for a 429's reason", () => {
    fc.assert(
      fc.property(settingsArb, steps, signalAt(0), (overrides, plan, signal) => {
        const { limiter, state, now } = drive(overrides, plan, () => {})
        const step = limiter.observe(state, {
          atMs: now,
          latencyMs: 10,
          class: "overloaded",
          inFlight: 1,
          rateLimits: { ...signal, at: now }
        })
        expect(step.change?.reason ?? "").not.toMatch(/429/)
      }),
      { numRuns }
    )
  })

  it("holds a pinned limit against any observations", () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 1, max: 1_000 }), steps, (overrides, pinned, plan) => {
        const pin = (state: AdaptiveLimiterState, nowMs: number) =>
          adaptiveLimiter(overrides).pin(state, pinned, nowMs).state
        drive(overrides, plan, (state) => expect(state.limit).toBe(pinned), pin)
      }),
      { numRuns }
    )
  })

  it("says a wait that is never negative nor Infinity, and after which a demand larger than a bucket goes", () => {
    fc.assert(
      fc.property(settingsArb, steps, demands, (overrides, plan, demand) => {
        const { limiter, state, now } = drive(overrides, plan, () => {})
        const waitMs = limiter.waitMs(state, demand, now)
        expect(waitMs).toBeGreaterThanOrEqual(0)
        expect(Number.isFinite(waitMs)).toBe(true)
        expect(limiter.waitMs(state, demand, now + waitMs)).toBe(0)
      }),
      { numRuns }
    )
  })
})
