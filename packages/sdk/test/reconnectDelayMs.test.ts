import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { reconnectDelayMs } from "../src/internal/reconnectDelayMs.js"

/** More runs: `DEVMATRIX_PROPERTY_RUNS=5000 npx vitest run ...`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const policy = { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity }

describe("reconnectDelayMs", () => {
  it("doubles from initialDelayMs up to maxDelayMs, without jitter", () => {
    const delays = Array.from({ length: 10 }, (_, attempt) =>
      reconnectDelayMs({ ...policy, jitter: 0 }, attempt, 0.7)
    )
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000])
  })

  it("takes up to `jitter` of the delay off, by the draw", () => {
    expect(reconnectDelayMs(policy, 0, 0)).toBe(100)
    expect(reconnectDelayMs(policy, 0, 0.5)).toBe(75)
    expect(reconnectDelayMs(policy, 3, 0.999)).toBe(401)
  })

  it("property: a whole number of ms within [cap * (1 - jitter), cap], where cap grows with the attempt to maxDelayMs", () => {
    fc.assert(
      fc.property(
        fc.record({
          initialDelayMs: fc.double({ min: 0.001, max: 86_400_000, noNaN: true }),
          maxDelayMs: fc.double({ min: 0.001, max: 86_400_000, noNaN: true }),
          factor: fc.double({ min: 1, max: 100, noNaN: true }),
          jitter: fc.double({ min: 0, max: 1, noNaN: true }),
          maxAttempts: fc.constant(Infinity)
        }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (p, attempt, random) => {
          const delay = reconnectDelayMs(p, attempt, random)
          const cap = Math.min(p.maxDelayMs, p.initialDelayMs * p.factor ** attempt)
          expect(Number.isInteger(delay)).toBe(true)
          expect(delay).toBeLessThanOrEqual(Math.ceil(cap))
          expect(delay).toBeGreaterThanOrEqual(Math.floor(cap * (1 - p.jitter)))
          expect(reconnectDelayMs({ ...p, jitter: 0 }, attempt + 1, random)).toBeGreaterThanOrEqual(
            reconnectDelayMs({ ...p, jitter: 0 }, attempt, random)
          )
        }
      ),
      { numRuns }
    )
  })
})
