import {
  encodePromptCacheEntry,
  makePromptCache,
  PromptCacheError,
  promptCacheFromOptions,
  promptCacheKey,
  PromptCache,
  PromptCacheEntryJson,
  StoreMemory
} from "@devmatrix/runtime"
import type { PromptCacheBackend, PromptCacheEntry, PromptCacheKeyInput } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Logger, LogLevel, Option, Schema } from "effect"
import fc from "fast-check"
import { answer } from "./conformance/promptCacheSuite.js"

const basePrompt = "Atom: a\nLanguage: typescript\nDefine: add"

const base: PromptCacheKeyInput = {
  model: "claude-sonnet-4-5",
  system: "You write TypeScript.",
  prompt: basePrompt,
  maxTokens: 1024,
  temperature: 0
}

/** The same record with its fields in another order, at every level. */
const reversed = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(reversed)
    : typeof value === "object" && value !== null
      ? Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([k, v]) => [k, reversed(v)])
        )
      : value

const jsonValue = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<PromptCacheKeyInput[string]>

describe("promptCacheKey", () => {
  it("is 64 hex digits, and the same for the same inputs", () => {
    assert.match(promptCacheKey(base), /^[0-9a-f]{64}$/)
    assert.strictEqual(promptCacheKey(base), promptCacheKey({ ...base }))
  })

  it("does not depend on the order of fields, at any depth (property)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), jsonValue),
        fc.string(),
        fc.string(),
        (params, system, prompt) => {
          const input = { ...params, ...base, system: { text: system, extra: params }, prompt }
          assert.strictEqual(promptCacheKey(input), promptCacheKey(reversed(input) as PromptCacheKeyInput))
        }
      )
    )
  })

  it("changes with every field that decides the answer", () => {
    const changed: ReadonlyArray<Partial<PromptCacheKeyInput>> = [
      { model: "claude-haiku-4-5" },
      { system: "You write Python." },
      { prompt: `${basePrompt}\nFeedback: add must return a number` },
      { maxTokens: 2048 },
      { temperature: 1 },
      { stopSequences: ["```"] }
    ]
    const keys = new Set([
      promptCacheKey(base),
      ...changed.map((change) => promptCacheKey({ ...base, ...change }))
    ])
    assert.strictEqual(keys.size, changed.length + 1)
  })

  it("distinct prompts give distinct keys (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b)
        assert.notStrictEqual(promptCacheKey({ ...base, prompt: a }), promptCacheKey({ ...base, prompt: b }))
      })
    )
  })

  it("an absent field and one set to undefined give the same key; null is a value", () => {
    const { temperature: _, ...withoutTemperature } = base
    assert.strictEqual(
      promptCacheKey(withoutTemperature),
      promptCacheKey({ ...base, temperature: undefined })
    )
    assert.notStrictEqual(promptCacheKey(withoutTemperature), promptCacheKey({ ...base, topP: null }))
  })

  it("keeps the order of arrays: blocks in another order are another prompt", () => {
    assert.notStrictEqual(
      promptCacheKey({ ...base, system: ["rules", "format"] }),
      promptCacheKey({ ...base, system: ["format", "rules"] })
    )
  })

  it("a string and its JSON text are different inputs", () => {
    assert.notStrictEqual(promptCacheKey({ ...base, prompt: "1" }), promptCacheKey({ ...base, prompt: 1 }))
  })
})

/** A backend that fails until told otherwise, in memory when it works. */
const flakyBackend = () => {
  let down = true
  const entries = new Map<string, Parameters<PromptCacheBackend["put"]>[0]>()
  const unavailable = new PromptCacheError({
    reason: "Unavailable",
    cache: "flaky",
    detail: "connection refused"
  })
  const backend: PromptCacheBackend = {
    name: "flaky",
    get: (key) =>
      down ? Effect.fail(unavailable) : Effect.sync(() => Option.fromNullable(entries.get(key))),
    put: (entry) => (down ? Effect.fail(unavailable) : Effect.sync(() => void entries.set(entry.key, entry))),
    evict: () => Effect.void
  }
  return { backend, setDown: (value: boolean) => (down = value) }
}

