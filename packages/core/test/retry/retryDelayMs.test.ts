import { RetryPolicy, retryDelayMs } from "@devmatrix/core"
import type { ModelFailure } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const transient: ModelFailure = { reason: "server_error", retryable: true, message: "HTTP 500" }
const refused: ModelFailure = { reason: "validation", retryable: true, message: "placeholder" }

const delays = (policy: RetryPolicy, failures: ReadonlyArray<ModelFailure>, jitterKey = "mp/a") =>
  failures.map((failure, i) => retryDelayMs(policy, { retry: i + 1, failure, jitterKey }))

describe("retryDelayMs", () => {
  it("backs off exponentially from 5 s by default, capped", () => {
    const policy = RetryPolicy.make({ jitter: 0, capMs: 30_000 })
    expect(delays(policy, Array(6).fill(transient))).toEqual([5_000, 10_000, 20_000, 30_000, 30_000, 30_000])
  })

  it("sends a refused output back at once, and counts it as a step", () => {
    const policy = RetryPolicy.make({ initialMs: 1_000, jitter: 0 })
    expect(delays(policy, [refused, transient, transient])).toEqual([0, 2_000, 4_000])
  })

  it("waits at least the provider's retry-after, even above the cap", () => {
    const policy = RetryPolicy.make({ jitter: 0, capMs: 10_000 })
    expect(
      delays(policy, [
        { ...transient, retryAfterMs: 42_000 },
        { ...transient, retryAfterMs: 1 }
      ])
    ).toEqual([42_000, 10_000])
  })

  it("draws the same jitter for the same atom and retry, and different ones for different atoms", () => {
    const policy = RetryPolicy.make({ jitter: 0.5 })
    const failures = Array(4).fill(transient)
    expect(delays(policy, failures, "mp/a")).toEqual(delays(policy, failures, "mp/a"))
    const firsts = new Set(Array.from({ length: 50 }, (_, i) => delays(policy, [transient], `mp/a${i}`)[0]))
    expect(firsts.size).toBeGreaterThan(40)
  })

  it("property: whole milliseconds, within ±jitter of the capped exponential, never below retry-after", () => {
    fc.assert(
      fc.property(
        fc.record({
          initialMs: fc.integer({ min: 0, max: 100_000 }),
          factor: fc.double({ min: 1, max: 10, noNaN: true }),
          capMs: fc.integer({ min: 0, max: 1_000_000 }),
          jitter: fc.double({ min: 0, max: 1, noNaN: true })
        }),
        // Far enough along for the exponential to overflow (then the cap decides).
        fc.integer({ min: 1, max: 2_000 }),
        fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
        fc.string(),
        (fields, retry, retryAfterMs, jitterKey) => {
          const policy = RetryPolicy.make(fields)
          const failure = retryAfterMs === undefined ? transient : { ...transient, retryAfterMs }
          const delay = retryDelayMs(policy, { retry, failure, jitterKey })
          expect(Number.isInteger(delay)).toBe(true)
          expect(delay).toBeGreaterThanOrEqual(retryAfterMs ?? 0)
          const growth = Math.min(Number.MAX_VALUE, fields.factor ** (retry - 1))
          const base = Math.min(Number.MAX_VALUE, fields.initialMs * growth)
          const low = Math.min(fields.capMs, base * (1 - fields.jitter))
          const high = Math.min(fields.capMs, base * (1 + fields.jitter))
          expect(delay).toBeGreaterThanOrEqual(Math.floor(low))
          expect(delay).toBeLessThanOrEqual(Math.max(Math.ceil(high), Math.ceil(retryAfterMs ?? 0)))
        }
      ),
      { numRuns: Number(process.env.DEVMATRIX_PROPERTY_RUNS) || 500 }
    )
  })
})
