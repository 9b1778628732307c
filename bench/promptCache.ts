/**
 * What a prompt cache lookup costs, per layer, hit and miss, against a plain `Map` lookup in the
 * same run (and the same `Map` behind `Effect.runPromise`, which is what a lookup from the
 * engine's model-call step pays at least). Each case stores 1,000 entries, then times sequential
 * lookups: one at a time, as an atom makes them. A model call takes seconds; these should be
 * micro- to milliseconds.
 *
 *   pnpm bench:cache      (writes bench/results/prompt-cache.md)
 */
import {
  PromptCache,
  PromptCacheMemory,
  PromptCacheNone,
  PromptCacheRedis,
  PromptCacheStore,
  promptCacheKey,
  StoreMemory,
  StorePg,
  StoreSqlite
} from "@devmatrix/runtime"
import type { PromptCacheWrite } from "@devmatrix/runtime"
import { Context, Effect, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const pgUrl = process.env["DEVMATRIX_BENCH_PG"] ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = process.env["DEVMATRIX_BENCH_REDIS"] ?? "redis://127.0.0.1:6379"
const entries = 1_000
/** Lookups timed per case and kind (the memory layers, hundreds of thousands a second, get more). */
const lookups = { fast: 100_000, io: 2_000 } as const

const entry = (i: number): PromptCacheWrite => ({
  key: promptCacheKey({
    model: "claude-sonnet-4-5",
    system: "You write TypeScript.",
    prompt: `Atom: a${i}`,
    maxTokens: 1024
  }),
  model: "claude-sonnet-4-5",
  // About the size of a ten-line atom's answer.
  text: `export const f${i} = (a: number, b: number): number => a + b\n`.repeat(10),
  stopReason: "end_turn",
  usage: { inputTokens: 1500, outputTokens: 200, cacheWriteTokens: 0, cacheReadTokens: 1024 },
  costUsd: 0.0078
})
const stored = Array.from({ length: entries }, (_, i) => entry(i))
const absent = Array.from({ length: entries }, (_, i) => entry(entries + i).key)

interface Row {
  readonly layer: string
  readonly hitUs: number
  readonly missUs: number
}

/** Microseconds per call of `lookup`, over `count` sequential calls cycling through `keys`. */
const time = async (
  count: number,
  keys: ReadonlyArray<string>,
  lookup: (key: string) => Promise<unknown>
) => {
  for (let i = 0; i < Math.min(count, 200); i++) await lookup(keys[i % keys.length]!)
  const started = performance.now()
  for (let i = 0; i < count; i++) await lookup(keys[i % keys.length]!)
  return ((performance.now() - started) * 1000) / count
}

/** Times an Effect loop in one `runPromise`: the cost of the lookups, not of starting a runtime. */
const timeEffect = (
  count: number,
  keys: ReadonlyArray<string>,
  lookup: (key: string) => Effect.Effect<unknown>
) =>
  Effect.gen(function* () {
    for (let i = 0; i < Math.min(count, 200); i++) yield* lookup(keys[i % keys.length]!)
    const started = performance.now()
    for (let i = 0; i < count; i++) yield* lookup(keys[i % keys.length]!)
    return ((performance.now() - started) * 1000) / count
  })

const measure = (layer: string, cacheLayer: Layer.Layer<PromptCache, unknown>, count: number) =>
  Effect.gen(function* () {
    const cache = Context.get(yield* Layer.build(cacheLayer), PromptCache)
    for (const write of stored) yield* cache.put(write)
    const hitUs = yield* timeEffect(
      count,
      stored.map((write) => write.key),
      cache.get
    )
    const missUs = yield* timeEffect(count, absent, cache.get)
    const stats = yield* cache.stats()
    if (layer !== "none" && stats.errors > 0) throw new Error(`${layer}: ${stats.errors} errors`)
    if (layer !== "none" && stats.hits < count) throw new Error(`${layer}: only ${stats.hits} hits`)
    return { layer, hitUs, missUs } satisfies Row
  }).pipe(Effect.scoped)

/** A PostgreSQL schema of the bench's own (dropped after): its URL. */
const pgSchema = Effect.acquireRelease(
  Effect.sync(() => {
    const schema = `dm_bench_${randomUUID().replaceAll("-", "")}`
    execFileSync("psql", [pgUrl, "-qc", `CREATE SCHEMA ${schema}`])
    return schema
  }),
  (schema) =>
    Effect.sync(() =>
      execFileSync("psql", [pgUrl, "-qc", `DROP SCHEMA ${schema} CASCADE`], { stdio: "ignore" })
    )
).pipe(Effect.map((schema) => `${pgUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`))

const main = Effect.gen(function* () {
  const rows: Array<Row> = []
  const map = new Map(stored.map((write) => [write.key, write]))
  rows.push({
    layer: "plain Map (baseline)",
    hitUs: yield* Effect.promise(() =>
      time(lookups.fast, [...map.keys()], (key) => Promise.resolve(map.get(key)))
    ),
    missUs: yield* Effect.promise(() => time(lookups.fast, absent, (key) => Promise.resolve(map.get(key))))
  })
  const mapInEffect = (key: string) => Effect.sync(() => Option.fromNullable(map.get(key)))
  rows.push({
    layer: "Map in Effect.sync (baseline)",
    hitUs: yield* timeEffect(lookups.fast, [...map.keys()], mapInEffect),
    missUs: yield* timeEffect(lookups.fast, absent, mapInEffect)
  })
  rows.push(yield* measure("none", PromptCacheNone, lookups.fast))
  rows.push(yield* measure("memory (LRU)", PromptCacheMemory(), lookups.fast))
  rows.push(
    yield* measure("store: memory", PromptCacheStore().pipe(Layer.provide(StoreMemory)), lookups.fast)
  )
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-bench-cache-"))
  yield* Effect.ensuring(
    Effect.flatMap(
      measure(
        "store: SQLite",
        PromptCacheStore().pipe(Layer.provide(StoreSqlite(join(dir, "store.db")))),
        lookups.io
      ),
      (row) => Effect.sync(() => rows.push(row))
    ),
    Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const url = yield* pgSchema
  rows.push(
    yield* measure("store: PostgreSQL", PromptCacheStore().pipe(Layer.provide(StorePg(url))), lookups.io)
  )
  // A prefix of the bench's own, and entries that expire in Redis within minutes: nothing stays.
  const keyPrefix = `devmatrix-bench:${randomUUID()}:`
  rows.push(
    yield* measure(
      "Redis",
      PromptCacheRedis({ url: redisUrl, keyPrefix, defaultTtlMs: 5 * 60_000 }),
      lookups.io
    )
  )
  return rows
}).pipe(Effect.scoped)

const rows = await Effect.runPromise(main)
const baseline = rows[0]!
const fmt = (us: number) => (us < 10 ? us.toFixed(2) : us.toFixed(0))
const lines = [
  "# Prompt cache lookups",
  "",
  `Sequential lookups (one at a time, as an atom makes them) in a cache holding ${entries.toLocaleString("en")} entries`,
  `of about 600 bytes; ${lookups.fast.toLocaleString("en")} lookups per kind for the in-process layers,`,
  `${lookups.io.toLocaleString("en")} for those over a connection. Each layer's time includes the service's own work`,
  "(expiry check on the Effect clock, counters, failures turned into misses) and, for the durable layers, the",
  "entry's JSON decoding. `vs Map` is against a plain `Map.get` (awaited, as a promise) in the same run.",
  `Measured ${new Date().toISOString()}, Node ${process.version}; PostgreSQL and Redis on the same machine`,
  `(2 cores shared with other work: small differences are noise). Load average at the end:`,
  `${loadavg()
    .map((n) => n.toFixed(1))
    .join(" / ")} (1 / 5 / 15 min).`,
  "",
  "| layer | hit (µs) | miss (µs) | hit vs Map | lookups/s (hit) |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (row) =>
      `| ${row.layer} | ${fmt(row.hitUs)} | ${fmt(row.missUs)} | ${(row.hitUs / baseline.hitUs).toFixed(1)}× | ${Math.round(1e6 / row.hitUs).toLocaleString("en")} |`
  ),
  "",
  "A hit saves a model call (seconds, and its price); even the slowest layer's lookup is a small",
  "fraction of one, so a miss costs next to nothing beside the call it precedes.",
  ""
]
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(join(here, "results", "prompt-cache.md"), lines.join("\n"))
console.log(lines.join("\n"))
