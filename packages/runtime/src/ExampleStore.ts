import {
  Example,
  exampleEmbeddingText,
  ExampleKind,
  Language,
  maximalMarginalRelevance
} from "@devmatrix/core"
import { Context, Data, Effect, Layer, ParseResult, Schema } from "effect"
import { embedChecked, hashingEmbedder } from "./Embedder.js"
import type { Embedder } from "./Embedder.js"

/** What to retrieve examples for. */
export interface ExampleQuery {
  /** What the examples should resemble: the atom's instruction, its expected symbols, its skeleton. */
  readonly text: string
  /** Only examples in this language. */
  readonly language: Language
  /** Only examples of this kind (`function`, `method`...); any kind when absent. */
  readonly kind?: ExampleKind | undefined
  /** How many examples, at most. @default 5 */
  readonly k?: number | undefined
  /** No example less similar than this (cosine similarity, in [-1, 1]). @default 0.3 */
  readonly minSimilarity?: number | undefined
  /** How much the examples should differ from each other (Maximal Marginal Relevance). */
  readonly diversity?: ExampleDiversity | undefined
}

/** How Maximal Marginal Relevance picks among similar examples. */
export interface ExampleDiversity {
  /**
   * Relevance against diversity: 1 is the plain top-k by similarity; lower values make a
   * near-duplicate of an example already picked lose to a less similar example that shows
   * something else. @default 0.5
   */
  readonly lambda?: number | undefined
  /** How many of the most similar examples MMR chooses among. @default 4 * k */
  readonly poolSize?: number | undefined
}

/** The defaults of `ExampleQuery` and `ExampleDiversity` (`poolSize` is `poolFactor * k`). */
export const exampleSearchDefaults = { k: 5, minSimilarity: 0.3, lambda: 0.5, poolFactor: 4 } as const

/** A retrieved example and how similar it is to the query. */
export interface ExampleMatch {
  readonly example: Example
  /** Cosine similarity of the query's and the example's embeddings, in [minSimilarity, 1]. */
  readonly similarity: number
}

/**
 * Accepted atoms kept as examples for generation (retrieval-augmented generation): an atom being
 * generated is shown the few accepted ones most like it, in its language and of its kind, that
 * are similar enough and not all alike. Every layer ranks with the same pure function
 * (`maximalMarginalRelevance` from core) on embeddings from the same `Embedder`, so the same data
 * gives the same results whatever keeps it.
 */
export interface ExampleStoreService {
  /** The backend, for reports: `memory`, `chroma:<url>/<collection>`. */
  readonly name: string
  /** The embedder's name (`hashing/256/3`). */
  readonly embedder: string
  /**
   * Adds examples; one whose id is already there replaces it (so adding the same examples twice
   * changes nothing). Examples are checked against the `Example` schema first: one invalid
   * example fails the call and adds none of them.
   *
   * @example
   * yield* store.add([{ id: "todo/parseTodo", code, language: "typescript", kind: "function", defines: ["parseTodo"], uses: ["Todo"] }])
   */
  readonly add: (examples: ReadonlyArray<Example>) => Effect.Effect<void, ExampleStoreError>
  /**
   * Up to `k` examples in `language` (and of `kind`), at least `minSimilarity` similar to `text`,
   * chosen by Maximal Marginal Relevance among the `poolSize` most similar, in the order chosen.
   *
   * @example
   * const matches = yield* store.search({ text: "parse a todo from JSON", language: "typescript", k: 3 })
   */
  readonly search: (query: ExampleQuery) => Effect.Effect<ReadonlyArray<ExampleMatch>, ExampleStoreError>
  /** How many examples the store holds. */
  readonly count: () => Effect.Effect<number, ExampleStoreError>
}

export class ExampleStore extends Context.Tag("@devmatrix/runtime/ExampleStore")<
  ExampleStore,
  ExampleStoreService
>() {}

/** What went wrong in an example store. */
export type ExampleStoreErrorReason =
  /** An example or a query the store refuses (an empty id, a k of -1, a lambda of 2). */
  | "Invalid"
  /** The embedder failed or returned vectors it did not promise. */
  | "Embedding"
  /** The backend could not be reached, or did not answer in time. */
  | "Unavailable"
  /** What the backend holds is damaged: a row that is no `Example`. */
  | "Corrupt"
  /** The backend's data was embedded by another embedder: its vectors cannot be compared with ours. */
  | "Mismatch"

/** Why an example store could not do what it was asked. */
export class ExampleStoreError extends Data.TaggedError("ExampleStoreError")<{
  readonly reason: ExampleStoreErrorReason
  /** The store's name. */
  readonly store: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `example store ${this.store}: ${this.reason}: ${this.detail}`
  }
}

/** An example as a backend hands it to ranking: with the embedding it was stored with. */
export interface StoredExample {
  readonly id: string
  readonly example: Example
  /** At float32 precision (`Math.fround`), as Chroma keeps it. */
  readonly embedding: ReadonlyArray<number>
}

/** An `ExampleQuery` with its defaults filled in and its numbers checked. */
export interface ResolvedExampleQuery {
  readonly text: string
  readonly language: Language
  readonly kind: ExampleKind | undefined
  readonly k: number
  readonly minSimilarity: number
  readonly lambda: number
  readonly poolSize: number
}

const decodeExample = Schema.decodeUnknownEither(Example)
const decodeLanguage = Schema.decodeUnknownEither(Language)
const decodeKind = Schema.decodeUnknownEither(ExampleKind)

/** The first issue of a parse error, with its path (`defines.0: must not be empty`). */
const firstIssue = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return error.message
  return `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`
}

/**
 * The examples as the schema decodes them, the last of each id only (as adding them one by one
 * would leave it), or an `Invalid` error naming the first bad one.
 */
