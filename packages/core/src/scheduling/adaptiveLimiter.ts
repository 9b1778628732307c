import { overloadHoldMs } from "../retry/providerReaction.js"
import type { RateLimitSignal } from "../retry/rateLimitSignal.js"
import { seededRandom } from "../random/seededRandom.js"
import { latencyWindow, type LatencyWindow } from "./latencyWindow.js"
import {
  bucketsWaitMs,
  configuredBuckets,
  resyncBuckets,
  settleBuckets,
  takeFromBuckets,
  type BucketLimits,
  type BucketName,
  type BucketSet
} from "./limiterBuckets.js"
import type { CallObservation, LimiterPolicy, LimiterStep } from "./limiterPolicy.js"

/** How the adaptive limiter moves; every field has its default in `defaultLimiterSettings`. */
export interface AdaptiveLimiterSettings {
  /** @default 100 */
  readonly initialLimit: number
  /**
   * Slow start: until an answer tells the limiter more (headers, a 429, an unhealthy window), the
   * limit starts here and doubles each time as many calls as it allows have been answered, up to
   * `initialLimit`; so a provider whose capacity is unknown is not sent `initialLimit` calls at
   * once (a ramp that is too steep is itself refused: Anthropic's acceleration limit). At
   * `initialLimit` or above: no ramp. @default 20 (a herd-guard batch, DESIGN.md section 9)
   */
  readonly rampStartLimit: number
  /** @default 10 */
  readonly minLimit: number
  /** @default 500 */
  readonly maxLimit: number
  /** Added after `healthyChecksToIncrease` healthy windows (the loss/latency fallback). @default 5 */
  readonly increaseStep: number
  /** @default 3 */
  readonly healthyChecksToIncrease: number
  /** The limit is multiplied by this on a 429 and on an unhealthy window. @default 0.75 */
  readonly decreaseFactor: number
  /**
   * Between two moves of the loss/latency fallback (not a header-driven move, not a 429); also how
   * long after a 429 the headers may not raise the limit. An increase waits for it only while the
   * limit is not in full use (`fullUseShare`). @default 10_000
   */
  readonly cooldownMs: number
  /**
   * A health check whose last call ended with at least this share of the limit in flight finds the
   * limit in full use: then its healthy windows are the evidence the cooldown waits for, and the
   * fallback adds `increaseStep` per `healthyChecksToIncrease` of them at once. Without headers,
   * that is how a provider whose capacity rose is found (nothing else says so); a limit over the
   * capacity meets a 429 and shrinks. @default 0.9
   */
  readonly fullUseShare: number
  /** Completions per health check of the fallback. @default 20 */
  readonly windowCalls: number
  /** A window is unhealthy when more than this share of its calls timed out or failed. @default 0.1 */
  readonly errorRateThreshold: number
  /** A window is unhealthy when its p95 latency exceeds the baseline p95 by this factor. @default 1.5 */
  readonly latencyTolerance: number
  /**
   * Headroom over Little's law when the headers drive the limit: permits = call rate the buckets
   * sustain x observed latency x this, so that pacing, not the permits, is what holds calls back.
   * @default 1.05
   */
  readonly headroom: number
  /**
   * Weight of one call in the smoothed latency and tokens per call (an exponential moving average
   * over about 1 / this many calls): single latencies are noisy, the limit should not be.
   * @default 0.05
   */
  readonly smoothing: number
  /** A header-driven move happens only when the target differs by this share of the limit (or 2). @default 0.1 */
  readonly headerDeadband: number
  /** A 529 without `retry-after` holds every start this long (doubling while 529s follow each other). @default 2_000 */
  readonly overloadHoldMs: number
  /** The longest hold a series of 529s builds up. @default 30_000 */
  readonly overloadHoldCapMs: number
  /** A 529's hold is stretched by a factor drawn in [1, 1 + overloadJitter). @default 0.5 */
  readonly overloadJitter: number
  /** Seed of the 529 jitter (core has no random source). @default 0 */
  readonly seed: number
  /** The provider rounds token `remaining` values to this; the mirror keeps as much in reserve. @default 1_000 */
  readonly tokenRounding: number
  /** Per-minute limits a plan's options set, enforced whatever the headers say. @default none */
  readonly buckets?: BucketLimits | undefined
}

