import type { RetryPolicy } from "../schema/RetryPolicy.js"
import type { ModelFailure } from "./ModelFailure.js"

/** One retry of one atom, as its journal tells it. */
export interface RetryStep {
  /**
   * Which retry this is: 1 after the first failed attempt. Every failed attempt counts, a refused
   * output included; an attempt cut short by a crash or stop is not a failure and does not.
   */
  readonly retry: number
  /** The failure that ended the attempt before this retry. */
  readonly failure: ModelFailure
  /** Names the atom within its plan: the jitter is drawn from it, so every run draws the same. */
  readonly jitterKey: string
}

/** FNV-1a, then murmur3's finalizer to spread the bits: a uniform draw in [0, 1) from a string. */
const uniformOf = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b)
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35)
  return ((hash ^ (hash >>> 16)) >>> 0) / 4294967296
}

/**
 * The retry schedule: how long an atom waits before a retry, in whole milliseconds. The n-th retry
 * waits `initialMs * factor^(n-1)`, spread by ±`jitter`, capped at `capMs`, and never less than the
 * provider's `retry-after`; a refused output goes back to the model at once (its problems are the
 * feedback, nothing is overloaded), though it still counts as a step. A pure function of the policy
 * and the journaled history, so an atom resumed after a restart waits what it would have waited
 * without one. Whether the retry happens at all is the atom machine's decision, not this one's.
 */
export const retryDelayMs = (policy: RetryPolicy, step: RetryStep): number => {
  const floorMs = step.failure.retryAfterMs ?? 0
  if (step.failure.reason === "validation") return Math.ceil(floorMs)
  // Never Infinity, so never Infinity * 0 (NaN): far enough along, the cap decides.
  const growth = Math.min(Number.MAX_VALUE, policy.factor ** (step.retry - 1))
  const exponentialMs = Math.min(Number.MAX_VALUE, policy.initialMs * growth)
  const spread = 1 + policy.jitter * (2 * uniformOf(`${step.jitterKey}#${step.retry}`) - 1)
  return Math.ceil(Math.max(floorMs, Math.min(policy.capMs, exponentialMs * spread)))
}
