import { defaultPriceTable, findModelPrice } from "@devmatrix/core"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { prepareRun } from "../../src/cli/runCommand.js"
import { modelProblem, parseRunArgs, pricesOf } from "../../src/cli/runArgs.js"

const dir = mkdtempSync(join(tmpdir(), "devmatrix-prices-"))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const localModel = {
  id: "claude-local-1",
  inputPerMTok: 1,
  outputPerMTok: 2,
  cacheWrite5mPerMTok: 1.25,
  cacheWrite1hPerMTok: 2,
  cacheReadPerMTok: 0.1,
  contextWindow: 200_000,
  maxOutputTokens: 8_192
}

describe("--prices", () => {
  it("is the built-in table when neither the flag nor DEVMATRIX_PRICES is given", () => {
    expect(pricesOf(undefined, {})).toBe(defaultPriceTable)
  })

  it("adds a model and replaces a price over the built-in table, from the flag or the environment", () => {
    const scripted = { ...localModel, id: "scripted", inputPerMTok: 7 }
    const path = file(
      "ours.json",
      JSON.stringify({ checkedAt: "2026-12-01", source: "our contract", models: [localModel, scripted] })
    )
    for (const table of [pricesOf(path, {}), pricesOf(undefined, { DEVMATRIX_PRICES: path })]) {
      expect(findModelPrice(table, "claude-local-1")?.outputPerMTok).toBe(2)
      expect(findModelPrice(table, "scripted")?.inputPerMTok).toBe(7)
      expect(findModelPrice(table, "claude-sonnet-5-5")).toEqual(
        findModelPrice(defaultPriceTable, "claude-sonnet-5-5")
      )
      expect(table.source).toBe("our contract")
      expect(modelProblem("claude-local-1", { ANTHROPIC_API_KEY: "k" }, table)).toBeUndefined()
    }
    expect(modelProblem("claude-local-1", { ANTHROPIC_API_KEY: "k" })).toMatch(
      /unknown model "claude-local-1"/
    )
  })

  it("lets a plan name a model only the --prices table knows (the plan's model is checked against the table in force)", async () => {
    const prices = file(
      "local.json",
      JSON.stringify({ checkedAt: "2026-12-01", source: "ours", models: [localModel] })
    )
    const plan = file(
      "local-plan.json",
      JSON.stringify({
        name: "local",
        options: { model: "claude-local-1" },
        atoms: [{ id: "a", instruction: "x" }]
      })
    )
    const env = { ANTHROPIC_API_KEY: "k" }
    const prepared = (...flags: ReadonlyArray<string>) =>
      Effect.runPromise(Effect.either(prepareRun(parseRunArgs([plan, ...flags], env), env)))
    const withTable = await prepared("--prices", prices)
    expect(Either.isRight(withTable) && withTable.right.planFile.options.model).toBe("claude-local-1")
    const without = await prepared()
    expect(Either.isLeft(without) && without.left.message).toMatch(
      /options\.model: .*unknown model "claude-local-1"/
    )
  })

  it("refuses a file that is missing, not JSON or not a price table, naming the file and the field", () => {
    expect(() => pricesOf(join(dir, "absent.json"), {})).toThrow(
      /--prices: cannot read ".*absent\.json": ENOENT/
    )
    expect(() => pricesOf(file("text.json", "prices!"), {})).toThrow(/is not JSON/)
    expect(() =>
      pricesOf(undefined, {
        DEVMATRIX_PRICES: file(
          "bad.json",
          JSON.stringify({ checkedAt: "2026-12-01", source: "x", models: [{ id: "m" }] })
        )
      })
    ).toThrow(
      /DEVMATRIX_PRICES ".*bad\.json": price table is invalid:\n {2}- models\[0\]\.inputPerMTok: is missing/
    )
  })
})
