import { Clock, Context, Data, Effect, Layer, Option, ParseResult, Ref, Schema } from "effect"
import { createHash } from "node:crypto"
import type { ModelResponse } from "./ModelProvider.js"

/** A value the key function can take: what JSON can say, with `undefined` meaning "absent". */
export type PromptCacheKeyValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | ReadonlyArray<PromptCacheKeyValue>
  | { readonly [field: string]: PromptCacheKeyValue }

/**
 * What decides a model's answer, and so what the cache key is made of. Everything here is in the
 * key; nothing else is. Not in it, on purpose: the masterplan, atom and attempt ids, so the same
 * prompt asked again by another plan, or by a re-run, is a hit. The feedback of refused attempts
 * is part of `prompt`, so a retry after a refusal asks something else and is not served the
 * refused answer.
 */
export interface PromptCacheKeyInput {
  /** The model id as sent to the provider: another model answers differently. */
  readonly model: string
  /** The system prompt (its text, or its blocks). */
  readonly system: PromptCacheKeyValue
  /** The user content (its text, or its blocks), feedback of earlier refused attempts included. */
  readonly prompt: PromptCacheKeyValue
  /** `max_tokens`: a smaller limit can cut the answer short. */
  readonly maxTokens: number
  /** Sampling temperature; absent means the provider's default. */
  readonly temperature?: number | undefined
  /** Any other parameter that changes the answer (stop sequences, top_p, the scripted model's seed). */
  readonly [param: string]: PromptCacheKeyValue
}

/** Bumped when the key's recipe changes, so that old entries are never read under a new meaning. */
const keyVersion = "devmatrix-prompt-cache/1"

/** JSON with object keys sorted at every level and absent (`undefined`) fields left out. */
const canonicalJson = (value: PromptCacheKeyValue): string => {
  if (value === undefined || value === null) return "null"
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (typeof value === "object") {
    const record = value as { readonly [field: string]: PromptCacheKeyValue }
    const fields = Object.keys(record)
      .filter((field) => record[field] !== undefined)
      .sort()
      .map((field) => `${JSON.stringify(field)}:${canonicalJson(record[field])}`)
    return `{${fields.join(",")}}`
  }
  return JSON.stringify(value)
}

/**
 * The cache key of a model call: the sha256 (hex) of the canonical JSON of its inputs (sorted
 * keys, absent fields left out), so the same inputs in any field order give the same key.
 *
 * @example
 * promptCacheKey({ model: "claude-sonnet-4-5", system: "You write code.", prompt: "Atom: a", maxTokens: 1024 })
 * // "3f1c…" (64 hex digits)
 */
export const promptCacheKey = (input: PromptCacheKeyInput): string =>
  createHash("sha256").update(keyVersion).update("\n").update(canonicalJson(input)).digest("hex")

/** Token counts of the call that produced an entry, as the provider billed them. */
export interface PromptCacheUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheWriteTokens: number
  readonly cacheReadTokens: number
}

/** What a caller stores: a model's answer and what it cost. */
export interface PromptCacheWrite {
  /** `promptCacheKey` of the call's inputs. */
  readonly key: string
  readonly model: string
  readonly text: string
  /** Only answers that ended normally are kept (a refusal or a tool call is never served again). */
  readonly stopReason: Extract<ModelResponse["stopReason"], "end_turn" | "max_tokens" | "stop_sequence">
  readonly usage: PromptCacheUsage
  /** What the original call cost (USD): what each hit saves. */
  readonly costUsd: number
  readonly confidence?: number | undefined
}

/** A cached answer, as `get` returns it. */
export interface PromptCacheEntry extends PromptCacheWrite {
  /** When it was stored (epoch ms). */
  readonly createdAt: number
  /** When it stops being served (epoch ms): at and after this instant it is a miss. */
  readonly expiresAt: number
}

const finite = Schema.Number.pipe(Schema.finite())

/** An entry as the durable layers keep it (JSON): decoded on read, so damage is a miss, not a crash. */
export const PromptCacheEntryJson = Schema.parseJson(
  Schema.Struct({
    key: Schema.String,
    model: Schema.String,
    text: Schema.String,
    stopReason: Schema.Literal("end_turn", "max_tokens", "stop_sequence"),
    usage: Schema.Struct({
      inputTokens: finite,
      outputTokens: finite,
      cacheWriteTokens: finite,
      cacheReadTokens: finite
    }),
    costUsd: finite,
    confidence: Schema.optional(finite),
    createdAt: finite,
    expiresAt: finite
  })
)

/** Counters since the layer was built, for the run's summary. */
export interface PromptCacheStats {
  readonly hits: number
  readonly misses: number
  readonly puts: number
  /** Lookups and writes that failed (each counted a miss or a lost write, never a failed atom). */
  readonly errors: number
  /** The sum of `costUsd` over the hits: what the cache saved (USD). */
  readonly savedUsd: number
}

/**
 * A result cache of model calls by `promptCacheKey`, with a TTL. A cache that fails never fails
 * the caller: a lookup that cannot be made is a miss, a write that cannot be made is dropped, and
 * both are counted in `errors` and logged.
 */
