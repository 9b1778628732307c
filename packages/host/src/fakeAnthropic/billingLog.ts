import { appendFileSync } from "node:fs"

/** The `usage` object of a Messages API answer, exactly as the server sent it. */
export interface MessageUsage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens: number
  readonly cache_read_input_tokens: number
  readonly cache_creation: {
    readonly ephemeral_5m_input_tokens: number
    readonly ephemeral_1h_input_tokens: number
  }
  readonly service_tier: "standard"
}

/** One call the server billed (every 200 with a JSON body): a line of the billing log. */
export interface BilledCall {
  /** The message id, `msg_…`. */
  readonly id: string
  /** The `x-devmatrix-call` header, or null when the request had none. */
  readonly callId: string | null
  /** When the answer was sent, in milliseconds of the server's clock. */
  readonly at: number
  /** The model as the request named it. */
  readonly model: string
  readonly stopReason: string
  readonly usage: MessageUsage
}

/** Appends one JSON line per billed call to `path`, synchronously so that lines keep their order. */
export const appendBilledCall = (path: string, call: BilledCall): void => {
  appendFileSync(path, `${JSON.stringify(call)}\n`)
}
