import type { RunSummary } from "./RunSummary.js"

/** The summary of a plan of `total` atoms in `waves` waves that has not run anything yet. */
export const emptySummary = (total: number, waves: number): RunSummary => ({
  outcome: "completed",
  atoms: { total, completed: 0, failed: 0, skipped: 0, cancelled: 0, blocked: 0, review: 0 },
  waves,
  calls: 0,
  retries: 0,
  repeatedCalls: 0,
  throttled: 0,
  costUsd: 0,
  costByModel: {},
  inputTokens: 0,
  outputTokens: 0,
  cacheHits: 0,
  cacheSavedUsd: 0,
  cacheWriteTokens: 0,
  cacheReadTokens: 0,
  costByWave: {},
  costByTokenKind: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
  reservedUsd: 0,
  durationMs: 0,
  failures: []
})
