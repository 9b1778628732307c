import type { RateLimitSignal } from "../retry/rateLimitSignal.js"
import type { TokenDemand } from "./limiterPolicy.js"
import { tokenBucket } from "./tokenBucket.js"
import type { TokenBucket } from "./tokenBucket.js"

/** The provider's per-minute buckets, named as `RateLimitSignal` names them. */
export type BucketName = "requests" | "inputTokens" | "outputTokens" | "tokens"

export const bucketNames: ReadonlyArray<BucketName> = ["requests", "inputTokens", "outputTokens", "tokens"]

/** Some of the four buckets: the ones a limiter knows of. */
export type BucketSet = Readonly<Partial<Record<BucketName, TokenBucket>>>

/** Per-minute limits a plan's options set, for the buckets the provider's headers may not describe. */
export interface BucketLimits {
  readonly requestsPerMinute?: number
  readonly inputTokensPerMinute?: number
  readonly outputTokensPerMinute?: number
  /** Input plus output tokens per minute. */
  readonly tokensPerMinute?: number
}

/** What one call takes from a bucket. */
export const amountOf = (name: BucketName, demand: TokenDemand): number => {
  switch (name) {
    case "requests":
      return 1
    case "inputTokens":
      return Math.max(0, demand.inputTokens)
    case "outputTokens":
      return Math.max(0, demand.outputTokens)
    case "tokens":
      return Math.max(0, demand.inputTokens) + Math.max(0, demand.outputTokens)
  }
}

/** Full buckets for the limits that are set, at `nowMs`. */
export const configuredBuckets = (limits: BucketLimits | undefined, nowMs: number): BucketSet => {
  const set: Partial<Record<BucketName, TokenBucket>> = {}
  const put = (name: BucketName, perMinute: number | undefined) => {
    if (perMinute !== undefined && perMinute > 0) set[name] = tokenBucket.perMinute(perMinute, nowMs)
  }
  put("requests", limits?.requestsPerMinute)
  put("inputTokens", limits?.inputTokensPerMinute)
  put("outputTokens", limits?.outputTokensPerMinute)
  put("tokens", limits?.tokensPerMinute)
  return set
}

/**
 * Brings the mirrors of the provider's buckets up to what a response said. A `limit` (re)defines a
 * bucket (capacity = limit, refill = limit per minute). A `remaining` resyncs the mirror's level,
 * but only as far as the header proves it wrong: token counts are rounded by the provider (to
 * `rounding`, e.g. the nearest thousand), so the mirror's own account is kept while it lies within
 * the rounding of the header; a new mirror, or one outside it, takes the interval's low end (the
 * least the provider may hold). Requests are exact.
 * The `tokens` headers describe "the most restrictive limit in effect" (input or output, whichever
 * binds): they are a bucket of their own only when the response described neither of the two.
 */
export const resyncBuckets = (
  buckets: BucketSet,
  signal: RateLimitSignal,
  tokenRounding: number
): BucketSet => {
  const next: Partial<Record<BucketName, TokenBucket>> = { ...buckets }
  for (const name of bucketNames) {
    const header = signal[name]
    if (header === undefined) continue
    if (name === "tokens" && (signal.inputTokens !== undefined || signal.outputTokens !== undefined)) continue
    const known = buckets[name]
    const capacity = header.limit ?? known?.capacity
    if (capacity === undefined || capacity <= 0) continue
    const base: TokenBucket =
      known !== undefined && known.capacity === capacity
        ? tokenBucket.refill(known, signal.at)
        : {
            capacity,
            refillPerMs: capacity / 60_000,
            tokens: Math.min(
              capacity,
              known === undefined ? capacity : tokenBucket.refill(known, signal.at).tokens
            ),
            updatedAtMs: signal.at
          }
    if (header.remaining === undefined) {
      next[name] = base
      continue
    }
    const halfStep = name === "requests" ? 0 : tokenRounding / 2
    const low = Math.min(capacity, Math.max(0, header.remaining - halfStep))
    const high = Math.min(capacity, header.remaining + halfStep)
    // A new mirror, or one the header proves wrong, takes the least the provider may hold.
    const trusted = known !== undefined && base.tokens >= low && base.tokens <= high
    next[name] = { ...base, tokens: trusted ? base.tokens : low }
  }
  return next
}

/**
 * Milliseconds until `demand` fits every bucket, keeping `margin(name)` in reserve (what a resync
 * may be wrong by). A demand larger than a bucket's usable capacity waits until the bucket is full,
 * then goes alone: never Infinity while the bucket refills.
 */
export const bucketsWaitMs = (
  buckets: BucketSet,
  demand: TokenDemand,
  nowMs: number,
  margin: (name: BucketName) => number
): number => {
  let wait = 0
  for (const name of bucketNames) {
    const bucket = buckets[name]
    if (bucket === undefined) continue
    const reserve = Math.min(margin(name), bucket.capacity / 2)
    const amount = amountOf(name, demand)
    const needed = Math.min(bucket.capacity, amount + reserve)
    const own = tokenBucket.timeUntil(bucket, needed, nowMs)
    // A bucket that does not refill never frees anything: it does not hold admission forever.
    wait = Math.max(wait, Number.isFinite(own) ? own : 0)
  }
  return wait
}

/** Takes `demand` from every bucket (never below zero). */
export const takeFromBuckets = (buckets: BucketSet, demand: TokenDemand, nowMs: number): BucketSet =>
  adjustBuckets(buckets, nowMs, (name) => -amountOf(name, demand))

/**
 * Settles a reservation with what the call used: the unused part goes back (never above the
 * capacity), and a call that used more than it reserved is charged the rest.
 */
export const settleBuckets = (
  buckets: BucketSet,
  reserved: TokenDemand,
  used: TokenDemand,
  nowMs: number
): BucketSet =>
  adjustBuckets(buckets, nowMs, (name) =>
    name === "requests" ? 0 : amountOf(name, reserved) - amountOf(name, used)
  )

const adjustBuckets = (buckets: BucketSet, nowMs: number, delta: (name: BucketName) => number): BucketSet => {
  const next: Partial<Record<BucketName, TokenBucket>> = {}
  for (const name of bucketNames) {
    const bucket = buckets[name]
    if (bucket === undefined) continue
    const current = tokenBucket.refill(bucket, nowMs)
    const tokens = Math.min(current.capacity, Math.max(0, current.tokens + delta(name)))
    next[name] = { ...current, tokens }
  }
  return next
}
