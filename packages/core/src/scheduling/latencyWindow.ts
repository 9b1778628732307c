import type { CallObservation } from "./limiterPolicy.js"

/**
 * One window of completions for the limiter's loss/latency fallback, and the latency baseline it
 * is judged against: a smoothed minimum of past windows' p95 (it falls at once, and rises slowly,
 * so that a provider that became slower for good is not judged unhealthy forever).
 */
export interface LatencyWindow {
  /** Completions counted (successes, timeouts and errors; 429s and 529s have their own rules). */
  readonly calls: number
  readonly failures: number
  /** Latencies of the window's successful calls, ms. */
  readonly latencies: ReadonlyArray<number>
  readonly baselineP95Ms: number | undefined
}

/** What a full window found. */
export interface WindowCheck {
  readonly calls: number
  readonly failures: number
  /** Undefined when no call of the window succeeded. */
  readonly p95Ms: number | undefined
  /** The baseline before this window. */
  readonly baselineP95Ms: number | undefined
}

const baselineRise = 0.05

const p95Of = (latencies: ReadonlyArray<number>): number | undefined => {
  if (latencies.length === 0) return undefined
  const sorted = [...latencies].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]
}

const empty: LatencyWindow = { calls: 0, failures: 0, latencies: [], baselineP95Ms: undefined }

export const latencyWindow = {
  empty,
  /** The same baseline, nothing counted. */
  reset: (window: LatencyWindow): LatencyWindow => ({ ...empty, baselineP95Ms: window.baselineP95Ms }),
  /** Counts one completion; when the window holds `size`, checks it and starts the next one. */
  add: (
    window: LatencyWindow,
    observation: CallObservation,
    size: number
  ): { readonly window: LatencyWindow; readonly check?: WindowCheck } => {
    if (observation.class === "rate_limited" || observation.class === "overloaded") return { window }
    const failed = observation.class !== "success"
    const counted: LatencyWindow = {
      ...window,
      calls: window.calls + 1,
      failures: window.failures + (failed ? 1 : 0),
      latencies: failed ? window.latencies : [...window.latencies, Math.max(0, observation.latencyMs)]
    }
    if (counted.calls < Math.max(1, size)) return { window: counted }
    const p95Ms = p95Of(counted.latencies)
    const before = window.baselineP95Ms
    const baselineP95Ms =
      p95Ms === undefined
        ? before
        : before === undefined || p95Ms < before
          ? p95Ms
          : before + baselineRise * (p95Ms - before)
    return {
      window: { ...empty, baselineP95Ms },
      check: { calls: counted.calls, failures: counted.failures, p95Ms, baselineP95Ms: before }
    }
  }
} as const
