import {
  decodeInput,
  defaultMaxFrameBytes,
  maxTokenLength,
  numberIn,
  PositiveDurationMs,
  webSocketPath
} from "@devmatrix/core"
import { Either, Schema } from "effect"
import { DevMatrixError } from "./DevMatrixError.js"

/**
 * A WebSocket class: the browser's `WebSocket`, `ws`'s, or any other with their `binaryType`,
 * `send`, `close` and `onopen` / `onmessage` / `onclose` / `onerror` handlers.
 */
export type WebSocketClass = new (url: string) => object

/** How the client reconnects after a connection drops: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** The delay before the first attempt after a drop, in milliseconds. @default 100 */
  readonly initialDelayMs?: number | undefined
  /** The longest delay between two attempts, in milliseconds. @default 10000 */
  readonly maxDelayMs?: number | undefined
  /** Each attempt waits `factor` times as long as the one before (up to `maxDelayMs`). @default 2 */
  readonly factor?: number | undefined
  /**
   * The random share of each delay, from 0 to 1: with 0.5 an attempt waits between half and all of
   * its delay, so clients dropped together (a host restarting) do not all come back at once.
   * @default 0.5
   */
  readonly jitter?: number | undefined
  /**
   * Failed attempts in a row after which the client gives up and closes (0: it never reconnects).
   * An attempt succeeds when the host has acknowledged the token. @default Infinity
   */
  readonly maxAttempts?: number | undefined
}

/** What `createClient` needs: where the host is, the token, and how patient to be. */
export interface ClientOptions {
  /**
   * The host: `ws://host:7420`, `wss://…`, or `http(s)://…` (read as `ws(s)://`). Without a path
   * the client connects to the host's WebSocket endpoint, `/ws`.
   */
  readonly url: string
  /** The bearer token, sent in a `hello` frame first on every connection (never logged). */
  readonly token: string
  /**
   * The WebSocket class to use. @default `globalThis.WebSocket` when there is one (browsers,
   * Node 22), else the `ws` package's
   */
  readonly WebSocket?: WebSocketClass | undefined
  readonly reconnect?: ReconnectOptions | undefined
  /**
   * How long a command waits for its reply, in milliseconds, counted from the call: the time it
   * waits for a connection (while the client reconnects) included. @default 30000
   */
  readonly commandTimeoutMs?: number | undefined
  /** How long a connection may take to open and have its token acknowledged, in milliseconds. @default 10000 */
  readonly connectTimeoutMs?: number | undefined
  /** The largest frame the client sends or reads, in bytes. @default 33554432 (32 MiB, the host's default) */
  readonly maxFrameBytes?: number | undefined
}

/** The defaults of every option of `createClient`. */
export const clientDefaults = {
  reconnect: { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity },
  commandTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  maxFrameBytes: defaultMaxFrameBytes
} as const

const attempts = Schema.Number.pipe(
  Schema.filter(
    (n) =>
      n === Infinity ||
      (Number.isInteger(n) && n >= 0) ||
      `expected a whole number from 0, or Infinity, got ${n}`
  )
)

const ReconnectSettings = Schema.Struct({
  initialDelayMs: Schema.optionalWith(PositiveDurationMs, {
    default: () => clientDefaults.reconnect.initialDelayMs
  }),
  maxDelayMs: Schema.optionalWith(PositiveDurationMs, { default: () => clientDefaults.reconnect.maxDelayMs }),
  factor: Schema.optionalWith(numberIn(1, 100), { default: () => clientDefaults.reconnect.factor }),
  jitter: Schema.optionalWith(numberIn(0, 1), { default: () => clientDefaults.reconnect.jitter }),
  maxAttempts: Schema.optionalWith(attempts, { default: () => clientDefaults.reconnect.maxAttempts })
})
export type ReconnectSettings = typeof ReconnectSettings.Type

// scheme, authority, path, query: a WebSocket URL has no fragment.
const urlParts = /^(wss?|https?):\/\/([^/?#\s]+)([^?#\s]*)(\?[^#\s]*)?$/i

const HostUrl = Schema.String.pipe(
  Schema.filter(
    (url) => urlParts.test(url) || "expected a ws://, wss://, http:// or https:// URL without a fragment"
  )
)

/** The URL the client opens: `http(s)` read as `ws(s)`, the host's `/ws` endpoint when no path is given. */
const webSocketUrlOf = (url: string): string => {
  const [, scheme = "", authority = "", path = "", query = ""] = urlParts.exec(url) ?? []
  const secure = /^(wss|https)$/i.test(scheme)
  return `${secure ? "wss" : "ws"}://${authority}${path === "" || path === "/" ? webSocketPath : path}${query}`
}

// Every problem with the token is this message: it never echoes what was given.
const Token = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxTokenLength)).annotations({
  message: () => ({
    message: `must be a string of 1 to ${maxTokenLength.toLocaleString("en-US")} characters`,
    override: true
  })
})

const WebSocketClassSchema = Schema.declare((u): u is WebSocketClass => typeof u === "function", {
  identifier: "WebSocketClass",
  message: () => "must be a WebSocket class (a constructor)"
})

const ClientSettings = Schema.Struct({
  url: HostUrl,
  token: Token,
  WebSocket: Schema.optional(WebSocketClassSchema),
  reconnect: Schema.optionalWith(ReconnectSettings, { default: () => ReconnectSettings.make({}) }),
  commandTimeoutMs: Schema.optionalWith(PositiveDurationMs, {
    default: () => clientDefaults.commandTimeoutMs
  }),
  connectTimeoutMs: Schema.optionalWith(PositiveDurationMs, {
    default: () => clientDefaults.connectTimeoutMs
  }),
  maxFrameBytes: Schema.optionalWith(numberIn(1, 2 ** 32, { int: true }), {
    default: () => clientDefaults.maxFrameBytes
  })
})

/** The options of `createClient` with every default filled in, and the URL the client opens. */
export type ClientSettings = typeof ClientSettings.Type

// The options type and its schema say the same thing (a change to one without the other fails here).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _optionsMatchTheirSchema: Same<Required<ClientOptions>, Required<typeof ClientSettings.Encoded>> = true

const decodeSettings = decodeInput(ClientSettings, "createClient options", { onExcessProperty: "error" })

/**
 * The options with their defaults, or a `DevMatrixError` (`invalid`) naming each option at fault.
 * The token is never in a message.
 */
export const clientSettingsOf = (options: ClientOptions): ClientSettings =>
  Either.match(decodeSettings(options), {
    onLeft: (error) => {
      throw new DevMatrixError({
        code: "invalid_command",
        reason: "invalid",
        message: error.message,
        outcomeUnknown: false
      })
    },
    onRight: (settings) => ({ ...settings, url: webSocketUrlOf(settings.url) })
  })
