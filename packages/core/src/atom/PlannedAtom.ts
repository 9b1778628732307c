import type { ImportBinding, SourceAtomKind } from "./SourceAtom.js"

/**
 * An atom as a language's rules plan it, before the tiler gives it its spans: what it is, its
 * symbols, and the range of its code (its first node's start to its last node's end).
 */
export interface PlannedAtom {
  readonly kind: SourceAtomKind
  readonly name: string
  readonly defines: ReadonlyArray<string>
  readonly uses: ReadonlyArray<string>
  readonly memberUses: ReadonlyArray<string>
  readonly loadTimeUses: ReadonlyArray<string>
  readonly imports: ReadonlyArray<ImportBinding>
  readonly parent: string | undefined
  readonly start: number
  readonly end: number
  /** Present for a class or namespace whose members are cut out into atoms of their own. */
  readonly body: PlannedBody | undefined
}

/** The members of a shell, all of them, in order: those cut out and those the shell keeps. */
export interface PlannedBody {
  /** Offset just past the token that opens the members (`{`, or Python's `:`). */
  readonly open: number
  /** Offset of the token that closes them (`}`); absent when they run to the shell's end (Python). */
  readonly close: number | undefined
  readonly members: ReadonlyArray<PlannedMember>
}

/** A member's code range, and its atom if it is cut out of the shell (absent: a field the shell keeps). */
export interface PlannedMember {
  readonly start: number
  readonly end: number
  readonly atom: PlannedAtom | undefined
}
