import { Schema } from "effect"

/**
 * Why a model call failed.
 *
 * Transient (worth the same request again, after a backoff): `rate_limited` (429, our own limit),
 * `overloaded` (529, the provider's, for everyone), `server_error` (5xx, or a 200 whose body could
 * not be read), `timeout`, `connection` and `conflict` (409). `max_tokens` is retryable too, but not
 * with the same request: the engine retries it once with a larger `max_tokens`, within the budget.
 *
 * Not worth a retry of the same request: `invalid_request` (400), `request_too_large` (413, or a
 * prompt longer than the model's context; the message names the limit), `refusal` (the model
 * declined; the same prompt would be declined again), `not_found` (404: usually an unknown model),
 * `authentication` (401/403), `billing` (402) and `spend_limit` (the tier's monthly cap, or a spend
 * limit the organisation set: waiting until `retry-after` does not lift it). `validation` is
 * retried with the errors fed back, as a new attempt; `rejected` is a reviewer's no.
 */
export const ModelFailureReason = Schema.Literal(
  "rate_limited",
  "overloaded",
  "server_error",
  "timeout",
  "connection",
  "conflict",
  "max_tokens",
  "spend_limit",
  "invalid_request",
  "request_too_large",
  "refusal",
  "not_found",
  "authentication",
  "billing",
  "validation",
  "rejected",
  "unknown"
)
export type ModelFailureReason = typeof ModelFailureReason.Type

/**
 * Whom a failure's reaction is for. `atom`: the atom that failed retries or fails, the others go
 * on. `provider`: every call to this provider is affected, so the reaction is the whole plan's
 * (`overloaded`: everyone backs off; `authentication`, `billing`, `spend_limit`: the plan stops or
 * pauses, so that thousands of atoms do not each find out on their own).
 */
export const ModelFailureScope = Schema.Literal("atom", "provider")
export type ModelFailureScope = typeof ModelFailureScope.Type

/** A classified model-call failure, as the retry policy and the atom machine consume it. */
export const ModelFailure = Schema.Struct({
  reason: ModelFailureReason,
  retryable: Schema.Boolean,
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  /** The provider's `retry-after`, when it sent one: no retry happens sooner. */
  retryAfterMs: Schema.optional(Schema.NonNegative),
  /**
   * Whom the reaction is for; absent means `atom` (failures journaled before the field existed,
   * and the validation and review failures the atom machine makes, concern only their atom).
   * `classifyModelFailure` always sets it.
   */
  scope: Schema.optional(ModelFailureScope)
})
export type ModelFailure = typeof ModelFailure.Type
