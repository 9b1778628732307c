import { PromptCache, PromptCacheRedis } from "@devmatrix/runtime"
import type { PromptCacheRedisOptions } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { startFaultProxy } from "../../../test/faultProxy.js"
import { answer, promptCacheSuite } from "./conformance/promptCacheSuite.js"

/** The Redis the tests use: every machine here, CI's included, runs one. */
const redisUrl = process.env["DEVMATRIX_TEST_REDIS"] ?? "redis://127.0.0.1:6379"

/** A plain client beside the cache, to look at what it wrote; closed with the scope. */
const admin = Effect.acquireRelease(
  Effect.sync(() => new Redis(redisUrl, { lazyConnect: false })),
  (client) => Effect.sync(() => client.disconnect())
)

/** A key prefix of the test's own; every key under it is deleted after the test. */
const testPrefix = Effect.gen(function* () {
  const client = yield* admin
  const prefix = `devmatrix-test:${randomUUID()}:`
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
    })
  )
  return prefix
})

promptCacheSuite("Redis", {
  setup: Effect.map(
    testPrefix,
    (keyPrefix) => (options) => PromptCacheRedis({ url: redisUrl, keyPrefix, ...options })
  ),
  durable: true
})

const open = (options: PromptCacheRedisOptions) =>
  Effect.map(Layer.build(PromptCacheRedis(options)), (context) => Context.get(context, PromptCache))

/** Fails the test, rather than hang it, if `effect` takes longer than a generous bound. */
const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: Duration.seconds(10), onTimeout: () => new Error("the cache hung") })

/** A port on 127.0.0.1 where nothing listens. */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        server.close(() => resolve(port))
      })
    })
)

const cacheConnections = (client: Redis) =>
  Effect.promise(async () => {
    const list = String(await client.call("CLIENT", "LIST"))
    return list.split("\n").filter((line) => line.includes("name=devmatrix-prompt-cache ")).length
  })

describe("PromptCacheRedis against the real Redis", () => {
  it.live(
    "writes SET prefix+key value PX ttl: the value is the entry's JSON, the key expires in Redis too",
    () =>
      Effect.gen(function* () {
        const keyPrefix = yield* testPrefix
        const client = yield* admin
        const cache = yield* open({ url: redisUrl, keyPrefix })
        const stored = answer("Atom: raw")
        yield* cache.put(stored, 90_000)
        const body = yield* Effect.promise(() => client.get(`${keyPrefix}${stored.key}`))
        assert.strictEqual((JSON.parse(body!) as { text: string }).text, stored.text)
        const ttl = yield* Effect.promise(() => client.pttl(`${keyPrefix}${stored.key}`))
        assert.isAbove(ttl, 0)
        assert.isAtMost(ttl, 90_000)
        assert.strictEqual(cache.name, redisUrl)
      }).pipe(Effect.scoped)
  )

  it.live("caches under different prefixes do not see each other's entries", () =>
    Effect.gen(function* () {
      const first = yield* open({ url: redisUrl, keyPrefix: yield* testPrefix })
      const second = yield* open({ url: redisUrl, keyPrefix: yield* testPrefix })
      const stored = answer("Atom: apart")
      yield* first.put(stored)
      assert.isTrue(Option.isSome(yield* first.get(stored.key)))
      assert.isTrue(Option.isNone(yield* second.get(stored.key)))
    }).pipe(Effect.scoped)
  )

  it.live("a value under the key that is not an entry is a miss and an error", () =>
    Effect.gen(function* () {
      const keyPrefix = yield* testPrefix
      const client = yield* admin
      const cache = yield* open({ url: redisUrl, keyPrefix })
      yield* Effect.promise(() => client.set(`${keyPrefix}k`, '{"text":"half an entry"}'))
      assert.isTrue(Option.isNone(yield* cache.get("k")))
      assert.strictEqual((yield* cache.stats()).errors, 1)
    }).pipe(Effect.scoped)
  )

  it.live("closes its connection when the layer's scope closes", () =>
    Effect.gen(function* () {
      const client = yield* admin
      const keyPrefix = yield* testPrefix
      const before = yield* cacheConnections(client)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const cache = yield* open({ url: redisUrl, keyPrefix })
          yield* cache.put(answer("Atom: scoped"))
          assert.strictEqual(yield* cacheConnections(client), before + 1)
        })
      )
      // The server notices the close a moment later.
      yield* cacheConnections(client).pipe(
        Effect.filterOrFail((count) => count === before),
        Effect.retry(Schedule.spaced(Duration.millis(20)).pipe(Schedule.intersect(Schedule.recurs(100))))
      )
    }).pipe(Effect.scoped)
  )
})

