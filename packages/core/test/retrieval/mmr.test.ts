import { cosineSimilarity, maximalMarginalRelevance } from "@devmatrix/core"
import type { MmrCandidate } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const dimension = 6
const vector = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), {
  minLength: dimension,
  maxLength: dimension
})
/** Ids from a small alphabet, so that some candidates share an id. */
const candidates = fc.array(
  fc.record({
    id: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"),
    embedding: vector
  }),
  { maxLength: 24 }
)
const lambda = fc.double({ min: 0, max: 1, noNaN: true })
const threshold = fc.double({ min: -1, max: 1, noNaN: true })

/** The plain top-k, written out the obvious way: distinct ids, above the threshold, by similarity then id. */
const plainTopK = (
  query: ReadonlyArray<number>,
  all: ReadonlyArray<MmrCandidate>,
  k: number,
  min: number
) => {
  const firsts = all.filter((candidate, i) => all.findIndex((other) => other.id === candidate.id) === i)
  return firsts
    .map((candidate) => ({ id: candidate.id, similarity: cosineSimilarity(query, candidate.embedding) }))
    .filter((scored) => scored.similarity >= min)
    .sort((a, b) => b.similarity - a.similarity || a.id.localeCompare(b.id))
    .slice(0, k)
}

const ids = (picks: ReadonlyArray<{ readonly candidate: MmrCandidate }>) =>
  picks.map((pick) => pick.candidate.id)

describe("cosineSimilarity", () => {
  it("is 1 for the same direction, 0 for orthogonal vectors and a zero vector, -1 for opposites", () => {
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12)
    expect(cosineSimilarity([1, 0], [0, 5])).toBe(0)
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0)
    expect(cosineSimilarity([1, -1], [-3, 3])).toBeCloseTo(-1, 12)
  })

  it("refuses vectors of different lengths", () => {
    expect(() => cosineSimilarity([1, 2], [1, 2, 3])).toThrow(RangeError)
  })

  it("is symmetric and within [-1, 1]", () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const ab = cosineSimilarity(a, b)
        expect(ab).toBe(cosineSimilarity(b, a))
        expect(ab).toBeGreaterThanOrEqual(-1)
        expect(ab).toBeLessThanOrEqual(1)
      }),
      { numRuns }
    )
  })
})

