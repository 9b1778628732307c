import type { ModelFailure } from "./ModelFailure.js"

/** How long a plan admits nothing after the provider said it is overloaded (529) without a `retry-after`. */
export const overloadHoldMs = 2_000

/**
 * How long a plan admits nothing after a 429 without a `retry-after`: the bucket that refused the
 * call refuses the next ones too, and the atoms it pushed back are waiting in admission.
 */
export const rateLimitHoldMs = 1_000

/**
 * What a plan does about a failure that is the provider's, not the atom's (`scope: "provider"`):
 * `fail` — a key or account it refuses ends the plan with one message, not thousands of failed
 * atoms; `pause` — its spend limit, which waiting does not lift: nothing is retried until it is
 * lifted and the plan resumed; `hold` — its overload: every admission of the plan waits, not only
 * the failed atom's retry (a 529, and a 429 too: the provider's bucket is empty for every call,
 * and retrying before its `retry-after` fails). Undefined: the atom's own retry policy is all there
 * is to it.
 */
export type ProviderReaction =
  | { readonly _tag: "fail"; readonly reason: string }
  | { readonly _tag: "pause"; readonly reason: string }
  | { readonly _tag: "hold"; readonly ms: number }

export const providerReactionTo = (failure: ModelFailure): ProviderReaction | undefined => {
  if (failure.reason === "rate_limited" && failure.retryable)
    return { _tag: "hold", ms: failure.retryAfterMs ?? rateLimitHoldMs }
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
