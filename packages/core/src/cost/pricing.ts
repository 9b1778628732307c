import { defaultPriceTable } from "./defaultPriceTable.js"
import { nanosPerToken, usdOfNanos } from "./money.js"
import { findModelPrice } from "./PriceTable.js"
import type { LongContextPrice, ModelPrice } from "./PriceTable.js"

/**
 * Tokens a call was billed for, as the provider reports them. Cache writes come split by TTL
 * (`cacheWrite5mTokens`, `cacheWrite1hTokens`) when the provider says so; `cacheWriteTokens` is
 * the total (`cache_creation_input_tokens`), and the part of it not reported as 1-hour is priced
 * as 5-minute writes (the default TTL).
 */
export interface TokenUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheWriteTokens?: number
  readonly cacheWrite5mTokens?: number
  readonly cacheWrite1hTokens?: number
  readonly cacheReadTokens?: number
}

/** The cost of one call by token kind, in USD; `total` is exactly their sum (see `money.ts`). */
export interface CostBreakdown {
  readonly input: number
  readonly output: number
  readonly cacheWrite5m: number
  readonly cacheWrite1h: number
  readonly cacheRead: number
  readonly total: number
}

type Rates = Omit<LongContextPrice, "aboveInputTokens">

/** The rates in force for a prompt of `promptTokens`: the long-context ones above their threshold. */
export const ratesFor = (price: ModelPrice, promptTokens: number): Rates =>
  price.longContext !== undefined && promptTokens > price.longContext.aboveInputTokens
    ? price.longContext
    : price

const tokensByKind = (usage: TokenUsage) => {
  const cacheWrite1h = usage.cacheWrite1hTokens ?? 0
  const cacheWrite5m = usage.cacheWrite5mTokens ?? Math.max(0, (usage.cacheWriteTokens ?? 0) - cacheWrite1h)
  return {
    input: usage.inputTokens,
    output: usage.outputTokens,
    cacheWrite5m,
    cacheWrite1h,
    cacheRead: usage.cacheReadTokens ?? 0
  }
}

/** The cost of one call by token kind in whole nano-dollars, for sums that must be exact. */
export const costBreakdownNanos = (price: ModelPrice, usage: TokenUsage): CostBreakdown => {
  const tokens = tokensByKind(usage)
  const rates = ratesFor(price, tokens.input + tokens.cacheWrite5m + tokens.cacheWrite1h + tokens.cacheRead)
  const input = tokens.input * nanosPerToken(rates.inputPerMTok)
  const output = tokens.output * nanosPerToken(rates.outputPerMTok)
  const cacheWrite5m = tokens.cacheWrite5m * nanosPerToken(rates.cacheWrite5mPerMTok)
  const cacheWrite1h = tokens.cacheWrite1h * nanosPerToken(rates.cacheWrite1hPerMTok)
  const cacheRead = tokens.cacheRead * nanosPerToken(rates.cacheReadPerMTok)
  return {
    input,
    output,
    cacheWrite5m,
    cacheWrite1h,
    cacheRead,
    total: input + output + cacheWrite5m + cacheWrite1h + cacheRead
  }
}

/**
 * The cost of one call by token kind, in USD. A prompt above the model's long-context threshold
 * (input, cache writes and reads together) is priced at the long-context rates, output included.
 *
 * @example
 * costBreakdown(findModelPrice(defaultPriceTable, "claude-sonnet-5-5")!, { inputTokens: 1000, outputTokens: 200 })
 * // { input: 0.002, output: 0.002, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, total: 0.004 }
 */
export const costBreakdown = (price: ModelPrice, usage: TokenUsage): CostBreakdown => {
  const nanos = costBreakdownNanos(price, usage)
  return {
    input: usdOfNanos(nanos.input),
    output: usdOfNanos(nanos.output),
    cacheWrite5m: usdOfNanos(nanos.cacheWrite5m),
    cacheWrite1h: usdOfNanos(nanos.cacheWrite1h),
    cacheRead: usdOfNanos(nanos.cacheRead),
    total: usdOfNanos(nanos.total)
  }
}

/** The cost in USD of one call's usage at a model's price. */
export const costOfUsage = (price: ModelPrice, usage: TokenUsage): number =>
  usdOfNanos(costBreakdownNanos(price, usage).total)

/**
 * The most a call can cost, in USD, before it is made: `estimatedInputTokens` priced at the highest
 * input-side rate that may apply (a cache write, 5-minute or 1-hour, costs more than plain input,
 * and the request may write the cache) and `maxTokens` of output; both at the long-context rates
 * when the estimate is above the model's threshold.
 */
export const worstCaseUsd = (price: ModelPrice, estimatedInputTokens: number, maxTokens: number): number => {
  const rates = ratesFor(price, estimatedInputTokens)
  const inputRate = Math.max(rates.inputPerMTok, rates.cacheWrite5mPerMTok, rates.cacheWrite1hPerMTok)
  return usdOfNanos(
    estimatedInputTokens * nanosPerToken(inputRate) + maxTokens * nanosPerToken(rates.outputPerMTok)
  )
}

const scripted = findModelPrice(defaultPriceTable, "scripted")!

/**
 * The cost in USD of one call's usage, by model name in the default price table; a name the table
 * lacks is priced as `scripted` (the current Sonnet), as before prices were data.
 *
 * @deprecated Kept for the callers not yet moved to the price table. Look the price up once with
 * `findModelPrice`, refuse an unknown model at start with `unknownModelMessage`, and use
 * `costOfUsage`: the new API never prices a model by a guess.
 */
export const costOf = (model: string, usage: TokenUsage): number =>
  costOfUsage(findModelPrice(defaultPriceTable, model) ?? scripted, usage)
