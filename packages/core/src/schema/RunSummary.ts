import { Schema } from "effect"

/** Final status of a masterplan run. `paused` ends a CLI run that a budget stopped (exit 3). */
export const RunOutcome = Schema.Literal("completed", "failed", "cancelled", "paused")
export type RunOutcome = typeof RunOutcome.Type

/** Atoms counted by how they ended. */
export const AtomCounts = Schema.Struct({
  total: Schema.NonNegativeInt,
  completed: Schema.NonNegativeInt,
  failed: Schema.NonNegativeInt,
  skipped: Schema.NonNegativeInt,
  cancelled: Schema.NonNegativeInt,
  blocked: Schema.NonNegativeInt,
  review: Schema.NonNegativeInt
})
export type AtomCounts = typeof AtomCounts.Type

/** One failed atom and why, as the summary names it. */
export const AtomFailure = Schema.Struct({
  atomId: Schema.String,
  wave: Schema.NonNegativeInt,
  reason: Schema.String,
  error: Schema.String
})
export type AtomFailure = typeof AtomFailure.Type

/** What the terminal event of a masterplan reports. */
export const RunSummary = Schema.Struct({
  outcome: RunOutcome,
  atoms: AtomCounts,
  waves: Schema.NonNegativeInt,
  /** Model calls made, retries included (answers from the prompt cache are not calls). */
  calls: Schema.NonNegativeInt,
  retries: Schema.NonNegativeInt,
  /**
   * Calls made again because a stop (a crash, a kill, a store that failed) lost the outcome of an
   * attempt under way: each may have been paid twice. What the journal holds of their cost is in
   * `costUsd`; an answer that came back after the last commit of a stopped process is not.
   * Absent from summaries journaled before it was counted.
   */
  repeatedCalls: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 }),
  /**
   * Calls the provider pushed back (429, 529): nothing billed, no retry used up; the atoms waited
   * in admission and went again. Absent from summaries journaled before it was counted.
   */
  throttled: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 }),
  costUsd: Schema.NonNegative,
  costByModel: Schema.Record({ key: Schema.String, value: Schema.NonNegative }),
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  cacheHits: Schema.NonNegativeInt,
  /** What the cache hits would have cost: the original calls' cost, not paid again. */
  cacheSavedUsd: Schema.optionalWith(Schema.NonNegative, { default: () => 0 }),
  /** Input tokens written to and read from the provider's prompt cache. */
  cacheWriteTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 }),
  cacheReadTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 }),
  /** Spend by wave (the key is the wave's number). */
  costByWave: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.NonNegative }), {
    default: () => ({})
  }),
  /** Spend by token kind, at each model's prices. */
  costByTokenKind: Schema.optionalWith(
    Schema.Struct({
      input: Schema.NonNegative,
      output: Schema.NonNegative,
      cacheWrite: Schema.NonNegative,
      cacheRead: Schema.NonNegative
    }),
    { default: () => ({ input: 0, output: 0, cacheWrite: 0, cacheRead: 0 }) }
  ),
  /** What admission reserved (each call's worst case) for the calls that were paid: against `costUsd`. */
  reservedUsd: Schema.optionalWith(Schema.NonNegative, { default: () => 0 }),
  durationMs: Schema.NonNegative,
  /** The first failures (at most 20), each naming its atom, wave and cause. */
  failures: Schema.Array(AtomFailure)
})
export type RunSummary = typeof RunSummary.Type
