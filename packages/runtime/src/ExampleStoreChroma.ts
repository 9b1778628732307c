import { exampleEmbeddingText } from "@devmatrix/core"
import { ChromaClient } from "chromadb"
import type { Collection, Metadata, Where } from "chromadb"
import { Duration, Effect, Layer } from "effect"
import { hashingEmbedder } from "./Embedder.js"
import type { Embedder } from "./Embedder.js"
import {
  embedForStore,
  ExampleStore,
  ExampleStoreError,
  rankExamples,
  resolveExampleQuery,
  validExamples
} from "./ExampleStore.js"
import type { ExampleStoreErrorReason, ExampleStoreService, StoredExample } from "./ExampleStore.js"

/** Options of `ExampleStoreChroma`. */
export interface ExampleStoreChromaOptions {
  /** The Chroma server (`http://127.0.0.1:8000`). */
  readonly url: string
  /** The collection to keep examples in: created (cosine space) if missing. */
  readonly collection: string
  /** How examples and queries are embedded. @default hashingEmbedder() */
  readonly embedder?: Embedder | undefined
  /**
   * Candidates fetched from Chroma's approximate index per candidate MMR chooses among. Ranking
   * recomputes every similarity exactly and keeps the `poolSize` best, so a few more than that
   * make up for what the index ranks slightly out of order. @default 2
   */
  readonly oversampling?: number | undefined
  /** How long one request to Chroma may take. @default 10_000 */
  readonly timeoutMs?: number | undefined
}

/** The defaults of `ExampleStoreChromaOptions`. */
export const exampleStoreChromaDefaults = { oversampling: 2, timeoutMs: 10_000 } as const

/** Collection metadata keys: which embedder the collection's vectors came from. */
const embedderKey = "devmatrix:embedder"
const dimensionKey = "devmatrix:dimension"

/** The reason for a Chroma client error, by its name (never `instanceof`: the class may be another copy's). */
const reasonOf = (cause: unknown): ExampleStoreErrorReason => {
  const name = (cause as { readonly name?: unknown } | null)?.name
  switch (name) {
    case "ChromaValueError":
    case "ChromaClientError":
    case "InvalidCollectionError":
    case "InvalidArgumentError":
      return "Invalid"
    default:
      return "Unavailable"
  }
}

/** What Chroma keeps of an example besides its id, code (the document) and embedding. */
const metadataOf = (example: StoredExample["example"]): Metadata => ({
  language: example.language,
  kind: example.kind,
  defines: JSON.stringify(example.defines),
  uses: JSON.stringify(example.uses),
  ...(example.instruction === undefined ? {} : { instruction: example.instruction })
})

/** A row as Chroma returns it, back to the example it was made from (not yet checked). */
const exampleOfRow = (
  id: string,
  document: string | null | undefined,
  metadata: Metadata | null | undefined
) => {
  const parse = (field: unknown): unknown => {
    if (typeof field !== "string") return field
    try {
      return JSON.parse(field)
    } catch {
      return field
    }
  }
  return {
    id,
    code: document,
    language: metadata?.["language"],
    kind: metadata?.["kind"],
    defines: parse(metadata?.["defines"]),
    uses: parse(metadata?.["uses"]),
    ...(metadata?.["instruction"] === undefined || metadata["instruction"] === null
      ? {}
      : { instruction: metadata["instruction"] })
  }
}

/**
 * The example store on a Chroma server, for hosts: examples outlive the process and are shared by
 * every host that opens the same collection. We embed (with the layer's `Embedder`) and give Chroma
 * the vectors; Chroma's own default embedding function, which downloads a model, is never used.
 * A search asks Chroma, filtered by language and kind with `where`, for `oversampling * poolSize`
 * nearest candidates with their embeddings, then ranks them with the same function as the memory
 * store, so both give the same results for the same data.
 *
 * Building the layer connects, creates the collection if it is missing, and fails with `Mismatch`
 * if the collection was filled by another embedder.
 *
 * @example
 * const layer = ExampleStoreChroma({ url: "http://127.0.0.1:8000", collection: "devmatrix-examples" })
 */
export const ExampleStoreChroma = (
  options: ExampleStoreChromaOptions
): Layer.Layer<ExampleStore, ExampleStoreError> => Layer.effect(ExampleStore, makeExampleStoreChroma(options))

