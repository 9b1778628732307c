import { tokenBucket } from "@devmatrix/core"
import type { TokenBucket } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

type Step =
  | { readonly op: "take"; readonly amount: number; readonly afterMs: number }
  | { readonly op: "refund"; readonly amount: number; readonly afterMs: number }
  | { readonly op: "wait"; readonly amount: number; readonly afterMs: number }

const specs = fc.record({
  capacity: fc.integer({ min: 1, max: 2_000_000 }),
  perMinute: fc.boolean(),
  refillPerMs: fc.double({ min: 1e-6, max: 1_000, noNaN: true })
})

const steps = fc.array(
  fc.record({
    op: fc.constantFrom<Step["op"]>("take", "refund", "wait"),
    amount: fc.double({ min: 0, max: 3_000_000, noNaN: true }),
    afterMs: fc.integer({ min: 0, max: 120_000 })
  }),
  { maxLength: 60 }
)

const bucketOf = (spec: { capacity: number; perMinute: boolean; refillPerMs: number }, nowMs: number) =>
  spec.perMinute
    ? tokenBucket.perMinute(spec.capacity, nowMs)
    : tokenBucket.full({ capacity: spec.capacity, refillPerMs: spec.refillPerMs }, nowMs)

/** Runs the steps, checking the invariants after each; returns the last bucket and time. */
const run = (start: TokenBucket, plan: ReadonlyArray<Step>) => {
  let bucket = start
  let now = start.updatedAtMs
  for (const step of plan) {
    now += step.afterMs
    if (step.op === "take") {
      const amount = Math.min(step.amount, bucket.capacity)
      bucket = tokenBucket.take(bucket, amount, now) ?? bucket
    } else if (step.op === "refund") bucket = tokenBucket.refund(bucket, step.amount, now)
    else {
      // Waiting what timeUntil says is always enough.
      const amount = Math.min(bucket.capacity, step.amount % (bucket.capacity + 1))
      const waitMs = tokenBucket.timeUntil(bucket, amount, now)
      expect(Number.isFinite(waitMs)).toBe(true)
      now += waitMs
      const taken = tokenBucket.take(bucket, amount, now)
      expect(taken).toBeDefined()
      bucket = taken!
    }
    expect(bucket.tokens).toBeGreaterThanOrEqual(0)
    expect(bucket.tokens).toBeLessThanOrEqual(bucket.capacity)
  }
  return { bucket, now }
}

describe("tokenBucket", () => {
  it("never holds fewer than 0 or more than its capacity, and timeUntil(n) then take(n) succeeds", () => {
    fc.assert(
      fc.property(specs, fc.integer({ min: 0, max: 1e12 }), steps, (spec, start, plan) => {
        run(bucketOf(spec, start), plan)
      })
    )
  })

  it("refills monotonically: later never holds fewer tokens", () => {
    fc.assert(
      fc.property(
        specs,
        steps,
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (spec, plan, a, b) => {
          const { bucket, now } = run(bucketOf(spec, 0), plan)
          const [early, late] = a <= b ? [a, b] : [b, a]
          expect(tokenBucket.refill(bucket, now + late).tokens).toBeGreaterThanOrEqual(
            tokenBucket.refill(bucket, now + early).tokens
          )
        }
      )
    )
  })

  it("refuses what it does not hold, and takes nothing then", () => {
    const bucket = tokenBucket.perMinute(60, 0)
    const empty = tokenBucket.take(bucket, 60, 0)!
    expect(empty.tokens).toBe(0)
    expect(tokenBucket.take(empty, 1, 500)).toBeUndefined()
    expect(tokenBucket.timeUntil(empty, 1, 0)).toBe(1_000)
    expect(tokenBucket.take(empty, 1, 1_000)?.tokens).toBeCloseTo(0, 9)
  })

  it("says Infinity for more than the capacity, and counts the time until full", () => {
    const bucket = tokenBucket.perMinute(600, 0)
    expect(tokenBucket.timeUntil(bucket, 601, 0)).toBe(Number.POSITIVE_INFINITY)
    const half = tokenBucket.take(bucket, 300, 0)!
    expect(tokenBucket.timeUntilFull(half, 0)).toBe(30_000)
    expect(tokenBucket.timeUntilFull(half, 30_000)).toBe(0)
  })

  it("refunds up to the capacity, and a clock that steps back changes nothing", () => {
    const bucket = tokenBucket.take(tokenBucket.perMinute(100, 1_000), 80, 1_000)!
    expect(tokenBucket.refund(bucket, 500, 1_000).tokens).toBe(100)
    expect(tokenBucket.refund(bucket, 30, 1_000).tokens).toBe(50)
    expect(tokenBucket.refill(bucket, 0)).toEqual(bucket)
  })
})
