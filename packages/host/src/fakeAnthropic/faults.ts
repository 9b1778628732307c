import { seededRandom } from "@devmatrix/core"

/**
 * The ways the fake server can misbehave, each as the real API (or the network in front of it)
 * would: see `Fault`.
 */
export const faultKinds = [
  "rate_limit",
  "overloaded",
  "server_error",
  "hang",
  "drop",
  "malformed",
  "spend_limit",
  "unauthorized",
  "invalid",
  "too_large",
  "refusal",
  "max_tokens"
] as const
export type FaultKind = (typeof faultKinds)[number]

/**
 * One fault for one request. A bare kind takes its defaults; the object forms carry a parameter.
 * - `rate_limit`: 429 `rate_limit_error` with `retry-after` (`retryAfterS`, default 1); a retry of
 *   the same atom before it is refused again.
 * - `overloaded`: 529 `overloaded_error`. `server_error`: 500 `api_error` (or `status` 502/503/504).
 * - `hang`: no answer until the client gives up. `drop`: the socket is destroyed mid-request.
 * - `malformed`: 200 with a body that is not JSON (nothing billed).
 * - `spend_limit`: 429 `rate_limit_error`, `error.details.error_code` "enforced_spend_limit_reached",
 *   no `retry-after`.
 * - `unauthorized`: 401. `invalid`: 400 (`message`). `too_large`: 413.
 * - `refusal`: 200, `stop_reason` "refusal". `max_tokens`: 200, output cut to `outputTokens`
 *   (default half of it), `stop_reason` "max_tokens". Both are billed.
 */
export type Fault =
  | FaultKind
  | { readonly kind: "rate_limit"; readonly retryAfterS?: number }
  | { readonly kind: "server_error"; readonly status?: 500 | 502 | 503 | 504 }
  | { readonly kind: "invalid"; readonly message?: string }
  | { readonly kind: "max_tokens"; readonly outputTokens?: number }
  | { readonly kind: Exclude<FaultKind, "rate_limit" | "server_error" | "invalid" | "max_tokens"> }

/** A fault in its object form. */
export type FaultSpec = Exclude<Fault, FaultKind>

/** The object form of a fault. */
export const faultSpecOf = (fault: Fault): FaultSpec => (typeof fault === "string" ? { kind: fault } : fault)

/** The kinds a random fault is drawn from unless told: those a run must recover from on its own. */
export const defaultRandomFaultKinds: ReadonlyArray<FaultKind> = [
  "rate_limit",
  "overloaded",
  "server_error",
  "drop"
]

/** The faults to come: those injected, in order, then a random share of the rest. */
export class FaultPlan {
  private readonly queue: Array<FaultSpec> = []
  private random: () => number

  constructor(
    private rate: number,
    private kinds: ReadonlyArray<Fault>,
    seed: number
  ) {
    this.random = seededRandom(seed)
  }

  inject(faults: ReadonlyArray<Fault>): void {
    this.queue.push(...faults.map(faultSpecOf))
  }

  setRate(rate: number, kinds?: ReadonlyArray<Fault>): void {
    this.rate = rate
    if (kinds !== undefined) this.kinds = kinds
  }

  /** The fault for the next request, if it gets one. */
  next(): FaultSpec | undefined {
    const injected = this.queue.shift()
    if (injected !== undefined) return injected
    if (this.rate <= 0 || this.kinds.length === 0 || this.random() >= this.rate) return undefined
    return faultSpecOf(this.kinds[Math.floor(this.random() * this.kinds.length)]!)
  }
}
