import { PromptCache, PromptCacheMemory, PromptCacheNone } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { answer, promptCacheSuite } from "./conformance/promptCacheSuite.js"

promptCacheSuite("memory", {
  setup: Effect.succeed((options) => PromptCacheMemory(options)),
  durable: false
})

describe("PromptCacheMemory", () => {
  it.effect("keeps maxEntries entries, dropping the least recently used first", () =>
    Effect.gen(function* () {
      const cache = yield* PromptCache
      const [a, b, c, d] = ["a", "b", "c", "d"].map((atom) => answer(`Atom: ${atom}`))
      yield* cache.put(a!)
      yield* cache.put(b!)
      yield* cache.put(c!)
      // a is used, so b is now the least recently used.
      assert.isTrue(Option.isSome(yield* cache.get(a!.key)))
      yield* cache.put(d!)
      assert.isTrue(Option.isNone(yield* cache.get(b!.key)))
      for (const kept of [a!, c!, d!]) assert.isTrue(Option.isSome(yield* cache.get(kept.key)), kept.key)
    }).pipe(Effect.provide(PromptCacheMemory({ maxEntries: 3 })))
  )

  it.effect("a put refreshes an entry's place: rewriting the oldest keeps it", () =>
    Effect.gen(function* () {
      const cache = yield* PromptCache
      const [a, b, c] = ["a", "b", "c"].map((atom) => answer(`Atom: ${atom}`))
      yield* cache.put(a!)
      yield* cache.put(b!)
      yield* cache.put(a!)
      yield* cache.put(c!)
      assert.isTrue(Option.isSome(yield* cache.get(a!.key)))
      assert.isTrue(Option.isNone(yield* cache.get(b!.key)))
    }).pipe(Effect.provide(PromptCacheMemory({ maxEntries: 2 })))
  )

  it.effect("holds 10,000 entries by default, and not one more", () =>
    Effect.gen(function* () {
      const cache = yield* PromptCache
      const entries = Array.from({ length: 10_001 }, (_, i) => answer(`Atom: n${i}`))
      for (const entry of entries) yield* cache.put(entry)
      assert.isTrue(Option.isNone(yield* cache.get(entries[0]!.key)))
      assert.isTrue(Option.isSome(yield* cache.get(entries[1]!.key)))
      assert.isTrue(Option.isSome(yield* cache.get(entries[10_000]!.key)))
    }).pipe(Effect.provide(PromptCacheMemory()))
  )

  it.effect("each build of the layer starts empty", () =>
    Effect.gen(function* () {
      const layer = PromptCacheMemory()
      const stored = answer("Atom: once")
      yield* Effect.flatMap(PromptCache, (cache) => cache.put(stored)).pipe(Effect.provide(layer))
      const found = yield* Effect.flatMap(PromptCache, (cache) => cache.get(stored.key)).pipe(
        Effect.provide(layer)
      )
      assert.isTrue(Option.isNone(found))
    })
  )
})

describe("PromptCacheNone", () => {
  it.effect("every lookup is a miss, counted; writes are dropped", () =>
    Effect.gen(function* () {
      const cache = yield* PromptCache
      const stored = answer("Atom: none")
      yield* cache.put(stored)
      assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
      assert.deepStrictEqual(yield* cache.stats(), { hits: 0, misses: 1, puts: 0, errors: 0, savedUsd: 0 })
      assert.strictEqual(cache.name, "none")
    }).pipe(Effect.provide(PromptCacheNone))
  )
})
