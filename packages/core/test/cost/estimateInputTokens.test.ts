import { estimateInputTokens, utf8ByteLength } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)
const bytes = (text: string) => new TextEncoder().encode(text).length
/** The local stand-in's count (the contract's truth): 1 token per 4 bytes, 4 per message, 8 per request. */
const fakeServerTokens = (system: ReadonlyArray<string>, messages: ReadonlyArray<string>) =>
  [...system, ...messages].reduce((sum, text) => sum + Math.ceil(bytes(text) / 4), 0) +
  4 * messages.length +
  8

const anyText = fc.oneof(
  fc.string(),
  fc.fullUnicodeString(),
  fc.string({ unit: "binary" }),
  fc.constant("\ud800x")
)

describe("utf8ByteLength", () => {
  it("counts as a UTF-8 encoder writes, lone surrogates included (property)", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(utf8ByteLength(text)).toBe(bytes(text))
      }),
      { numRuns }
    )
  })
})

describe("estimateInputTokens", () => {
  it("is ceil(bytes / 3) per text, 8 per message and 16 per request", () => {
    expect(estimateInputTokens({ system: [], messages: [] })).toBe(16)
    expect(estimateInputTokens({ system: ["abcd"], messages: ["é", "x".repeat(9)] })).toBe(
      2 + 1 + 3 + 16 + 16
    )
  })

  it("is never below the local stand-in's count (property)", () => {
    fc.assert(
      fc.property(
        fc.array(anyText, { maxLength: 4 }),
        fc.array(anyText, { maxLength: 6 }),
        (system, messages) => {
          expect(estimateInputTokens({ system, messages })).toBeGreaterThanOrEqual(
            fakeServerTokens(system, messages)
          )
        }
      ),
      { numRuns }
    )
  })
})
