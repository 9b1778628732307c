import type { Language } from "../schema/Atom.js"
import { lineOf, lineStartsOf } from "./tileAtoms.js"

/**
 * The class or namespace a member atom belongs to. A method (`parse(text) { ... }`) or a
 * namespace member is not a file by itself, so validation parses it inside a shell of its parent.
 */
export interface AtomParent {
  readonly kind: "class" | "namespace"
  /** The parent's name (`Parser` for the method `Parser.parse`). */
  readonly name: string
  /** The parent's type parameters (`["T"]` for `class Box<T>`), in scope in its members. */
  readonly typeParameters?: ReadonlyArray<string> | undefined
}

/** An atom's code, with its parent when it is a member. */
export interface AtomCode {
  readonly code: string
  readonly parent?: AtomParent | undefined
}

/** An atom's code as it is parsed: alone, or inside its parent's shell. */
export interface FramedCode {
  /** What is parsed: the code, or the shell with the code (indented for Python) inside. */
  readonly text: string
  readonly code: string
  /** The line of `text` where the code's first line is (1-based). */
  readonly firstLine: number
  /** Columns added in front of each non-blank line of the code (Python members written flush left). */
  readonly indent: number
  readonly lineStarts: ReadonlyArray<number>
}

const pythonIndent = "    "

/** The text to parse for an atom: its code, or, for a member, its parent's shell around it. */
export const frameAtomCode = (language: Language, atom: AtomCode): FramedCode => {
  const { code, parent } = atom
  if (parent === undefined || code.trim() === "") return framed(code, code, 1, 0)
  if (language === "python") {
    const lines = code.split("\n")
    const flush = !/^\s/.test(lines.find((line) => line.trim() !== "") ?? "")
    const body = flush
      ? lines.map((line) => (line.trim() === "" ? line : pythonIndent + line)).join("\n")
      : code
    return framed(`class ${parent.name}:\n${body}`, code, 2, flush ? pythonIndent.length : 0)
  }
  const typeParameters =
    parent.typeParameters === undefined || parent.typeParameters.length === 0
      ? ""
      : `<${parent.typeParameters.join(", ")}>`
  const keyword = parent.kind === "namespace" && language === "typescript" ? "namespace" : "class"
  return framed(`${keyword} ${parent.name}${typeParameters} {\n${code}\n}`, code, 2, 0)
}

const framed = (text: string, code: string, firstLine: number, indent: number): FramedCode => ({
  text,
  code,
  firstLine,
  indent,
  lineStarts: lineStartsOf(text)
})

/** A position (1-based line and column) in a text. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** The position of an offset of a text, given its line starts. */
export const positionIn = (lineStarts: ReadonlyArray<number>, offset: number): Position => {
  const line = lineOf(lineStarts, offset)
  return { line, column: offset - lineStarts[line - 1]! + 1 }
}

/**
 * Where an offset of the framed text is in the atom's own code; an offset in the shell after the
 * code (a `MISSING "}"` the parser placed at the end) is the end of the code.
 */
export const positionInCode = (framedCode: FramedCode, offset: number): Position => {
  const at = positionIn(framedCode.lineStarts, offset)
  const lines = framedCode.code.split("\n")
  const line = at.line - framedCode.firstLine + 1
  if (line < 1) return { line: 1, column: 1 }
  if (line > lines.length) return { line: lines.length, column: lines[lines.length - 1]!.length + 1 }
  const indent = lines[line - 1]!.trim() === "" ? 0 : framedCode.indent
  return { line, column: Math.max(1, at.column - indent) }
}
