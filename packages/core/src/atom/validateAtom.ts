import type { Language } from "../schema/Atom.js"
import { atomizeTree } from "./atomizeTree.js"
import type { AtomValidation, ValidationLevel, ValidationProblem } from "./AtomValidation.js"
import { findPlaceholders } from "./findPlaceholders.js"
import { syntaxErrors, type SyntaxErrorNode } from "./firstSyntaxError.js"
import {
  frameAtomCode,
  positionIn,
  positionInCode,
  type AtomCode,
  type FramedCode,
  type Position
} from "./frameAtomCode.js"
import { knownGlobals } from "./knownGlobals.js"
import { misplacedCode } from "./misplacedCode.js"
import type { SourceAtom } from "./SourceAtom.js"
import type { SyntaxNode } from "./SyntaxNode.js"
import { lineStartsOf } from "./tileAtoms.js"

/**
 * A parser of source text in a language into core's `SyntaxNode` tree: the runtime's tree-sitter
 * grammars, passed in so that the validation logic stays pure.
 */
export type ParseSource = (language: Language, text: string) => SyntaxNode

/** An atom's generated (or reviewer-edited) code and what it is checked against. */
export interface AtomValidationRequest extends AtomCode {
  readonly language: Language
  /** Symbols the code must define (a member's as `name` or `Parent.name`). */
  readonly defines: ReadonlyArray<string>
  /** The line budget, in non-blank lines. */
  readonly maxLines: number
  /** The accepted code of the atoms it depends on, in dependency order. */
  readonly dependencies: ReadonlyArray<AtomCode>
  /** The module around it: the file's import block atoms (what it may use without defining). */
  readonly moduleContext?: string | undefined
}

/**
 * Validates an atom level by level (see `ValidationLevel`) and stops at the first level that
 * fails: L1 syntax, L2 contract, L3 module. Each problem is a sentence naming its level and, when
 * it has one, its place in the atom's code (`L1 syntax: missing "}" at 3:11`), for the model's
 * retry prompt and for the user.
 *
 * @example
 * const validation = validateAtom(
 *   { language: "typescript", code, defines: ["parseConfig"], maxLines: 10, dependencies: [] },
 *   parse
 * )
 * if (validation.problems.length > 0) retryWith(validation.problems.map((p) => p.message))
 */
export const validateAtom = (request: AtomValidationRequest, parse: ParseSource): AtomValidation => {
  const framed = frameAtomCode(request.language, request)
  const root = parse(request.language, framed.text)
  const syntax = syntaxProblems(request.language, framed, root)
  if (syntax.length > 0) return { level: "L1", problems: syntax }
  const atoms = atomizeTree(
    { language: request.language, text: framed.text, root },
    { maxLines: Number.MAX_SAFE_INTEGER }
  )
  const contract = contractProblems(request, framed, { root, atoms })
  if (contract.length > 0) return { level: "L2", problems: contract }
  return { level: "L3", problems: moduleProblems(request, parse, { framed, root, atoms }) }
}

interface ParsedAtom {
  readonly root: SyntaxNode
  readonly atoms: ReadonlyArray<SourceAtom>
}

const problem = (level: ValidationLevel, message: string, at?: Position): ValidationProblem =>
  at === undefined ? { level, message } : { level, message, line: at.line, column: at.column }

const label = { L1: "L1 syntax", L2: "L2 contract", L3: "L3 module" } as const

const closers: Readonly<Record<string, string>> = { ")": "(", "]": "[", "}": "{" }
const openers: ReadonlySet<string> = new Set(["(", "[", "{", "${"])

/**
 * A bracket that does not pair up inside an `ERROR` node: the first closing one without its
 * opening, or else the innermost opening one left unclosed. That is what a model's broken code
 * most often is, and it names a better place than the start of the statement the node covers.
 */
