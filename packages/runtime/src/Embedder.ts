import { hashingEmbedding, hashingEmbeddingDefaults } from "@devmatrix/core"
import type { HashingEmbeddingOptions } from "@devmatrix/core"
import { Data, Effect } from "effect"

/**
 * Why an embedder gave no usable vectors: it could not be reached (a remote model), or what it
 * returned is not what it promised (a vector per text, each of its dimension, finite numbers).
 */
export class EmbedderError extends Data.TaggedError("EmbedderError")<{
  readonly reason: "Unavailable" | "Invalid"
  /** The embedder's `name`. */
  readonly embedder: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `embedder ${this.embedder}: ${this.reason}: ${this.detail}`
  }
}

/**
 * Turns texts into vectors whose cosine similarity says how alike the texts are: the seam through
 * which the example store is given its embedding function, like Chroma's `EmbeddingFunction`
 * (`generate(texts)`) but an Effect. The default, `hashingEmbedder()`, runs offline; a model-based
 * one plugs in through `embedderFromPromise`.
 */
export interface Embedder {
  /**
   * Names the function and its settings (`hashing/256/3`). A store records it, so that vectors of
   * one function are never compared with another's (they would be meaningless to each other).
   */
  readonly name: string
  /** The length of every vector it returns. */
  readonly dimension: number
  /** One vector per text, in the order given. */
  readonly embed: (
    texts: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
}

/**
 * The offline default: `hashingEmbedding` from core (feature hashing of the code's identifiers,
 * their words and character n-grams, and its keywords). No network, no model download, the same
 * vectors on every machine.
 *
 * @example
 * const store = ExampleStoreMemory({ embedder: hashingEmbedder({ dimension: 512 }) })
 */
export const hashingEmbedder = (options: HashingEmbeddingOptions = {}): Embedder => {
  const dimension = options.dimension ?? hashingEmbeddingDefaults.dimension
  const ngram = options.ngram ?? hashingEmbeddingDefaults.ngram
  return {
    name: `hashing/${dimension}/${ngram}`,
    dimension,
    embed: (texts) =>
      Effect.try({
        try: () => texts.map((text) => hashingEmbedding(text, { dimension, ngram })),
        catch: (cause) =>
          new EmbedderError({
            reason: "Invalid",
            embedder: `hashing/${dimension}/${ngram}`,
            detail: String(cause),
            cause
          })
      })
  }
}

/** What `embedderFromPromise` wraps: a Chroma `EmbeddingFunction`, or any function of that shape. */
export interface PromiseEmbeddingFunction {
  readonly generate: (texts: Array<string>) => Promise<Array<Array<number>>>
}

/**
 * An embedder on a promise-returning embedding function (one of Chroma's `@chroma-core/*`
 * packages, a call to an embeddings API). Its name and dimension are the caller's to give, since
 * such functions do not reliably say them; a rejected promise is `Unavailable`.
 */
export const embedderFromPromise = (
  fn: PromiseEmbeddingFunction,
  identity: { readonly name: string; readonly dimension: number }
): Embedder => ({
  name: identity.name,
  dimension: identity.dimension,
  embed: (texts) =>
    Effect.tryPromise({
      try: () => fn.generate([...texts]),
      catch: (cause) =>
        new EmbedderError({
          reason: "Unavailable",
          embedder: identity.name,
          detail: cause instanceof Error ? cause.message : String(cause),
          cause
        })
    })
})

/**
 * `embedder.embed(texts)`, held to its promise: one vector per text, each `dimension` long, every
 * number finite. Anything else is an `Invalid` error here rather than a wrong ranking later.
 */
export const embedChecked = (
  embedder: Embedder,
  texts: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError> =>
  texts.length === 0
    ? Effect.succeed([])
    : Effect.flatMap(embedder.embed(texts), (vectors) => {
        const invalid = (detail: string) =>
          Effect.fail(new EmbedderError({ reason: "Invalid", embedder: embedder.name, detail }))
        if (vectors.length !== texts.length)
          return invalid(`${vectors.length} vectors for ${texts.length} texts`)
        for (const [i, vector] of vectors.entries()) {
          if (vector.length !== embedder.dimension)
            return invalid(`vector ${i} has ${vector.length} dimensions, not ${embedder.dimension}`)
          if (!vector.every(Number.isFinite)) return invalid(`vector ${i} holds a number that is not finite`)
        }
        return Effect.succeed(vectors)
      })