/**
 * DESIGN.md section 9: initial 100 (reached by slow start from 20), min 10, max 500, +5 after 3
 * healthy checks, x0.75, 10 s cooldown.
 */
export const defaultLimiterSettings: AdaptiveLimiterSettings = {
  initialLimit: 100,
  rampStartLimit: 20,
  minLimit: 10,
  maxLimit: 500,
  increaseStep: 5,
  healthyChecksToIncrease: 3,
  decreaseFactor: 0.75,
  cooldownMs: 10_000,
  fullUseShare: 0.9,
  windowCalls: 20,
  errorRateThreshold: 0.1,
  latencyTolerance: 1.5,
  headroom: 1.05,
  smoothing: 0.05,
  headerDeadband: 0.1,
  overloadHoldMs,
  overloadHoldCapMs: 30_000,
  overloadJitter: 0.5,
  seed: 0,
  tokenRounding: 1_000
}

/** The adaptive limiter's state: plain immutable data, kept by the scheduler between steps. */
export interface AdaptiveLimiterState {
  readonly limit: number
  /** An operator pinned the limit: observations still move holds and buckets, never the limit. */
  readonly pinned: boolean
  /** Slow start is under way (`rampStartLimit`): the limit doubles per round of answers. */
  readonly ramping: boolean
  /** Calls answered since the ramp's last doubling. */
  readonly rampAnswered: number
  /** When the fallback last moved the limit: its cooldown counts from here. */
  readonly lastMoveAtMs: number
  /**
   * When a 429 last shrank the limit: a 429 of a call started before then is the same overshoot,
   * and for `cooldownMs` after it the headers may lower the limit but not raise it (the 429 came
   * from a limit they did not show: acceleration, or a bucket shared with others).
   */
  readonly lastShrinkAtMs: number
  /** No call starts before this (a `retry-after`, a 529). */
  readonly holdUntilMs: number
  /** 529s in a row, for the hold's doubling. */
  readonly overloadStreak: number
  /** Jitter values drawn so far (the next one comes from `seed` and this). */
  readonly draws: number
  /** Mirrors of the provider's buckets, learned from its headers. */
  readonly provider: BucketSet
  /** The buckets the plan's options set. */
  readonly configured: BucketSet
  /** Smoothed latency of successful calls, ms (Little's law). */
  readonly latencyMs: number | undefined
  /** Smoothed uncached input tokens per call, as reserved. */
  readonly inputPerCall: number | undefined
  /** Smoothed output tokens per call, as used. */
  readonly outputPerCall: number | undefined
  /** The fallback's current window of completions and its latency baseline. */
  readonly window: LatencyWindow
  readonly healthyChecks: number
}

const ewma = (previous: number | undefined, sample: number, weight: number): number =>
  previous === undefined ? sample : previous + weight * (sample - previous)

const units: Record<BucketName, string> = {
  requests: "requests",
  inputTokens: "input tokens",
  outputTokens: "output tokens",
  tokens: "tokens"
}

const formatCount = (value: number): string => Math.round(value).toLocaleString("en-US")

/**
 * The limit a provider's headers imply, by Little's law: the calls per millisecond the tightest
 * bucket sustains, times the observed latency, with headroom. Undefined until a bucket and a
 * latency are known.
 */
const headerTarget = (
  state: AdaptiveLimiterState,
  settings: AdaptiveLimiterSettings
): { readonly limit: number; readonly reason: string } | undefined => {
  if (state.latencyMs === undefined) return undefined
  const perCall: Record<BucketName, number | undefined> = {
    requests: 1,
    inputTokens: state.inputPerCall,
    outputTokens: state.outputPerCall,
    tokens:
      state.inputPerCall === undefined || state.outputPerCall === undefined
        ? undefined
        : state.inputPerCall + state.outputPerCall
  }
  let tightest: { name: BucketName; callsPerMs: number; perMinute: number } | undefined
  for (const [name, bucket] of Object.entries(state.provider) as Array<[BucketName, BucketSet[BucketName]]>) {
    const cost = perCall[name]
    if (bucket === undefined || cost === undefined || cost <= 0) continue
    const callsPerMs = bucket.refillPerMs / cost
    if (tightest === undefined || callsPerMs < tightest.callsPerMs)
      tightest = { name, callsPerMs, perMinute: bucket.capacity }
  }
  if (tightest === undefined) return undefined
  const limit = clamp(Math.ceil(tightest.callsPerMs * state.latencyMs * settings.headroom), settings)
  const perCallText =
    tightest.name === "requests" ? "" : ` at ${formatCount(perCall[tightest.name] ?? 0)} per call`
  return {
    limit,
    reason: `headers: ${limit} calls in flight sustain the provider's ${formatCount(tightest.perMinute)} ${units[tightest.name]}/min${perCallText} and ${formatCount(state.latencyMs)} ms per call`
  }
}