describe("maximalMarginalRelevance", () => {
  it("with lambda 1 is the plain top-k by similarity (ties by id)", () => {
    fc.assert(
      fc.property(vector, candidates, fc.nat(10), threshold, (query, all, k, min) => {
        const picks = maximalMarginalRelevance(query, all, { k, minSimilarity: min, lambda: 1 })
        const expected = plainTopK(query, all, k, min)
        expect(ids(picks)).toEqual(expected.map((e) => e.id))
        expect(picks.map((p) => p.similarity)).toEqual(expected.map((e) => e.similarity))
      }),
      { numRuns }
    )
  })

  it("never returns a candidate below the threshold, never one twice, and min(k, eligible) of them", () => {
    fc.assert(
      fc.property(vector, candidates, fc.nat(10), threshold, lambda, (query, all, k, min, l) => {
        const picks = maximalMarginalRelevance(query, all, { k, minSimilarity: min, lambda: l })
        for (const pick of picks) {
          expect(pick.similarity).toBeGreaterThanOrEqual(min)
          expect(pick.similarity).toBe(cosineSimilarity(query, pick.candidate.embedding))
        }
        expect(new Set(ids(picks)).size).toBe(picks.length)
        const eligible = plainTopK(query, all, Infinity, min).length
        expect(picks.length).toBe(Math.min(k, eligible))
      }),
      { numRuns }
    )
  })

  it("depends on the candidates, not on their order", () => {
    // Unique ids: with duplicates "the first occurrence" depends on the order, by definition.
    const unique = fc.uniqueArray(fc.record({ id: fc.string({ maxLength: 3 }), embedding: vector }), {
      selector: (c) => c.id,
      maxLength: 16
    })
    const withPermutation = unique.chain((all) =>
      fc.tuple(fc.constant(all), fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }))
    )
    fc.assert(
      fc.property(
        vector,
        withPermutation,
        fc.nat(8),
        threshold,
        lambda,
        (query, [all, shuffled], k, min, l) => {
          const options = { k, minSimilarity: min, lambda: l }
          expect(ids(maximalMarginalRelevance(query, shuffled, options))).toEqual(
            ids(maximalMarginalRelevance(query, all, options))
          )
        }
      ),
      { numRuns }
    )
  })

  it("chooses only among the poolSize most similar above the threshold", () => {
    fc.assert(
      fc.property(
        vector,
        candidates,
        fc.nat(10),
        fc.nat(10),
        threshold,
        lambda,
        (query, all, k, pool, min, l) => {
          const picks = maximalMarginalRelevance(query, all, {
            k,
            minSimilarity: min,
            lambda: l,
            poolSize: pool
          })
          const top = new Set(plainTopK(query, all, pool, min).map((e) => e.id))
          expect(ids(picks).every((id) => top.has(id))).toBe(true)
          expect(picks.length).toBe(Math.min(k, top.size))
        }
      ),
      { numRuns }
    )
  })

  /**
   * The guarantee behind "diverse": take a pair of near-duplicates (cosine at least 1 - eps). When
   * MMR with lambda <= 0.5 chose the second of them, its score was at most
   * lambda - (1 - lambda)(1 - eps). A candidate C left out, at or above the threshold t, whose cosine
   * with everything chosen is at most gamma ("distinct"), scored at least lambda * t - (1 - lambda) * gamma
   * at every step, which is more when t > eps + gamma. So MMR never takes both of a near-duplicate pair
   * while it leaves out such a C.
   */
  const eps = 0.02
  const gamma = 0.05
  const nearDuplicates = (picks: ReadonlyArray<{ readonly candidate: MmrCandidate }>) =>
    picks.flatMap((a, i) =>
      picks
        .slice(i + 1)
        .filter((b) => cosineSimilarity(a.candidate.embedding, b.candidate.embedding) >= 1 - eps)
        .map((b) => [a.candidate.id, b.candidate.id] as const)
    )

  it("with lambda <= 0.5 never takes both of two near-duplicates while a distinct candidate above the threshold is left", () => {
    /**
     * Clusters of near-duplicates around some of the axes (orthogonal directions, so that a
     * candidate distinct from everything chosen exists often), mixed with random candidates.
     */
    const plainVector = fc.array(fc.integer({ min: -100, max: 100 }), {
      minLength: dimension,
      maxLength: dimension
    })
    const axis = (index: number, length: number) =>
      Array.from({ length: dimension }, (_, d) => (d === index ? length : 0))
    const clustered = fc
      .tuple(
        fc.uniqueArray(fc.nat(dimension - 1), { minLength: 3, maxLength: dimension }),
        fc.array(fc.tuple(fc.nat(dimension - 1), fc.integer({ min: 1, max: 100 }), plainVector), {
          maxLength: 20
        }),
        fc.array(plainVector, { maxLength: 3 })
      )
      .map(([axes, members, strays]) => [
        ...members.map(([centre, length, noise], i) => ({
          id: `c${i}`,
          embedding: axis(axes[centre % axes.length]!, length).map((x, d) => x + noise[d]! * length * 0.0002)
        })),
        ...strays.map((embedding, i) => ({ id: `s${i}`, embedding }))
      ])
    const positiveQuery = fc.array(fc.integer({ min: 10, max: 100 }), {
      minLength: dimension,
      maxLength: dimension
    })
    let premises = 0
    fc.assert(
      fc.property(
        positiveQuery,
        clustered,
        fc.integer({ min: 2, max: 4 }),
        fc.double({ min: 0.1, max: 0.6, noNaN: true }),
        fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        (query, all, k, min, l) => {
          const picks = maximalMarginalRelevance(query, all, { k, minSimilarity: min, lambda: l })
          const chosen = new Set(ids(picks))
          const distinctLeft = all.filter(
            (c) =>
              !chosen.has(c.id) &&
              cosineSimilarity(query, c.embedding) >= min &&
              picks.every((p) => cosineSimilarity(c.embedding, p.candidate.embedding) <= gamma)
          )
          const eligible = all
            .filter((c) => cosineSimilarity(query, c.embedding) >= min)
            .map((candidate) => ({ candidate }))
          if (distinctLeft.length > 0 && nearDuplicates(eligible).length > 0) premises++
          if (distinctLeft.length > 0) expect(nearDuplicates(picks)).toEqual([])
        }
      ),
      { numRuns }
    )
    // The premise (a distinct candidate left out) must occur, or the property says nothing.
    expect(premises).toBeGreaterThan(numRuns / 50)
  })

  it("of two near-duplicates and a distinct candidate, k = 2 and lambda <= 0.5 never take both near-duplicates", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.005, max: 0.1, noNaN: true }),
        fc.double({ min: 0.1, max: 0.6, noNaN: true }),
        fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        fc.array(vector, { maxLength: 10 }),
        (delta, towardsC, l, noise) => {
          // A = e0 and B a hair away from it; C = e2, orthogonal to both; the query leans to A.
          const a = [1, 0, 0, 0, 0, 0]
          const b = [1, delta, 0, 0, 0, 0]
          const c = [0, 0, 1, 0, 0, 0]
          const query = [1, 0, towardsC, 0, 0, 0]
          const min = cosineSimilarity(query, c) * 0.9
          const others = noise.map((embedding, i) => ({ id: `n${i}`, embedding }))
          const all = [
            { id: "A", embedding: a },
            { id: "B", embedding: b },
            { id: "C", embedding: c },
            ...others
          ]
          const picks = ids(maximalMarginalRelevance(query, all, { k: 2, minSimilarity: min, lambda: l }))
          expect(picks.includes("A") && picks.includes("B")).toBe(false)
          // Plain top-k takes the pair: the property is not true of any selection.
          const top = ids(
            maximalMarginalRelevance(query, all.slice(0, 3), { k: 2, minSimilarity: min, lambda: 1 })
          )
          expect(top).toEqual(["A", "B"])
        }
      ),
      { numRuns }
    )
  })

  it("refuses a k, lambda or poolSize it cannot mean", () => {
    const one = [{ id: "a", embedding: [1, 0] }]
    expect(() => maximalMarginalRelevance([1, 0], one, { k: -1, minSimilarity: 0 })).toThrow(RangeError)
    expect(() => maximalMarginalRelevance([1, 0], one, { k: 1.5, minSimilarity: 0 })).toThrow(RangeError)
    expect(() => maximalMarginalRelevance([1, 0], one, { k: 1, minSimilarity: 0, lambda: 1.1 })).toThrow(
      RangeError
    )
    expect(() =>
      maximalMarginalRelevance([1, 0], one, { k: 1, minSimilarity: 0, lambda: Number.NaN })
    ).toThrow(RangeError)
    expect(() => maximalMarginalRelevance([1, 0], one, { k: 1, minSimilarity: 0, poolSize: -2 })).toThrow(
      RangeError
    )
  })

  it("leaves out a candidate whose embedding is broken (NaN)", () => {
    const picks = maximalMarginalRelevance(
      [1, 0],
      [
        { id: "broken", embedding: [Number.NaN, 1] },
        { id: "fine", embedding: [1, 1] }
      ],
      { k: 5, minSimilarity: -1 }
    )
    expect(ids(picks)).toEqual(["fine"])
  })
})
