import type { ModelFailure, ModelFailureReason, ModelFailureScope } from "./ModelFailure.js"

/**
 * What is known about a failed call: an HTTP status, the provider's error body, a network error
 * code, or the stop reason of a call that was answered (and billed) but produced no usable code.
 */
export interface FailedCall {
  readonly status?: number | undefined
  /** The provider's error type (`error.type` of the body), e.g. `rate_limit_error` or `overloaded_error`. */
  readonly errorType?: string | undefined
  /**
   * The provider's stable cause code (`error.details.error_code` of the body), e.g.
   * `enforced_spend_limit_reached`: it tells a spend cap from a rate limit, both 429s.
   */
  readonly errorCode?: string | undefined
  /** A Node network error code such as `ECONNRESET`, or `ETIMEDOUT` for our own timeout. */
  readonly code?: string | undefined
  /** The `stop_reason` of an answered call: `max_tokens`, `refusal`, `model_context_window_exceeded`. */
  readonly stopReason?: string | undefined
  /** Response headers, names in lower case. */
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined
  /** The provider's message (`error.message` of the body), or what the client knew. */
  readonly message?: string | undefined
}

/** A failure as `classifyModelFailure` makes it: its scope is always known. */
export type ClassifiedFailure = ModelFailure & { readonly scope: ModelFailureScope }

const connectionCodes = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "ECONNREFUSED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET"
])
const timeoutCodes = new Set([
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT"
])

/** The Messages API's request size limit (HTTP 413 comes from its proxy, often without a JSON body). */
const maxRequestBytesText = "32 MB"

// The tier's monthly cap (429, error_code) and a spend limit the organisation or workspace set for
// itself (400, "You have reached your specified API usage limits"): waiting does not lift either.
const isSpendLimit = (call: FailedCall): boolean =>
  call.errorCode === "enforced_spend_limit_reached" ||
  call.errorType === "enforced_spend_limit_reached" ||
  /spend limit|specified (workspace )?API usage limits/i.test(call.message ?? "")

const reasonOf = (call: FailedCall): ModelFailureReason => {
  const { status, errorType, code } = call
  if (isSpendLimit(call)) return "spend_limit"
  if (call.stopReason === "max_tokens") return "max_tokens"
  if (call.stopReason === "refusal") return "refusal"
  if (call.stopReason === "model_context_window_exceeded") return "request_too_large"
  if (errorType === "overloaded_error" || status === 529) return "overloaded"
  if (errorType === "rate_limit_error" || status === 429) return "rate_limited"
  if (code !== undefined && timeoutCodes.has(code)) return "timeout"
  if (status === 408 || status === 504) return "timeout"
  if (code !== undefined && connectionCodes.has(code)) return "connection"
  if (
    status === 401 ||
    status === 403 ||
    errorType === "authentication_error" ||
    errorType === "permission_error"
  )
    return "authentication"
  if (status === 402 || errorType === "billing_error") return "billing"
  if (status === 404 || errorType === "not_found_error") return "not_found"
  if (status === 409 || errorType === "conflict_error") return "conflict"
  if (status === 413 || errorType === "request_too_large") return "request_too_large"
  if (/prompt is too long/i.test(call.message ?? "")) return "request_too_large"
  if (status !== undefined && status >= 500) return "server_error"
  if (errorType === "api_error") return "server_error"
  // A success status with nothing usable in it (a body that is not a message): the server's fault.
  if (status !== undefined && status >= 200 && status < 300) return "server_error"
  if (status !== undefined && status >= 400) return "invalid_request"
  return "unknown"
}

const retryableReasons: ReadonlySet<ModelFailureReason> = new Set([
  "rate_limited",
  "overloaded",
  "server_error",
  "timeout",
  "connection",
  "conflict",
  "max_tokens"
])

const providerReasons: ReadonlySet<ModelFailureReason> = new Set([
  "overloaded",
  "authentication",
  "billing",
  "spend_limit"
])

/**
 * Parses `retry-after-ms`, or `retry-after` as seconds or an HTTP date (relative to `nowMs`).
 * Returns undefined when absent or unreadable.
 */
export const parseRetryAfterMs = (
  headers: Readonly<Record<string, string | undefined>> | undefined,
  nowMs: number
): number | undefined => {
  if (headers === undefined) return undefined
  const millis = Number(headers["retry-after-ms"])
  if (headers["retry-after-ms"] !== undefined && Number.isFinite(millis) && millis >= 0) return millis
  const value = headers["retry-after"]
  if (value === undefined || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}

const messageOf = (call: FailedCall, reason: ModelFailureReason): string => {
  const given =
    call.message ??
    (call.status !== undefined ? `HTTP ${call.status}` : call.code !== undefined ? call.code : reason)
  // The provider's "prompt is too long: N tokens > M maximum" names its limit; a 413 may not.
  if (reason === "request_too_large" && call.status === 413)
    return `${given} (the Messages API accepts requests of at most ${maxRequestBytesText})`
  if (reason === "max_tokens") return `${given}: the answer reached max_tokens before it was complete`
  if (reason === "refusal") return `${given}: the model declined to answer this prompt`
  return given
}

/**
 * Decides whether a failed model call is worth retrying, no sooner than when, and whether the
 * reaction is the atom's or the whole provider's (see `ModelFailureReason`, `ModelFailureScope`).
 * `max_tokens` is classified retryable: the engine retries it once, with a larger `max_tokens`.
 *
 * @example
 * classifyModelFailure({ status: 429, errorType: "rate_limit_error", headers: { "retry-after": "7" } }, now)
 * // { reason: "rate_limited", retryable: true, scope: "atom", status: 429, retryAfterMs: 7000, ... }
 */
export const classifyModelFailure = (call: FailedCall, nowMs: number): ClassifiedFailure => {
  const reason = reasonOf(call)
  const retryable = retryableReasons.has(reason)
  // A retry-after on a failure that is not retried is noise (the spend-limit 429 sends none).
  const retryAfterMs = retryable ? parseRetryAfterMs(call.headers, nowMs) : undefined
  return {
    reason,
    retryable,
    message: messageOf(call, reason),
    scope: providerReasons.has(reason) ? "provider" : "atom",
    ...(call.status !== undefined ? { status: call.status } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
  }
}