const unpairedBracket = (
  text: string,
  error: SyntaxNode
): { readonly what: string; readonly offset: number } | undefined => {
  const open: Array<SyntaxNode> = []
  const leaves: Array<SyntaxNode> = []
  const stack: Array<SyntaxNode> = [error]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (node.children.length === 0) leaves.push(node)
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
  }
  for (const leaf of leaves) {
    if (leaf.named || leaf.missing) continue
    const token = text.slice(leaf.start, leaf.end)
    if (openers.has(token)) open.push(leaf)
    const opener = closers[token]
    if (opener === undefined) continue
    const last = open[open.length - 1]
    const lastToken = last === undefined ? undefined : text.slice(last.start, last.end)
    if (lastToken === opener || (opener === "{" && lastToken === "${")) open.pop()
    else return { what: `unexpected "${token}"`, offset: leaf.start }
  }
  const unclosed = open[open.length - 1]
  return unclosed === undefined
    ? undefined
    : { what: `unclosed "${text.slice(unclosed.start, unclosed.end)}"`, offset: unclosed.start }
}

/**
 * What a syntax error is, in words, and where: `missing "}"`, `unclosed "("`, `unexpected ")"`,
 * `unexpected "foo bar"`, or a `...` placeholder.
 */
const describeSyntaxError = (
  text: string,
  site: SyntaxErrorNode
): { readonly what: string; readonly offset: number } => {
  if (site.problem === "MISSING") return { what: `missing "${site.type}"`, offset: site.offset }
  const found = text.slice(site.offset, site.end).trimStart()
  // The parser may cut an elided `...` into `..` and `.`: what follows the node's start tells.
  if (text.slice(site.offset).trimStart().startsWith("..."))
    return { what: `placeholder "..." instead of code`, offset: site.offset }
  const bracket = unpairedBracket(text, site.node)
  if (bracket !== undefined) return bracket
  const first = found.split(/\r?\n/)[0]!.trim()
  const shown = first.length > 24 ? `${first.slice(0, 24)}...` : first
  return { what: first === "" ? "unexpected end of code" : `unexpected "${shown}"`, offset: site.offset }
}

/** `what at line:column`, placed in the atom's own code. */
const placedInCode = (
  framed: FramedCode,
  site: SyntaxErrorNode
): { readonly text: string; readonly at: Position } => {
  const { what, offset } = describeSyntaxError(framed.text, site)
  const at = positionInCode(framed, offset)
  return { text: `${what} at ${at.line}:${at.column}`, at }
}

/**
 * L1: no `ERROR` or `MISSING` node in the tree of the atom's code; and, when there is none, no code
 * the grammar accepts but the language refuses (`misplacedCode`).
 */
const syntaxProblems = (
  language: Language,
  framed: FramedCode,
  root: SyntaxNode
): Array<ValidationProblem> => {
  const errors = syntaxErrors(root).map((site) => {
    const { text, at } = placedInCode(framed, site)
    return problem("L1", `${label.L1}: ${text}`, at)
  })
  if (errors.length > 0) return errors
  return misplacedCode(language, framed.text, root).map(({ what, offset }) => {
    const at = positionInCode(framed, offset)
    return problem("L1", `${label.L1}: ${what} at ${at.line}:${at.column}`, at)
  })
}

/** The symbols an atom's code defines, without its parent shell's own name. */
const ownDefines = (request: AtomValidationRequest, atoms: ReadonlyArray<SourceAtom>): Set<string> => {
  const defined = new Set(atoms.flatMap((atom) => atom.defines))
  if (request.parent !== undefined) defined.delete(request.parent.name)
  return defined
}

/** L2: within the line budget, defines what it must (as the atomizer reads it), no placeholder. */
const contractProblems = (
  request: AtomValidationRequest,
  framed: FramedCode,
  parsed: ParsedAtom
): Array<ValidationProblem> => {
  const problems: Array<ValidationProblem> = []
  const lines = request.code.split("\n").filter((line) => line.trim() !== "").length
  if (lines === 0) problems.push(problem("L2", `${label.L2}: the code is empty`))
  if (lines > request.maxLines)
    problems.push(problem("L2", `${label.L2}: ${lines} non-blank lines, the limit is ${request.maxLines}`))
  const defined = ownDefines(request, parsed.atoms)
  const parent = request.parent?.name
  for (const symbol of request.defines) {
    if (defined.has(symbol) || (parent !== undefined && defined.has(`${parent}.${symbol}`))) continue
    const found = defined.size === 0 ? "it defines nothing" : `it defines ${[...defined].join(", ")}`
    problems.push(problem("L2", `${label.L2}: does not define ${symbol} (${found})`))
  }
  for (const site of findPlaceholders(request.language, framed.text, parsed.root)) {
    const at = positionInCode(framed, site.offset)
    problems.push(problem("L2", `${label.L2}: placeholder "${site.marker}" at line ${at.line}`, at))
  }
  return problems
}