const clamp = (limit: number, settings: AdaptiveLimiterSettings): number =>
  Math.min(settings.maxLimit, Math.max(settings.minLimit, Math.round(limit)))

const moveTo = (
  state: AdaptiveLimiterState,
  to: number,
  reason: string
): LimiterStep<AdaptiveLimiterState> =>
  to === state.limit
    ? { state }
    : { state: { ...state, limit: to }, change: { from: state.limit, to, reason } }

const times = (factor: number): string => `x${factor}`

/** A 429 or 529 sets a hold every start waits for; a 529's is jittered and doubles while they repeat. */
const withHolds = (
  state: AdaptiveLimiterState,
  observation: CallObservation,
  settings: AdaptiveLimiterSettings
): AdaptiveLimiterState => {
  const retryAfterMs = observation.rateLimits?.retryAfterMs
  if (observation.class === "rate_limited" && retryAfterMs !== undefined)
    return bucketSpent(observation.rateLimits, settings.tokenRounding)
      ? { ...state, holdUntilMs: Math.max(state.holdUntilMs, observation.atMs + retryAfterMs) }
      : state
  if (observation.class === "overloaded") {
    const base = (retryAfterMs ?? settings.overloadHoldMs) * 2 ** Math.min(state.overloadStreak, 16)
    const jitter =
      1 +
      settings.overloadJitter * seededRandom((settings.seed ^ Math.imul(state.draws + 1, 0x9e3779b1)) >>> 0)()
    const holdMs = Math.round(
      Math.min(Math.max(settings.overloadHoldCapMs, retryAfterMs ?? 0), base) * jitter
    )
    return {
      ...state,
      holdUntilMs: Math.max(state.holdUntilMs, observation.atMs + holdMs),
      overloadStreak: state.overloadStreak + 1,
      draws: state.draws + 1
    }
  }
  return observation.class === "success" ? { ...state, overloadStreak: 0 } : state
}

/** The fallback without headers: AIMD over windows of completions, against a latency baseline. */
const fallbackStep = (
  state: AdaptiveLimiterState,
  observation: CallObservation,
  settings: AdaptiveLimiterSettings
): LimiterStep<AdaptiveLimiterState> => {
  const { window, check } = latencyWindow.add(state.window, observation, settings.windowCalls)
  const next: AdaptiveLimiterState = { ...state, window }
  if (check === undefined) return { state: next }
  const cooled = observation.atMs - state.lastMoveAtMs >= settings.cooldownMs
  const errorShare = check.failures / check.calls
  const unhealthy =
    errorShare > settings.errorRateThreshold
      ? `errors: ${check.failures} of ${check.calls} calls failed`
      : check.p95Ms !== undefined &&
          check.baselineP95Ms !== undefined &&
          check.p95Ms > settings.latencyTolerance * check.baselineP95Ms
        ? `latency: p95 ${formatCount(check.p95Ms)} ms is over ${settings.latencyTolerance}x the baseline ${formatCount(check.baselineP95Ms)} ms`
        : undefined
  if (unhealthy !== undefined) {
    if (!cooled) return { state: { ...next, healthyChecks: 0 } }
    const to = clamp(Math.floor(state.limit * settings.decreaseFactor), settings)
    return moveTo(
      { ...next, healthyChecks: 0, lastMoveAtMs: observation.atMs },
      to,
      `${unhealthy}: ${times(settings.decreaseFactor)}`
    )
  }
  const healthyChecks = state.healthyChecks + 1
  const inFullUse = observation.inFlight >= settings.fullUseShare * state.limit
  // While the ramp runs it doubles the limit itself; the fallback only judges the windows.
  if (state.ramping || healthyChecks < settings.healthyChecksToIncrease || !(cooled || inFullUse))
    return { state: { ...next, healthyChecks } }
  const to = clamp(state.limit + settings.increaseStep, settings)
  return moveTo(
    { ...next, healthyChecks: 0, lastMoveAtMs: observation.atMs },
    to,
    `${healthyChecks} healthy windows: +${settings.increaseStep}`
  )
}

