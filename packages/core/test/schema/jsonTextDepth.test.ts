import { jsonTextTooDeepAt, measureInput } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

/** JSON values whose strings hold the characters that could fool a scanner: brackets, quotes, backslashes. */
const tricky = fc.stringOf(fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", " ", "\n"), { maxLength: 8 })
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tricky,
    fc.integer(),
    fc.constant(null),
    fc.array(tie("json"), { maxLength: 3 }),
    fc.dictionary(tricky, tie("json"), { maxKeys: 3 })
  )
}))

describe("jsonTextTooDeepAt", () => {
  it("finds a text too deep exactly when the parsed value is (property)", () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 6 }), fc.boolean(), (value, maxDepth, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined)
        const atText = jsonTextTooDeepAt(text, maxDepth)
        expect(atText !== undefined).toBe(measureInput(JSON.parse(text), maxDepth).tooDeepAt !== undefined)
        if (atText !== undefined) expect("[{").toContain(text[atText])
      }),
      { numRuns: runs }
    )
  })

  it("scans 33 million brackets without parsing them", () => {
    const text = `${"[".repeat(33_000_000)}${"]".repeat(33_000_000)}`
    expect(jsonTextTooDeepAt(text, 64)).toBe(64)
    expect(jsonTextTooDeepAt('{"a": "[[[[[[[[[["}', 2)).toBeUndefined()
  })
})
