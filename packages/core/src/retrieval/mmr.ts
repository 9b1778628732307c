/**
 * The cosine of the angle between two vectors, in [-1, 1]: 1 for the same direction, 0 for
 * unrelated ones, -1 for opposite ones. A zero vector (a text with nothing to embed) is similar to
 * nothing: 0, and so is one too small to measure (its squared length underflows). For
 * L2-normalised vectors this is their dot product. NaN in either vector gives NaN.
 *
 * @throws RangeError when the vectors' lengths differ (embeddings of two different functions).
 */
export const cosineSimilarity = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  if (a.length !== b.length)
    throw new RangeError(`cosineSimilarity: vectors of ${a.length} and ${b.length} dimensions`)
  let dot = 0
  let normA = 0
  let normB = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    normA += x * x
    normB += y * y
  }
  // Square roots first: the product of two tiny norms would underflow to 0 (and 0 / 0 is NaN).
  const scale = Math.sqrt(normA) * Math.sqrt(normB)
  if (scale === 0) return 0
  return Math.max(-1, Math.min(1, dot / scale))
}

/** What MMR chooses among: anything with an id and an embedding. */
export interface MmrCandidate {
  readonly id: string
  readonly embedding: ReadonlyArray<number>
}

/** Options of `maximalMarginalRelevance`. */
export interface MmrOptions {
  /** How many to choose, at most (fewer when fewer candidates pass the threshold). */
  readonly k: number
  /** Candidates less similar to the query than this are never chosen. */
  readonly minSimilarity: number
  /**
   * The trade-off between relevance and diversity: 1 is relevance alone (plain top-k by
   * similarity), 0 is diversity alone (after the most similar, each pick is the least like those
   * already picked). @default 0.5
   */
  readonly lambda?: number
  /**
   * How many candidates MMR chooses among: the `poolSize` most similar above the threshold (by
   * similarity, then id). A store that cannot rank everything gives more than this and lets this
   * function cut, so that it and a store that can give everything choose alike. @default all
   */
  readonly poolSize?: number
}

/** The defaults of `MmrOptions`. */
export const mmrDefaults = { lambda: 0.5 } as const

/** A chosen candidate with its similarity to the query. */
export interface MmrPick<TCandidate> {
  readonly candidate: TCandidate
  /** `cosineSimilarity` of the query and the candidate's embedding. */
  readonly similarity: number
}

/**
 * Maximal Marginal Relevance (Carbonell and Goldstein, 1998): up to `k` candidates, chosen one at a
 * time, each time the one with the highest `lambda * similarity(query) - (1 - lambda) * (its
 * highest similarity to those already chosen)`. So a near-duplicate of a chosen candidate loses to
 * a less similar candidate that says something new, and retrieved examples do not all show the
 * same thing. Only candidates at or above `minSimilarity` take part; a candidate id counts once
 * (its first occurrence). Ties go to the more similar candidate, then to the smaller id, so the
 * result depends only on the candidates, not on their order.
 *
 * @throws RangeError when `k` or `poolSize` is not a non-negative integer, or `lambda` is outside [0, 1].
 * @example
 * maximalMarginalRelevance(query, examples, { k: 3, minSimilarity: 0.3, lambda: 0.5 })
 * // [{ candidate, similarity }, ...] in the order chosen
 */
export const maximalMarginalRelevance = <TCandidate extends MmrCandidate>(
  query: ReadonlyArray<number>,
  candidates: ReadonlyArray<TCandidate>,
  options: MmrOptions
): Array<MmrPick<TCandidate>> => {
  const { k, minSimilarity, lambda = mmrDefaults.lambda, poolSize = Infinity } = options
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`mmr: k must be a non-negative integer, got ${k}`)
  if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`mmr: lambda must be in [0, 1], got ${lambda}`)
  if (poolSize !== Infinity && (!Number.isInteger(poolSize) || poolSize < 0))
    throw new RangeError(`mmr: poolSize must be a non-negative integer, got ${poolSize}`)

  const seen = new Set<string>()
  const scored: Array<MmrPick<TCandidate>> = []
  for (const candidate of candidates) {
    if (seen.has(candidate.id)) continue
    seen.add(candidate.id)
    const similarity = cosineSimilarity(query, candidate.embedding)
    // `>=` is false for NaN: a candidate with a broken embedding never passes.
    if (similarity >= minSimilarity) scored.push({ candidate, similarity })
  }
  scored.sort(
    (a, b) =>
      b.similarity - a.similarity ||
      (a.candidate.id < b.candidate.id ? -1 : a.candidate.id > b.candidate.id ? 1 : 0)
  )
  const pool = scored.slice(0, poolSize)

  const chosen: Array<MmrPick<TCandidate>> = []
  const taken = new Array<boolean>(pool.length).fill(false)
  // The highest similarity of each pool member to those chosen so far (none yet: no penalty).
  const redundancy = new Array<number>(pool.length).fill(0)
  while (chosen.length < Math.min(k, pool.length)) {
    let best = -1
    let bestScore = -Infinity
    for (let i = 0; i < pool.length; i++) {
      if (taken[i]) continue
      const score = lambda * pool[i]!.similarity - (1 - lambda) * redundancy[i]!
      // Strictly greater: among equal scores the earlier in pool order (more similar, smaller id) wins.
      if (score > bestScore) {
        best = i
        bestScore = score
      }
    }
    const pick = pool[best]!
    taken[best] = true
    chosen.push(pick)
    for (let i = 0; i < pool.length; i++) {
      if (taken[i]) continue
      const overlap = cosineSimilarity(pool[i]!.candidate.embedding, pick.candidate.embedding)
      if (chosen.length === 1 || overlap > redundancy[i]!) redundancy[i] = overlap
    }
  }
  return chosen
}
