import type { ReconnectSettings } from "../ClientOptions.js"

/**
 * How long to wait before reconnect attempt `attempt` (0 after a drop, 1 after that attempt
 * failed...), in whole milliseconds: `initialDelayMs * factor^attempt` capped at `maxDelayMs`,
 * less up to `jitter` of it drawn by `random` (a draw in [0, 1)).
 */
export const reconnectDelayMs = (policy: ReconnectSettings, attempt: number, random: number): number => {
  // factor^attempt grows to Infinity, never NaN (factor >= 1): the cap decides.
  const exponentialMs = policy.initialDelayMs * policy.factor ** attempt
  const cappedMs = Math.min(policy.maxDelayMs, exponentialMs)
  return Math.ceil(cappedMs * (1 - policy.jitter * random))
}
