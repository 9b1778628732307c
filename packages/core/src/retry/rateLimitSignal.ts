import { parseRetryAfterMs } from "./classifyModelFailure.js"

/**
 * One of the provider's token buckets as its headers described it. Each field is absent when its
 * header was absent or unreadable. Token `remaining` values are rounded by the provider (to the
 * nearest thousand), so they are a hint, not an account.
 */
export interface RateLimitBucket {
  /** The bucket's capacity per minute. */
  readonly limit?: number
  /** What is left now. */
  readonly remaining?: number
  /** When the bucket is full again (epoch ms; the provider refills continuously until then). */
  readonly resetAtMs?: number
}

/**
 * What one response told about the provider's rate limits, for the scheduler's limiter: the
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
 * headers and `retry-after`. A bucket the response did not describe is absent.
 */
export interface RateLimitSignal {
  /** When the response was read (epoch ms). */
  readonly at: number
  /** The provider's `retry-after` (or `retry-after-ms`), in milliseconds: no retry happens sooner. */
  readonly retryAfterMs?: number
  /** Requests per minute. */
  readonly requests?: RateLimitBucket
  /** Input plus output tokens per minute (the most restrictive limit currently in effect). */
  readonly tokens?: RateLimitBucket
  /** Input tokens per minute (cache reads do not count against it). */
  readonly inputTokens?: RateLimitBucket
  /** Output tokens per minute. */
  readonly outputTokens?: RateLimitBucket
}

const buckets = [
  ["requests", "requests"],
  ["tokens", "tokens"],
  ["inputTokens", "input-tokens"],
  ["outputTokens", "output-tokens"]
] as const

const countPattern = /^\s*\d+(?:\.\d+)?\s*$/

const countOf = (value: string | undefined): number | undefined => {
  if (value === undefined || !countPattern.test(value)) return undefined
  const count = Number(value)
  return Number.isFinite(count) ? count : undefined
}

const timeOf = (value: string | undefined): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const time = Date.parse(value)
  return Number.isNaN(time) ? undefined : time
}

const bucketOf = (headers: ReadonlyMap<string, string>, name: string): RateLimitBucket | undefined => {
  const limit = countOf(headers.get(`anthropic-ratelimit-${name}-limit`))
  const remaining = countOf(headers.get(`anthropic-ratelimit-${name}-remaining`))
  const resetAtMs = timeOf(headers.get(`anthropic-ratelimit-${name}-reset`))
  if (limit === undefined && remaining === undefined && resetAtMs === undefined) return undefined
  return {
    ...(limit !== undefined ? { limit } : {}),
    ...(remaining !== undefined ? { remaining } : {}),
    ...(resetAtMs !== undefined ? { resetAtMs } : {})
  }
}

/**
 * Reads a response's rate-limit headers (names in any case) at `nowMs`. Returns undefined when the
 * response carried none of them; an unreadable value is ignored, never thrown on.
 *
 * @example
 * parseRateLimitSignal({ "retry-after": "3", "anthropic-ratelimit-requests-remaining": "0" }, now)
 * // { at: now, retryAfterMs: 3000, requests: { remaining: 0 } }
 */
export const parseRateLimitSignal = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMs: number
): RateLimitSignal | undefined => {
  // A Map, not an object: a header named `__proto__` must stay a header.
  const lower = new Map<string, string>()
  for (const [name, value] of Object.entries(headers))
    if (typeof value === "string") lower.set(name.toLowerCase(), value)
  const retryAfterMs = parseRetryAfterMs(
    { "retry-after": lower.get("retry-after"), "retry-after-ms": lower.get("retry-after-ms") },
    nowMs
  )
  const signal: { -readonly [K in keyof RateLimitSignal]: RateLimitSignal[K] } = { at: nowMs }
  let found = retryAfterMs !== undefined
  if (retryAfterMs !== undefined) signal.retryAfterMs = retryAfterMs
  for (const [field, name] of buckets) {
    const bucket = bucketOf(lower, name)
    if (bucket === undefined) continue
    found = true
    signal[field] = bucket
  }
  return found ? signal : undefined
}
