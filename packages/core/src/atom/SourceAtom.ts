import { Schema } from "effect"
import { Language } from "../schema/Atom.js"

/**
 * What an atom of source is. `class` is a class shell: the class with its methods cut out into
 * `method` atoms; `namespace` likewise holds only its header and braces, its members being atoms
 * of their own. `statement` is top-level code that declares nothing by itself (a Python
 * `if __name__ == "__main__":` block, a call); `comment` is a file of nothing but comments.
 */
export const SourceAtomKind = Schema.Literal(
  "import",
  "export",
  "function",
  "method",
  "class",
  "type",
  "enum",
  "variable",
  "namespace",
  "statement",
  "comment"
)
export type SourceAtomKind = typeof SourceAtomKind.Type

const Offset = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const LineNumber = Schema.Number.pipe(Schema.int(), Schema.positive())

/** A range of the file `[start, end)`, in UTF-16 code units (JavaScript string indices). */
export const SourceSpan = Schema.Struct({ start: Offset, end: Offset })
export type SourceSpan = typeof SourceSpan.Type

/**
 * One name an import or re-export statement takes from another module, as written (the symbol
 * graph resolves `from` against the importing file). `imported` is the name the module exports
 * (`default` for a default import, `*` for the whole module: `import * as ns`, `import m` in
 * Python, `const m = require("m")`, `export * from`), or empty for `import "m"` that binds
 * nothing. `local` is the name bound in the importing file or, for a re-export, the name exported
 * (`*` for `export * from` and Python's `from m import *`, which pass every name on).
 */
export const ImportBinding = Schema.Struct({
  from: Schema.String,
  imported: Schema.String,
  local: Schema.String,
  /** An `export ... from` statement: the name is exported again, not bound locally. */
  reexport: Schema.Boolean
})
export type ImportBinding = typeof ImportBinding.Type

/**
 * One atom of a source file: a unit of code small enough to write in one model call, with the
 * symbols it defines and uses, which the dependency graph links.
 *
 * The atoms of a file tile it: their spans, taken in order of offset, cover every character once
 * (`assembleAtoms` gives the file back byte for byte). Every atom owns one span except a class
 * or namespace shell, which owns the pieces around the members cut out of it.
 */
export const SourceAtom = Schema.Struct({
  kind: SourceAtomKind,
  /** The declared name (`parse`, `Parser.parse` for a method), or `<kind>@<line>` for code that declares none. */
  name: Schema.String,
  language: Language,
  /** Symbols it declares, in order of appearance; methods and fields as `Class.member`. */
  defines: Schema.Array(Schema.String),
  /**
   * Names it references that it does not declare itself, in order of first use: locals and
   * parameters left out, globals (`console`, `len`) kept, for the resolver to decide.
   */
  uses: Schema.Array(Schema.String),
  /**
   * Members read off a used name, as `name.member` (`ns.parse` for `ns.parse(x)`, `os.path`):
   * what a namespace import's or a Python module's use resolves through.
   */
  memberUses: Schema.Array(Schema.String),
  /**
   * The names of `uses` and `memberUses` evaluated while the module loads: top-level code,
   * initialisers, decorators, a class's `extends` and static fields, Python default arguments and
   * annotations. The rest are run-time uses (inside a function or method body, a JavaScript
   * default parameter, an instance field) or type-only (TypeScript types, erased).
   */
  loadTimeUses: Schema.Array(Schema.String),
  /**
   * What its import or re-export statements take from other modules, and what its exports
   * export under another name (`export { a as b }`, `export default function f`), from `""`.
   */
  imports: Schema.Array(ImportBinding),
  /** The class or namespace a member was cut out of (`Parser` for `Parser.parse`). */
  parent: Schema.optional(Schema.String),
  /** First line of its code (1-based); its leading comments and blank lines are not counted. */
  startLine: LineNumber,
  /** Last line of its code (1-based). */
  endLine: LineNumber,
  /** Lines of code it owns (for a shell: without the lines of the members cut out of it). */
  lines: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  /** Whether `lines` exceeds the line budget asked for: the caller decides what to do with it. */
  overBudget: Schema.Boolean,
  /** Its spans' text joined, comments and blank lines before it included. */
  text: Schema.String,
  spans: Schema.Array(SourceSpan)
})
export type SourceAtom = typeof SourceAtom.Type

/** The line budget of an atom when the caller names none (DESIGN.md section 9: about 10 lines). */
export const defaultAtomMaxLines = 10
