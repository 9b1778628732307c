import { cosineSimilarity, exampleEmbeddingText, hashingEmbedding } from "@devmatrix/core"
import type { Example } from "@devmatrix/core"
import {
  embedderFromPromise,
  ExampleStoreChroma,
  ExampleStoreMemory,
  hashingEmbedder
} from "@devmatrix/runtime"
import type { ExampleQuery, ExampleStoreService } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { ChromaClient } from "chromadb"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll } from "vitest"
import { chromaOrSkip } from "./chromaServer.js"
import { exampleStoreSuite, openStore } from "./conformance/exampleStoreSuite.js"
import { effectExamples, smallExamples } from "./exampleFixtures.js"

const chroma = await chromaOrSkip()
afterAll(async () => {
  await chroma?.stop()
})

/** A plain client beside the store, to look at what it wrote. */
const chromaClient = (url: string) => {
  const { hostname, port } = new URL(url)
  return new ChromaClient({ host: hostname, port: Number(port) })
}

/** A collection of the test's own, deleted with the test's scope. */
const testCollection = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => `devmatrix-test-${randomUUID()}`),
    (collection) =>
      Effect.promise(() =>
        chromaClient(url)
          .deleteCollection({ name: collection })
          .catch(() => {})
      )
  )

exampleStoreSuite("memory", {
  setup: Effect.succeed((embedder) => ExampleStoreMemory({ embedder })),
  durable: false
})