export const validExamples = (
  store: string,
  examples: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Example>, ExampleStoreError> =>
  Effect.suspend(() => {
    const byId = new Map<string, Example>()
    for (const [index, candidate] of examples.entries()) {
      const decoded = decodeExample(candidate)
      if (decoded._tag === "Left") {
        const id = (candidate as { readonly id?: unknown } | null)?.id
        const which = typeof id === "string" ? `example ${JSON.stringify(id)}` : `example ${index}`
        return Effect.fail(
          new ExampleStoreError({ reason: "Invalid", store, detail: `${which}: ${firstIssue(decoded.left)}` })
        )
      }
      byId.delete(decoded.right.id)
      byId.set(decoded.right.id, decoded.right)
    }
    return Effect.succeed([...byId.values()])
  })

/** The query with its defaults, or an `Invalid` error saying which field is wrong and why. */
export const resolveExampleQuery = (
  store: string,
  query: ExampleQuery
): Effect.Effect<ResolvedExampleQuery, ExampleStoreError> => {
  const invalid = (detail: string) => Effect.fail(new ExampleStoreError({ reason: "Invalid", store, detail }))
  const k = query.k ?? exampleSearchDefaults.k
  const minSimilarity = query.minSimilarity ?? exampleSearchDefaults.minSimilarity
  const lambda = query.diversity?.lambda ?? exampleSearchDefaults.lambda
  const poolSize = query.diversity?.poolSize ?? exampleSearchDefaults.poolFactor * k
  if (typeof query.text !== "string") return invalid("text must be a string")
  const language = decodeLanguage(query.language)
  if (language._tag === "Left") return invalid(`language: ${firstIssue(language.left)}`)
  const kind = query.kind === undefined ? undefined : decodeKind(query.kind)
  if (kind?._tag === "Left") return invalid(`kind: ${firstIssue(kind.left)}`)
  if (!Number.isInteger(k) || k < 0) return invalid(`k must be a non-negative integer, got ${k}`)
  if (!(minSimilarity >= -1 && minSimilarity <= 1))
    return invalid(`minSimilarity must be in [-1, 1], got ${minSimilarity}`)
  if (!(lambda >= 0 && lambda <= 1)) return invalid(`diversity.lambda must be in [0, 1], got ${lambda}`)
  if (!Number.isInteger(poolSize) || poolSize < k)
    return invalid(`diversity.poolSize must be an integer of at least k (${k}), got ${poolSize}`)
  return Effect.succeed({
    text: query.text,
    language: language.right,
    kind: kind?.right,
    k,
    minSimilarity,
    lambda,
    poolSize
  })
}

/**
 * `embedChecked`, its failures as the store's `Embedding` errors, its vectors at float32 precision:
 * what Chroma keeps, so that an embedding read back from Chroma and one kept in memory are the same
 * numbers and rank alike.
 */
export const embedForStore = (
  store: string,
  embedder: Embedder,
  texts: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, ExampleStoreError> =>
  embedChecked(embedder, texts).pipe(
    Effect.map((vectors) => vectors.map((vector) => vector.map(Math.fround))),
    Effect.mapError(
      (error) => new ExampleStoreError({ reason: "Embedding", store, detail: error.message, cause: error })
    )
  )

/** The matches of a resolved query among candidates: the one ranking every layer uses. */
export const rankExamples = (
  queryEmbedding: ReadonlyArray<number>,
  candidates: ReadonlyArray<StoredExample>,
  query: ResolvedExampleQuery
): ReadonlyArray<ExampleMatch> =>
  maximalMarginalRelevance(queryEmbedding, candidates, {
    k: query.k,
    minSimilarity: query.minSimilarity,
    lambda: query.lambda,
    poolSize: query.poolSize
  }).map(({ candidate, similarity }) => ({ example: candidate.example, similarity }))

/** Options of `ExampleStoreMemory`. */
export interface ExampleStoreMemoryOptions {
  /** How examples and queries are embedded. @default hashingEmbedder() */
  readonly embedder?: Embedder | undefined
}

/**
 * An example store in this process's memory: every matching example is ranked on each search
 * (exact, fine for the thousands of atoms of a few plans). Embeddings are kept at float32
 * precision, as Chroma keeps them, so both rank alike.
 */
export const makeExampleStoreMemory = (options: ExampleStoreMemoryOptions = {}) =>
  Effect.sync((): ExampleStoreService => {
    const name = "memory"
    const embedder = options.embedder ?? hashingEmbedder()
    const stored = new Map<string, StoredExample>()
    return {
      name,
      embedder: embedder.name,
      add: (examples) =>
        Effect.gen(function* () {
          const valid = yield* validExamples(name, examples)
          const embeddings = yield* embedForStore(name, embedder, valid.map(exampleEmbeddingText))
          valid.forEach((example, i) =>
            stored.set(example.id, { id: example.id, example, embedding: embeddings[i]! })
          )
        }),
      search: (query) =>
        Effect.gen(function* () {
          const resolved = yield* resolveExampleQuery(name, query)
          if (resolved.k === 0) return []
          const [embedding] = yield* embedForStore(name, embedder, [resolved.text])
          const candidates = [...stored.values()].filter(
            ({ example }) =>
              example.language === resolved.language &&
              (resolved.kind === undefined || example.kind === resolved.kind)
          )
          return rankExamples(embedding!, candidates, resolved)
        }),
      count: () => Effect.sync(() => stored.size)
    }
  })

/** The example store in memory; each build starts empty. */
export const ExampleStoreMemory = (options: ExampleStoreMemoryOptions = {}): Layer.Layer<ExampleStore> =>
  Layer.effect(ExampleStore, makeExampleStoreMemory(options))
