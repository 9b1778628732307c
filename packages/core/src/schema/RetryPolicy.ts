import { Schema } from "effect"
import { maxRetries, maxRetryFactor } from "./inputLimits.js"
import { DurationMs, numberIn } from "./PlanNumber.js"

/**
 * How a failed model call is retried: exponential backoff from `initialMs`, multiplied by `factor`
 * per retry, capped at `capMs`, spread by ±`jitter`. Only failures classified retryable are retried.
 * Delays are at most a day (`maxDurationMs`).
 */
export const RetryPolicy = Schema.Struct({
  /** Retries after the first attempt, at most `maxRetries`. @default 4 */
  maxRetries: Schema.optionalWith(numberIn(0, maxRetries, { int: true }), { default: () => 4 }),
  /** Delay before the first retry. @default 5000 */
  initialMs: Schema.optionalWith(DurationMs, { default: () => 5_000 }),
  /** From 1 to `maxRetryFactor`. @default 2 */
  factor: Schema.optionalWith(numberIn(1, maxRetryFactor), { default: () => 2 }),
  /** Longest delay between two attempts. @default 120000 */
  capMs: Schema.optionalWith(DurationMs, { default: () => 120_000 }),
  /** Relative spread of each delay: 0.1 is ±10%. @default 0.1 */
  jitter: Schema.optionalWith(numberIn(0, 1), { default: () => 0.1 })
})
export type RetryPolicy = typeof RetryPolicy.Type