describe("makePromptCache", () => {
  it.effect(
    "a failing backend is a miss, never a failure; only the changes of health are logged at warning",
    () =>
      Effect.gen(function* () {
        const logged: Array<string> = []
        const logger = Logger.make(({ logLevel, message }) => {
          if (LogLevel.greaterThanEqual(logLevel, LogLevel.Info))
            logged.push(`${logLevel.label} ${String(message)}`)
        })
        const { backend, setDown } = flakyBackend()
        const cache = yield* makePromptCache(backend)
        const stored = answer("Atom: flaky")
        yield* Effect.gen(function* () {
          for (let i = 0; i < 5; i++) assert.isTrue(Option.isNone(yield* cache.get(stored.key)))
          yield* cache.put(stored)
          setDown(false)
          yield* cache.put(stored)
          assert.isTrue(Option.isSome(yield* cache.get(stored.key)))
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        assert.deepStrictEqual(logged, [
          "WARN prompt cache flaky: Unavailable: connection refused (lookup); lookups are misses until it answers",
          "INFO prompt cache flaky: answering again"
        ])
        assert.deepStrictEqual(yield* cache.stats(), {
          hits: 1,
          misses: 5,
          puts: 1,
          errors: 6,
          savedUsd: stored.costUsd
        })
      })
  )
})

describe("encodePromptCacheEntry", () => {
  const count = fc.nat({ max: 1_000_000 })
  const entry: fc.Arbitrary<PromptCacheEntry> = fc.record(
    {
      key: fc.string(),
      model: fc.string(),
      text: fc.string({ unit: "binary" }),
      stopReason: fc.constantFrom("end_turn" as const, "max_tokens" as const, "stop_sequence" as const),
      usage: fc.record({
        inputTokens: count,
        outputTokens: count,
        cacheWriteTokens: count,
        cacheReadTokens: count
      }),
      costUsd: fc.double({ min: 0, max: 100, noNaN: true }),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
      createdAt: fc.nat(),
      expiresAt: fc.nat()
    },
    { requiredKeys: ["key", "model", "text", "stopReason", "usage", "costUsd", "createdAt", "expiresAt"] }
  )
  const encoded = (value: PromptCacheEntry) =>
    Effect.runSync(Effect.either(encodePromptCacheEntry("test", value)))

  it("writes what PromptCacheEntryJson decodes back to the same entry, and what it encodes", () =>
    fc.assert(
      fc.property(entry, (value) => {
        const json = Either.getOrThrow(encoded(value))
        assert.deepStrictEqual(Schema.decodeUnknownSync(PromptCacheEntryJson)(json), value)
        assert.deepStrictEqual(JSON.parse(json), JSON.parse(Schema.encodeSync(PromptCacheEntryJson)(value)))
      })
    ))

  it("refuses what the schema refuses, naming the field", () => {
    const value = fc.sample(entry, { numRuns: 1, seed: 1 })[0]!
    for (const [bad, problem] of [
      [{ ...value, costUsd: Number.NaN }, "costUsd: Expected a finite number, got NaN"],
      [
        { ...value, usage: { ...value.usage, outputTokens: Infinity } },
        "usage.outputTokens: Expected a finite number"
      ],
      [{ ...value, stopReason: "refusal" as never }, "stopReason: refusal is not kept"]
    ] as const) {
      const result = encoded(bad)
      assert.isTrue(
        Either.isLeft(result) && result.left.reason === "Invalid" && result.left.message.includes(problem),
        problem
      )
      assert.isTrue(Either.isLeft(Schema.encodeEither(PromptCacheEntryJson)(bad)))
    }
  })
})

describe("promptCacheFromOptions", () => {
  const nameOf = (layer: Layer.Layer<PromptCache, never, never>) =>
    Effect.map(PromptCache, (cache) => cache.name).pipe(Effect.provide(layer), Effect.scoped)

  it.effect("the Store's cache by default, none when disabled, Redis when a URL is given", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* nameOf(promptCacheFromOptions().pipe(Layer.provide(StoreMemory))),
        "store:memory:"
      )
      assert.strictEqual(
        yield* nameOf(
          promptCacheFromOptions({ disabled: true, redis: "redis://127.0.0.1:6379" }).pipe(
            Layer.provide(StoreMemory)
          )
        ),
        "none"
      )
      assert.strictEqual(
        yield* nameOf(
          promptCacheFromOptions({ redis: "redis://:secret@127.0.0.1:6379" }).pipe(Layer.provide(StoreMemory))
        ),
        "redis://:***@127.0.0.1:6379"
      )
    })
  )
})
