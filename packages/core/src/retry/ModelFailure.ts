import { Schema } from "effect"

/**
 * Why a model call failed. `rate_limited` (429, our own limit), `overloaded` (529, the provider's),
 * `server_error` (5xx), `timeout` and `connection` are transient; the rest are not worth a retry
 * of the same request (`validation` is retried with the errors fed back, as a new attempt;
 * `rejected` is a reviewer's no).
 */
export const ModelFailureReason = Schema.Literal(
  "rate_limited",
  "overloaded",
  "server_error",
  "timeout",
  "connection",
  "spend_limit",
  "invalid_request",
  "authentication",
  "validation",
  "rejected",
  "unknown"
)
export type ModelFailureReason = typeof ModelFailureReason.Type

/** A classified model-call failure, as the retry policy and the atom machine consume it. */
export const ModelFailure = Schema.Struct({
  reason: ModelFailureReason,
  retryable: Schema.Boolean,
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  /** The provider's `retry-after`, when it sent one: no retry happens sooner. */
  retryAfterMs: Schema.optional(Schema.NonNegative)
})
export type ModelFailure = typeof ModelFailure.Type
