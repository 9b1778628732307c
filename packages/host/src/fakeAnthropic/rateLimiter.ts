import { tokenBucket } from "@devmatrix/core"
import type { TokenBucket } from "@devmatrix/core"

/** The per-minute limits of one organisation and model, as the API enforces them. */
export interface RateLimits {
  /** @default 4000 */
  readonly requestsPerMinute: number
  /** Input tokens plus cache writes; cache reads do not count. @default 2_000_000 */
  readonly inputTokensPerMinute: number
  /** Charged `max_tokens` when a request starts, refunded the unused part when it ends. @default 400_000 */
  readonly outputTokensPerMinute: number
}

/** Generous limits, so that only a test that asks for small ones meets them. */
export const defaultRateLimits: RateLimits = {
  requestsPerMinute: 4_000,
  inputTokensPerMinute: 2_000_000,
  outputTokensPerMinute: 400_000
}

type BucketName = "requests" | "input-tokens" | "output-tokens"

/** What a request takes from the buckets when it is admitted. */
export interface RequestCharge {
  /** `input_tokens + cache_creation_input_tokens`. */
  readonly inputTokens: number
  /** The request's `max_tokens`. */
  readonly maxOutputTokens: number
}

/** The answer to an admission: admitted, or the bucket that refused and how long until it would not. */
export type Admission =
  | { readonly admitted: true }
  | {
      readonly admitted: false
      readonly bucket: BucketName
      readonly waitMs: number
      readonly message: string
    }

const units: Record<BucketName, string> = {
  requests: "requests",
  "input-tokens": "input tokens",
  "output-tokens": "output tokens"
}

/** Token remaining values are rounded to the nearest thousand, as the API reports them. */
const roundedTokens = (tokens: number): number => Math.round(Math.floor(tokens) / 1_000) * 1_000

/** RFC 3339 to the second, rounded up: when the bucket is full again. */
const resetAt = (nowMs: number, waitMs: number): string =>
  new Date(Math.ceil((nowMs + waitMs) / 1_000) * 1_000).toISOString().replace(".000Z", "Z")

/**
 * The three continuous buckets behind the API's rate limits: requests, input tokens and output
 * tokens per minute. Admission is all or nothing: a request that does not fit one bucket takes
 * from none.
 */
export class RateLimiter {
  private buckets: Record<BucketName, TokenBucket>

  constructor(
    private readonly limits: RateLimits,
    nowMs: number
  ) {
    this.buckets = {
      requests: tokenBucket.perMinute(limits.requestsPerMinute, nowMs),
      "input-tokens": tokenBucket.perMinute(limits.inputTokensPerMinute, nowMs),
      "output-tokens": tokenBucket.perMinute(limits.outputTokensPerMinute, nowMs)
    }
  }

  /** Takes the request's charge from every bucket at `nowMs`, or from none and says which refused. */
  admit(charge: RequestCharge, nowMs: number): Admission {
    const amounts: Record<BucketName, number> = {
      requests: 1,
      "input-tokens": charge.inputTokens,
      "output-tokens": charge.maxOutputTokens
    }
    const next = { ...this.buckets }
    let refusal: { bucket: BucketName; waitMs: number } | undefined
    for (const name of Object.keys(amounts) as Array<BucketName>) {
      const taken = tokenBucket.take(this.buckets[name], amounts[name], nowMs)
      if (taken !== undefined) next[name] = taken
      else {
        // A request larger than the bucket never fits; the wait names when it is at its fullest.
        const waitMs = Math.min(
          tokenBucket.timeUntil(this.buckets[name], amounts[name], nowMs),
          tokenBucket.timeUntilFull(this.buckets[name], nowMs)
        )
        if (refusal === undefined || waitMs > refusal.waitMs) refusal = { bucket: name, waitMs }
      }
    }
    if (refusal !== undefined)
      return {
        admitted: false,
        ...refusal,
        message: `This request would exceed the rate limit for your organization of ${this.limitOf(refusal.bucket).toLocaleString("en-US")} ${units[refusal.bucket]} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.`
      }
    this.buckets = next
    return { admitted: true }
  }

  /** Gives back the output tokens a finished request reserved but did not use. */
  refundOutput(unusedTokens: number, nowMs: number): void {
    this.buckets["output-tokens"] = tokenBucket.refund(this.buckets["output-tokens"], unusedTokens, nowMs)
  }

  /** The `anthropic-ratelimit-*` headers as of `nowMs`. */
  headers(nowMs: number): Record<string, string> {
    const headers: Record<string, string> = {}
    const state = (name: BucketName) => {
      const bucket = tokenBucket.refill(this.buckets[name], nowMs)
      return { bucket, waitMs: tokenBucket.timeUntilFull(bucket, nowMs) }
    }
    const put = (prefix: string, name: BucketName, remaining: number) => {
      const { waitMs } = state(name)
      headers[`anthropic-ratelimit-${prefix}-limit`] = String(this.limitOf(name))
      headers[`anthropic-ratelimit-${prefix}-remaining`] = String(remaining)
      headers[`anthropic-ratelimit-${prefix}-reset`] = resetAt(nowMs, waitMs)
    }
    put("requests", "requests", Math.floor(state("requests").bucket.tokens))
    const input = state("input-tokens").bucket.tokens
    const output = state("output-tokens").bucket.tokens
    put("input-tokens", "input-tokens", roundedTokens(input))
    put("output-tokens", "output-tokens", roundedTokens(output))
    // `tokens` is the most restrictive of the two: the one with the least left.
    const tightest: BucketName = output < input ? "output-tokens" : "input-tokens"
    put("tokens", tightest, roundedTokens(Math.min(input, output)))
    return headers
  }

  private limitOf(name: BucketName): number {
    return name === "requests"
      ? this.limits.requestsPerMinute
      : name === "input-tokens"
        ? this.limits.inputTokensPerMinute
        : this.limits.outputTokensPerMinute
  }
}
