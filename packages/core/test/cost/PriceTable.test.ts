import {
  defaultPriceTable,
  findModelPrice,
  loadPriceTable,
  mergePriceTables,
  namesOf,
  PriceTable,
  unknownModelMessage
} from "@devmatrix/core"
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"

const encoded = () => Schema.encodeSync(PriceTable)(defaultPriceTable) as unknown as Record<string, unknown>
const withModel = (patch: Record<string, unknown>, at = 0) => {
  const table = encoded()
  const models = [...(table["models"] as ReadonlyArray<Record<string, unknown>>)]
  models[at] = { ...models[at], ...patch }
  return { ...table, models }
}
/** The refusal's message; a table that loads is a failed expectation. */
const problem = (input: unknown): string =>
  Either.match(loadPriceTable(input), { onLeft: (error) => error.message, onRight: () => "(loaded)" })

describe("the default price table", () => {
  it("is a valid PriceTable, as JSON text too", () => {
    expect(Either.getOrThrow(loadPriceTable(encoded()))).toEqual(defaultPriceTable)
    expect(Either.getOrThrow(loadPriceTable(JSON.stringify(encoded())))).toEqual(defaultPriceTable)
  })

  it("says when and where it was checked", () => {
    expect(defaultPriceTable.checkedAt).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    expect(defaultPriceTable.source).toMatch(/^https:\/\/platform\.claude\.com\//)
  })

  it("has the current Opus, Sonnet and Haiku and the ones the other parts name", () => {
    for (const id of [
      "claude-opus-5-5",
      "claude-sonnet-5-5",
      "claude-haiku-5-5",
      "claude-sonnet-4-5",
      "claude-haiku-4-5",
      "claude-opus-4-5"
    ])
      expect(findModelPrice(defaultPriceTable, id)?.id).toBe(id)
  })

  it("prices scripted as the current Sonnet", () => {
    const { id: _s, ...scripted } = findModelPrice(defaultPriceTable, "scripted")!
    const { id: _c, ...sonnet } = findModelPrice(defaultPriceTable, "claude-sonnet-5-5")!
    expect(scripted).toEqual(sonnet)
  })

  it("keeps cache multipliers per model", () => {
    const readShare = (id: string) => {
      const price = findModelPrice(defaultPriceTable, id)!
      return price.cacheReadPerMTok / price.inputPerMTok
    }
    expect(readShare("claude-sonnet-4-5")).toBeCloseTo(0.1, 12)
    expect(readShare("claude-opus-5-5")).toBeCloseTo(0.05, 12)
    expect(readShare("claude-fable-5-1")).toBeCloseTo(0.025, 12)
  })

  it("has long-context prices where a model has them, above their input threshold", () => {
    expect(findModelPrice(defaultPriceTable, "claude-haiku-5-5")?.longContext?.aboveInputTokens).toBe(100_000)
    expect(findModelPrice(defaultPriceTable, "claude-sonnet-4-5")?.longContext).toMatchObject({
      aboveInputTokens: 200_000,
      inputPerMTok: 6,
      outputPerMTok: 22.5
    })
  })
})

describe("loadPriceTable", () => {
  it("names the field at fault", () => {
    expect(problem(withModel({ cacheReadPerMTok: -1 }, 2))).toContain("models[2].cacheReadPerMTok")
    expect(problem(withModel({ inputPerMTok: "3" }))).toContain("models[0].inputPerMTok")
    expect(problem({ ...encoded(), checkedAt: "1 Dec 2026" })).toMatch(
      /checkedAt: expected a date YYYY-MM-DD/
    )
    expect(problem(withModel({ outputPerMtok: 15 }))).toContain("models[0].outputPerMtok")
  })

  it("refuses a price finer than a nano-dollar per token, which would not add up exactly", () => {
    expect(problem(withModel({ inputPerMTok: 0.0001 }))).toMatch(
      /models\[0\]\.inputPerMTok: expected at most 3 decimals/
    )
  })

  it("refuses a model name listed twice, id or alias", () => {
    expect(problem(withModel({ id: "scripted" }))).toMatch(
      /models\[\d+\]\.id: the model name "scripted" is listed twice/
    )
    expect(problem(withModel({ aliases: ["claude-haiku-4-5"] }))).toContain(
      '"claude-haiku-4-5" is listed twice'
    )
  })

  it("says when the text is not JSON", () => {
    expect(problem("{ models: ")).toMatch(/^price table is invalid:\n {2}- \(root\): is not JSON/)
  })

  it("defaults the batch discount to half price", () => {
    const table = encoded()
    const models = (table["models"] as ReadonlyArray<Record<string, unknown>>).map(
      ({ batchDiscount: _, ...m }) => m
    )
    expect(
      Either.getOrThrow(loadPriceTable({ ...table, models })).models.every((m) => m.batchDiscount === 0.5)
    ).toBe(true)
  })
})

describe("mergePriceTables", () => {
  const override: PriceTable = {
    checkedAt: "2027-01-15",
    source: "our contract",
    models: [
      {
        ...findModelPrice(defaultPriceTable, "claude-sonnet-4-5")!,
        id: "claude-sonnet-4-5-20250929",
        aliases: [],
        inputPerMTok: 2.5
      },
      { ...findModelPrice(defaultPriceTable, "scripted")!, id: "our-model" }
    ]
  }
  const merged = mergePriceTables(defaultPriceTable, override)

  it("replaces a model named by id or alias and adds new ones", () => {
    expect(findModelPrice(merged, "claude-sonnet-4-5")).toBeUndefined()
    expect(findModelPrice(merged, "claude-sonnet-4-5-20250929")?.inputPerMTok).toBe(2.5)
    expect(findModelPrice(merged, "our-model")?.id).toBe("our-model")
    expect(findModelPrice(merged, "claude-haiku-4-5")).toEqual(
      findModelPrice(defaultPriceTable, "claude-haiku-4-5")
    )
    expect(merged.models.length).toBe(defaultPriceTable.models.length + 1)
  })

  it("takes the override's date and source and stays a valid table", () => {
    expect([merged.checkedAt, merged.source]).toEqual(["2027-01-15", "our contract"])
    expect(Either.isRight(loadPriceTable(Schema.encodeSync(PriceTable)(merged)))).toBe(true)
  })
})

describe("findModelPrice and unknownModelMessage", () => {
  it("finds a model by a dated alias", () => {
    expect(findModelPrice(defaultPriceTable, "claude-haiku-4-5-20251001")?.id).toBe("claude-haiku-4-5")
  })

  it("knows no model by a family name alone: an unknown model is never priced by a guess", () => {
    expect(findModelPrice(defaultPriceTable, "sonnet")).toBeUndefined()
    expect(findModelPrice(defaultPriceTable, "claude-sonnet-9")).toBeUndefined()
  })

  it("names the models it knows", () => {
    const table: PriceTable = { ...defaultPriceTable, models: defaultPriceTable.models.slice(0, 3) }
    const [a, b, c] = table.models.map((m) => m.id)
    expect(unknownModelMessage(table, "x")).toBe(`unknown model "x": known models are ${a}, ${b}, ${c}`)
    expect(unknownModelMessage(defaultPriceTable, "x")).toContain(
      defaultPriceTable.models
        .map(namesOf)
        .map((n) => n[0])
        .join(", ")
    )
  })
})
