import type { PlanInputEncoded } from "@devmatrix/core"
import type { ModelUsage } from "@devmatrix/runtime"

/** `count` atoms without dependencies, each defining a symbol of its own: all ready at once. */
export const independentAtoms = (count: number): PlanInputEncoded["atoms"] =>
  Array.from({ length: count }, (_, i) => ({
    id: `a${i}`,
    instruction: "x",
    defines: [`a${i}`]
  })) as unknown as PlanInputEncoded["atoms"]

/** What a bench's own provider bills for an answer: a small prompt and answer, no cache. */
export const smallAnswerUsage: ModelUsage = {
  inputTokens: 200,
  outputTokens: 40,
  cacheWriteTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  cacheReadTokens: 0
}
