import type { ModelFailureReason } from "../retry/ModelFailure.js"
import type { CallClass } from "./limiterPolicy.js"

/**
 * How a call that ended with `reason` counts for the limiter (undefined: it answered). A stop the
 * model chose (`max_tokens`, `refusal`) and a failed validation are answers: the provider served
 * the call. Connection drops, 5xx and the rest are errors.
 */
export const callClassOf = (reason: ModelFailureReason | undefined): CallClass => {
  switch (reason) {
    case undefined:
    case "max_tokens":
    case "refusal":
    case "validation":
    case "rejected":
      return "success"
    case "rate_limited":
      return "rate_limited"
    case "overloaded":
      return "overloaded"
    case "timeout":
      return "timeout"
    default:
      return "error"
  }
}
