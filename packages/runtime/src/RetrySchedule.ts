import type { ModelFailure, RetryPolicy } from "@devmatrix/core"
import { Duration, Effect, Option, Schedule, ScheduleDecision, ScheduleIntervals } from "effect"

/** A retry schedule over failed attempts: it reads each failure, so it can refuse or lengthen a wait. */
export type RetrySchedule = Schedule.Schedule<unknown, ModelFailure>

/**
 * The Effect `Schedule` of a retry policy: exponential from `initialMs` by `factor`, spread by
 * ±`jitter`, capped at `capMs`, at most `maxRetries` times, only while the failure is retryable,
 * and never sooner than the provider's `retry-after`. Build it once per plan, not per call.
 */
export const makeRetrySchedule = (policy: RetryPolicy): RetrySchedule => {
  const cap = Duration.millis(policy.capMs)
  const backoff = Schedule.exponential(Duration.millis(policy.initialMs), policy.factor).pipe(
    policy.jitter > 0 ? Schedule.jitteredWith({ min: 1 - policy.jitter, max: 1 + policy.jitter }) : (s) => s,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap))
  )
  return backoff.pipe(
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.intersect(Schedule.identity<ModelFailure>()),
    Schedule.whileInput((failure: ModelFailure) => failure.retryable),
    Schedule.modifyDelay(([, failure], delay) =>
      failure.retryAfterMs !== undefined ? Duration.max(delay, Duration.millis(failure.retryAfterMs)) : delay
    )
  )
}

/** Where an atom stands in its retry schedule; `undefined` before its first failure. */
export type RetryState = { readonly schedule: unknown } | undefined

/** The schedule's answer to one failure: wait `delayMs` then retry, or give up (`None`). */
export interface RetryDecision {
  readonly delayMs: number
  readonly state: RetryState
}

/**
 * Steps the schedule by one failure, without sleeping: the caller records the decision (an event,
 * a stored deadline) and waits on Effect's clock itself, so the wait survives as data.
 */
export const nextRetry = (
  schedule: RetrySchedule,
  state: RetryState,
  failure: ModelFailure,
  nowMs: number
): Effect.Effect<Option.Option<RetryDecision>> =>
  schedule.step(nowMs, failure, state === undefined ? schedule.initial : state.schedule).pipe(
    Effect.map(([next, , decision]) =>
      ScheduleDecision.isDone(decision)
        ? Option.none()
        : Option.some({
            delayMs: Math.max(0, ScheduleIntervals.start(decision.intervals) - nowMs),
            state: { schedule: next as unknown }
          })
    )
  )
