import type { Language } from "../schema/Atom.js"
import { planEcmaAtoms } from "./ecmaAtoms.js"
import { planPythonAtoms } from "./pythonAtoms.js"
import { defaultAtomMaxLines, type SourceAtom } from "./SourceAtom.js"
import type { SyntaxNode } from "./SyntaxNode.js"
import { lineOf, lineStartsOf, tileAtoms } from "./tileAtoms.js"

/** A parsed source file, as `atomizeTree` takes it. */
export interface ParsedSource {
  readonly language: Language
  readonly text: string
  /** The root of the tree the language's grammar parsed `text` into, without syntax errors. */
  readonly root: SyntaxNode
}

/** How to atomize. */
export interface AtomizeOptions {
  /**
   * The line budget: atoms with more lines of code are marked `overBudget`, never cut or dropped.
   *
   * @default 10
   */
  readonly maxLines?: number | undefined
}

/**
 * Splits a parsed file into the atoms that tile it (see `SourceAtom`): top-level declarations and
 * statements, import and export blocks, class shells and their methods. `assembleAtoms` of the
 * result is `text`, whatever the code.
 *
 * @example
 * const atoms = atomizeTree({ language: "python", text, root })
 * atoms.map((atom) => `${atom.kind} ${atom.name}: ${atom.lines} lines`)
 */
export const atomizeTree = (source: ParsedSource, options: AtomizeOptions = {}): Array<SourceAtom> => {
  const lineStarts = lineStartsOf(source.text)
  const lineAt = (offset: number) => lineOf(lineStarts, offset)
  const python = source.language === "python"
  const planned = python
    ? planPythonAtoms(source.text, source.root, lineAt)
    : planEcmaAtoms(source.text, source.root, lineAt)
  return tileAtoms(
    {
      text: source.text,
      language: source.language,
      lineComment: python ? "#" : "//",
      blockComments: !python,
      maxLines: options.maxLines ?? defaultAtomMaxLines
    },
    planned
  )
}
