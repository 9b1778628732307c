import { ParseResult, SchemaAST as AST } from "effect"
import { maxEchoLength, maxProblemLength } from "./inputLimits.js"

/** One problem of an input, at a path such as `atoms[3].dependsOn`. */
export interface InputProblem {
  readonly path: string
  readonly message: string
}

type Path = ReadonlyArray<PropertyKey>

/** `text` cut to `max` characters at most, with "…" at the cut (never between a surrogate pair). */
export const cut = (text: string, max: number): string => {
  if (text.length <= max) return text
  const end = /[\ud800-\udbff]/.test(text[max - 2] ?? "") ? max - 2 : max - 1
  return `${text.slice(0, end)}…`
}

// A key that is a plain name is shown as it is; any other (spaces, quotes, control characters,
// which would garble or forge the line it is printed on) as a quoted JSON string, cut short.
const plainKey = /^[\p{L}\p{N}_$-]+$/u

/** `atoms[3].dependsOn`, `options["odd key"]`. */
export const pathOf = (path: Path): string =>
  path.reduce<string>((acc, key) => {
    if (typeof key === "number") return `${acc}[${key}]`
    const name = cut(String(key), maxEchoLength)
    if (!plainKey.test(name)) return `${acc}[${JSON.stringify(name)}]`
    return acc === "" ? name : `${acc}.${name}`
  }, "")

/** A value as the input gave it, cut short: `"fast"`, `[]`, `{"mode":"fast"}`. */
const show = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return cut(text, 40)
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`. */
const oneOf = (names: ReadonlyArray<string>): string =>
  names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]!}`

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, ignoring case. */
const distance = (a: string, b: string): number => {
  const [s, t] = [a.toLowerCase(), b.toLowerCase()]
  const d = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)])
  for (let j = 1; j <= t.length; j++) d[0]![j] = j
  for (let i = 1; i <= s.length; i++)
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  return d[s.length]![t.length]!
}

/**
 * How many edits `key` is from `name` if it is probably a typo of it (a third of the letters off
 * at most, or cut short), else undefined. The edit distance, quadratic in the lengths, is only
 * computed when the lengths are close enough for it to matter: a long key costs no more than a
 * short one.
 */
const typoOf = (key: string, name: string): number | undefined => {
  const [k, n] = [key.toLowerCase(), name.toLowerCase()]
  const allowed = Math.max(1, Math.floor(Math.max(k.length, n.length) / 3))
  if (Math.abs(k.length - n.length) <= allowed) {
    const edits = distance(k, n)
    if (edits <= allowed) return edits
  }
  return Math.min(k.length, n.length) >= 3 && (n.startsWith(k) || k.startsWith(n))
    ? Math.abs(k.length - n.length)
    : undefined
}

/** An unknown key, with the known key it is probably a typo of, or else every known key. */
const unknownField = (key: string, known: ReadonlyArray<string>): string => {
  const [closest] = known
    .flatMap((name) => {
      const edits = typoOf(key, name)
      return edits === undefined ? [] : [{ name, edits }]
    })
    .sort((a, b) => a.edits - b.edits)
  return closest !== undefined
    ? `unknown field, did you mean "${closest.name}"?`
    : `unknown field (expected ${oneOf(known.map((name) => `"${name}"`))})`
}

/** The literals a union of literals allows, or `undefined` when it allows anything else. */
const literalsOf = (ast: AST.AST): ReadonlyArray<string> | undefined => {
  if (AST.isLiteral(ast))
    return [typeof ast.literal === "bigint" ? String(ast.literal) : JSON.stringify(ast.literal)]
  if (!AST.isUnion(ast)) return undefined
  const all = ast.types.map(literalsOf)
  return all.every((names) => names !== undefined) ? all.flat() : undefined
}

/** The message a `message` annotation gives for the whole of this issue, when it says to (`override`). */
const overridingMessage = (issue: ParseResult.ParseIssue): string | undefined => {
  if (!("ast" in issue) || issue._tag === "Type") return undefined
  const annotation = AST.getMessageAnnotation(issue.ast)
  if (annotation._tag === "None") return undefined
  const out = annotation.value(issue)
  return typeof out === "object" && "override" in out && out.override && typeof out.message === "string"
    ? out.message
    : undefined
}

