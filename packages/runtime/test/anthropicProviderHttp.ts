import { Effect } from "effect"
import type { Scope } from "effect"
import { createServer } from "node:http"
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A small stand-in for the Messages API on 127.0.0.1, for the provider's tests: it answers each
 * request with the next scripted reply (status, headers, body, delay, dropped connection, hang),
 * or with a plain message when none is left, in the real API's shapes, and records what it got.
 */

/** One scripted answer. */
export interface ScriptedReply {
  /** @default 200 */
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  /** An object is sent as JSON (`application/json`); a string as it is. @default a message */
  readonly body?: unknown
  /** Content type for a string body. @default "application/json" */
  readonly contentType?: string
  /** Wait this long (real time) before answering. @default 0 */
  readonly delayMs?: number
  /** Destroy the socket instead of answering (the client sees a reset connection). */
  readonly drop?: boolean
  /** Never answer: the client's timeout or abort ends the request. */
  readonly hang?: boolean
}

/** One request as the server received it. */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  /** The parsed JSON body. */
  readonly body: Record<string, unknown>
  /** Resolves when the client closed the connection before the server answered (abort, timeout). */
  readonly closedEarly: Promise<void>
}

export interface MessagesServer {
  readonly baseURL: string
  readonly requests: ReadonlyArray<ReceivedRequest>
  /** Queues replies for the next requests, in order. */
  readonly reply: (...replies: ReadonlyArray<ScriptedReply>) => void
  /** Resolves with the next request the server receives. */
  readonly nextRequest: () => Promise<ReceivedRequest>
}

/** The error body the API sends: `{ type: "error", error: { type, message, details? }, request_id }`. */
export const errorBody = (type: string, message: string, details?: Record<string, unknown>) => ({
  type: "error",
  error: { type, message, ...(details !== undefined ? { details } : {}) },
  request_id: "req_test_error"
})

/** The usage block of a message, as the API reports it. */
export interface UsageFields {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens?: number | null
  readonly cache_read_input_tokens?: number | null
  readonly cache_creation?: {
    readonly ephemeral_5m_input_tokens: number
    readonly ephemeral_1h_input_tokens: number
  } | null
}

/** A message body as the API sends it. */
export const messageBody = (
  text: string,
  options: { readonly stopReason?: string; readonly usage?: UsageFields; readonly model?: string } = {}
) => ({
  id: "msg_test",
  type: "message",
  role: "assistant",
  model: options.model ?? "claude-sonnet-4-5-20250929",
  content: [{ type: "text", text }],
  stop_reason: options.stopReason ?? "end_turn",
  stop_sequence: null,
  usage: options.usage ?? {
    input_tokens: 120,
    output_tokens: 30,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    service_tier: "standard"
  }
})

const send = (response: ServerResponse, reply: ScriptedReply): void => {
  const body = reply.body ?? messageBody("```ts\nexport const one = 1\n```")
  const text = typeof body === "string" ? body : JSON.stringify(body)
  response.writeHead(reply.status ?? 200, {
    "content-type": typeof body === "string" ? (reply.contentType ?? "application/json") : "application/json",
    "request-id": "req_test",
    ...reply.headers
  })
  response.end(text)
}

/** Starts the server for the scope; it closes (and drops open connections) when the scope ends. */
export const messagesServer: Effect.Effect<MessagesServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly server: ReturnType<typeof createServer>; readonly handle: MessagesServer }>(
    (resume) => {
      const queue: Array<ScriptedReply> = []
      const requests: Array<ReceivedRequest> = []
      const waiting: Array<(request: ReceivedRequest) => void> = []
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        let closedEarly!: () => void
        const closed = new Promise<void>((resolve) => (closedEarly = resolve))
        response.on("close", () => {
          if (!response.writableFinished) closedEarly()
        })
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8")
          const received: ReceivedRequest = {
            method: request.method ?? "",
            path: request.url ?? "",
            headers: request.headers,
            body: raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>),
            closedEarly: closed
          }
          requests.push(received)
          for (const resolve of waiting.splice(0)) resolve(received)
          const reply = queue.shift() ?? {}
          if (reply.drop === true) return void request.socket.destroy()
          if (reply.hang === true) return
          if ((reply.delayMs ?? 0) > 0) setTimeout(() => send(response, reply), reply.delayMs)
          else send(response, reply)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            server,
            handle: {
              baseURL: `http://127.0.0.1:${port}`,
              requests,
              reply: (...replies) => void queue.push(...replies),
              nextRequest: () => new Promise((resolve) => waiting.push(resolve))
            }
          })
        )
      })
    }
  ),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ handle }) => handle))