/** The service of `ExampleStoreChroma`, connected and its collection open. */
export const makeExampleStoreChroma = (options: ExampleStoreChromaOptions) =>
  Effect.gen(function* () {
    const embedder = options.embedder ?? hashingEmbedder()
    const oversampling = options.oversampling ?? exampleStoreChromaDefaults.oversampling
    const timeoutMs = options.timeoutMs ?? exampleStoreChromaDefaults.timeoutMs
    const name = `chroma:${options.url}/${options.collection}`
    const fail = (reason: ExampleStoreErrorReason, detail: string, cause?: unknown) =>
      new ExampleStoreError({ reason, store: name, detail, cause })

    if (!(oversampling >= 1))
      return yield* Effect.fail(fail("Invalid", `oversampling must be >= 1, got ${oversampling}`))
    const url = yield* Effect.try({
      try: () => new URL(options.url),
      catch: (cause) => fail("Invalid", `not a URL: ${options.url}`, cause)
    })
    if (url.protocol !== "http:" && url.protocol !== "https:")
      return yield* Effect.fail(fail("Invalid", `not an http(s) URL: ${options.url}`))
    const ssl = url.protocol === "https:"
    const client = new ChromaClient({
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? (ssl ? 443 : 80) : Number(url.port),
      ssl
    })

    /** One request to Chroma, bounded in time, its failure a store error. */
    const call = <A>(doing: string, request: () => Promise<A>) =>
      Effect.tryPromise({
        try: request,
        catch: (cause) =>
          fail(reasonOf(cause), `${doing}: ${cause instanceof Error ? cause.message : String(cause)}`, cause)
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => fail("Unavailable", `${doing}: no answer in ${timeoutMs} ms`)
        })
      )

    const collection: Collection = yield* call("opening the collection", () =>
      client.getOrCreateCollection({
        name: options.collection,
        // null, not absent: absent would make the client load Chroma's default model.
        embeddingFunction: null,
        configuration: { hnsw: { space: "cosine" } },
        metadata: { [embedderKey]: embedder.name, [dimensionKey]: embedder.dimension }
      })
    )
    const madeBy = collection.metadata?.[embedderKey]
    if (madeBy !== embedder.name)
      return yield* Effect.fail(
        fail(
          "Mismatch",
          `the collection holds vectors of the embedder ${JSON.stringify(madeBy ?? "(unknown)")}, not of ${embedder.name}`
        )
      )
    const maxBatch = yield* call("asking the batch size", () => client.getMaxBatchSize()).pipe(
      Effect.orElseSucceed(() => 1000)
    )

    const service: ExampleStoreService = {
      name,
      embedder: embedder.name,
      add: (examples) =>
        Effect.gen(function* () {
          const valid = yield* validExamples(name, examples)
          const embeddings = yield* embedForStore(name, embedder, valid.map(exampleEmbeddingText))
          for (let start = 0; start < valid.length; start += maxBatch) {
            const batch = valid.slice(start, start + maxBatch)
            yield* call(`adding ${batch.length} examples`, () =>
              collection.upsert({
                ids: batch.map((example) => example.id),
                embeddings: embeddings.slice(start, start + maxBatch).map((vector) => [...vector]),
                documents: batch.map((example) => example.code),
                metadatas: batch.map(metadataOf)
              })
            )
          }
        }),
      search: (query) =>
        Effect.gen(function* () {
          const resolved = yield* resolveExampleQuery(name, query)
          if (resolved.k === 0) return []
          const [embedding] = yield* embedForStore(name, embedder, [resolved.text])
          const where: Where =
            resolved.kind === undefined
              ? { language: { $eq: resolved.language } }
              : { $and: [{ language: { $eq: resolved.language } }, { kind: { $eq: resolved.kind } }] }
          const result = yield* call("searching", () =>
            collection.query({
              queryEmbeddings: [[...embedding!]],
              nResults: Math.ceil(resolved.poolSize * oversampling),
              where,
              include: ["documents", "metadatas", "embeddings"]
            })
          )
          const candidates: Array<StoredExample> = []
          for (const row of result.rows()[0] ?? []) {
            const decoded = yield* validExamples(name, [
              exampleOfRow(row.id, row.document, row.metadata)
            ]).pipe(
              Effect.mapError((error) =>
                fail("Corrupt", `a stored row is no example: ${error.detail}`, error)
              )
            )
            if (
              row.embedding === undefined ||
              row.embedding === null ||
              row.embedding.length !== embedder.dimension
            )
              return yield* Effect.fail(
                fail(
                  "Corrupt",
                  `the row ${JSON.stringify(row.id)} has no embedding of ${embedder.dimension} dimensions`
                )
              )
            candidates.push({ id: row.id, example: decoded[0]!, embedding: row.embedding.map(Math.fround) })
          }
          return rankExamples(embedding!, candidates, resolved)
        }),
      count: () => call("counting", () => collection.count())
    }
    return service
  })
