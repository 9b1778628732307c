import type {
  PromptCacheOptions,
  PromptCacheRow,
  PromptCacheWrite,
  Store,
  StoreError
} from "@devmatrix/runtime"
import { PromptCache, promptCacheKey, Store as StoreTag } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, TestClock } from "effect"
import type { Scope } from "effect"

/**
 * A prompt cache backend under test. `setup` makes empty backing data for one test (in that
 * test's scope, which removes it after) and returns how to open a cache on it: opening twice
 * opens the same data, so a durable backend's second cache finds what the first stored.
 */
export interface PromptCacheSubject {
  readonly setup: Effect.Effect<
    (options?: PromptCacheOptions) => Layer.Layer<PromptCache, unknown>,
    unknown,
    Scope.Scope
  >
  /** Whether entries outlive the cache that stored them (store, Redis), or go with it (memory). */
  readonly durable: boolean
}

/** An answer to store under a key made from `prompt`. */
export const answer = (prompt: string, overrides: Partial<PromptCacheWrite> = {}): PromptCacheWrite => ({
  key: promptCacheKey({ model: "claude-sonnet-4-5", system: "You write code.", prompt, maxTokens: 1024 }),
  model: "claude-sonnet-4-5",
  text: `export const answer = ${JSON.stringify(prompt)}\n`,
  stopReason: "end_turn",
  usage: { inputTokens: 1200, outputTokens: 80, cacheWriteTokens: 1024, cacheReadTokens: 0 },
  costUsd: 0.00864,
  ...overrides
})

/** Opens a cache in the current scope and hands its service out. */
const open = (layer: Layer.Layer<PromptCache, unknown>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, PromptCache))

/** What every PromptCache layer must do, whatever keeps its entries. */
export const promptCacheSuite = (name: string, subject: PromptCacheSubject) =>
  describe(`PromptCache conformance: ${name}`, () => {
    it.scoped(
      "a stored answer is a hit, field for field, stamped with the clock; an unknown key a miss",
      () =>
        Effect.gen(function* () {
          yield* TestClock.setTime(1_000_000)
          const cache = yield* open((yield* subject.setup)())
          const stored = answer("Atom: a", { confidence: 0.9 })
          assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
          yield* cache.put(stored)
          const found = Option.getOrThrow(yield* cache.get(stored.key))
          assert.deepStrictEqual(found, {
            ...stored,
            createdAt: 1_000_000,
            expiresAt: 1_000_000 + 86_400_000
          })
          assert.isTrue(Option.isNone(yield* cache.get(answer("Atom: b").key)))
          assert.deepStrictEqual(yield* cache.stats(), {
            hits: 1,
            misses: 2,
            puts: 1,
            errors: 0,
            savedUsd: stored.costUsd
          })
        })
    )

    it.scoped("an entry without a confidence comes back without one", () =>
      Effect.gen(function* () {
        const cache = yield* open((yield* subject.setup)())
        const stored = answer("Atom: plain")
        yield* cache.put(stored)
        const found = Option.getOrThrow(yield* cache.get(stored.key))
        assert.isFalse("confidence" in found && found.confidence !== undefined)
        assert.strictEqual(found.text, stored.text)
      })
    )

    it.scoped("a second put under the same key replaces the first", () =>
      Effect.gen(function* () {
        const cache = yield* open((yield* subject.setup)())
        const first = answer("Atom: o")
        yield* cache.put(first)
        yield* TestClock.adjust(Duration.seconds(5))
        yield* cache.put({ ...first, text: "export const second = 2\n", costUsd: 0.5 })
        const found = Option.getOrThrow(yield* cache.get(first.key))
        assert.strictEqual(found.text, "export const second = 2\n")
        assert.strictEqual(found.costUsd, 0.5)
        assert.strictEqual(found.createdAt, 5_000)
      })
    )

    it.scoped("an entry is served until its TTL ends, and is a miss from that instant on", () =>
      Effect.gen(function* () {
        const cache = yield* open((yield* subject.setup)())
        const stored = answer("Atom: ttl")
        yield* cache.put(stored, 60_000)
        yield* TestClock.adjust(Duration.millis(59_999))
        assert.isTrue(Option.isSome(yield* cache.get(stored.key)))
        yield* TestClock.adjust(Duration.millis(1))
        assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
        // Purged, not only hidden: a clock turned back does not bring it back.
        yield* TestClock.setTime(0)
        assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
        assert.deepStrictEqual(yield* cache.stats(), {
          hits: 1,
          misses: 2,
          puts: 1,
          errors: 0,
          savedUsd: stored.costUsd
        })
      })
    )

    it.scoped("the default TTL is 24 hours, and a layer can set another", () =>
      Effect.gen(function* () {
        const setup = yield* subject.setup
        const daily = yield* open(setup())
        const hourly = yield* open(setup({ defaultTtlMs: 3_600_000 }))
        const a = answer("Atom: day")
        const b = answer("Atom: hour")
        yield* daily.put(a)
        yield* hourly.put(b)
        yield* TestClock.adjust(Duration.hours(1))
        assert.isTrue(Option.isSome(yield* daily.get(a.key)))
        assert.isTrue(Option.isNone(yield* hourly.get(b.key)))
        yield* TestClock.adjust(Duration.hours(23))
        assert.isTrue(Option.isNone(yield* daily.get(a.key)))
      })
    )

    it.scoped("a TTL of zero or less stores nothing", () =>
      Effect.gen(function* () {
        const cache = yield* open((yield* subject.setup)())
        const stored = answer("Atom: zero")
        yield* cache.put(stored, 0)
        yield* cache.put(stored, -5)
        assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
        assert.strictEqual((yield* cache.stats()).errors, 0)
      })
    )

    it.scoped("many answers under distinct keys each come back as stored", () =>
      Effect.gen(function* () {
        const cache = yield* open((yield* subject.setup)())
        const stored = Array.from({ length: 50 }, (_, i) => answer(`Atom: many-${i}`, { costUsd: i / 100 }))
        yield* Effect.forEach(stored, (entry) => cache.put(entry), { concurrency: 10 })
        const found = yield* Effect.forEach(stored, (entry) => cache.get(entry.key), { concurrency: 10 })
        assert.deepStrictEqual(
          found.map((entry) => Option.getOrThrow(entry).costUsd),
          stored.map((entry) => entry.costUsd)
        )
      })
    )

    if (subject.durable)
      it.scoped(
        "entries survive the cache: another one opened on the same data finds them, TTL and all",
        () =>
          Effect.gen(function* () {
            const setup = yield* subject.setup
            const stored = answer("Atom: durable")
            yield* Effect.scoped(Effect.flatMap(open(setup()), (cache) => cache.put(stored, 60_000)))
            const reopened = yield* open(setup())
            assert.strictEqual(Option.getOrThrow(yield* reopened.get(stored.key)).text, stored.text)
            yield* TestClock.adjust(Duration.minutes(1))
            assert.isTrue(Option.isNone(yield* reopened.get(stored.key)))
          })
      )
  })