export interface PromptCacheService {
  /** The backend, for reports: `memory`, `store:<store name>`, `redis://host:port`, `none`. */
  readonly name: string
  /** The unexpired entry stored under `key`, if any. An expired one is a miss, and is removed. */
  readonly get: (key: string) => Effect.Effect<Option.Option<PromptCacheEntry>>
  /**
   * Stores an answer for `ttlMs` (default: the layer's `defaultTtlMs`), replacing any entry under
   * its key; `createdAt` is now.
   */
  readonly put: (entry: PromptCacheWrite, ttlMs?: number) => Effect.Effect<void>
  readonly stats: () => Effect.Effect<PromptCacheStats>
}

export class PromptCache extends Context.Tag("@devmatrix/runtime/PromptCache")<
  PromptCache,
  PromptCacheService
>() {}

/**
 * Why a backend could not answer: it is unreachable (or too slow), what it holds is damaged, or
 * the entry given to it cannot be stored (a number that is not finite, an unknown stop reason).
 */
export class PromptCacheError extends Data.TaggedError("PromptCacheError")<{
  readonly reason: "Unavailable" | "Corrupt" | "Invalid"
  /** The backend's name. */
  readonly cache: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `prompt cache ${this.cache}: ${this.reason}: ${this.detail}`
  }
}

/** A parse error in a line: its first few issues, each with its path (`usage.inputTokens: Expected number`). */
const issuesOf = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const shown = issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
  return `${shown.join("; ")}${issues.length > 3 ? "; ..." : ""}`
}

/** The fields of an entry that must be finite numbers, by their path in `PromptCacheEntryJson`. */
const finiteFields = (entry: PromptCacheEntry): ReadonlyArray<readonly [string, number | undefined]> => [
  ["usage.inputTokens", entry.usage.inputTokens],
  ["usage.outputTokens", entry.usage.outputTokens],
  ["usage.cacheWriteTokens", entry.usage.cacheWriteTokens],
  ["usage.cacheReadTokens", entry.usage.cacheReadTokens],
  ["costUsd", entry.costUsd],
  ["confidence", entry.confidence],
  ["createdAt", entry.createdAt],
  ["expiresAt", entry.expiresAt]
]

const keptStopReasons: ReadonlySet<string> = new Set(["end_turn", "max_tokens", "stop_sequence"])

/**
 * An entry as `PromptCacheEntryJson` encodes it, written directly: the entry is ours (the call
 * step built it), so what the schema would check is checked here field by field, without a parse
 * per write; reads still decode through the schema. Fails with the entry's first problem, by path.
 */
export const encodePromptCacheEntry = (
  cache: string,
  entry: PromptCacheEntry
): Effect.Effect<string, PromptCacheError> => {
  const invalid = (detail: string) =>
    Effect.fail(
      new PromptCacheError({
        reason: "Invalid",
        cache,
        detail: `the entry for ${entry.key} cannot be stored: ${detail}`
      })
    )
  if (!keptStopReasons.has(entry.stopReason))
    return invalid(`stopReason: ${String(entry.stopReason)} is not kept`)
  for (const [path, value] of finiteFields(entry))
    if (value !== undefined && !Number.isFinite(value))
      return invalid(`${path}: Expected a finite number, got ${value}`)
  return Effect.succeed(
    JSON.stringify({
      key: entry.key,
      model: entry.model,
      text: entry.text,
      stopReason: entry.stopReason,
      usage: {
        inputTokens: entry.usage.inputTokens,
        outputTokens: entry.usage.outputTokens,
        cacheWriteTokens: entry.usage.cacheWriteTokens,
        cacheReadTokens: entry.usage.cacheReadTokens
      },
      costUsd: entry.costUsd,
      confidence: entry.confidence,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt
    })
  )
}

/** The error of a stored entry the JSON schema refuses to decode. */
export const damagedEntry = (cache: string, key: string) => (error: ParseResult.ParseError) =>
  new PromptCacheError({
    reason: "Corrupt",
    cache,
    detail: `the entry under ${key} is damaged: ${issuesOf(error)}`,
    cause: error
  })

/** Options every layer takes. */
export interface PromptCacheOptions {
  /** How long an entry is served when `put` is not told. @default 86_400_000 (24 h, DESIGN §9) */
  readonly defaultTtlMs?: number
}

/** The defaults of `PromptCacheOptions`. */
export const promptCacheDefaults = { defaultTtlMs: 24 * 60 * 60 * 1000 } as const

/**
 * What a backend does, before the service's rules (expiry, counting, failures as misses) are put
 * around it. `evict` is asked to drop an entry `get` found expired, only if it is still expired
 * at `nowMs` (a fresh one written meanwhile stays).
 */
export interface PromptCacheBackend {
  readonly name: string
  readonly get: (key: string) => Effect.Effect<Option.Option<PromptCacheEntry>, PromptCacheError>
  readonly put: (entry: PromptCacheEntry, ttlMs: number) => Effect.Effect<void, PromptCacheError>
  readonly evict: (key: string, nowMs: number) => Effect.Effect<void, PromptCacheError>
}

