import {
  costBreakdown,
  costBreakdownNanos,
  costOf,
  costOfUsage,
  defaultPriceTable,
  findModelPrice,
  nanosPerToken,
  usdOfNanos,
  worstCaseUsd
} from "@devmatrix/core"
import type { ModelPrice, TokenUsage } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)
const priceOf = (id: string): ModelPrice => findModelPrice(defaultPriceTable, id)!
const sonnet45 = priceOf("claude-sonnet-4-5")
const haiku55 = priceOf("claude-haiku-5-5")

const anyModel = fc.constantFrom(...defaultPriceTable.models)
const tokens = fc.integer({ min: 0, max: 400_000 })
const anyUsage: fc.Arbitrary<TokenUsage> = fc.record(
  {
    inputTokens: tokens,
    outputTokens: fc.integer({ min: 0, max: 128_000 }),
    cacheWriteTokens: tokens,
    cacheWrite5mTokens: tokens,
    cacheWrite1hTokens: tokens,
    cacheReadTokens: tokens
  },
  { requiredKeys: ["inputTokens", "outputTokens"] }
)

/** The bill as the provider computes it: tokens x price per token, in exact integers (BigInt). */
const billedNanos = (price: ModelPrice, usage: TokenUsage): bigint => {
  const oneHour = usage.cacheWrite1hTokens ?? 0
  const fiveMin = usage.cacheWrite5mTokens ?? Math.max(0, (usage.cacheWriteTokens ?? 0) - oneHour)
  const read = usage.cacheReadTokens ?? 0
  const long = price.longContext
  const rates =
    long !== undefined && usage.inputTokens + fiveMin + oneHour + read > long.aboveInputTokens ? long : price
  const at = (n: number, usdPerMTok: number) => BigInt(n) * BigInt(Math.round(usdPerMTok * 1000))
  return (
    at(usage.inputTokens, rates.inputPerMTok) +
    at(usage.outputTokens, rates.outputPerMTok) +
    at(fiveMin, rates.cacheWrite5mPerMTok) +
    at(oneHour, rates.cacheWrite1hPerMTok) +
    at(read, rates.cacheReadPerMTok)
  )
}

describe("costBreakdown", () => {
  it("prices each token kind at the model's own rate", () => {
    expect(
      costBreakdown(priceOf("claude-sonnet-5-5"), {
        inputTokens: 1_000_000,
        outputTokens: 100_000,
        cacheWrite5mTokens: 1_000_000,
        cacheWrite1hTokens: 500_000,
        cacheReadTokens: 2_000_000
      })
    ).toEqual({ input: 2, output: 1, cacheWrite5m: 2.5, cacheWrite1h: 2, cacheRead: 0.2, total: 7.7 })
  })

  it("prices cache writes of unknown TTL as 5-minute writes, and the rest of a total not reported as 1-hour", () => {
    const price = priceOf("claude-haiku-4-5")
    expect(
      costBreakdown(price, { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 1_000_000 })
    ).toMatchObject({
      cacheWrite5m: 1.25,
      cacheWrite1h: 0
    })
    expect(
      costBreakdown(price, {
        inputTokens: 0,
        outputTokens: 0,
        cacheWriteTokens: 1_000_000,
        cacheWrite1hTokens: 400_000
      })
    ).toMatchObject({ cacheWrite5m: 0.75, cacheWrite1h: 0.8 })
  })

  it("switches every token of a request to the long-context rates above the threshold, prompt counted whole", () => {
    const at = (inputTokens: number, cacheReadTokens = 0) =>
      costBreakdown(sonnet45, { inputTokens, outputTokens: 1_000_000, cacheReadTokens })
    expect(at(200_000)).toMatchObject({ input: 0.6, output: 15 })
    expect(at(200_001)).toMatchObject({ input: 1.200006, output: 22.5 })
    expect(at(100_000, 100_001)).toMatchObject({ input: 0.6, output: 22.5, cacheRead: 0.0600006 })
    expect(costBreakdown(haiku55, { inputTokens: 100_001, outputTokens: 0 }).input).toBe(0.0500005)
    expect(costBreakdown(haiku55, { inputTokens: 100_000, outputTokens: 0 }).input).toBe(0.01)
  })

  it("is tokens x price to the nano-dollar, and a run's sum has no drift (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyModel, anyUsage), { maxLength: 200 }), (calls) => {
        let run = 0
        let truth = 0n
        for (const [price, usage] of calls) {
          const nanos = costBreakdownNanos(price, usage)
          expect(BigInt(nanos.total)).toBe(billedNanos(price, usage))
          expect(costOfUsage(price, usage)).toBe(usdOfNanos(nanos.total))
          run += nanos.total
          truth += billedNanos(price, usage)
        }
        expect(BigInt(run)).toBe(truth)
      }),
      { numRuns }
    )
  })
})

describe("worstCaseUsd", () => {
  it("prices the estimate at the dearest input-side rate and max_tokens of output", () => {
    const sonnet = priceOf("claude-sonnet-5-5")
    // 1-hour cache writes ($4) are the dearest input-side rate; output $10.
    expect(worstCaseUsd(sonnet, 1_000_000, 100_000)).toBe(4 + 1)
    expect(worstCaseUsd(haiku55, 100_001, 0)).toBe(usdOfNanos(100_001 * nanosPerToken(1)))
  })

  it("is never below what the call can cost within its estimate and max_tokens (property)", () => {
    fc.assert(
      fc.property(anyModel, anyUsage, (price, usage) => {
        const oneHour = usage.cacheWrite1hTokens ?? 0
        const fiveMin = usage.cacheWrite5mTokens ?? Math.max(0, (usage.cacheWriteTokens ?? 0) - oneHour)
        const prompt = usage.inputTokens + fiveMin + oneHour + (usage.cacheReadTokens ?? 0)
        expect(worstCaseUsd(price, prompt, usage.outputTokens)).toBeGreaterThanOrEqual(
          costOfUsage(price, usage)
        )
      }),
      { numRuns }
    )
  })
})

describe("costOf (by model name, for the callers not yet moved to the price table)", () => {
  it("prices the default table's models and scripted", () => {
    const usage = { inputTokens: 1_000, outputTokens: 500, cacheWriteTokens: 100, cacheReadTokens: 1_000 }
    expect(costOf("scripted", usage)).toBe(costOfUsage(priceOf("claude-sonnet-5-5"), usage))
    expect(costOf("claude-haiku-4-5-20251001", usage)).toBe(costOfUsage(priceOf("claude-haiku-4-5"), usage))
  })

  it("prices a name the table lacks as scripted, as it did before prices were data", () => {
    const usage = { inputTokens: 1_000, outputTokens: 500 }
    expect(costOf("__proto__", usage)).toBe(costOf("scripted", usage))
  })
})
