import type { ModelFailure, ModelFailureReason } from "./ModelFailure.js"

/** What is known about a failed call: an HTTP status, a provider error type, a network error code. */
export interface FailedCall {
  readonly status?: number | undefined
  /** The provider's error type, e.g. Anthropic's `rate_limit_error` or `overloaded_error`. */
  readonly errorType?: string | undefined
  /** A Node network error code such as `ECONNRESET`, or `ETIMEDOUT` for our own timeout. */
  readonly code?: string | undefined
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined
  readonly message?: string | undefined
}

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
  "UND_ERR_HEADERS_TIMEOUT"
])

const reasonOf = (call: FailedCall): ModelFailureReason => {
  const { status, errorType, code } = call
  // A spend limit answers 429 like a rate limit, but waiting does not lift it.
  if (errorType === "enforced_spend_limit_reached" || /spend limit/i.test(call.message ?? ""))
    return "spend_limit"
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
  if (status !== undefined && status >= 500) return "server_error"
  if (errorType === "api_error") return "server_error"
  if (status !== undefined && status >= 400) return "invalid_request"
  return "unknown"
}

const retryableReasons: ReadonlySet<ModelFailureReason> = new Set([
  "rate_limited",
  "overloaded",
  "server_error",
  "timeout",
  "connection"
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

/** Decides whether a failed model call is worth retrying, and no sooner than when. */
export const classifyModelFailure = (call: FailedCall, nowMs: number): ModelFailure => {
  const reason = reasonOf(call)
  const retryAfterMs = parseRetryAfterMs(call.headers, nowMs)
  const message =
    call.message ??
    (call.status !== undefined ? `HTTP ${call.status}` : call.code !== undefined ? call.code : reason)
  return {
    reason,
    retryable: retryableReasons.has(reason),
    message,
    ...(call.status !== undefined ? { status: call.status } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
  }
}
