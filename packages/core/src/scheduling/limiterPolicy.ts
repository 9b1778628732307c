import type { RateLimitSignal } from "../retry/rateLimitSignal.js"

/**
 * How one model call ended, as the limiter classifies it: `rate_limited` is a 429 (our own limit:
 * shrink ours), `overloaded` a 529 (the provider's, for everyone: back off, not our limit),
 * `timeout` and `error` the rest of the transient failures, `success` an answer (whatever the
 * atom's validation then says of it).
 */
export type CallClass = "success" | "rate_limited" | "overloaded" | "timeout" | "error"

/** Tokens one call may use, as admission reserves them and as the provider billed them. */
export interface TokenDemand {
  /** Input tokens that count against the input-tokens bucket: cache reads excluded. */
  readonly inputTokens: number
  /** Output tokens: `max_tokens` when reserving, the actual count when refunding. */
  readonly outputTokens: number
}

/** One call's end, as the scheduler hands it to the limiter. */
export interface CallObservation {
  /** When the call ended (the runtime's clock, epoch ms). */
  readonly atMs: number
  /** From the start of the call to its end. */
  readonly latencyMs: number
  readonly class: CallClass
  /** Calls of this provider in flight when it ended, itself included. */
  readonly inFlight: number
  /** What the response's `anthropic-ratelimit-*` and `retry-after` headers said, when it had any. */
  readonly rateLimits?: RateLimitSignal | undefined
}

/** A change of the limit, for the `concurrency.limit_changed` event. */
export interface LimitChange {
  readonly from: number
  readonly to: number
  /** Why, in words a user reads: "429 from the provider", "3 healthy windows", "pinned by an operator". */
  readonly reason: string
}

/** What a limiter step returns: the new state, and the change of the limit when there was one. */
export interface LimiterStep<S> {
  readonly state: S
  readonly change?: LimitChange | undefined
}

/**
 * A provider's (one model's) admission policy as pure functions of a state the scheduler keeps:
 * how many calls may be in flight, how long every call must wait before the next start, and
 * whether a call's tokens fit the per-minute buckets. Core reads no clock: every function is told
 * the time. The runtime's Scheduler drives it; a policy never sees plans or atoms.
 */
export interface LimiterPolicy<S> {
  readonly initial: (nowMs: number) => S
  /** Calls in flight at most, now. */
  readonly limitOf: (state: S) => number
  /** A call ended. */
  readonly observe: (state: S, observation: CallObservation) => LimiterStep<S>
  /**
   * An operator's override: `limit` pins it (the limiter stops adapting), undefined unpins it (it
   * adapts again from where it is).
   */
  readonly pin: (state: S, limit: number | undefined, nowMs: number) => LimiterStep<S>
  /**
   * Milliseconds from `nowMs` until a call needing `demand` may start: 0 when now. Covers a global
   * hold (a 529, a `retry-after`), pacing to the refill rate the headers imply, and the token
   * buckets. Infinity is never returned for a demand larger than a bucket: such a call waits until
   * the bucket is full, then goes alone.
   */
  readonly waitMs: (state: S, demand: TokenDemand, nowMs: number) => number
  /** A call is admitted now (`waitMs` said 0): what it may use is taken from the buckets. */
  readonly reserve: (state: S, demand: TokenDemand, nowMs: number) => S
  /**
   * An admitted call ended: the unused part of its reservation is given back (never more). Call it
   * before `observe` of the same end, whose headers describe the buckets with this usage settled;
   * a refused call (429, 529) used nothing.
   */
  readonly refund: (state: S, reserved: TokenDemand, used: TokenDemand, nowMs: number) => S
}

/**
 * A fixed limit and nothing else: no holds, no buckets. What `--concurrency N` pins, and the
 * baseline the adaptive limiter is measured against.
 */
export const staticLimiter = (limit: number): LimiterPolicy<{ readonly limit: number }> => ({
  initial: () => ({ limit }),
  limitOf: (state) => state.limit,
  observe: (state) => ({ state }),
  pin: (state, pinned) => {
    const to = pinned ?? limit
    return to === state.limit
      ? { state }
      : {
          state: { limit: to },
          change: {
            from: state.limit,
            to,
            reason: pinned === undefined ? "unpinned" : "pinned by an operator"
          }
        }
  },
  waitMs: () => 0,
  reserve: (state) => state,
  refund: (state) => state
})

/**
 * The policy with its state's type erased, so that policies of different states can sit side by
 * side (a scheduler's gates, a bench's list): each state only ever meets the policy that made it.
 */
export const erasePolicyState = <S>(policy: LimiterPolicy<S>): LimiterPolicy<unknown> =>
  policy as unknown as LimiterPolicy<unknown>
