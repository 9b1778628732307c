import { Schema } from "effect"

/**
 * How a failed model call is retried: exponential backoff from `initialMs`, multiplied by `factor`
 * per retry, capped at `capMs`, spread by ±`jitter`. Only failures classified retryable are retried.
 */
export const RetryPolicy = Schema.Struct({
  /** Retries after the first attempt. @default 4 */
  maxRetries: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 4 }),
  /** Delay before the first retry. @default 5000 */
  initialMs: Schema.optionalWith(Schema.NonNegative, { default: () => 5_000 }),
  /** @default 2 */
  factor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 2 }),
  /** Longest delay between two attempts. @default 120000 */
  capMs: Schema.optionalWith(Schema.NonNegative, { default: () => 120_000 }),
  /** Relative spread of each delay: 0.1 is ±10%. @default 0.1 */
  jitter: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.1 })
})
export type RetryPolicy = typeof RetryPolicy.Type