/** A piece of the assembled module, named for messages. */
interface ModulePart {
  readonly name: string
  readonly text: string
}

/**
 * L3: every symbol the atom uses is defined by itself, its dependencies, the module context, or
 * the language; and the file assembled from the context, the dependencies and the atom parses.
 */
const moduleProblems = (
  request: AtomValidationRequest,
  parse: ParseSource,
  atom: ParsedAtom & { readonly framed: FramedCode }
): Array<ValidationProblem> => {
  const { language } = request
  const problems: Array<ValidationProblem> = []
  const available = new Set([...ownDefines(request, atom.atoms), ...knownGlobals(language)])
  if (request.parent !== undefined) available.add(request.parent.name)
  const parts: Array<ModulePart> = []
  const others: Array<{ readonly name: string; readonly code: AtomCode }> = [
    ...(request.moduleContext === undefined
      ? []
      : [{ name: "the module context", code: { code: request.moduleContext } }]),
    ...request.dependencies.map((code, i) => ({ name: `dependency ${i + 1}`, code }))
  ]
  for (const other of others) {
    const framed = frameAtomCode(language, other.code)
    const root = parse(language, framed.text)
    const error = syntaxErrors(root, 1)[0]
    parts.push({ name: other.name, text: framed.text })
    if (error !== undefined) {
      problems.push(
        problem("L3", `${label.L3}: ${other.name} does not parse: ${placedInCode(framed, error).text} of it`)
      )
      continue
    }
    if (other.code.parent !== undefined) available.add(other.code.parent.name)
    for (const parsed of atomizeTree({ language, text: framed.text, root }))
      for (const symbol of parsed.defines) available.add(symbol)
  }
  for (const symbol of new Set(atom.atoms.flatMap((parsed) => parsed.uses))) {
    const head = symbol.split(".")[0]!
    if (available.has(symbol) || available.has(head)) continue
    // A member's sibling (`v` in namespace `N`) is defined as `N.v`.
    if (request.parent !== undefined && available.has(`${request.parent.name}.${head}`)) continue
    const offset = firstReference(atom.framed.text, atom.root, head)
    const at = offset === undefined ? undefined : positionInCode(atom.framed, offset)
    const where = at === undefined ? "" : ` at ${at.line}:${at.column}`
    problems.push(problem("L3", `${label.L3}: uses ${symbol}${where}, which nothing defines or imports`, at))
  }
  if (problems.length > 0) return problems
  return assembledProblems(language, parse, [...parts, { name: "this atom", text: atom.framed.text }])
}

/** The file assembled from the parts in order parses: no `ERROR` or `MISSING` node. */
const assembledProblems = (
  language: Language,
  parse: ParseSource,
  parts: ReadonlyArray<ModulePart>
): Array<ValidationProblem> => {
  const separator = "\n\n"
  const text = parts.map((part) => part.text).join(separator)
  const error = syntaxErrors(parse(language, text), 1)[0]
  if (error === undefined) return []
  const { what, offset } = describeSyntaxError(text, error)
  let partStart = 0
  let owner = parts[parts.length - 1]!
  for (const part of parts) {
    if (offset < partStart + part.text.length + separator.length) {
      owner = part
      break
    }
    partStart += part.text.length + separator.length
  }
  const at = positionIn(lineStartsOf(text), offset)
  return [
    problem(
      "L3",
      `${label.L3}: the assembled file does not parse: ${what} at ${at.line}:${at.column} of the file (in ${owner.name})`
    )
  ]
}

const referenceTypes: ReadonlySet<string> = new Set([
  "identifier",
  "type_identifier",
  "shorthand_property_identifier"
])

/** The offset of the first identifier in the tree spelled `name`, if any. */
const firstReference = (text: string, root: SyntaxNode, name: string): number | undefined => {
  const stack: Array<SyntaxNode> = [root]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (referenceTypes.has(node.type) && text.slice(node.start, node.end) === name) return node.start
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
  }
  return undefined
}
