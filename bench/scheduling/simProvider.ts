import { tokenBucket } from "@devmatrix/core"
import type { TokenBucket } from "@devmatrix/core"

/**
 * The simulated provider's limits. `capacity` is the hidden one: the calls in flight it sustains
 * at its nominal latency. Its requests-per-minute limit is the rate those calls make, and its
 * buckets hold `burstMs` of refill (the API enforces a per-minute limit over shorter spans: "60
 * RPM may be enforced as 1 request per second"); token limits are set directly.
 */
export interface ProviderProfile {
  readonly capacity: number
  /** The median of a call's own work, before load stretches it. */
  readonly medianLatencyMs: number
  /** Latency is stretched by `1 + loadFactor x calls in flight / capacity`. */
  readonly loadFactor: number
  readonly burstMs: number
  /** Overrides the requests-per-minute limit derived from `capacity`. */
  readonly requestsPerMinute?: number
  readonly inputTokensPerMinute?: number
  readonly outputTokensPerMinute?: number
  /** Does it send `anthropic-ratelimit-*` headers (a 429 always sends `retry-after`)? */
  readonly headers: boolean
  /** A refused call's answer time. */
  readonly rejectLatencyMs: number
  /** The mean of the lognormal work factor (exp(sigma^2 / 2)), for the derived rate. */
  readonly meanWorkFactor: number
}

/** What one call asks of the provider: its work (ms at no load) and tokens. */
export interface ProviderCall {
  readonly workMs: number
  /** Input tokens the provider counts: uncached input and cache writes. */
  readonly countedInputTokens: number
  readonly maxTokens: number
  readonly outputTokens: number
}

export type ProviderAnswer =
  | { readonly admitted: true; readonly endAtMs: number }
  | { readonly admitted: false; readonly endAtMs: number; readonly headers: Record<string, string> }

type Name = "requests" | "input-tokens" | "output-tokens"

/** Virtual time 0 is this instant, so `reset` headers are real RFC 3339 times. */
export const epochMs = Date.UTC(2026, 0, 1)

const rounded = (tokens: number): number => Math.round(Math.floor(tokens) / 1_000) * 1_000

/** A mutable provider in virtual time: its buckets, the calls it serves, and its headers. */
export class SimProvider {
  private buckets: Partial<Record<Name, TokenBucket>> = {}
  private limits: Partial<Record<Name, number>> = {}
  inFlight = 0
  /** Input tokens counted per started call, with its start time: the token throughput. */
  readonly counted: Array<{ readonly atMs: number; readonly input: number; readonly output: number }> = []

  constructor(
    private profile: ProviderProfile,
    nowMs: number
  ) {
    this.configure(profile, nowMs)
  }

  get capacity(): number {
    return this.profile.capacity
  }

  /** The provider's capacity changes (the rate follows it); buckets keep what they hold, up to the new size. */
  setCapacity(capacity: number, nowMs: number): void {
    this.configure({ ...this.profile, capacity }, nowMs)
  }

  requestsPerMinute(): number {
    const p = this.profile
    return (
      p.requestsPerMinute ??
      (p.capacity * 60_000) / (p.medianLatencyMs * p.meanWorkFactor * (1 + p.loadFactor))
    )
  }

  start(call: ProviderCall, nowMs: number): ProviderAnswer {
    const amounts: Record<Name, number> = {
      requests: 1,
      "input-tokens": call.countedInputTokens,
      "output-tokens": call.maxTokens
    }
    const next = { ...this.buckets }
    let waitMs = -1
    for (const [name, bucket] of Object.entries(this.buckets) as Array<[Name, TokenBucket]>) {
      const taken = tokenBucket.take(bucket, amounts[name], nowMs)
      if (taken !== undefined) next[name] = taken
      else
        waitMs = Math.max(
          waitMs,
          Math.min(
            tokenBucket.timeUntil(bucket, amounts[name], nowMs),
            tokenBucket.timeUntilFull(bucket, nowMs)
          )
        )
    }
    if (waitMs >= 0) {
      const endAtMs = nowMs + this.profile.rejectLatencyMs
      return {
        admitted: false,
        endAtMs,
        headers: { ...this.headers(endAtMs), "retry-after": String(Math.max(1, Math.ceil(waitMs / 1_000))) }
      }
    }
    this.buckets = next
    this.inFlight++
    this.counted.push({ atMs: nowMs, input: call.countedInputTokens, output: call.outputTokens })
    const stretch = 1 + (this.profile.loadFactor * this.inFlight) / this.profile.capacity
    return { admitted: true, endAtMs: nowMs + call.workMs * stretch }
  }

  /** A call ends: its unused output reservation goes back; the answer's headers. */
  end(call: ProviderCall, nowMs: number): Record<string, string> {
    this.inFlight--
    const output = this.buckets["output-tokens"]
    if (output !== undefined)
      this.buckets["output-tokens"] = tokenBucket.refund(output, call.maxTokens - call.outputTokens, nowMs)
    return this.headers(nowMs)
  }

  headers(nowMs: number): Record<string, string> {
    if (!this.profile.headers) return {}
    const headers: Record<string, string> = {}
    const put = (prefix: string, name: Name, remaining: (tokens: number) => number) => {
      const bucket = this.buckets[name]
      if (bucket === undefined) return
      const now = tokenBucket.refill(bucket, nowMs)
      const reset = Math.ceil((epochMs + nowMs + tokenBucket.timeUntilFull(now, nowMs)) / 1_000) * 1_000
      headers[`anthropic-ratelimit-${prefix}-limit`] = String(Math.round(this.limits[name] ?? 0))
      headers[`anthropic-ratelimit-${prefix}-remaining`] = String(remaining(now.tokens))
      headers[`anthropic-ratelimit-${prefix}-reset`] = new Date(reset).toISOString().replace(".000Z", "Z")
    }
    put("requests", "requests", Math.floor)
    put("input-tokens", "input-tokens", rounded)
    put("output-tokens", "output-tokens", rounded)
    const input = this.buckets["input-tokens"]
    const output = this.buckets["output-tokens"]
    if (input !== undefined && output !== undefined)
      put(
        "tokens",
        tokenBucket.refill(output, nowMs).tokens < tokenBucket.refill(input, nowMs).tokens
          ? "output-tokens"
          : "input-tokens",
        rounded
      )
    return headers
  }

  private configure(profile: ProviderProfile, nowMs: number): void {
    this.profile = profile
    const perMinute: Record<Name, number | undefined> = {
      requests: this.requestsPerMinute(),
      "input-tokens": profile.inputTokensPerMinute,
      "output-tokens": profile.outputTokensPerMinute
    }
    for (const name of Object.keys(perMinute) as Array<Name>) {
      const limit = perMinute[name]
      if (limit === undefined || !Number.isFinite(limit)) continue
      const capacity = Math.max(1, (limit * profile.burstMs) / 60_000)
      const held = this.buckets[name]
      const tokens =
        held === undefined ? capacity : Math.min(capacity, tokenBucket.refill(held, nowMs).tokens)
      this.limits[name] = limit
      this.buckets[name] = { capacity, refillPerMs: limit / 60_000, tokens, updatedAtMs: nowMs }
    }
  }
}
