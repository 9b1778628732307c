import { codeFeatures, cosineSimilarity, hashingEmbedding, splitIdentifier } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const norm = (vector: ReadonlyArray<number>) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0))
const similarity = (a: string, b: string) => cosineSimilarity(hashingEmbedding(a), hashingEmbedding(b))

/** Text that looks like code: identifiers, keywords, punctuation, numbers, any Unicode now and then. */
const codeish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "const",
        "return",
        "def",
        "class",
        "function",
        "=>",
        "(",
        ")",
        "{",
        "}",
        ";",
        " ",
        "\n"
      ),
      fc.stringMatching(/^[A-Za-z_$][A-Za-z0-9_$]{0,12}$/),
      fc.string({ unit: "binary", maxLength: 4 })
    ),
    { maxLength: 40 }
  )
  .map((parts) => parts.join(" "))

describe("splitIdentifier", () => {
  it.each([
    ["parseHTTPResponse_v2", ["parse", "http", "response", "v", "2"]],
    ["XMLHttpRequest", ["xml", "http", "request"]],
    ["parse_user_name", ["parse", "user", "name"]],
    ["ParseUserName", ["parse", "user", "name"]],
    ["__init__", ["init"]],
    ["$el", ["el"]],
    ["MAX_RETRIES", ["max", "retries"]],
    ["utf8Decode", ["utf", "8", "decode"]],
    ["größeBerechnen", ["größe", "berechnen"]]
  ])("%s -> %j", (identifier, words) => {
    expect(splitIdentifier(identifier)).toEqual(words)
  })
})

describe("codeFeatures", () => {
  it("counts keywords, identifiers whole, their words and the words' n-grams, each apart", () => {
    const features = codeFeatures("return parseUser")
    expect(features.get("k:return")).toBe(0.5)
    expect(features.get("i:parse_user")).toBe(1)
    expect(features.get("w:parse")).toBe(1)
    expect(features.get("w:user")).toBe(1)
    expect(features.get("g:^pa")).toBe(0.5)
    expect(features.get("g:er$")).toBe(0.5)
    expect(features.has("i:return")).toBe(false)
    // a one-word name is its word, not also an identifier
    expect(codeFeatures("user").has("i:user")).toBe(false)
  })

  it("adds up repeated features", () => {
    expect(codeFeatures("user user user").get("w:user")).toBe(3)
  })
})

describe("hashingEmbedding", () => {
  it("is deterministic, of the asked dimension, and of length 1 (or all zeros)", () => {
    fc.assert(
      fc.property(codeish, fc.integer({ min: 1, max: 512 }), (text, dimension) => {
        const vector = hashingEmbedding(text, { dimension })
        expect(vector).toHaveLength(dimension)
        expect(hashingEmbedding(text, { dimension })).toEqual(vector)
        expect(vector.every(Number.isFinite)).toBe(true)
        const length = norm(vector)
        if (length !== 0) expect(length).toBeCloseTo(1, 9)
      }),
      { numRuns }
    )
  })

  it("is 256 long unless told", () => {
    expect(hashingEmbedding("a")).toHaveLength(256)
  })

  it("gives the zero vector, similar to nothing, to text with no identifier", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9\s(){}[\];,.+\-*/=<>!&|]*$/), (text) => {
        expect(norm(hashingEmbedding(text))).toBe(0)
        expect(similarity(text, "parseUser")).toBe(0)
      }),
      { numRuns }
    )
  })

  it("does not care how an identifier is cased: camelCase, snake_case and PascalCase embed alike", () => {
    // Words of two letters or more (`AB` could be one acronym), two or more of them (a lone `class`
    // is a keyword, `Class` is not).
    const word = fc.stringMatching(/^[a-z]{2,8}$/)
    fc.assert(
      fc.property(fc.array(word, { minLength: 2, maxLength: 4 }), (words) => {
        const camel = words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join("")
        const snake = words.join("_")
        const pascal = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")
        expect(hashingEmbedding(camel)).toEqual(hashingEmbedding(snake))
        expect(hashingEmbedding(pascal)).toEqual(hashingEmbedding(snake))
      }),
      { numRuns }
    )
  })

  it("finds the same function in another language and style more alike than unrelated code", () => {
    const parseUserPy = "def parse_user(data):\n    return User(**data)"
    const parseUserTs = "export function parseUser(data: unknown): User {\n  return new User(data)\n}"
    const todoStore = "class TodoStore {\n  private readonly items = new Map<string, Todo>()\n}"
    const sumTs = "export function sum(x: number, y: number): number {\n  return x + y\n}"
    const addTs = "export function add(a: number, b: number): number {\n  return a + b\n}"
    expect(similarity(parseUserPy, parseUserTs)).toBeGreaterThan(0.8)
    expect(similarity(addTs, sumTs)).toBeGreaterThan(similarity(addTs, todoStore))
    expect(similarity(parseUserTs, todoStore)).toBeLessThan(0.3)
    // n-grams: a word meets its plural
    expect(similarity("users", "user")).toBeGreaterThan(0.3)
    expect(similarity("users", "todo")).toBeLessThan(similarity("users", "user"))
  })

  it("refuses a dimension or n-gram length that is not a positive integer", () => {
    expect(() => hashingEmbedding("a", { dimension: 0 })).toThrow(RangeError)
    expect(() => hashingEmbedding("a", { dimension: 2.5 })).toThrow(RangeError)
    expect(() => hashingEmbedding("a", { ngram: 0 })).toThrow(RangeError)
  })
})
