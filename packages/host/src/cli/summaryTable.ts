import type { RunSummary } from "@devmatrix/core"
import { duration, paint, usd } from "./format.js"

/** The summary printed when a plan ends: outcome, atoms by status, calls, tokens, cost, failures. */
export const renderSummary = (
  summary: RunSummary,
  options: { readonly color: boolean; readonly masterplanId: string }
): Array<string> => {
  const { color } = options
  const outcomeColor =
    summary.outcome === "completed" ? "green" : summary.outcome === "failed" ? "red" : "yellow"
  const { atoms } = summary
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
      `${summary.calls} (${summary.retries} retries${summary.repeatedCalls > 0 ? `, ${summary.repeatedCalls} repeated after a stop` : ""})`
    ],
    [
      "tokens",
      `${summary.inputTokens.toLocaleString("en-US")} in, ${summary.outputTokens.toLocaleString("en-US")} out`
    ],
    [
      "cost",
      `${usd(summary.costUsd)}` +
        (Object.keys(summary.costByModel).length > 0
          ? ` (${Object.entries(summary.costByModel)
              .map(([model, cost]) => `${model} ${usd(cost)}`)
              .join(", ")})`
          : "")
    ],
    ["cache hits", String(summary.cacheHits)],
    ["duration", duration(summary.durationMs)]
  ]
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
