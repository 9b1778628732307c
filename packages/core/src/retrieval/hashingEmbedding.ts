import { hashString } from "../random/seededRandom.js"

/**
 * Words that say what kind of code a snippet is (a loop, an async function, a class) rather than
 * what it is about. They count, but less than names do, so that two unrelated functions are not
 * alike merely for both saying `const` and `return`.
 */
const keywords: ReadonlySet<string> = new Set(
  [
    // TypeScript and JavaScript
    "abstract as async await break case catch class const continue declare default delete do else enum",
    "export extends false finally for function get if implements import in instanceof interface keyof let",
    "namespace new null of private protected public readonly return set static super switch this throw true",
    "try type typeof undefined var void while yield",
    // Python (those not above)
    "and assert def del elif except from global is lambda nonlocal not or pass raise with None True False self"
  ].flatMap((words) => words.split(" "))
)

/** Weights of each kind of feature, per occurrence (an n-gram's per occurrence in a word). */
const weights = { keyword: 0.5, identifier: 1, part: 1, ngram: 0.5 } as const

/** Options of `hashingEmbedding`. */
export interface HashingEmbeddingOptions {
  /** Length of the vector: the number of buckets features are hashed into. @default 256 */
  readonly dimension?: number
  /** Length of the character n-grams of each identifier part. @default 3 */
  readonly ngram?: number
}

/** The defaults of `HashingEmbeddingOptions`. */
export const hashingEmbeddingDefaults = { dimension: 256, ngram: 3 } as const

const identifierPattern = /[\p{L}_$][\p{L}\p{N}_$]*/gu
/** Boundaries inside an identifier: `parseHTTPResponse2` -> parse | HTTP | Response | 2. */
const partPattern = /\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+|[^\p{L}\p{N}_$]+/gu

/**
 * The words of an identifier, lowercased: split at `_`, `$`, and case and digit changes, so that
 * `parseHttpResponse`, `parse_http_response` and `ParseHTTPResponse` give the same words.
 *
 * @example
 * splitIdentifier("parseHTTPResponse_v2") // ["parse", "http", "response", "v", "2"]
 */
export const splitIdentifier = (identifier: string): ReadonlyArray<string> =>
  identifier
    .split(/[_$]+/)
    .flatMap((piece) => piece.match(partPattern) ?? [])
    .map((part) => part.toLowerCase())

/** The character n-grams of a word with `^` and `$` at its ends (`^pa`, `par`, ..., `se$`). */
const ngramsOf = (word: string, n: number): ReadonlyArray<string> => {
  const padded = `^${word}$`
  if (padded.length <= n) return [padded]
  const grams: Array<string> = []
  for (let i = 0; i + n <= padded.length; i++) grams.push(padded.slice(i, i + n))
  return grams
}

/**
 * The weighted features of a code snippet (or of a query about code): each keyword; each other
 * identifier whole (when it has several words); its words; and its words' character n-grams,
 * which let `parse` meet `parser`.
 * Keys are prefixed by kind (`k:`, `i:`, `w:`, `g:`) so that a word and an n-gram never collide.
 */
export const codeFeatures = (
  text: string,
  ngram: number = hashingEmbeddingDefaults.ngram
): Map<string, number> => {
  const features = new Map<string, number>()
  const add = (feature: string, weight: number) =>
    features.set(feature, (features.get(feature) ?? 0) + weight)
  for (const [identifier] of text.matchAll(identifierPattern)) {
    if (keywords.has(identifier)) {
      add(`k:${identifier}`, weights.keyword)
      continue
    }
    const parts = splitIdentifier(identifier)
    if (parts.length === 0) continue
    // The whole of a compound name says more than its words; a one-word name is its word.
    if (parts.length > 1) add(`i:${parts.join("_")}`, weights.identifier)
    for (const part of parts) {
      add(`w:${part}`, weights.part)
      for (const gram of ngramsOf(part, ngram)) add(`g:${gram}`, weights.ngram)
    }
  }
  return features
}

/** murmur3's finaliser: spreads FNV-1a's bits so that `hash % dimension` uses all of them. */
const mix = (hash: number): number => {
  let h = hash ^ (hash >>> 16)
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/**
 * An embedding of code that needs no model, no network and no download: feature hashing of
 * `codeFeatures` into `dimension` buckets, each feature with a sign from its hash (so collisions
 * cancel out on average instead of piling up), repeated features counted sublinearly
 * (`log(1 + weight)`), then L2-normalised so that a dot product is the cosine similarity.
 * The same text always gives the same vector, on any machine. Text with no identifier gives the
 * zero vector, which is similar to nothing.
 *
 * @throws RangeError when `dimension` or `ngram` is not a positive integer (a programming error).
 * @example
 * cosineSimilarity(hashingEmbedding("def parse_user(data)"), hashingEmbedding("function parseUser(data)")) // 0.96
 * cosineSimilarity(hashingEmbedding("function parseUser(json)"), hashingEmbedding("const parseUsers = (text) =>")) // 0.32
 * cosineSimilarity(hashingEmbedding("function add(a, b)"), hashingEmbedding("class TodoStore {}")) // 0
 */
export const hashingEmbedding = (text: string, options: HashingEmbeddingOptions = {}): Array<number> => {
  const dimension = options.dimension ?? hashingEmbeddingDefaults.dimension
  const ngram = options.ngram ?? hashingEmbeddingDefaults.ngram
  if (!Number.isInteger(dimension) || dimension < 1)
    throw new RangeError(`hashingEmbedding: dimension must be a positive integer, got ${dimension}`)
  if (!Number.isInteger(ngram) || ngram < 1)
    throw new RangeError(`hashingEmbedding: ngram must be a positive integer, got ${ngram}`)
  const vector = new Array<number>(dimension).fill(0)
  for (const [feature, weight] of codeFeatures(text, ngram)) {
    const hash = mix(hashString(feature))
    const sign = hash & 0x80000000 ? -1 : 1
    vector[hash % dimension]! += sign * Math.log1p(weight)
  }
  let norm = 0
  for (const value of vector) norm += value * value
  if (norm === 0) return vector
  const scale = 1 / Math.sqrt(norm)
  return vector.map((value) => value * scale)
}
