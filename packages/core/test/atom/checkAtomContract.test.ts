import { checkAtomContract } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

/** The check as it was: one `\bsymbol\b` regex over the code per symbol (quadratic). */
const definesByRegex = (code: string, symbol: string) =>
  new RegExp(`\\b${symbol.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(code)

describe("checkAtomContract", () => {
  it("finds each symbol as a whole word, and names those missing", () => {
    const code = "export const total = (a: number) => a + 1\nexport type Total_2 = number\n$x.y"
    expect(
      checkAtomContract(code, { maxLines: 40, defines: ["total", "Total_2", "tot", "a.b", "x.y"] })
    ).toEqual(['the output does not define "tot"', 'the output does not define "a.b"'])
  })

  it("checks 100,000 symbols against code defining them all in one pass (it took hours)", () => {
    const defines = Array.from({ length: 100_000 }, (_, i) => `symbol${i}`)
    const code = defines.map((name) => `export const ${name} = 1`).join("\n")
    expect(checkAtomContract(code, { maxLines: 100_000, defines })).toEqual([])
    expect(checkAtomContract(code, { maxLines: 100_000, defines: [...defines, "symbol"] })).toEqual([
      'the output does not define "symbol"'
    ])
  })

  it("agrees with the regex it replaces, on any code and symbols (property)", () => {
    const piece = fc.constantFrom("a", "b", "ab", "_", "1", " ", ".", "$", "\n", "é", "-", "(")
    const text = fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join(""))
    fc.assert(
      fc.property(
        text,
        fc.array(
          text.filter((s) => s !== ""),
          { maxLength: 5 }
        ),
        (code, defines) => {
          const missing = defines.filter((symbol) => !definesByRegex(code, symbol))
          const found = checkAtomContract(code, { maxLines: 1_000, defines }).filter((p) =>
            p.startsWith("the output does not define")
          )
          expect(found).toEqual(missing.map((symbol) => `the output does not define "${symbol}"`))
        }
      ),
      { numRuns }
    )
  })
})
