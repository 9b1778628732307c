import { Duration, Effect, Layer, Option, Schema } from "effect"
import { Redis } from "ioredis"
import {
  damagedEntry,
  encodePromptCacheEntry,
  makePromptCache,
  PromptCache,
  PromptCacheEntryJson,
  PromptCacheError
} from "./PromptCache.js"
import type { PromptCacheBackend, PromptCacheOptions } from "./PromptCache.js"

/** Options of `PromptCacheRedis`. */
export interface PromptCacheRedisOptions extends PromptCacheOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string
  /** Put before every key, so that several users of one Redis keep apart. @default "devmatrix:prompt-cache:" */
  readonly keyPrefix?: string
  /** How long a connection attempt may take before it counts as failed. @default 1_000 */
  readonly connectTimeoutMs?: number
  /**
   * How long one GET or SET may wait for its answer: past it, a lookup is a miss. A cache lookup
   * that takes longer than this is not worth waiting for beside a model call. @default 500
   */
  readonly commandTimeoutMs?: number
}

/** The defaults of `PromptCacheRedisOptions`. */
export const promptCacheRedisDefaults = {
  keyPrefix: "devmatrix:prompt-cache:",
  connectTimeoutMs: 1_000,
  commandTimeoutMs: 500
} as const

/** The URL without its password, for messages (`redis://:***@host`, `redis://user:***@host`). */
const redactRedisUrl = (url: string): string => url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@")

/** Reconnection: soon at first, then every 2 s at most, for as long as the layer lives. */
const reconnectDelayMs = (attempt: number) => Math.min(attempt * 100, 2_000)

const decodeEntry = Schema.decode(PromptCacheEntryJson)

/**
 * The client, connected or given up on within `connectTimeoutMs`: a Redis that is down does not
 * hold the layer up, nor fail it; its lookups are misses until it answers (it keeps reconnecting).
 * There is no offline queue: a command while disconnected fails at once rather than waiting.
 */
const connect = (options: PromptCacheRedisOptions, name: string) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new Redis(options.url, {
          connectTimeout: options.connectTimeoutMs ?? promptCacheRedisDefaults.connectTimeoutMs,
          commandTimeout: options.commandTimeoutMs ?? promptCacheRedisDefaults.commandTimeoutMs,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          retryStrategy: reconnectDelayMs,
          connectionName: "devmatrix-prompt-cache"
        })
    ),
    // Not `quit`, which waits for an answer a stalled server never sends.
    (client) => Effect.sync(() => client.disconnect())
  ).pipe(
    Effect.tap((client) =>
      Effect.async<void>((resume) => {
        const done = () => {
          client.off("ready", done).off("error", done)
          resume(Effect.void)
        }
        // Errors are counted per command; without a listener ioredis prints each one.
        client.on("error", () => {})
        client.once("ready", done).once("error", done)
        return Effect.sync(() => client.off("ready", done).off("error", done))
      }).pipe(
        Effect.timeout(
          Duration.millis(options.connectTimeoutMs ?? promptCacheRedisDefaults.connectTimeoutMs)
        ),
        Effect.catchAll(() =>
          Effect.logWarning(`prompt cache ${name}: not connected yet; lookups are misses until it is`)
        )
      )
    )
  )

const redisBackend = (client: Redis, name: string, keyPrefix: string): PromptCacheBackend => {
  const unavailable = (doing: string) => (cause: unknown) =>
    new PromptCacheError({
      reason: "Unavailable",
      cache: name,
      // Without an offline queue, a command while disconnected fails at once, in ioredis's words.
      detail: `${doing}: ${client.status === "ready" ? (cause instanceof Error ? cause.message : String(cause)) : `not connected (${client.status})`}`,
      cause
    })
  return {
    name,
    get: (key) =>
      Effect.tryPromise({ try: () => client.get(keyPrefix + key), catch: unavailable("cannot read") }).pipe(
        Effect.flatMap((body) =>
          body === null
            ? Effect.succeedNone
            : Effect.map(Effect.mapError(decodeEntry(body), damagedEntry(name, key)), Option.some)
        )
      ),
    put: (entry, ttlMs) =>
      encodePromptCacheEntry(name, entry).pipe(
        Effect.flatMap((body) =>
          Effect.tryPromise({
            // PX wants whole milliseconds; rounding up never serves an entry early-expired.
            try: () => client.set(keyPrefix + entry.key, body, "PX", Math.ceil(ttlMs)),
            catch: unavailable("cannot write")
          })
        ),
        Effect.asVoid
      ),
    // Redis expires keys on its own clock; the service's clock (which may run ahead, as in tests)
    // found it expired, so it goes now.
    evict: (key) =>
      Effect.asVoid(
        Effect.tryPromise({ try: () => client.del(keyPrefix + key), catch: unavailable("cannot delete") })
      )
  }
}

/**
 * The cache on Redis (`SET key value PX ttl`, `GET`): shared by every process that points at the
 * same Redis. A Redis that is down, refuses or stalls makes lookups misses within
 * `commandTimeoutMs`, never hangs or failed atoms; the connection closes with the layer's scope.
 */
export const PromptCacheRedis = (options: PromptCacheRedisOptions): Layer.Layer<PromptCache> => {
  const name = redactRedisUrl(options.url)
  return Layer.scoped(
    PromptCache,
    Effect.flatMap(connect(options, name), (client) =>
      makePromptCache(
        redisBackend(client, name, options.keyPrefix ?? promptCacheRedisDefaults.keyPrefix),
        options
      )
    )
  )
}
