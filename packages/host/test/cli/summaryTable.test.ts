import { RunSummary } from "@devmatrix/core"
import { Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { usd } from "../../src/cli/format.js"
import { renderSummary } from "../../src/cli/summaryTable.js"

const decode = Schema.decodeUnknownSync(RunSummary)

/** A run that paid for Claude calls, read from the provider's prompt cache and hit its own cache. */
const paidRun: RunSummary = decode({
  outcome: "completed",
  atoms: { total: 12, completed: 11, failed: 1, skipped: 0, cancelled: 0, blocked: 0, review: 0 },
  waves: 3,
  calls: 10,
  retries: 1,
  costUsd: 2.5,
  costByModel: { "claude-haiku-4-5": 0.5, "claude-sonnet-4-5": 2 },
  inputTokens: 12_345,
  outputTokens: 6_789,
  cacheHits: 2,
  cacheSavedUsd: 0.4,
  cacheWriteTokens: 2_008,
  cacheReadTokens: 18_072,
  costByWave: { "0": 1, "1": 1.25, "2": 0.25 },
  costByTokenKind: { input: 0.9, output: 1.4, cacheWrite: 0.15, cacheRead: 0.05 },
  reservedUsd: 4.75,
  durationMs: 1_500,
  failures: [{ atomId: "b", wave: 1, reason: "contract", error: "defines nothing" }]
})

/** The value of the row labelled `label`, or undefined when the table has no such row. */
const row = (lines: ReadonlyArray<string>, label: string): string | undefined => {
  const line = lines.find((l) => l.startsWith(`${label} `))
  return line?.slice(label.length).trimStart()
}

describe("renderSummary", () => {
  it("shows spend against the budget, by model (largest first), by token kind and by wave", () => {
    const lines = renderSummary(paidRun, { color: false, masterplanId: "mp-1", budgetUsd: 10 })
    expect(row(lines, "spend")).toBe("$2.50 of $10.00 budget (25%)")
    expect(row(lines, "by model")).toBe("claude-sonnet-4-5 $2.00, claude-haiku-4-5 $0.5000")
    expect(row(lines, "by token kind")).toBe(
      "input $0.9000, output $1.40, cache write $0.1500, cache read $0.0500"
    )
    expect(row(lines, "by wave")).toBe("0: $1.00, 1: $1.25, 2: $0.2500")
  })

  it("shows tokens by kind, reserved against committed, and what the cache hits saved", () => {
    const lines = renderSummary(paidRun, { color: false, masterplanId: "mp-1" })
    expect(row(lines, "tokens")).toBe("12,345 input, 6,789 output, 2,008 cache write, 18,072 cache read")
    expect(row(lines, "reserved")).toBe("$4.75 held for the calls paid, $2.50 committed")
    expect(row(lines, "cache hits")).toBe("2 (saved $0.4000)")
    expect(row(lines, "model calls")).toBe("10 (1 retries)")
    expect(lines.slice(-2)).toEqual(["failures:", "  atom b (wave 1): contract: defines nothing"])
  })

  it("shows the spend alone when no budget is known", () => {
    const lines = renderSummary(paidRun, { color: false, masterplanId: "mp-1" })
    expect(row(lines, "spend")).toBe("$2.50")
  })

  it("prints a summary journaled before the money fields existed, without rows for what it lacks", () => {
    const old = decode({
      outcome: "completed",
      atoms: { total: 1, completed: 1, failed: 0, skipped: 0, cancelled: 0, blocked: 0, review: 0 },
      waves: 1,
      calls: 1,
      retries: 0,
      costUsd: 0,
      costByModel: {},
      inputTokens: 160,
      outputTokens: 20,
      cacheHits: 0,
      durationMs: 12,
      failures: []
    })
    const lines = renderSummary(old, { color: false, masterplanId: "mp-old", budgetUsd: 100 })
    expect(row(lines, "spend")).toBe("$0.0000 of $100.00 budget (0%)")
    expect(row(lines, "tokens")).toBe("160 input, 20 output, 0 cache write, 0 cache read")
    expect(row(lines, "cache hits")).toBe("0")
    for (const absent of ["by model", "by token kind", "by wave", "reserved"])
      expect(row(lines, absent)).toBeUndefined()
  })

  it("names the first waves' spend and sums the rest in one entry", () => {
    const costByWave = Object.fromEntries(
      Array.from({ length: 12 }, (_, wave) => [String(wave), 0.01 * (wave + 1)])
    )
    const lines = renderSummary({ ...paidRun, costByWave }, { color: false, masterplanId: "mp-1" })
    // Waves 8..11 cost 0.09 + 0.10 + 0.11 + 0.12.
    expect(row(lines, "by wave")).toMatch(/^0: \$0\.0100, 1: \$0\.0200, .*, 7: \$0\.0800, 4 more: \$0\.4200$/)
  })

  it("aligns every row's value and lists every model's cost, whatever was spent", () => {
    const money = fc.double({ min: 0, max: 1_000, noNaN: true })
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), money, { maxKeys: 4 }),
        money,
        fc.option(fc.double({ min: 0.01, max: 10_000, noNaN: true }), { nil: undefined }),
        (costByModel, reservedUsd, budgetUsd) => {
          const costUsd = Object.values(costByModel).reduce((sum, cost) => sum + cost, 0)
          const summary = { ...paidRun, failures: [], costByModel, costUsd, reservedUsd }
          const lines = renderSummary(summary, { color: false, masterplanId: "mp", budgetUsd })
          const column = lines[0]!.indexOf("mp")
          for (const line of lines) expect(line.slice(column - 2, column)).toBe("  ")
          expect(row(lines, "spend")!.startsWith(usd(costUsd))).toBe(true)
          for (const [model, cost] of Object.entries(costByModel))
            expect(row(lines, "by model")).toContain(`${model} ${usd(cost)}`)
        }
      )
    )
  })
})