/**
 * Whether a 429 came from a spent bucket, so that every call would meet it until `retry-after`: its
 * headers show a bucket with nothing left (tokens are rounded to `tokenRounding`, so one unit of it
 * is as good as nothing), or it shows no bucket at all (nothing says otherwise). A 429 whose
 * buckets all have room (an acceleration limit, a limit the headers do not show) holds its own atom
 * only, which waits its `retry-after`; the limit still shrinks.
 */
const bucketSpent = (signal: RateLimitSignal | undefined, tokenRounding: number): boolean => {
  if (signal === undefined || !hasHeaders(signal)) return true
  const spent = (bucket: RateLimitSignal["requests"], least: number) =>
    bucket?.remaining !== undefined && bucket.remaining < least
  return (
    spent(signal.requests, 1) ||
    spent(signal.tokens, tokenRounding + 1) ||
    spent(signal.inputTokens, tokenRounding + 1) ||
    spent(signal.outputTokens, tokenRounding + 1)
  )
}

const hasHeaders = (signal: RateLimitSignal | undefined): boolean =>
  signal !== undefined &&
  (signal.requests !== undefined ||
    signal.inputTokens !== undefined ||
    signal.outputTokens !== undefined ||
    signal.tokens !== undefined)

const observeWith =
  (settings: AdaptiveLimiterSettings) =>
  (state: AdaptiveLimiterState, observation: CallObservation): LimiterStep<AdaptiveLimiterState> => {
    const signal = observation.rateLimits
    let next = withHolds(state, observation, settings)
    if (signal !== undefined && hasHeaders(signal))
      next = { ...next, provider: resyncBuckets(next.provider, signal, settings.tokenRounding) }
    if (observation.class === "success")
      next = {
        ...next,
        latencyMs: ewma(next.latencyMs, Math.max(0, observation.latencyMs), settings.smoothing)
      }
    if (next.pinned) return { state: next }
    if (observation.class === "rate_limited") {
      // The ramp is over: the provider said where its limit is.
      next = next.ramping ? { ...next, ramping: false } : next
      // Calls admitted before the last shrink met the same overshoot: one shrink per flight.
      if (observation.atMs - observation.latencyMs < next.lastShrinkAtMs) return { state: next }
      const to = clamp(Math.floor(next.limit * settings.decreaseFactor), settings)
      return moveTo(
        {
          ...next,
          lastShrinkAtMs: observation.atMs,
          healthyChecks: 0,
          window: latencyWindow.reset(next.window)
        },
        to,
        `429 from the provider: ${times(settings.decreaseFactor)}`
      )
    }
    if (hasHeaders(signal)) {
      if (observation.atMs < next.holdUntilMs) return { state: next }
      const target = headerTarget(next, settings)
      if (target === undefined) return { state: next }
      // The first headers end the ramp: the limit they imply holds at once.
      if (next.ramping) return moveTo({ ...next, ramping: false }, target.limit, target.reason)
      const band = Math.max(2, settings.headerDeadband * next.limit)
      const capped = observation.atMs - next.lastShrinkAtMs < settings.cooldownMs
      return Math.abs(target.limit - next.limit) < band || (capped && target.limit > next.limit)
        ? { state: next }
        : moveTo(next, target.limit, target.reason)
    }
    const step = fallbackStep(next, observation, settings)
    return step.state.ramping ? rampStep(step, observation, settings) : step
  }

/**
 * Slow start: an unhealthy window (the fallback shrank the limit) ends the ramp there; else each
 * round of answers (as many as the limit) doubles the limit, up to `initialLimit`.
 */
