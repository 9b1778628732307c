import { overloadHoldMs } from "../retry/providerReaction.js"
import type { LimiterPolicy } from "./limiterPolicy.js"

/** A policy's state, with the time until which a 529 holds every start back. */
export interface OverloadHoldState<S> {
  readonly inner: S
  /** No call starts before this (epoch ms); 0 when no hold is under way. */
  readonly holdUntilMs: number
}

/**
 * `policy`, plus what a plan did on a 529 before the limiter existed: the provider is overloaded
 * for everyone, so every call of the model waits `retry-after` (or `holdMs`), not only the one that
 * was refused. Holds overlap: the longest wins. For a policy that does not back off on a 529 by
 * itself (`staticLimiter`); an adaptive one does its own.
 */
export const withOverloadHold = <S>(
  policy: LimiterPolicy<S>,
  holdMs: number = overloadHoldMs
): LimiterPolicy<OverloadHoldState<S>> => ({
  initial: (nowMs) => ({ inner: policy.initial(nowMs), holdUntilMs: 0 }),
  limitOf: (state) => policy.limitOf(state.inner),
  observe: (state, observation) => {
    const step = policy.observe(state.inner, observation)
    const holdUntilMs =
      observation.class === "overloaded"
        ? Math.max(state.holdUntilMs, observation.atMs + (observation.rateLimits?.retryAfterMs ?? holdMs))
        : state.holdUntilMs
    return { state: withInner(state, step.state, holdUntilMs), change: step.change }
  },
  pin: (state, limit, nowMs) => {
    const step = policy.pin(state.inner, limit, nowMs)
    return { state: withInner(state, step.state, state.holdUntilMs), change: step.change }
  },
  waitMs: (state, demand, nowMs) =>
    Math.max(state.holdUntilMs - nowMs, policy.waitMs(state.inner, demand, nowMs), 0),
  reserve: (state, demand, nowMs) =>
    withInner(state, policy.reserve(state.inner, demand, nowMs), state.holdUntilMs),
  refund: (state, reserved, used, nowMs) =>
    withInner(state, policy.refund(state.inner, reserved, used, nowMs), state.holdUntilMs)
})

/** The same state when nothing changed: every call steps the policy, and most steps change nothing. */
const withInner = <S>(state: OverloadHoldState<S>, inner: S, holdUntilMs: number): OverloadHoldState<S> =>
  inner === state.inner && holdUntilMs === state.holdUntilMs ? state : { inner, holdUntilMs }