describe("embedderFromPromise", () => {
  it.effect("plugs a promise-returning embedding function (Chroma's EmbeddingFunction shape) in", () =>
    Effect.gen(function* () {
      const viaPromise = embedderFromPromise(
        { generate: async (texts) => texts.map((text) => hashingEmbedding(text, { dimension: 64 })) },
        { name: "promised/64", dimension: 64 }
      )
      const store = yield* openStore(ExampleStoreMemory({ embedder: viaPromise }))
      const reference = yield* openStore(ExampleStoreMemory({ embedder: hashingEmbedder({ dimension: 64 }) }))
      yield* store.add(smallExamples)
      yield* reference.add(smallExamples)
      const query = { text: "parse a todo", language: "typescript", minSimilarity: -1 } as const
      assert.strictEqual(store.embedder, "promised/64")
      assert.deepStrictEqual(yield* store.search(query), yield* reference.search(query))
    }).pipe(Effect.scoped)
  )

  it.effect("a rejected promise is an Embedding error that says why", () =>
    Effect.gen(function* () {
      const down = embedderFromPromise(
        { generate: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:11434")) },
        { name: "remote", dimension: 8 }
      )
      const store = yield* openStore(ExampleStoreMemory({ embedder: down }))
      const error = yield* Effect.flip(store.add(smallExamples))
      assert.strictEqual(error.reason, "Embedding")
      assert.include(error.detail, "ECONNREFUSED")
    }).pipe(Effect.scoped)
  )
})

describe.skipIf(chroma === undefined)("on a real Chroma server", () => {
  const url = chroma?.url ?? ""

  exampleStoreSuite("Chroma", {
    setup: Effect.map(
      testCollection(url),
      (collection) => (embedder) => ExampleStoreChroma({ url, collection, embedder })
    ),
    durable: true
  })

  it.scopedLive("a collection filled by one embedder is refused to another (Mismatch), naming both", () =>
    Effect.gen(function* () {
      const collection = yield* testCollection(url)
      const first = yield* openStore(ExampleStoreChroma({ url, collection }))
      yield* first.add(smallExamples)
      const error = yield* Effect.flip(
        openStore(ExampleStoreChroma({ url, collection, embedder: hashingEmbedder({ dimension: 128 }) }))
      )
      assert.strictEqual(error.reason, "Mismatch")
      assert.include(error.detail, "hashing/256/3")
      assert.include(error.detail, "hashing/128/3")
    })
  )

  it.scopedLive("a server that is not there is Unavailable; a URL that is no http URL is Invalid", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((done) => {
            const server = createServer().listen(0, "127.0.0.1", () => {
              const { port } = server.address() as AddressInfo
              server.close(() => done(port))
            })
          })
      )
      const closed = yield* Effect.flip(
        openStore(ExampleStoreChroma({ url: `http://127.0.0.1:${port}`, collection: "x-y-z" }))
      )
      assert.strictEqual(closed.reason, "Unavailable")
      assert.include(closed.store, `127.0.0.1:${port}`)
      const notUrl = yield* Effect.flip(
        openStore(ExampleStoreChroma({ url: "127.0.0.1:8000", collection: "x-y-z" }))
      )
      assert.strictEqual(notUrl.reason, "Invalid")
    })
  )

  it.scopedLive(
    "the collection is made in cosine space with our vectors only: no Chroma embedding function, the embedder named",
    () =>
      Effect.gen(function* () {
        const collection = yield* testCollection(url)
        yield* openStore(ExampleStoreChroma({ url, collection }))
        const opened = yield* Effect.promise(() => chromaClient(url).getCollection({ name: collection }))
        assert.strictEqual(opened.configuration.hnsw?.space, "cosine")
        assert.isNull(opened.configuration.embeddingFunction ?? null)
        assert.deepStrictEqual(opened.metadata, {
          "devmatrix:embedder": "hashing/256/3",
          "devmatrix:dimension": 256
        })
      })
  )

  it.scopedLive("a collection name Chroma refuses is Invalid, with Chroma's reason", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(openStore(ExampleStoreChroma({ url, collection: "a/b" })))
      assert.strictEqual(error.reason, "Invalid")
      assert.include(error.detail, "3-512 characters")
    })
  )

  it.scopedLive("a damaged row is a Corrupt error naming the example, not a wrong result", () =>
    Effect.gen(function* () {
      const collection = yield* testCollection(url)
      const store = yield* openStore(ExampleStoreChroma({ url, collection }))
      yield* store.add(smallExamples)
      const raw = yield* Effect.promise(() => chromaClient(url).getCollection({ name: collection }))
      yield* Effect.promise(() => raw.update({ ids: ["ts/parseTodo"], metadatas: [{ defines: "not json" }] }))
      const error = yield* Effect.flip(store.search({ text: "parse a todo", language: "typescript" }))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.detail, '"ts/parseTodo"')
      assert.include(error.detail, "defines")
    })
  )

  /** The larger set: 300 declarations of effect's own modules, and near-duplicates of 30 of them. */
  const examples = effectExamples().slice(0, 300)
  const duplicated = examples.filter((e) => e.instruction !== undefined).slice(0, 30)
  const copies: ReadonlyArray<Example> = duplicated.map((e) => ({
    ...e,
    id: `${e.id}/again`,
    code: `${e.code}\n`
  }))
  const corpus = [...examples, ...copies, ...smallExamples]

  /** Queries as generation would make them: an atom's instruction (and kind), various k, lambda, thresholds. */
  const queries: ReadonlyArray<ExampleQuery> = examples
    .filter((_, i) => i % 7 === 0)
    .flatMap((e, i): ReadonlyArray<ExampleQuery> => {
      const text = `${e.instruction ?? ""} ${e.defines.join(" ")}`
      return [
        { text, language: "typescript", k: 1 + (i % 6) },
        { text, language: "typescript", kind: e.kind, k: 4, minSimilarity: 0.1, diversity: { lambda: 0.3 } },
        { text, language: "typescript", k: 8, minSimilarity: 0.2, diversity: { lambda: 1 } }
      ]
    })

  const searchAll = (store: ExampleStoreService) =>
    Effect.forEach(queries, (query) => store.search(query), { concurrency: 4 })

  it.scopedLive(
    `the same retrieval results for the same data in memory and on Chroma (${corpus.length} examples, ${queries.length} queries)`,
    () =>
      Effect.gen(function* () {
        const memory = yield* openStore(ExampleStoreMemory())
        const onChroma = yield* openStore(ExampleStoreChroma({ url, collection: yield* testCollection(url) }))
        yield* memory.add(corpus)
        yield* onChroma.add(corpus)
        assert.strictEqual(yield* onChroma.count(), yield* memory.count())
        const fromMemory = yield* searchAll(memory)
        const fromChroma = yield* searchAll(onChroma)
        let matches = 0
        for (const [i, query] of queries.entries()) {
          const m = fromMemory[i]!
          const c = fromChroma[i]!
          assert.deepStrictEqual(
            c.map((x) => x.example.id),
            m.map((x) => x.example.id),
            JSON.stringify(query)
          )
          for (const [j, match] of c.entries()) {
            assert.closeTo(match.similarity, m[j]!.similarity, 1e-6)
            assert.deepStrictEqual(match.example, m[j]!.example)
          }
          matches += m.length
        }
        // Not a comparison of empty lists.
        assert.isAbove(matches, queries.length)
      })
  )

  /**
   * What MMR promises (core's mmr.test proves it): with lambda <= 0.5 it takes both of a
   * near-duplicate pair only when every candidate it left out of its pool is itself like something
   * it took (cosine above gamma = 0.05). Checked here on real code, where the pool is what plain
   * top-k returns with k = poolSize.
   */
  it.scopedLive(
    "on the larger set MMR drops most near-duplicate pairs plain top-k returns, and keeps one only when nothing distinct is left",
    () =>
      Effect.gen(function* () {
        const onChroma = yield* openStore(ExampleStoreChroma({ url, collection: yield* testCollection(url) }))
        yield* onChroma.add(corpus)
        const embedding = (example: Example) => hashingEmbedding(exampleEmbeddingText(example))
        let plainPairs = 0
        let diversePairs = 0
        for (const example of duplicated) {
          const query = {
            text: `${example.instruction} ${example.defines.join(" ")}`,
            language: "typescript",
            k: 5
          } as const
          const plain = yield* onChroma.search({ ...query, diversity: { lambda: 1 } })
          const diverse = yield* onChroma.search(query)
          const pool = yield* onChroma.search({ ...query, k: 4 * query.k, diversity: { lambda: 1 } })
          const has = (matches: typeof plain, id: string) => matches.some((m) => m.example.id === id)
          // Diversity changes which examples, not how many.
          assert.strictEqual(diverse.length, plain.length)
          if (has(plain, example.id) && has(plain, `${example.id}/again`)) plainPairs++
          if (!(has(diverse, example.id) && has(diverse, `${example.id}/again`))) continue
          diversePairs++
          for (const left of pool.filter((m) => !has(diverse, m.example.id))) {
            const likeness = Math.max(
              ...diverse.map((m) => cosineSimilarity(embedding(left.example), embedding(m.example)))
            )
            assert.isAbove(likeness, 0.05, `${example.id}: ${left.example.id} was distinct and left out`)
          }
        }
        // Plain top-k takes both copies of most (else this test could not see a store that does not diversify)...
        assert.isAbove(plainPairs, duplicated.length / 2)
        // ...and MMR far fewer.
        assert.isBelow(diversePairs, plainPairs / 2)
      })
  )
})