const rampStep = (
  step: LimiterStep<AdaptiveLimiterState>,
  observation: CallObservation,
  settings: AdaptiveLimiterSettings
): LimiterStep<AdaptiveLimiterState> => {
  const state = step.state
  if (step.change !== undefined) return { state: { ...state, ramping: false }, change: step.change }
  if (observation.class !== "success") return step
  const answered = state.rampAnswered + 1
  if (answered < state.limit) return { state: { ...state, rampAnswered: answered } }
  const top = clamp(settings.initialLimit, settings)
  const to = Math.min(top, clamp(state.limit * 2, settings))
  return moveTo(
    { ...state, rampAnswered: 0, ramping: to < top },
    to,
    `slow start: ${state.limit} calls answered: x2`
  )
}

/**
 * The adaptive limiter: starts slow (from `rampStartLimit`, doubling per round of answers) until
 * an answer says more; follows the provider's rate-limit headers when it sends them (bucket mirrors
 * pace every start and the limit follows Little's law), falls back to AIMD on losses and a latency
 * gradient when it does not, shrinks on a 429 and holds on a 529 without shrinking.
 *
 * @example
 * import { adaptiveLimiter } from "@devmatrix/core"
 *
 * const limiter = adaptiveLimiter({ maxLimit: 200 })
 * let state = limiter.initial(now)
 * if (limiter.waitMs(state, demand, now) === 0) state = limiter.reserve(state, demand, now)
 */
export const adaptiveLimiter = (
  overrides: Partial<AdaptiveLimiterSettings> = {}
): LimiterPolicy<AdaptiveLimiterState> => {
  const settings: AdaptiveLimiterSettings = { ...defaultLimiterSettings, ...overrides }
  const margin = (name: BucketName) => (name === "requests" ? 0 : settings.tokenRounding)
  return {
    initial: (nowMs) => ({
      limit: clamp(Math.min(settings.initialLimit, settings.rampStartLimit), settings),
      pinned: false,
      ramping: clamp(settings.rampStartLimit, settings) < clamp(settings.initialLimit, settings),
      rampAnswered: 0,
      lastMoveAtMs: nowMs,
      lastShrinkAtMs: Number.NEGATIVE_INFINITY,
      holdUntilMs: nowMs,
      overloadStreak: 0,
      draws: 0,
      provider: {},
      configured: configuredBuckets(settings.buckets, nowMs),
      latencyMs: undefined,
      inputPerCall: undefined,
      outputPerCall: undefined,
      window: latencyWindow.empty,
      healthyChecks: 0
    }),
    limitOf: (state) => state.limit,
    observe: observeWith(settings),
    pin: (state, limit, nowMs) => {
      if (limit === undefined) {
        const to = clamp(state.limit, settings)
        const unpinned = { ...state, pinned: false, lastMoveAtMs: nowMs }
        return to === state.limit
          ? { state: unpinned }
          : { state: { ...unpinned, limit: to }, change: { from: state.limit, to, reason: "unpinned" } }
      }
      const to = Math.max(1, Math.round(limit))
      // The operator's limit ends the ramp: unpinned, the limit adapts from there.
      return moveTo({ ...state, pinned: true, ramping: false }, to, "pinned by an operator")
    },
    waitMs: (state, demand, nowMs) =>
      Math.max(
        0,
        state.holdUntilMs - nowMs,
        bucketsWaitMs(state.provider, demand, nowMs, margin),
        bucketsWaitMs(state.configured, demand, nowMs, () => 0)
      ),
    reserve: (state, demand, nowMs) => ({
      ...state,
      provider: takeFromBuckets(state.provider, demand, nowMs),
      configured: takeFromBuckets(state.configured, demand, nowMs),
      inputPerCall: ewma(state.inputPerCall, Math.max(0, demand.inputTokens), settings.smoothing),
      outputPerCall: state.outputPerCall ?? Math.max(0, demand.outputTokens)
    }),
    refund: (state, reserved, used, nowMs) => ({
      ...state,
      provider: settleBuckets(state.provider, reserved, used, nowMs),
      configured: settleBuckets(state.configured, reserved, used, nowMs),
      outputPerCall: ewma(state.outputPerCall, Math.max(0, used.outputTokens), settings.smoothing)
    })
  }
}
