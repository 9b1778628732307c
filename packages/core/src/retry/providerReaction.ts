import type { ModelFailure } from "./ModelFailure.js"

/** How long a plan admits nothing after the provider said it is overloaded (529) without a `retry-after`. */
export const overloadHoldMs = 2_000

/**
 * What a plan does about a failure that is the provider's, not the atom's (`scope: "provider"`):
 * `fail` — a key or account it refuses ends the plan with one message, not thousands of failed
 * atoms; `pause` — its spend limit, which waiting does not lift: nothing is retried until it is
 * lifted and the plan resumed; `hold` — its overload: every admission of the plan waits, not only
 * the failed atom's retry. Undefined: the atom's own retry policy is all there is to it (a 429
 * is our own limit: the scheduler's limiter reads it, and the atom waits out its `retry-after`).
 */
export type ProviderReaction =
  | { readonly _tag: "fail"; readonly reason: string }
  | { readonly _tag: "pause"; readonly reason: string }
  | { readonly _tag: "hold"; readonly ms: number }

export const providerReactionTo = (failure: ModelFailure): ProviderReaction | undefined => {
  if (failure.scope !== "provider") return undefined
  switch (failure.reason) {
    case "authentication":
    case "billing":
      return {
        _tag: "fail",
        reason: `the provider refused the plan's calls (${failure.reason}): ${failure.message}`
      }
    case "spend_limit":
      return {
        _tag: "pause",
        reason: `the provider's spend limit is reached (${failure.message}): nothing is retried until it is lifted and the plan resumed`
      }
    case "overloaded":
      return { _tag: "hold", ms: failure.retryAfterMs ?? overloadHoldMs }
    default:
      return undefined
  }
}
