import {
  atomizeTree,
  firstSyntaxError,
  type AtomizeOptions,
  type Language,
  type SourceAtom,
  type SyntaxNode
} from "@devmatrix/core"
import { Context, Data, Effect, Layer } from "effect"
import Parser from "tree-sitter"
import JavaScript from "tree-sitter-javascript"
import Python from "tree-sitter-python"
import TypeScript from "tree-sitter-typescript"

/** A source file to atomize. */
export interface SourceFile {
  /** Where it is (for messages; `.tsx` picks the TSX grammar). */
  readonly path: string
  /** `typescript`, `javascript` or `python`; anything else is refused. */
  readonly language: string
  readonly text: string
}

/**
 * A file the atomizer cannot split: its language has no grammar here (`UnsupportedLanguage`), or
 * it does not parse (`Syntax`, with the line and column of the first `ERROR` or `MISSING` node).
 */
export class AtomizeError extends Data.TaggedError("AtomizeError")<{
  readonly reason: "UnsupportedLanguage" | "Syntax"
  readonly path: string
  readonly language: string
  /** Where the first syntax error is (1-based); absent for `UnsupportedLanguage`. */
  readonly line?: number | undefined
  /** Its column (1-based, in UTF-16 code units). */
  readonly column?: number | undefined
  readonly detail: string
}> {
  override get message(): string {
    const at = this.line === undefined ? "" : `:${this.line}:${this.column ?? 1}`
    return `${this.path}${at}: ${this.reason}: ${this.detail}`
  }
}

/** Splits source files into atoms with tree-sitter (TypeScript, JavaScript and Python grammars). */
export interface AtomizerService {
  /**
   * The atoms that tile `file` (see `SourceAtom`): `assembleAtoms` of them gives its text back,
   * byte for byte. Atoms over `options.maxLines` (default 10) are marked, not cut.
   *
   * @example
   * const atoms = yield* atomizer.atomize({ path: "src/todo.ts", language: "typescript", text })
   */
  readonly atomize: (
    file: SourceFile,
    options?: AtomizeOptions
  ) => Effect.Effect<ReadonlyArray<SourceAtom>, AtomizeError>
}

export class Atomizer extends Context.Tag("@devmatrix/runtime/Atomizer")<Atomizer, AtomizerService>() {}

type Grammar = Parameters<Parser["setLanguage"]>[0]

/** The grammar for a file, if its language has one. */
const grammarOf = (file: SourceFile): Grammar | undefined => {
  switch (file.language) {
    case "typescript":
      return file.path.endsWith(".tsx") ? TypeScript.tsx : TypeScript.typescript
    case "javascript":
      return JavaScript
    case "python":
      return Python
    default:
      return undefined
  }
}

/**
 * Converts tree-sitter's tree into core's plain `SyntaxNode`s in one cursor pass. Each read from
 * the cursor is a call into the binding, so a node costs four (type id, field id, start, end):
 * type and field names are looked up once per id, and `missing` is read only in a tree that has
 * an error (a tree without one has no `MISSING` node). Walking `SyntaxNode.children` instead
 * costs about six times as much.
 */
export const syntaxNodeOf = (tree: Parser.Tree): SyntaxNode => {
  const cursor = tree.walk()
  const damaged = tree.rootNode.hasError
  const types: Array<{ readonly type: string; readonly named: boolean } | undefined> = []
  const fields: Array<string | undefined> = []
  interface Building {
    readonly type: string
    readonly named: boolean
    readonly field: string | undefined
    readonly start: number
    readonly end: number
    readonly missing: boolean
    readonly children: Array<Building>
  }
  const current = (): Building => {
    const typeId = cursor.nodeTypeId
    let type = types[typeId]
    if (type === undefined || type.type === "ERROR") {
      type = { type: cursor.nodeType, named: cursor.nodeIsNamed }
      types[typeId] = type
    }
    const fieldId = cursor.currentFieldId
    let field = fieldId === 0 ? undefined : fields[fieldId]
    if (fieldId !== 0 && field === undefined) {
      field = cursor.currentFieldName
      fields[fieldId] = field
    }
    return {
      type: type.type,
      named: type.named,
      field,
      start: cursor.startIndex,
      end: cursor.endIndex,
      missing: damaged && cursor.nodeIsMissing,
      children: []
    }
  }
  const root = current()
  const path: Array<Building> = [root]
  for (;;) {
    if (cursor.gotoFirstChild()) {
      const child = current()
      path[path.length - 1]!.children.push(child)
      path.push(child)
      continue
    }
    for (;;) {
      if (path.length === 1) return root
      path.pop()
      if (cursor.gotoNextSibling()) {
        const sibling = current()
        path[path.length - 1]!.children.push(sibling)
        path.push(sibling)
        break
      }
      cursor.gotoParent()
    }
  }
}

/** The line and column (1-based) of an offset. */
const positionOf = (text: string, offset: number): { readonly line: number; readonly column: number } => {
  let line = 1
  let lineStart = 0
  for (let at = text.indexOf("\n"); at !== -1 && at < offset; at = text.indexOf("\n", at + 1)) {
    line++
    lineStart = at + 1
  }
  return { line, column: offset - lineStart + 1 }
}

/** An atomizer with its own parsers (one per grammar, made when first needed). */
export const makeAtomizer = (): AtomizerService => {
  const parsers = new Map<Grammar, Parser>()
  const parserFor = (grammar: Grammar): Parser => {
    let parser = parsers.get(grammar)
    if (parser === undefined) {
      parser = new Parser()
      parser.setLanguage(grammar)
      parsers.set(grammar, parser)
    }
    return parser
  }
  return {
    atomize: (file, options) =>
      Effect.suspend(() => {
        const grammar = grammarOf(file)
        if (grammar === undefined)
          return Effect.fail(
            new AtomizeError({
              reason: "UnsupportedLanguage",
              path: file.path,
              language: file.language,
              detail: `no grammar for "${file.language}" (typescript, javascript and python have one)`
            })
          )
        const root = syntaxNodeOf(parserFor(grammar).parse(file.text))
        const error = firstSyntaxError(root)
        if (error !== undefined) {
          const { line, column } = positionOf(file.text, error.offset)
          return Effect.fail(
            new AtomizeError({
              reason: "Syntax",
              path: file.path,
              language: file.language,
              line,
              column,
              detail: error.problem === "MISSING" ? `missing "${error.type}"` : "unexpected text"
            })
          )
        }
        return Effect.succeed(
          atomizeTree({ language: file.language as Language, text: file.text, root }, options)
        )
      })
  }
}

/** The atomizer: pure CPU, nothing to configure or release. */
export const AtomizerLive: Layer.Layer<Atomizer> = Layer.sync(Atomizer, makeAtomizer)
