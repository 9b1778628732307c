/** The `error.type` values of the Messages API (PROVIDER-FACTS.md). */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error"

/** An error answer as the fake server sends it: status, body fields, and headers of its own. */
export interface ApiError {
  readonly status: number
  readonly type: ApiErrorType
  readonly message: string
  /** `error.details`, as the spend-limit 429 carries it. */
  readonly details?: Readonly<Record<string, unknown>>
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers?: Readonly<Record<string, string>>
}

/** The body of an error answer: `{"type":"error","error":{type,message},"request_id"}` as the real API writes it. */
export const errorBody = (error: ApiError, requestId: string): string =>
  JSON.stringify({
    type: "error",
    error: {
      type: error.type,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {})
    },
    request_id: requestId
  })

/** A 400 `invalid_request_error`. */
export const invalidRequest = (message: string): ApiError => ({
  status: 400,
  type: "invalid_request_error",
  message
})
