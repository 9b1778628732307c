import { frameAtomCode, knownGlobals, positionInCode, type AtomParent } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const languages = ["typescript", "javascript", "python"] as const

/** Code of a few lines, some blank, some indented, flush left or not. */
const code = fc
  .array(fc.oneof(fc.constant(""), fc.stringMatching(/^ {0,6}[a-z_(][a-z0-9_ =().:]{0,20}$/)), {
    minLength: 1,
    maxLength: 6
  })
  .map((lines) => lines.join("\n"))

const parent: fc.Arbitrary<AtomParent | undefined> = fc.option(
  fc.record({
    kind: fc.constantFrom("class", "namespace"),
    name: fc.constantFrom("Parser", "N"),
    typeParameters: fc.constantFrom(undefined, [], ["T"], ["K", "V"])
  }),
  { nil: undefined }
)

describe("frameAtomCode", () => {
  it("places every character of the code back where it is in the code (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...languages), code, parent, (language, text, member) => {
        const framed = frameAtomCode(language, { code: text, parent: member })
        const lines = text.split("\n")
        // Each non-blank character of the code is found in the framed text, in order; its
        // position there maps back to its line and column in the code.
        let from = framed.lineStarts[framed.firstLine - 1]!
        lines.forEach((line, i) => {
          for (let column = 0; column < line.length; column++) {
            if (line[column] === " ") continue
            const offset = framed.text.indexOf(line[column]!, from)
            expect(offset).toBeGreaterThanOrEqual(0)
            expect(positionInCode(framed, offset)).toEqual({ line: i + 1, column: column + 1 })
            from = offset + 1
          }
        })
      }),
      { numRuns }
    )
  })

  it("leaves code without a parent as it is, and frames a member in its parent's shell", () => {
    expect(frameAtomCode("typescript", { code: "const a = 1" }).text).toBe("const a = 1")
    expect(
      frameAtomCode("typescript", {
        code: "get(): T {\n  return this.value\n}",
        parent: { kind: "class", name: "Box", typeParameters: ["T"] }
      }).text
    ).toBe("class Box<T> {\nget(): T {\n  return this.value\n}\n}")
    expect(
      frameAtomCode("python", { code: "def f(self):\n    return 1", parent: { kind: "class", name: "A" } })
        .text
    ).toBe("class A:\n    def f(self):\n        return 1")
    expect(
      frameAtomCode("python", { code: "  def f(self):\n    return 1", parent: { kind: "class", name: "A" } })
        .text
    ).toBe("class A:\n  def f(self):\n    return 1")
    // JavaScript has no namespaces: a member is framed in a class.
    expect(
      frameAtomCode("javascript", { code: "m() {}", parent: { kind: "namespace", name: "N" } }).text
    ).toBe("class N {\nm() {}\n}")
  })
})

describe("knownGlobals", () => {
  it("holds each language's globals and not another's", () => {
    expect(
      ["console", "Promise", "Map", "JSON", "Math", "Error", "Array"].every((name) =>
        knownGlobals("javascript").has(name)
      )
    ).toBe(true)
    expect(
      ["Partial", "Record", "ReturnType", "Awaited"].every((name) => knownGlobals("typescript").has(name))
    ).toBe(true)
    expect(knownGlobals("javascript").has("Partial")).toBe(false)
    expect(
      ["len", "print", "ValueError", "__name__", "isinstance"].every((name) =>
        knownGlobals("python").has(name)
      )
    ).toBe(true)
    expect(knownGlobals("python").has("console")).toBe(false)
    expect(knownGlobals("typescript").has("formatDate")).toBe(false)
  })
})
