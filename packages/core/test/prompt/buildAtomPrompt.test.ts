import { buildAtomPrompt, extractCode } from "@devmatrix/core"
import type { AtomPromptRequest } from "@devmatrix/core"
import { describe, expect, it } from "vitest"

const request: AtomPromptRequest = {
  atomId: "sum",
  language: "python",
  instruction: "Add the two totals.",
  defines: ["add", "total"],
  dependencies: [
    { atomId: "b-parse", code: "def parse(text):\n    return int(text)\n" },
    { atomId: "a-read", code: "def read(path):\n    return open(path).read()" }
  ],
  feedback: ["the output has 12 lines, more than the 10 allowed", "missing symbol total"]
}

const userText = (prompt: ReturnType<typeof buildAtomPrompt>): string =>
  prompt.messages[0]!.content.map((block) => block.text).join("\n")

describe("buildAtomPrompt", () => {
  it("writes the Atom, Language and Define lines of the contract, each on a line of its own", () => {
    const lines = userText(buildAtomPrompt(request)).split("\n")
    expect(lines).toContain("Atom: sum")
    expect(lines).toContain("Language: python")
    expect(lines).toContain("Define: add, total")
  })

  it("shows the atom's input as compact JSON on a line of its own, and no such line without one", () => {
    const input = { user: { name: "Ada", note: "two\nlines" }, ids: [1, 2] }
    const lines = userText(buildAtomPrompt({ ...request, input })).split("\n")
    expect(lines).toContain(`Input (JSON): {"user":{"name":"Ada","note":"two\\nlines"},"ids":[1,2]}`)
    expect(userText(buildAtomPrompt(request))).not.toContain("Input (JSON):")
  })

  it("omits the Define line when the atom defines nothing named", () => {
    const text = userText(buildAtomPrompt({ ...request, defines: [] }))
    expect(text).not.toContain("Define:")
    expect(text).toContain("Atom: sum")
  })

  it("keeps the system prompt the same for every atom, with the cache breakpoint on its last block", () => {
    const one = buildAtomPrompt(request)
    const other = buildAtomPrompt({
      ...request,
      atomId: "x",
      language: "typescript",
      dependencies: [],
      feedback: []
    })
    expect(other.system).toEqual(one.system)
    expect(one.system.at(-1)!.cache_control).toEqual({ type: "ephemeral" })
    expect(buildAtomPrompt(request, { cacheTtl: "1h" }).system.at(-1)!.cache_control).toEqual({
      type: "ephemeral",
      ttl: "1h"
    })
  })

  it("states the rules: only code, at most N lines, exactly the named symbols, no placeholders", () => {
    const system = buildAtomPrompt(request, { maxLines: 7 })
      .system.map((block) => block.text)
      .join("\n")
    expect(system).toContain("only the code")
    expect(system).toContain("At most 7 non-blank lines")
    expect(system).toContain("exactly the symbols")
    expect(system).toContain("TODO")
  })

  it("puts the dependencies' code first, ordered by atom id, then the instruction and the feedback", () => {
    const text = userText(buildAtomPrompt(request))
    const at = (part: string) => text.indexOf(part)
    expect(at("// atom a-read")).toBeGreaterThanOrEqual(0)
    expect(at("// atom a-read")).toBeLessThan(at("// atom b-parse"))
    expect(at("return int(text)")).toBeLessThan(at("Add the two totals."))
    expect(at("Add the two totals.")).toBeLessThan(at("Atom: sum"))
    expect(text).toContain(
      "Your previous answer was refused: the output has 12 lines, more than the 10 allowed"
    )
    expect(text).toContain("Your previous answer was refused: missing symbol total")
  })

  it("sends the same bytes whatever order the dependencies come in", () => {
    const reversed = { ...request, dependencies: [...request.dependencies].reverse() }
    expect(buildAtomPrompt(reversed)).toEqual(buildAtomPrompt(request))
  })

  it("has no dependency block without dependencies", () => {
    const prompt = buildAtomPrompt({ ...request, dependencies: [] })
    expect(prompt.messages[0]!.content).toHaveLength(1)
    expect(userText(prompt)).not.toContain("already accepted")
  })
})

describe("extractCode", () => {
  it("strips a single fenced block and the text around it", () => {
    expect(extractCode("Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.")).toBe(
      "def add(a, b):\n    return a + b\n"
    )
  })

  it("returns raw code as it is", () => {
    expect(extractCode("export const one = 1\n")).toBe("export const one = 1\n")
  })

  it("leaves several blocks for the validator to judge", () => {
    const text = "```\na\n```\n```\nb\n```"
    expect(extractCode(text)).toBe(text)
  })
})