const emptyStats: PromptCacheStats = { hits: 0, misses: 0, puts: 0, errors: 0, savedUsd: 0 }

/**
 * The service on a backend: expiry judged here (one clock, whatever the backend), counters, and
 * failures turned into misses. Only a change of health is logged (the first failure, then the
 * recovery), not every lookup of a cache that is down.
 */
export const makePromptCache = (backend: PromptCacheBackend, options: PromptCacheOptions = {}) =>
  Effect.sync(() => {
    const defaultTtlMs = options.defaultTtlMs ?? promptCacheDefaults.defaultTtlMs
    // Counters and health in plain fields: this runs on every call of a run, and each is one
    // synchronous step where a `Ref` would cost an operation and a copy of the counters.
    const stats = { ...emptyStats }
    let failing = false

    const healthy = Effect.suspend(() => {
      if (!failing) return Effect.void
      failing = false
      return Effect.logInfo(`prompt cache ${backend.name}: answering again`)
    })
    const failed = (doing: string) => (error: PromptCacheError) =>
      Effect.suspend(() => {
        stats.errors++
        const was = failing
        failing = true
        return was
          ? Effect.logDebug(`${error.message} (${doing})`)
          : Effect.logWarning(`${error.message} (${doing}); lookups are misses until it answers`)
      })
    const counted = (found: Option.Option<PromptCacheEntry>) => {
      if (Option.isSome(found)) {
        stats.hits++
        stats.savedUsd += found.value.costUsd
      } else stats.misses++
      return found
    }

    const get = (key: string): Effect.Effect<Option.Option<PromptCacheEntry>> =>
      backend.get(key).pipe(
        Effect.flatMap((found) =>
          Effect.zipRight(
            healthy,
            Effect.flatMap(Clock.currentTimeMillis, (nowMs) =>
              Option.isSome(found) && found.value.expiresAt <= nowMs
                ? Effect.as(
                    Effect.catchAll(backend.evict(key, nowMs), failed("evicting an expired entry")),
                    Option.none<PromptCacheEntry>()
                  )
                : Effect.succeed(found)
            )
          )
        ),
        Effect.catchAll((error) => Effect.as(failed("lookup")(error), Option.none<PromptCacheEntry>())),
        Effect.map(counted)
      )

    const put = (write: PromptCacheWrite, ttlMs = defaultTtlMs): Effect.Effect<void> =>
      // An entry that expires at once would never be served: not worth a write.
      !(ttlMs > 0)
        ? Effect.void
        : Clock.currentTimeMillis.pipe(
            Effect.flatMap((createdAt) =>
              backend.put({ ...write, createdAt, expiresAt: createdAt + ttlMs }, ttlMs)
            ),
            Effect.zipRight(healthy),
            Effect.map(() => {
              stats.puts++
            }),
            Effect.catchAll(failed("write"))
          )

    return {
      name: backend.name,
      get,
      put,
      stats: () => Effect.sync(() => ({ ...stats }))
    } satisfies PromptCacheService
  })

/** How many entries the memory layer keeps by default. */
export const defaultMemoryEntries = 10_000

/** Options of `PromptCacheMemory`. */
export interface PromptCacheMemoryOptions extends PromptCacheOptions {
  /** Entries kept; the least recently used goes first. @default 10_000 */
  readonly maxEntries?: number
}

/** A bounded LRU in this process's memory: entries in the order of their last use, oldest first. */
const memoryBackend = (maxEntries: number): PromptCacheBackend => {
  const entries = new Map<string, PromptCacheEntry>()
  return {
    name: "memory",
    get: (key) =>
      Effect.sync(() => {
        const entry = entries.get(key)
        if (entry === undefined) return Option.none()
        // Moved to the end: the most recently used.
        entries.delete(key)
        entries.set(key, entry)
        return Option.some(entry)
      }),
    put: (entry) =>
      Effect.sync(() => {
        entries.delete(entry.key)
        entries.set(entry.key, entry)
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
      }),
    evict: (key, nowMs) =>
      Effect.sync(() => {
        if ((entries.get(key)?.expiresAt ?? Infinity) <= nowMs) entries.delete(key)
      })
  }
}

/** The cache in this process's memory, a bounded LRU; each build starts empty. */
export const PromptCacheMemory = (options: PromptCacheMemoryOptions = {}): Layer.Layer<PromptCache> =>
  Layer.effect(
    PromptCache,
    Effect.suspend(() => makePromptCache(memoryBackend(options.maxEntries ?? defaultMemoryEntries), options))
  )

/** The cache turned off: every lookup is a miss (counted), every write is dropped. */
export const PromptCacheNone: Layer.Layer<PromptCache> = Layer.effect(
  PromptCache,
  Effect.map(Ref.make(emptyStats), (stats) => ({
    name: "none",
    get: () =>
      Effect.as(
        Ref.update(stats, (s) => ({ ...s, misses: s.misses + 1 })),
        Option.none()
      ),
    put: () => Effect.void,
    stats: () => Ref.get(stats)
  }))
)
