import {
  atomizeTree,
  firstSyntaxError,
  type AtomizeOptions,
  type Language,
  type SourceAtom
} from "@devmatrix/core"
import { Context, Data, Effect, Layer } from "effect"
import { grammarOf, makeParsers } from "./internal/treeSitter.js"

export { syntaxNodeOf } from "./internal/treeSitter.js"

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
  const parse = makeParsers()
  return {
    atomize: (file, options) =>
      Effect.suspend(() => {
        const grammar = grammarOf(file.language, file.path.endsWith(".tsx"))
        if (grammar === undefined)
          return Effect.fail(
            new AtomizeError({
              reason: "UnsupportedLanguage",
              path: file.path,
              language: file.language,
              detail: `no grammar for "${file.language}" (typescript, javascript and python have one)`
            })
          )
        const root = parse(grammar, file.text)
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
