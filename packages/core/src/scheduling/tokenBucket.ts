/**
 * A continuous token bucket as plain data: `tokens` refill at `refillPerMs` up to `capacity`, and
 * are brought up to date lazily, from the time a caller passes in (core reads no clock). This is
 * how a provider's per-minute limits behave (PROVIDER-FACTS.md): replenished continuously, not
 * reset once a minute.
 */
export interface TokenBucket {
  /** The most tokens the bucket holds: a per-minute limit. */
  readonly capacity: number
  /** Tokens added per millisecond: `capacity / 60_000` for a per-minute limit. */
  readonly refillPerMs: number
  /** Tokens held at `updatedAtMs`; never negative, never above `capacity`. */
  readonly tokens: number
  readonly updatedAtMs: number
}

/** What a bucket is made from: its capacity and how fast it refills. */
export interface TokenBucketSpec {
  readonly capacity: number
  readonly refillPerMs: number
}

// Refill is a float product: a wait computed by `timeUntil` may land a hair short of the amount,
// and must still be enough.
const slack = 1e-9

const full = (spec: TokenBucketSpec, nowMs: number): TokenBucket => ({
  capacity: spec.capacity,
  refillPerMs: spec.refillPerMs,
  tokens: spec.capacity,
  updatedAtMs: nowMs
})

/** A bucket of `limit` per minute, full at `nowMs`. */
const perMinute = (limit: number, nowMs: number): TokenBucket =>
  full({ capacity: limit, refillPerMs: limit / 60_000 }, nowMs)

const refill = (bucket: TokenBucket, nowMs: number): TokenBucket => {
  // A clock that steps back adds nothing and takes nothing away.
  if (nowMs <= bucket.updatedAtMs) return bucket
  const tokens = Math.min(bucket.capacity, bucket.tokens + (nowMs - bucket.updatedAtMs) * bucket.refillPerMs)
  return { ...bucket, tokens, updatedAtMs: nowMs }
}

const take = (bucket: TokenBucket, amount: number, nowMs: number): TokenBucket | undefined => {
  const current = refill(bucket, nowMs)
  if (current.tokens + slack < amount) return undefined
  return { ...current, tokens: Math.max(0, current.tokens - amount) }
}

const refund = (bucket: TokenBucket, amount: number, nowMs: number): TokenBucket => {
  const current = refill(bucket, nowMs)
  return { ...current, tokens: Math.min(current.capacity, current.tokens + Math.max(0, amount)) }
}

const timeUntil = (bucket: TokenBucket, amount: number, nowMs: number): number => {
  if (amount > bucket.capacity) return Number.POSITIVE_INFINITY
  const missing = amount - refill(bucket, nowMs).tokens
  if (missing <= slack) return 0
  return bucket.refillPerMs > 0 ? Math.ceil(missing / bucket.refillPerMs) : Number.POSITIVE_INFINITY
}

/**
 * The operations on a `TokenBucket`. Each takes the current time in milliseconds and returns a new
 * bucket; none mutates its argument.
 *
 * @example
 * import { tokenBucket } from "@devmatrix/core"
 *
 * const empty = tokenBucket.take(tokenBucket.perMinute(60, 0), 60, 0)! // 60 requests per minute
 * tokenBucket.timeUntil(empty, 1, 0) // 1000: one request more in a second
 */
export const tokenBucket = {
  /** A bucket holding its whole capacity at `nowMs`. */
  full,
  perMinute,
  /** The bucket as it stands at `nowMs`: refilled for the time elapsed since its last update. */
  refill,
  /** The bucket after taking `amount` at `nowMs`, or undefined (and nothing taken) when it holds less. */
  take,
  /** Gives back `amount` (e.g. the unused part of a reservation), never above the capacity. */
  refund,
  /**
   * Whole milliseconds from `nowMs` until `amount` can be taken: 0 when it can be now, Infinity
   * when it never can (more than the capacity, or a bucket that does not refill).
   */
  timeUntil,
  /** Whole milliseconds from `nowMs` until the bucket is full again. */
  timeUntilFull: (bucket: TokenBucket, nowMs: number): number => timeUntil(bucket, bucket.capacity, nowMs)
} as const
