import type { Language } from "../schema/Atom.js"
import type { PlannedAtom, PlannedMember } from "./PlannedAtom.js"
import type { SourceAtom, SourceSpan } from "./SourceAtom.js"

/** What the tiler needs to know about the file besides the planned atoms. */
export interface TileSource {
  readonly text: string
  readonly language: Language
  /** The token that starts a comment running to the end of its line (`//`, `#`). */
  readonly lineComment: string
  /** Whether the language has `/* ... *\/` comments. */
  readonly blockComments: boolean
  readonly maxLines: number
}

/**
 * Gives planned atoms their spans so that together they tile the text: each atom takes the
 * comments and blank lines before it and the rest of its last line (a trailing comment, the
 * newline), the first atom takes everything before it and the last everything after it. A shell
 * keeps what lies around the members cut out of it. Returns the atoms in order of offset.
 */
export const tileAtoms = (source: TileSource, planned: ReadonlyArray<PlannedAtom>): Array<SourceAtom> => {
  const { text } = source
  const lineStarts = lineStartsOf(text)
  if (planned.length === 0) {
    if (text === "") return []
    const last = lineOf(lineStarts, text.length - 1)
    return [
      {
        kind: "comment",
        name: "comment@1",
        language: source.language,
        defines: [],
        uses: [],
        memberUses: [],
        loadTimeUses: [],
        imports: [],
        startLine: 1,
        endLine: last,
        lines: 0,
        overBudget: false,
        text,
        spans: [{ start: 0, end: text.length }]
      }
    ]
  }
  const atoms: Array<SourceAtom> = []
  const emit = (atom: PlannedAtom, span: SourceSpan): void => {
    const body = atom.body
    const cut = body?.members.some((member) => member.atom !== undefined) ?? false
    if (body === undefined || !cut) {
      atoms.push(finish(source, lineStarts, atom, [span]))
      return
    }
    const first = body.members[0]!
    const last = body.members[body.members.length - 1]!
    const from = cutAfter(source, body.open, first.start)
    const to = body.close === undefined ? span.end : cutAfter(source, last.end, body.close)
    const memberSpans = spansOf(source, body.members, from, to)
    const shell: Array<SourceSpan> = []
    const inner: Array<readonly [PlannedAtom, SourceSpan]> = []
    let cursor = span.start
    body.members.forEach((member, i) => {
      if (member.atom === undefined) return
      const memberSpan = memberSpans[i]!
      if (memberSpan.start > cursor) shell.push({ start: cursor, end: memberSpan.start })
      cursor = memberSpan.end
      inner.push([member.atom, memberSpan])
    })
    if (span.end > cursor) shell.push({ start: cursor, end: span.end })
    atoms.push(finish(source, lineStarts, atom, shell))
    for (const [member, memberSpan] of inner) emit(member, memberSpan)
  }
  const spans = spansOf(source, planned, 0, text.length)
  planned.forEach((atom, i) => emit(atom, spans[i]!))
  return atoms
}

/** The span of each item in `[from, to)`: cut between each two at the end of the first one's line. */
const spansOf = (
  source: TileSource,
  items: ReadonlyArray<Pick<PlannedMember, "start" | "end">>,
  from: number,
  to: number
): Array<SourceSpan> => {
  const cuts = [from]
  for (let i = 1; i < items.length; i++) cuts.push(cutAfter(source, items[i - 1]!.end, items[i]!.start))
  cuts.push(to)
  return items.map((_, i) => ({ start: cuts[i]!, end: cuts[i + 1]! }))
}

/**
 * Where the trivia between two pieces of code (`end` of one, `next` the start of the other) is
 * cut: after the first one's line (its trailing comments and newline included) when the second
 * starts on a later line; right after the first one (and its trailing comments) otherwise.
 */
const cutAfter = (source: TileSource, end: number, next: number): number => {
  const { text, lineComment } = source
  let cut = end
  for (;;) {
    let at = cut
    while (at < next && (text[at] === " " || text[at] === "\t")) at++
    if (at < next && text.startsWith(lineComment, at)) {
      const newline = text.indexOf("\n", at)
      cut = newline === -1 || newline > next ? next : newline
      continue
    }
    if (at < next && source.blockComments && text.startsWith("/*", at)) {
      const close = text.indexOf("*/", at + 2)
      if (close !== -1 && close + 2 <= next) {
        cut = close + 2
        continue
      }
    }
    if (text[at] === "\r" && text[at + 1] === "\n") at++
    return at < next && text[at] === "\n" ? at + 1 : cut
  }
}

const finish = (
  source: TileSource,
  lineStarts: ReadonlyArray<number>,
  atom: PlannedAtom,
  spans: ReadonlyArray<SourceSpan>
): SourceAtom => {
  const { text } = source
  let code = ""
  for (const span of spans) {
    const start = Math.max(span.start, atom.start)
    const end = Math.min(span.end, atom.end)
    if (end > start) code += text.slice(start, end)
  }
  const lines = countLines(code)
  return {
    kind: atom.kind,
    name: atom.name,
    language: source.language,
    defines: atom.defines,
    uses: atom.uses,
    memberUses: atom.memberUses,
    loadTimeUses: atom.loadTimeUses,
    imports: atom.imports,
    ...(atom.parent === undefined ? {} : { parent: atom.parent }),
    startLine: lineOf(lineStarts, atom.start),
    endLine: lineOf(lineStarts, Math.max(atom.start, atom.end - 1)),
    lines,
    overBudget: lines > source.maxLines,
    text: spans.map((span) => text.slice(span.start, span.end)).join(""),
    spans
  }
}

/** Lines a piece of text has: its newlines, plus one for a last line without a newline. */
export const countLines = (text: string): number => {
  let lines = 0
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++
  return text === "" || text.endsWith("\n") ? lines : lines + 1
}

/** The offset at which each line starts. */
export const lineStartsOf = (text: string): Array<number> => {
  const starts = [0]
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) starts.push(at + 1)
  return starts
}

/** The line (1-based) of an offset. */
export const lineOf = (lineStarts: ReadonlyArray<number>, offset: number): number => {
  let low = 0
  let high = lineStarts.length - 1
  while (low < high) {
    const middle = (low + high + 1) >> 1
    if (lineStarts[middle]! <= offset) low = middle
    else high = middle - 1
  }
  return low + 1
}