const row = (key: string, expiresAt: number): PromptCacheRow => ({
  key,
  model: "claude-haiku-4-5",
  body: JSON.stringify({ key }),
  createdAt: 0,
  expiresAt
})

/** The Store's prompt cache rows: what the memory, SQLite and PostgreSQL stores must agree on. */
export const promptCacheRowsSuite = (name: string, layer: () => Layer.Layer<Store, StoreError>) =>
  describe(`Store conformance, prompt cache rows: ${name}`, () => {
    const withStore = <A, E>(body: (store: Store["Type"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(StoreTag, body).pipe(Effect.provide(layer()))

    it.effect("a row comes back as written, expired or not; a put replaces it", () =>
      withStore((store) =>
        Effect.gen(function* () {
          assert.isTrue(Option.isNone(yield* store.getPromptCacheRow("k")))
          yield* store.putPromptCacheRow(row("k", 10), { nowMs: 0, purgeLimit: 0 })
          assert.deepStrictEqual(Option.getOrThrow(yield* store.getPromptCacheRow("k")), row("k", 10))
          const replacement = { ...row("k", 3_000_000_000_000), model: "claude-opus-4-5", body: "{}" }
          yield* store.putPromptCacheRow(replacement, { nowMs: 0, purgeLimit: 0 })
          assert.deepStrictEqual(Option.getOrThrow(yield* store.getPromptCacheRow("k")), replacement)
        })
      )
    )

    it.effect("a put purges at most purgeLimit expired rows, never an unexpired one", () =>
      withStore((store) =>
        Effect.gen(function* () {
          const keys = Array.from({ length: 7 }, (_, i) => `old-${i}`)
          for (const key of keys) yield* store.putPromptCacheRow(row(key, 100), { nowMs: 0, purgeLimit: 10 })
          yield* store.putPromptCacheRow(row("fresh", 5_000), { nowMs: 0, purgeLimit: 10 })
          // At 100 the old rows expire: each write takes 3 of them.
          yield* store.putPromptCacheRow(row("new-1", 5_000), { nowMs: 100, purgeLimit: 3 })
          const left = () =>
            Effect.map(
              Effect.forEach(keys, (key) => store.getPromptCacheRow(key)),
              (rows) => rows.filter(Option.isSome).length
            )
          assert.strictEqual(yield* left(), 4)
          yield* store.putPromptCacheRow(row("new-2", 5_000), { nowMs: 100, purgeLimit: 3 })
          assert.strictEqual(yield* left(), 1)
          yield* store.putPromptCacheRow(row("new-3", 5_000), { nowMs: 100, purgeLimit: 3 })
          assert.strictEqual(yield* left(), 0)
          for (const key of ["fresh", "new-1", "new-2", "new-3"])
            assert.isTrue(Option.isSome(yield* store.getPromptCacheRow(key)), key)
        })
      )
    )

    it.effect("deleteExpiredPromptCacheRow deletes the row only if it has expired by then", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.putPromptCacheRow(row("k", 100), { nowMs: 0, purgeLimit: 0 })
          yield* store.deleteExpiredPromptCacheRow("k", 99)
          assert.isTrue(Option.isSome(yield* store.getPromptCacheRow("k")))
          yield* store.deleteExpiredPromptCacheRow("k", 100)
          assert.isTrue(Option.isNone(yield* store.getPromptCacheRow("k")))
          yield* store.deleteExpiredPromptCacheRow("missing", 100)
        })
      )
    )

    it.effect("prompt cache rows outlive the masterplans: deleting finished plans keeps them", () =>
      withStore((store) =>
        Effect.gen(function* () {
          yield* store.putPromptCacheRow(row("k", 5_000), { nowMs: 0, purgeLimit: 0 })
          yield* store.deleteFinishedBefore(Number.MAX_SAFE_INTEGER)
          assert.isTrue(Option.isSome(yield* store.getPromptCacheRow("k")))
        })
      )
    )
  })
