import { Effect, Layer, Option, Schema } from "effect"
import {
  damagedEntry,
  invalidEntry,
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

const decodeEntry = Schema.decode(PromptCacheEntryJson)
const encodeEntry = Schema.encode(PromptCacheEntryJson)

const storeBackend = (store: StoreService, purgeLimit: number): PromptCacheBackend => {
  const name = `store:${store.name}`
  const unavailable = (error: StoreError) =>
    new PromptCacheError({
      reason: error.reason === "Corrupt" ? "Corrupt" : "Unavailable",
      cache: name,
      detail: error.message,
      cause: error
    })
  return {
    name,
    get: (key) =>
      store.getPromptCacheRow(key).pipe(
        Effect.mapError(unavailable),
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
      encodeEntry(entry).pipe(
        Effect.mapError(invalidEntry(name, entry.key)),
        Effect.flatMap((body) =>
          store
            .putPromptCacheRow(
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
            .pipe(Effect.mapError(unavailable))
        )
      ),
    evict: (key, nowMs) => Effect.mapError(store.deleteExpiredPromptCacheRow(key, nowMs), unavailable)
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
