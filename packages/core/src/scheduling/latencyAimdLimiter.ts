import type { LimiterPolicy } from "./limiterPolicy.js"

/** The latency-only AIMD's knobs, after Netflix concurrency-limits' `AIMDLimit` and `Gradient2Limit`. */
export interface LatencyAimdSettings {
  /** @default 20 (Netflix's AIMD default) */
  readonly initialLimit: number
  /** @default 10 */
  readonly minLimit: number
  /** @default 500 */
  readonly maxLimit: number
  /** A drop (any failure) or a slow call multiplies the limit by this. @default 0.9 */
  readonly backoffRatio: number
  /** A call slower than this many times the long-term average latency counts as a drop (Gradient2's tolerance). @default 2 */
  readonly latencyTolerance: number
}

export const defaultLatencyAimdSettings: LatencyAimdSettings = {
  initialLimit: 20,
  minLimit: 10,
  maxLimit: 500,
  backoffRatio: 0.9,
  latencyTolerance: 2
}

/** The latency-only AIMD's state: its limit and its latency baseline. */
export interface LatencyAimdState {
  readonly limit: number
  readonly pinned: boolean
  /** The long-term average latency of successful calls, ms (Gradient2's long RTT: 1% a call). */
  readonly baselineMs: number | undefined
}

/**
 * A baseline for the bench, in the shape of the published limiters: per call, a drop or a latency
 * over `latencyTolerance` x the baseline multiplies the limit by `backoffRatio`; a success while at
 * least half the limit is in use adds one. It reads no header, holds no call, knows no bucket.
 */
export const latencyAimdLimiter = (
  overrides: Partial<LatencyAimdSettings> = {}
): LimiterPolicy<LatencyAimdState> => {
  const settings = { ...defaultLatencyAimdSettings, ...overrides }
  const clamp = (limit: number) => Math.min(settings.maxLimit, Math.max(settings.minLimit, Math.round(limit)))
  return {
    initial: () => ({ limit: clamp(settings.initialLimit), pinned: false, baselineMs: undefined }),
    limitOf: (state) => state.limit,
    observe: (state, observation) => {
      const latency = Math.max(0, observation.latencyMs)
      const success = observation.class === "success"
      const baselineMs = !success
        ? state.baselineMs
        : state.baselineMs === undefined
          ? latency
          : state.baselineMs + 0.01 * (latency - state.baselineMs)
      const next = { ...state, baselineMs }
      if (state.pinned) return { state: next }
      const slow =
        success && state.baselineMs !== undefined && latency > settings.latencyTolerance * state.baselineMs
      const to =
        !success || slow
          ? clamp(Math.floor(state.limit * settings.backoffRatio))
          : observation.inFlight * 2 >= state.limit
            ? clamp(state.limit + 1)
            : state.limit
      if (to === state.limit) return { state: next }
      const reason = !success
        ? `latency AIMD: ${observation.class}: x${settings.backoffRatio}`
        : slow
          ? `latency AIMD: ${Math.round(latency)} ms is over ${settings.latencyTolerance}x the average: x${settings.backoffRatio}`
          : "latency AIMD: a success with half the limit in use: +1"
      return { state: { ...next, limit: to }, change: { from: state.limit, to, reason } }
    },
    pin: (state, limit) => {
      const to = limit === undefined ? clamp(state.limit) : Math.max(1, Math.round(limit))
      const next = { ...state, limit: to, pinned: limit !== undefined }
      return to === state.limit
        ? { state: next }
        : {
            state: next,
            change: {
              from: state.limit,
              to,
              reason: limit === undefined ? "unpinned" : "pinned by an operator"
            }
          }
    },
    waitMs: () => 0,
    reserve: (state) => state,
    refund: (state) => state
  }
}