/** Effect's own wording, for the issues it words well (`is missing`, `Expected string, actual 42`). */
const asEffectSays = (issue: ParseResult.ParseIssue, path: Path): Array<InputProblem> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((problem) => ({
    path: pathOf([...path, ...problem.path]),
    // Effect's wording echoes the value whole: a 1 MB string would be printed back.
    message: cut(problem.message, maxProblemLength)
  }))

/** What kind of JSON value a schema takes, when it takes one kind only: an object, an array. */
const shapeOf = (ast: AST.AST): string | undefined => {
  if (AST.isTypeLiteral(ast)) return "a JSON object"
  if (AST.isTupleType(ast)) return "an array"
  if (AST.isTransformation(ast)) return shapeOf(ast.from)
  if (!AST.isUnion(ast)) return undefined
  const shapes = new Set(ast.types.map(shapeOf))
  return shapes.size === 1 ? [...shapes][0] : undefined
}

const typeProblem = (issue: ParseResult.Type, path: Path): Array<InputProblem> => {
  if (issue.message !== undefined || AST.getMessageAnnotation(issue.ast)._tag === "Some")
    return asEffectSays(issue, path)
  const literals = literalsOf(issue.ast)
  const expected = literals !== undefined ? oneOf(literals) : shapeOf(issue.ast)
  return expected === undefined
    ? asEffectSays(issue, path)
    : [{ path: pathOf(path), message: `expected ${expected}, got ${show(issue.actual)}` }]
}

const keysOf = (path: ParseResult.Path): Path => (typeof path === "object" ? path : [path])

const compositeProblems = (issue: ParseResult.Composite, path: Path): Array<InputProblem> => {
  const ast = issue.ast
  const all: ReadonlyArray<ParseResult.ParseIssue> = Array.isArray(issue.issues)
    ? issue.issues
    : [issue.issues as ParseResult.ParseIssue]
  // A list too long fails both its length and (often) its entries: the length comes first, as
  // the problem that matters when only the first few are reported.
  const children = [
    ...all.filter((child) => child._tag === "Refinement" && child.kind === "Predicate"),
    ...all.filter((child) => !(child._tag === "Refinement" && child.kind === "Predicate"))
  ]
  if (AST.isUnion(ast)) {
    const literals = literalsOf(ast)
    if (literals !== undefined)
      return [{ path: pathOf(path), message: `expected ${oneOf(literals)}, got ${show(issue.actual)}` }]
    // A value was given: that it is not `undefined` (the other side of an optional field) is no news.
    const tried = children.filter((child) => !(child._tag === "Type" && AST.isUndefinedKeyword(child.ast)))
    return tried.length === 0 ? asEffectSays(issue, path) : tried.flatMap((child) => walk(child, path))
  }
  const known = AST.isTypeLiteral(ast) ? ast.propertySignatures.map((p) => String(p.name)) : []
  return children.flatMap((child) =>
    child._tag === "Pointer" && child.issue._tag === "Unexpected" && known.length > 0
      ? [{ path: pathOf([...path, ...keysOf(child.path)]), message: unknownField(String(child.path), known) }]
      : walk(child, path)
  )
}

const walk = (issue: ParseResult.ParseIssue, path: Path): Array<InputProblem> => {
  const message = overridingMessage(issue)
  if (message !== undefined) return [{ path: pathOf(path), message }]
  switch (issue._tag) {
    case "Pointer":
      return walk(issue.issue, [...path, ...keysOf(issue.path)])
    case "Composite":
      return compositeProblems(issue, path)
    case "Refinement":
      return issue.kind === "From" ? walk(issue.issue, path) : asEffectSays(issue, path)
    case "Transformation":
      return issue.kind === "Transformation" ? asEffectSays(issue, path) : walk(issue.issue, path)
    case "Type":
      return typeProblem(issue, path)
    default:
      return asEffectSays(issue, path)
  }
}

/**
 * Turns a schema's parse error into the problems it names, one per field at fault: an unknown
 * field with the known one it is probably a typo of, a literal with the values allowed, and none
 * of the `Expected undefined` that an optional field adds to every problem of its value.
 */
export const problemsOf = (error: ParseResult.ParseError): ReadonlyArray<InputProblem> =>
  walk(error.issue, [])
