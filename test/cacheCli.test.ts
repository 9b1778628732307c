import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { root } from "./devmatrixProcess.js"
import {
  jsonEvents,
  runToEnd,
  stillRunning,
  summaryOf,
  tempSqliteStore,
  writePlan
} from "./fakeProviderCli.js"

// The prompt cache as a user meets it: the example plan run again in the same store (the embedded
// default cache, in that store) is answered from it; a copy with a tenth of its atoms changed pays
// for those only; `--no-cache` pays for everything. The figures come from the `--json` summary.

interface PlanAtom {
  readonly id: string
  readonly dependsOn?: ReadonlyArray<string>
  readonly instruction: string
}

const examplePath = "examples/plans/todo-api.json"
const example = JSON.parse(readFileSync(join(root, examplePath), "utf8")) as { atoms: Array<PlanAtom> }
const atomCount = example.atoms.length

afterEach(() => {
  expect(stillRunning(), "a devmatrix process outlived its test").toEqual([])
})

/** Runs a plan with `--json` in `store` to completion; its summary and what each atom cost. */
const runPlan = async (plan: string, store: string, flags: ReadonlyArray<string> = []) => {
  const run = await runToEnd(["run", plan, "--json", "--store", store, ...flags])
  expect(run.code, run.stderr).toBe(0)
  const costByAtom = new Map(
    jsonEvents(run.stdout).flatMap((e) =>
      e.type === "atom.completed" ? [[e.atomId, e.costUsd] as const] : []
    )
  )
  return { summary: summaryOf(run.stdout), costByAtom }
}

describe("devmatrix run: the prompt cache across runs", () => {
  it("a re-run is served from the cache, a run with 10% of atoms changed pays for those only, --no-cache pays for all", async () => {
    const store = tempSqliteStore("cache").url

    const first = await runPlan(examplePath, store)
    expect(first.summary.atoms.completed).toBe(atomCount)
    expect(first.summary.cacheHits).toBe(0)
    expect(first.summary.costUsd).toBeGreaterThan(0)

    const second = await runPlan(examplePath, store)
    expect(second.summary.atoms.completed).toBe(atomCount)
    expect(second.summary.cacheHits).toBeGreaterThanOrEqual(0.9 * atomCount)
    expect(second.summary.costUsd).toBeLessThanOrEqual(0.1 * first.summary.costUsd)
    // What the hits saved is what the first run paid for those answers.
    expect(second.summary.cacheSavedUsd).toBeGreaterThanOrEqual(0.9 * first.summary.costUsd)
    expect(second.summary.cacheSavedUsd).toBeLessThanOrEqual(first.summary.costUsd + 1e-9)

    // A tenth of the atoms, spread over the plan, get a new instruction.
    const changed = new Set(example.atoms.filter((_, i) => i % 10 === 5).map((atom) => atom.id))
    expect(changed.size).toBe(Math.round(atomCount / 10))
    const edited = writePlan({
      ...example,
      atoms: example.atoms.map((atom) =>
        changed.has(atom.id) ? { ...atom, instruction: `${atom.instruction} Document each export.` } : atom
      )
    })
    const third = await runPlan(edited, store)
    expect(third.summary.atoms.completed).toBe(atomCount)
    expect(third.summary.cacheHits).toBe(atomCount - changed.size)
    const changedFirstCost = [...changed].reduce((sum, atomId) => sum + first.costByAtom.get(atomId)!, 0)
    // About what those atoms cost the first time (their prompts are a little longer now).
    expect(third.summary.costUsd).toBeGreaterThan(0.8 * changedFirstCost)
    expect(third.summary.costUsd).toBeLessThan(1.5 * changedFirstCost)
    expect(third.summary.costUsd).toBeLessThan(0.2 * first.summary.costUsd)
    for (const [atomId, cost] of third.costByAtom) expect(cost > 0, atomId).toBe(changed.has(atomId))

    const uncached = await runPlan(examplePath, store, ["--no-cache"])
    expect(uncached.summary.atoms.completed).toBe(atomCount)
    expect(uncached.summary.cacheHits).toBe(0)
    expect(uncached.summary.cacheSavedUsd).toBe(0)
    expect(uncached.summary.costUsd).toBeCloseTo(first.summary.costUsd, 9)
  }, 90_000)
})
