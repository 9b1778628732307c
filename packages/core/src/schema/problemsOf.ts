import { ParseResult, SchemaAST as AST } from "effect"

/** One problem of an input, at a path such as `atoms[3].dependsOn`. */
export interface InputProblem {
  readonly path: string
  readonly message: string
}

type Path = ReadonlyArray<PropertyKey>

const pathOf = (path: Path): string =>
  path.reduce<string>(
    (acc, key) =>
      typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`,
    ""
  )

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

/** Whether `key` is probably a typo of `name`: a third of the letters off at most, or cut short. */
const closeTo = (key: string, name: string, edits: number): boolean => {
  const [k, n] = [key.toLowerCase(), name.toLowerCase()]
  return (
    edits <= Math.max(1, Math.floor(Math.max(k.length, n.length) / 3)) ||
    (Math.min(k.length, n.length) >= 3 && (n.startsWith(k) || k.startsWith(n)))
  )
}

/** An unknown key, with the known key it is probably a typo of, or else every known key. */
const unknownField = (key: string, known: ReadonlyArray<string>): string => {
  const [closest] = known
    .map((name) => ({ name, edits: distance(key, name) }))
    .filter((c) => closeTo(key, c.name, c.edits))
    .sort((a, b) => a.edits - b.edits)
  return closest !== undefined
    ? `unknown field, did you mean "${closest.name}"?`
    : `unknown field (expected ${oneOf(known.map((name) => `"${name}"`))})`
}

/** Effect's own wording, for the issues it words well (`is missing`, `Expected string, actual 42`). */
const asEffectSays = (issue: ParseResult.ParseIssue, path: Path): Array<InputProblem> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((problem) => ({
    path: pathOf([...path, ...problem.path]),
    message: problem.message
  }))

const keysOf = (path: ParseResult.Path): Path => (typeof path === "object" ? path : [path])

const compositeProblems = (issue: ParseResult.Composite, path: Path): Array<InputProblem> => {
  const ast = issue.ast
  const children: ReadonlyArray<ParseResult.ParseIssue> = Array.isArray(issue.issues)
    ? issue.issues
    : [issue.issues as ParseResult.ParseIssue]
  if (AST.isUnion(ast)) {
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
  switch (issue._tag) {
    case "Pointer":
      return walk(issue.issue, [...path, ...keysOf(issue.path)])
    case "Composite":
      return compositeProblems(issue, path)
    case "Refinement":
      return issue.kind === "From" ? walk(issue.issue, path) : asEffectSays(issue, path)
    case "Transformation":
      return issue.kind === "Transformation" ? asEffectSays(issue, path) : walk(issue.issue, path)
    default:
      return asEffectSays(issue, path)
  }
}

/**
 * Turns a schema's parse error into the problems it names, one per field at fault: an unknown
 * field with the known one it is probably a typo of, and none of the `Expected undefined` that an
 * optional field adds to every problem of its value.
 */
export const problemsOf = (error: ParseResult.ParseError): ReadonlyArray<InputProblem> =>
  walk(error.issue, [])
