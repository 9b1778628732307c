import { Duration, Effect, Layer, Option, Schema } from "effect"
import {
  damagedEntry,
  encodePromptCacheEntry,
  makePromptCache,
  PromptCache,
  PromptCacheEntryJson,
  PromptCacheError
} from "./PromptCache.js"
import type { PromptCacheBackend, PromptCacheEntry, PromptCacheOptions } from "./PromptCache.js"
import { Store } from "./Store.js"
import type { StoreError, StoreService } from "./Store.js"

/** Options of `PromptCacheStore`. */
export interface PromptCacheStoreOptions extends PromptCacheOptions {
  /** Expired rows deleted by each write, at most. @default 100 */
  readonly purgeLimit?: number
}

/**
 * A store call of the cache that takes longer is given up (a miss, or a write dropped): a stalled
 * store must not hold an atom's call, which needs no store to be made.
 */
const cacheCallTimeoutMs = 1_000

const decodeEntry = Schema.decode(PromptCacheEntryJson)

const storeBackend = (store: StoreService, purgeLimit: number): PromptCacheBackend => {
  const name = `store:${store.name}`
  const unavailable = (error: StoreError) =>
    new PromptCacheError({
      reason: error.reason === "Corrupt" ? "Corrupt" : "Unavailable",
      cache: name,
      detail: error.message,
      cause: error
    })
  // Disconnected: a query stuck on a stalled connection is left to end on its own, not waited for.
  // A store on this thread cannot stall apart from the thread, so its calls are not raced against a
  // timer (which costs a fiber and a timeout per lookup).
  const bounded = <A>(call: Effect.Effect<A, StoreError>) =>
    store.inProcess === true
      ? Effect.mapError(call, unavailable)
      : call.pipe(
          Effect.mapError(unavailable),
          Effect.disconnect,
          Effect.timeoutFail({
            duration: Duration.millis(cacheCallTimeoutMs),
            onTimeout: () =>
              new PromptCacheError({
                reason: "Unavailable",
                cache: name,
                detail: `the store did not answer within ${cacheCallTimeoutMs} ms`
              })
          })
        )
  return {
    name,
    get: (key) =>
      bounded(store.getPromptCacheRow(key)).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeedNone,
            onSome: (row) =>
              Effect.map(
                Effect.mapError(decodeEntry(row.body), damagedEntry(name, key)),
                Option.some<PromptCacheEntry>
              )
          })
        )
      ),
    put: (entry) =>
      encodePromptCacheEntry(name, entry).pipe(
        Effect.flatMap((body) =>
          bounded(
            store.putPromptCacheRow(
              {
                key: entry.key,
                model: entry.model,
                body,
                createdAt: entry.createdAt,
                expiresAt: entry.expiresAt
              },
              // The entry's own clock, so that purging and serving agree on what has expired.
              { nowMs: entry.createdAt, purgeLimit }
            )
          )
        )
      ),
    evict: (key, nowMs) => bounded(store.deleteExpiredPromptCacheRow(key, nowMs))
  }
}

/**
 * The cache in the Store (table `dm_prompt_cache`): the embedded default, so answers survive
 * across runs and processes; the same SQL on SQLite and PostgreSQL. A store that fails makes
 * lookups misses, never failed atoms.
 */
export const PromptCacheStore = (
  options: PromptCacheStoreOptions = {}
): Layer.Layer<PromptCache, never, Store> =>
  Layer.effect(
    PromptCache,
    Effect.flatMap(Store, (store) => makePromptCache(storeBackend(store, options.purgeLimit ?? 100), options))
  )
