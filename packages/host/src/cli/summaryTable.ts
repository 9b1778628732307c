import type { RunSummary } from "@devmatrix/core"
import { duration, paint, usd } from "./format.js"

/** How `renderSummary` prints a summary. */
export interface SummaryOptions {
  readonly color: boolean
  readonly masterplanId: string
  /** The plan's hard budget, when the caller knows it: the spend is shown against it. */
  readonly budgetUsd?: number | undefined
}

/** Waves listed by name in `cost by wave`; the rest are summed in one "more" entry. */
const wavesListed = 8

const count = (n: number) => n.toLocaleString("en-US")

/** `model $x, model $y`, largest first: where the money went. */
const byAmount = (costs: Readonly<Record<string, number>>): Array<[string, number]> =>
  Object.entries(costs).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))

/** `$2.52 of $10.00 (25%)`, or `$2.52` when no budget is known. */
const spendLine = (summary: RunSummary, budgetUsd: number | undefined): string =>
  budgetUsd === undefined || budgetUsd <= 0
    ? usd(summary.costUsd)
    : `${usd(summary.costUsd)} of ${usd(budgetUsd)} budget (${Math.round((summary.costUsd / budgetUsd) * 100)}%)`

/** Spend by wave in wave order, the first `wavesListed` named and the rest summed. */
const waveLine = (costByWave: Readonly<Record<string, number>>): string => {
  const waves = Object.entries(costByWave).sort(([a], [b]) => Number(a) - Number(b))
  const listed = waves.slice(0, wavesListed).map(([wave, cost]) => `${wave}: ${usd(cost)}`)
  const rest = waves.slice(wavesListed)
  if (rest.length > 0)
    listed.push(`${rest.length} more: ${usd(rest.reduce((sum, [, cost]) => sum + cost, 0))}`)
  return listed.join(", ")
}

/**
 * The summary printed when a plan ends: outcome, atoms by status, calls, tokens by kind, spend
 * (against the budget when known, by model, by token kind, by wave), what admission reserved for
 * the calls paid against what they cost, what the cache saved, and the first failures.
 */
export const renderSummary = (summary: RunSummary, options: SummaryOptions): Array<string> => {
  const { color } = options
  const outcomeColor =
    summary.outcome === "completed" ? "green" : summary.outcome === "failed" ? "red" : "yellow"
  const { atoms } = summary
  const kinds = summary.costByTokenKind
  const rows: Array<[string, string]> = [
    ["masterplan", options.masterplanId],
    ["outcome", paint(color, outcomeColor, summary.outcome)],
    [
      "atoms",
      `${atoms.completed} completed, ${atoms.failed} failed, ${atoms.skipped} skipped, ${atoms.cancelled} cancelled` +
        (atoms.review > 0 ? `, ${atoms.review} in review` : "") +
        ` (of ${atoms.total})`
    ],
    ["waves", String(summary.waves)],
    [
      "model calls",
      `${summary.calls} (${summary.retries} retries${summary.throttled > 0 ? `, ${summary.throttled} pushed back by the provider` : ""}${summary.repeatedCalls > 0 ? `, ${summary.repeatedCalls} repeated after a stop` : ""})`
    ],
    [
      "tokens",
      `${count(summary.inputTokens)} input, ${count(summary.outputTokens)} output, ` +
        `${count(summary.cacheWriteTokens)} cache write, ${count(summary.cacheReadTokens)} cache read`
    ],
    ["spend", spendLine(summary, options.budgetUsd)]
  ]
  const models = byAmount(summary.costByModel)
  if (models.length > 0)
    rows.push(["by model", models.map(([model, cost]) => `${model} ${usd(cost)}`).join(", ")])
  // Only a run that paid something has a split worth a line.
  if (summary.costUsd > 0)
    rows.push([
      "by token kind",
      `input ${usd(kinds.input)}, output ${usd(kinds.output)}, cache write ${usd(kinds.cacheWrite)}, cache read ${usd(kinds.cacheRead)}`
    ])
  if (Object.keys(summary.costByWave).length > 1) rows.push(["by wave", waveLine(summary.costByWave)])
  // Reserved is each paid call's worst case: how far the budget's admission over-held.
  if (summary.reservedUsd > 0 || summary.costUsd > 0)
    rows.push([
      "reserved",
      `${usd(summary.reservedUsd)} held for the calls paid, ${usd(summary.costUsd)} committed`
    ])
  rows.push([
    "cache hits",
    summary.cacheHits > 0
      ? `${count(summary.cacheHits)} (saved ${usd(summary.cacheSavedUsd)})`
      : String(summary.cacheHits)
  ])
  rows.push(["duration", duration(summary.durationMs)])
  const width = Math.max(...rows.map(([label]) => label.length))
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`)
  if (summary.failures.length > 0) {
    lines.push(paint(color, "red", "failures:"))
    for (const failure of summary.failures)
      lines.push(`  atom ${failure.atomId} (wave ${failure.wave}): ${failure.reason}: ${failure.error}`)
    const unlisted = atoms.failed - summary.failures.length
    if (unlisted > 0) lines.push(`  ... and ${unlisted} more (see the journal)`)
  }
  return lines
}
