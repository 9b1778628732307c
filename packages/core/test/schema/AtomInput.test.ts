import { AtomInput, decodePlanInput, maxAtomInputLength } from "@devmatrix/core"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { problems } from "./problemLines.js"

/** More runs: `DEVMATRIX_PROPERTY_RUNS=5000 npx vitest run ...`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const withInput = (input: unknown) => ({
  name: "p",
  atoms: [
    { id: "a", instruction: "write a" },
    { id: "b", instruction: "write b", input }
  ]
})
const notJson = "expected a JSON value (a string, a finite number, a boolean, null, an array or an object)"
const decode = Schema.decodeUnknownEither(AtomInput)
const throughJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe("an atom's input", () => {
  const table: ReadonlyArray<[string, unknown, ReadonlyArray<string>]> = [
    ["an array", [1, 2], ["atoms[1].input: expected a JSON object, got an array"]],
    ["a string", "x", ['atoms[1].input: expected a JSON object, got "x"']],
    ["null", null, ["atoms[1].input: expected a JSON object, got null"]],
    ["a Date", new Date(0), ["atoms[1].input: expected a JSON object, got a Date"]],
    [
      "values JSON cannot hold, each by its path",
      { a: undefined, b: [1, Number.NaN], c: { d: -Infinity }, e: new Map(), f: () => 1, g: 1n },
      [
        `atoms[1].input.a: ${notJson}, got undefined`,
        `atoms[1].input.b[1]: ${notJson}, got NaN`,
        `atoms[1].input.c.d: ${notJson}, got -Infinity`,
        `atoms[1].input.e: ${notJson}, got a Map`,
        `atoms[1].input.f: ${notJson}, got a function`,
        `atoms[1].input.g: ${notJson}, got a bigint`
      ]
    ],
    ["a hole in an array", { list: [1, , 3] }, [`atoms[1].input.list[1]: ${notJson}, got undefined`]],
    [
      "strings and keys that are not free text (the stores would not give them back)",
      { s: "a\u0000", "k\ud800": 1 },
      [
        "atoms[1].input.s: must not contain a control character: U+0000 at position 1",
        'atoms[1].input["k\\ud800"]: its key is not well-formed Unicode: an unpaired surrogate (U+D800) at position 1'
      ]
    ],
    ["a symbol key", { [Symbol("s")]: 1 }, ["atoms[1].input: must not have symbol keys (JSON has none)"]],
    [
      "one too long",
      { text: "x".repeat(maxAtomInputLength) },
      [
        `atoms[1].input: must be at most 1,000,000 characters long as compact JSON, got ${(maxAtomInputLength + 11).toLocaleString("en-US")}`
      ]
    ]
  ]
  it.each(table)("refuses %s, naming the atom and the field", (_, input, expected) => {
    expect(problems(decodePlanInput(withInput(input)))).toEqual(expected)
  })

  it("refuses one nested too deep, at the path that goes too deep", () => {
    let deep: unknown = 1
    for (let i = 0; i < 70; i++) deep = { k: deep }
    const [line] = problems(decodePlanInput(withInput(deep)))
    expect(line).toMatch(/^atoms\[1\]\.input(\.k)+: is nested too deep \(more than 64 levels/)
  })

  it("refuses a cyclic value given in process", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    expect(problems(decodePlanInput(withInput(cyclic)))[0]).toMatch(/input(\.self)+: is nested too deep/)
  })

  it("keeps `__proto__` as an own key, as JSON gives it, and reads -0 as 0", () => {
    const given = JSON.parse('{"__proto__":{"x":1},"z":-0}') as unknown
    const decoded = Either.getOrThrow(decode(given))
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.keys(decoded)).toEqual(["__proto__", "z"])
    expect(Object.is(decoded["z"], 0)).toBe(true)
    expect(JSON.stringify(decoded)).toBe('{"__proto__":{"x":1},"z":0}')
  })

  it("accepts any JSON object, as JSON gives it back, and decodes its own encoding alike (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })), (input) => {
        const decoded = Either.getOrThrow(decode(input))
        expect(decoded).toEqual(throughJson(input))
        expect(Either.getOrThrow(decode(throughJson(Schema.encodeSync(AtomInput)(decoded))))).toEqual(decoded)
      }),
      { numRuns }
    )
  })
})