describe("PromptCacheRedis when Redis is down or stalls", () => {
  it.live("nothing listening: the layer builds, lookups are misses and writes are dropped, all counted", () =>
    Effect.gen(function* () {
      const url = `redis://127.0.0.1:${yield* closedPort}`
      const cache = yield* bounded(open({ url }))
      const stored = answer("Atom: nobody")
      yield* bounded(cache.put(stored))
      assert.isTrue(Option.isNone(yield* bounded(cache.get(stored.key))))
      assert.isTrue(Option.isNone(yield* bounded(cache.get(stored.key))))
      assert.deepStrictEqual(yield* cache.stats(), { hits: 0, misses: 2, puts: 0, errors: 3, savedUsd: 0 })
    }).pipe(Effect.scoped)
  )

  it.live(
    "a link that stalls after connecting: the lookup is a miss after commandTimeoutMs; it recovers",
    () =>
      Effect.gen(function* () {
        const proxy = yield* Effect.acquireRelease(
          Effect.promise(() => startFaultProxy({ host: "127.0.0.1", port: 6379 })),
          (proxy) => Effect.promise(() => proxy.close())
        )
        const cache = yield* open({
          url: `redis://127.0.0.1:${proxy.port}`,
          keyPrefix: yield* testPrefix,
          commandTimeoutMs: 200
        })
        const stored = answer("Atom: stall")
        yield* cache.put(stored)
        assert.isTrue(Option.isSome(yield* cache.get(stored.key)))
        proxy.setMode("stall")
        assert.isTrue(Option.isNone(yield* bounded(cache.get(stored.key))))
        yield* bounded(cache.put(answer("Atom: lost write")))
        assert.deepStrictEqual(yield* cache.stats(), {
          hits: 1,
          misses: 1,
          puts: 1,
          errors: 2,
          savedUsd: stored.costUsd
        })
        proxy.setMode("pass")
        // The stalled answers arrive, in order, and are matched to their commands: hits again.
        const found = yield* bounded(
          cache
            .get(stored.key)
            .pipe(
              Effect.filterOrFail(Option.isSome),
              Effect.retry(
                Schedule.spaced(Duration.millis(50)).pipe(Schedule.intersect(Schedule.recurs(100)))
              )
            )
        )
        assert.strictEqual(found.value.text, stored.text)
      }).pipe(Effect.scoped)
  )

  it.live(
    "a server that accepts but never answers: the layer builds all the same, and lookups are misses",
    () =>
      Effect.gen(function* () {
        const proxy = yield* Effect.acquireRelease(
          Effect.promise(() => startFaultProxy({ host: "127.0.0.1", port: 6379 })),
          (proxy) => Effect.promise(() => proxy.close())
        )
        proxy.setMode("stall")
        const cache = yield* bounded(
          open({ url: `redis://127.0.0.1:${proxy.port}`, connectTimeoutMs: 300, commandTimeoutMs: 200 })
        )
        const stored = answer("Atom: silent")
        yield* bounded(cache.put(stored))
        assert.isTrue(Option.isNone(yield* bounded(cache.get(stored.key))))
        assert.isAtLeast(proxy.accepted(), 1)
        assert.deepStrictEqual(yield* cache.stats(), { hits: 0, misses: 1, puts: 0, errors: 2, savedUsd: 0 })
      }).pipe(Effect.scoped)
  )
})
