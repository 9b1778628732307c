import {
  makeStoreMemory,
  PromptCache,
  PromptCacheStore,
  Store,
  StoreError,
  StoreMemory,
  StorePg,
  StoreSqlite
} from "@devmatrix/runtime"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { answer, promptCacheRowsSuite, promptCacheSuite } from "./conformance/promptCacheSuite.js"
import { pgTestUrl, urlWithSchema, withPgSchema } from "./pgTestStore.js"

const tempFile = () => join(mkdtempSync(join(tmpdir(), "devmatrix-prompt-cache-")), "store.db")

/** An SQLite file of its own for the test, removed after it. */
const sqliteFile = Effect.acquireRelease(Effect.sync(tempFile), (file) =>
  Effect.sync(() => rmSync(join(file, ".."), { recursive: true, force: true }))
)

/** A PostgreSQL schema of its own for the test, dropped after it; its URL. */
const pgSchema = Effect.acquireRelease(
  Effect.gen(function* () {
    const schema = `dm_test_${randomUUID().replaceAll("-", "")}`
    yield* Effect.flatMap(PgClient.PgClient, (sql) => sql`CREATE SCHEMA ${sql(schema)}`)
    return schema
  }),
  (schema) =>
    Effect.ignore(Effect.flatMap(PgClient.PgClient, (sql) => sql`DROP SCHEMA ${sql(schema)} CASCADE`))
).pipe(Effect.map(urlWithSchema), Effect.provide(PgClient.layer({ url: Redacted.make(pgTestUrl) })))

promptCacheSuite("store (memory)", {
  setup: Effect.sync(() => {
    // One store for the test: every cache opened on it shares its rows.
    const store = Layer.succeed(Store, makeStoreMemory())
    return (options) => PromptCacheStore(options).pipe(Layer.provide(store))
  }),
  durable: false
})
promptCacheSuite("store (SQLite)", {
  setup: Effect.map(
    sqliteFile,
    (file) => (options) => PromptCacheStore(options).pipe(Layer.provide(StoreSqlite(file)))
  ),
  durable: true
})
promptCacheSuite("store (PostgreSQL)", {
  setup: Effect.map(
    pgSchema,
    (url) => (options) => PromptCacheStore(options).pipe(Layer.provide(StorePg(url)))
  ),
  durable: true
})

promptCacheRowsSuite("memory", () => StoreMemory)
promptCacheRowsSuite("SQLite", () => StoreSqlite(tempFile()))
promptCacheRowsSuite("PostgreSQL", () => withPgSchema((url) => StorePg(url)))

describe("PromptCacheStore when the store fails", () => {
  it.effect("a damaged row is a miss and an error, not a failure", () =>
    Effect.gen(function* () {
      const store = makeStoreMemory()
      const stored = answer("Atom: damaged")
      yield* store.putPromptCacheRow(
        { key: stored.key, model: stored.model, body: "{not json", createdAt: 0, expiresAt: 1e15 },
        { nowMs: 0, purgeLimit: 0 }
      )
      const cache = yield* Effect.provide(
        PromptCache,
        PromptCacheStore().pipe(Layer.provide(Layer.succeed(Store, store)))
      )
      assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
      assert.deepStrictEqual(yield* cache.stats(), { hits: 0, misses: 1, puts: 0, errors: 1, savedUsd: 0 })
      // A put writes over the damage.
      yield* cache.put(stored)
      assert.strictEqual(Option.getOrThrow(yield* cache.get(stored.key)).text, stored.text)
    })
  )

  it.effect("a store that is unavailable makes lookups misses and drops writes, counted", () =>
    Effect.gen(function* () {
      const down = new StoreError({ reason: "Unavailable", store: "memory:", detail: "connection lost" })
      const failing = Layer.succeed(Store, {
        ...makeStoreMemory(),
        getPromptCacheRow: () => Effect.fail(down),
        putPromptCacheRow: () => Effect.fail(down)
      })
      const cache = yield* Effect.provide(PromptCache, PromptCacheStore().pipe(Layer.provide(failing)))
      const stored = answer("Atom: down")
      yield* cache.put(stored)
      assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
      assert.deepStrictEqual(yield* cache.stats(), { hits: 0, misses: 1, puts: 0, errors: 2, savedUsd: 0 })
    })
  )

  it.effect("an entry that cannot be encoded (a cost that is not a number) is not stored, and counted", () =>
    Effect.gen(function* () {
      const cache = yield* Effect.provide(PromptCache, PromptCacheStore().pipe(Layer.provide(StoreMemory)))
      const stored = answer("Atom: nan", { costUsd: Number.NaN })
      yield* cache.put(stored)
      assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
      assert.strictEqual((yield* cache.stats()).errors, 1)
    })
  )
})

describe("PromptCacheStore on SQLite", () => {
  it.scoped("an answer stored by one process's store is found by the next one's (reopened file)", () =>
    Effect.gen(function* () {
      const file = yield* sqliteFile
      const stored = answer("Atom: across runs")
      const withCache = <A>(body: (cache: PromptCache["Type"]) => Effect.Effect<A>) =>
        Effect.flatMap(PromptCache, body).pipe(
          Effect.provide(PromptCacheStore().pipe(Layer.provide(StoreSqlite(file))))
        )
      yield* withCache((cache) => cache.put(stored))
      const found = yield* withCache((cache) => cache.get(stored.key))
      assert.strictEqual(Option.getOrThrow(found).costUsd, stored.costUsd)
      assert.strictEqual(yield* withCache((cache) => Effect.succeed(cache.name)), `store:sqlite:${file}`)
    })
  )
})
