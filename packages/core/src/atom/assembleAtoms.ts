import type { SourceAtom, SourceSpan } from "./SourceAtom.js"

/**
 * The file the atoms tile, from their spans' text in order of offset: for the atoms of
 * `atomizeTree`, the original text, byte for byte. (Joining the atoms' `text` in order gives the
 * same only where no class or namespace was split, since a shell's pieces surround its members.)
 */
export const assembleAtoms = (atoms: ReadonlyArray<SourceAtom>): string => {
  const pieces: Array<{ readonly span: SourceSpan; readonly text: string }> = []
  for (const atom of atoms) {
    let at = 0
    for (const span of atom.spans) {
      const length = span.end - span.start
      pieces.push({ span, text: atom.text.slice(at, at + length) })
      at += length
    }
  }
  pieces.sort((a, b) => a.span.start - b.span.start)
  return pieces.map((piece) => piece.text).join("")
}
