import type { ApiError } from "./apiError.js"
import type { FaultSpec } from "./faults.js"

const serverErrorMessages: Record<500 | 502 | 503 | 504, string> = {
  500: "Internal server error",
  502: "Bad gateway",
  503: "Service unavailable",
  504: "Gateway timeout"
}

/** 00:00 UTC on the first of the next month: when a monthly spend limit lifts. */
const nextMonthUtc = (nowMs: number): string => {
  const now = new Date(nowMs)
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 10)
}

/**
 * The error answer of a fault, as the real API words it; undefined for the faults that are not
 * error answers (`hang`, `drop`, `malformed`, `refusal`, `max_tokens`).
 */
export const faultErrorOf = (fault: FaultSpec, nowMs: number): ApiError | undefined => {
  switch (fault.kind) {
    case "rate_limit":
      return {
        status: 429,
        type: "rate_limit_error",
        message: "This request would exceed your organization's rate limit. Please try again later.",
        headers: { "retry-after": String(Math.max(0, Math.ceil(fault.retryAfterS ?? 1))) }
      }
    case "overloaded":
      return { status: 529, type: "overloaded_error", message: "Overloaded" }
    case "server_error": {
      const status = fault.status ?? 500
      return { status, type: "api_error", message: serverErrorMessages[status] }
    }
    case "spend_limit":
      return {
        status: 429,
        type: "rate_limit_error",
        message: `You have reached your specified API usage limits. You will regain access on ${nextMonthUtc(nowMs)} at 00:00 UTC.`,
        details: { error_code: "enforced_spend_limit_reached" }
      }
    case "unauthorized":
      return { status: 401, type: "authentication_error", message: "invalid x-api-key" }
    case "invalid":
      return {
        status: 400,
        type: "invalid_request_error",
        message: fault.message ?? "invalid request (injected)"
      }
    case "too_large":
      return {
        status: 413,
        type: "request_too_large",
        message: "Request exceeds the maximum allowed number of bytes."
      }
    default:
      return undefined
  }
}
