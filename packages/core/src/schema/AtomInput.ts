import { Array as Arr, ParseResult, Schema } from "effect"
import { maxAtomInputLength, maxInputDepth } from "./inputLimits.js"
import { freeTextProblem } from "./PlanText.js"

/** A JSON value: a string, a finite number, a boolean, null, an array or an object of them. */
export type JsonValue = string | number | boolean | null | ReadonlyArray<JsonValue> | JsonObject

/** A JSON object: string keys, JSON values. */
export interface JsonObject {
  readonly [key: string]: JsonValue
}

interface Problem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const jsonKinds = "a string, a finite number, a boolean, null, an array or an object"

/** What a value that JSON cannot hold is, for a message: `undefined`, `NaN`, `a Date`. */
const kindOf = (value: unknown): string => {
  if (typeof value === "number" || value === undefined) return String(value)
  if (typeof value !== "object" && typeof value !== "function") return `a ${typeof value}`
  if (typeof value === "function") return "a function"
  const name: unknown = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
    ?.constructor?.name
  return typeof name === "string" && name !== "" ? `a ${name}` : "an object of a class"
}

// JSON.parse makes objects of Object.prototype; one of another class (a Date, a Map) would be
// stored as something else than it is (its `toJSON`, or `{}`), and a resume would see that.
const isPlainObject = (value: object): boolean => {
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * A copy of a JSON value as JSON would give it back (-0 read as 0, own keys kept as own keys,
 * `__proto__` among them), and the problems of what JSON cannot hold exactly: undefined,
 * non-finite numbers, functions, objects of a class, symbol keys, strings that are not free text
 * (a lone surrogate, NUL). Depth is bounded so a cyclic value given in process ends too.
 */
const copyOf = (value: unknown, path: ReadonlyArray<PropertyKey>, problems: Array<Problem>): JsonValue => {
  switch (typeof value) {
    case "string": {
      const problem = freeTextProblem(value)
      if (problem !== undefined) problems.push({ path, message: problem })
      return value
    }
    case "number":
      if (Number.isFinite(value)) return value + 0
      break
    case "boolean":
      return value
    case "object": {
      if (value === null) return null
      if (path.length >= maxInputDepth) {
        problems.push({
          path,
          message: `is nested too deep (more than ${maxInputDepth} levels of arrays and objects)`
        })
        return null
      }
      if (Array.isArray(value))
        return Array.from(value as ReadonlyArray<unknown>, (item, i) => copyOf(item, [...path, i], problems))
      if (!isPlainObject(value)) break
      if (Object.getOwnPropertySymbols(value).length > 0)
        problems.push({ path, message: "must not have symbol keys (JSON has none)" })
      const record = value as Readonly<Record<string, unknown>>
      return Object.fromEntries(
        Object.keys(record).map((key) => {
          const keyProblem = freeTextProblem(key)
          if (keyProblem !== undefined)
            problems.push({ path: [...path, key], message: `its key ${keyProblem}` })
          return [key, copyOf(record[key], [...path, key], problems)]
        })
      )
    }
    case "bigint":
    case "function":
    case "symbol":
    case "undefined":
      break
  }
  problems.push({ path, message: `expected a JSON value (${jsonKinds}), got ${kindOf(value)}` })
  return null
}

/** The problems of an atom's `input`, and (when it has none) the copy an atom keeps. */
export const checkAtomInput = (
  value: unknown
): { readonly problems: ReadonlyArray<Problem>; readonly value: JsonObject } => {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainObject(value)) {
    const got = Array.isArray(value)
      ? "an array"
      : typeof value === "string" || typeof value === "boolean" || value === null
        ? JSON.stringify(value).slice(0, 40)
        : kindOf(value)
    return { problems: [{ path: [], message: `expected a JSON object, got ${got}` }], value: {} }
  }
  const problems: Array<Problem> = []
  const copy = copyOf(value, [], problems) as JsonObject
  if (problems.length === 0) {
    const length = JSON.stringify(copy).length
    if (length > maxAtomInputLength)
      problems.push({
        path: [],
        message: `must be at most ${maxAtomInputLength.toLocaleString("en-US")} characters long as compact JSON, got ${length.toLocaleString("en-US")}`
      })
  }
  return { problems, value: copy }
}

/**
 * The payload of an atom that its model provider receives (`ModelRequest.input`): a JSON object of
 * string keys and JSON values, at most `maxAtomInputLength` characters as compact JSON, its
 * strings free text. It decodes to a copy as JSON would give it back, so that a plan resumed from
 * its stored copy hands the provider the same object as the run that began it.
 */
export const AtomInput: Schema.Schema<JsonObject> = Schema.declare(
  [],
  {
    decode: () => (input, _, ast) => {
      const { problems, value } = checkAtomInput(input)
      const issues = problems.map(({ path, message }) => {
        const issue = new ParseResult.Type(ast, input, message)
        return Arr.isNonEmptyReadonlyArray(path) ? new ParseResult.Pointer(path, input, issue) : issue
      })
      return Arr.isNonEmptyArray(issues)
        ? ParseResult.fail(new ParseResult.Composite(ast, input, issues))
        : ParseResult.succeed(value)
    },
    encode: () => (input) => ParseResult.succeed(input as JsonObject)
  },
  {
    identifier: "AtomInput",
    jsonSchema: { type: "object" },
    // For property tests (`Arbitrary.make`) of the schemas that hold an atom: small flat objects.
    arbitrary: () => (fc) =>
      fc.dictionary(
        fc.stringMatching(/^[a-z]{1,8}$/),
        fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null)),
        { maxKeys: 3 }
      )
  }
)
