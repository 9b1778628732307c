import type { PlannedAtom } from "./PlannedAtom.js"
import type { SyntaxNode } from "./SyntaxNode.js"

/**
 * A unit of a container's code (a program, a class body, a namespace block): one declaration or
 * statement, with the decorators written before it and the stray tokens after it (`;`).
 */
export interface Unit {
  /** The declaration or statement itself. */
  readonly main: SyntaxNode
  /** Every node of the unit in order: its leading decorators, `main`, trailing tokens. */
  readonly nodes: ReadonlyArray<SyntaxNode>
  readonly start: number
  readonly end: number
}

/** Children that are trivia: they go with the code around them, never make a unit. */
const triviaTypes: ReadonlySet<string> = new Set(["comment", "hash_bang_line", "html_comment"])

/**
 * The units of a container's children, skipping `delimiters` (a block's braces): named nodes
 * other than comments; decorators standing before a member join it; an anonymous token (`;`, `,`)
 * joins the unit before it.
 */
export const unitsOf = (
  children: ReadonlyArray<SyntaxNode>,
  delimiters: ReadonlySet<SyntaxNode> = new Set()
): Array<Unit> => {
  const units: Array<{ main: SyntaxNode; nodes: Array<SyntaxNode> }> = []
  let pending: Array<SyntaxNode> = []
  for (const child of children) {
    if (delimiters.has(child) || triviaTypes.has(child.type)) continue
    if (child.type === "decorator") {
      pending.push(child)
      continue
    }
    if (!child.named) {
      const previous = units[units.length - 1]
      if (previous !== undefined && pending.length === 0) previous.nodes.push(child)
      else pending.push(child)
      continue
    }
    units.push({ main: child, nodes: [...pending, child] })
    pending = []
  }
  const last = units[units.length - 1]
  if (last !== undefined) last.nodes.push(...pending)
  return units.map(({ main, nodes }) => ({
    main,
    nodes,
    start: nodes[0]!.start,
    end: nodes[nodes.length - 1]!.end
  }))
}

/** What a language's rules say of one unit before consecutive units are grouped. */
export interface UnitDescription {
  readonly kind: PlannedAtom["kind"]
  readonly name: string
  readonly defines: ReadonlyArray<string>
}

/**
 * Whether two consecutive units make one atom: an import block, an export block, and the
 * declarations of one function or method (TypeScript overloads, a getter and its setter, Python's
 * `@overload`s and `@x.setter`).
 */
export const joins = (before: UnitDescription, after: UnitDescription): boolean =>
  (before.kind === "import" && after.kind === "import") ||
  (before.kind === "export" && after.kind === "export") ||
  ((before.kind === "function" || before.kind === "method") &&
    after.kind === before.kind &&
    after.name === before.name)

/** Consecutive items grouped where `join` says two neighbours belong together. */
export const groupRuns = <A>(
  items: ReadonlyArray<A>,
  join: (before: A, after: A) => boolean
): Array<Array<A>> => {
  const runs: Array<Array<A>> = []
  for (const item of items) {
    const run = runs[runs.length - 1]
    if (run !== undefined && join(run[run.length - 1]!, item)) run.push(item)
    else runs.push([item])
  }
  return runs
}

/** The names in order, each once. */
export const unique = (names: Iterable<string>): Array<string> => [...new Set(names)]

/** `uses` without what the atom defines itself. */
export const usesBesides = (uses: ReadonlyArray<string>, defines: ReadonlyArray<string>): Array<string> => {
  if (defines.length === 0) return [...uses]
  const own = new Set(defines)
  return uses.filter((name) => !own.has(name))
}

/** The symbol lists of a piece of code, as a `PlannedAtom` holds them. */
export interface PlannedUses {
  readonly uses: ReadonlyArray<string>
  readonly memberUses: ReadonlyArray<string>
  readonly loadTimeUses: ReadonlyArray<string>
}

/** A piece of code that uses nothing (an import block: its only reference is `require`). */
export const noUses: PlannedUses = { uses: [], memberUses: [], loadTimeUses: [] }

const headOf = (name: string): string => {
  const dot = name.indexOf(".")
  return dot === -1 ? name : name.slice(0, dot)
}

/** `usesBesides` for all three lists: members and load-time uses of the atom's own names go too. */
export const symbolsBesides = (symbols: PlannedUses, defines: ReadonlyArray<string>): PlannedUses => {
  const uses = usesBesides(symbols.uses, defines)
  const kept = new Set(uses)
  const memberUses = symbols.memberUses.filter((name) => kept.has(headOf(name)))
  for (const name of memberUses) kept.add(name)
  return { uses, memberUses, loadTimeUses: symbols.loadTimeUses.filter((name) => kept.has(name)) }
}

/**
 * The atoms planned inside a namespace, with each bare name its siblings define (`x` for `N.x`)
 * read as the qualified one, in their uses and in their members' uses.
 */
export const qualifyUses = (
  atoms: ReadonlyArray<PlannedAtom>,
  qualified: ReadonlyMap<string, string>
): Array<PlannedAtom> =>
  atoms.map((atom) => ({
    ...atom,
    ...symbolsBesides(
      {
        uses: unique(atom.uses.map((name) => qualified.get(name) ?? name)),
        memberUses: unique(atom.memberUses.map((name) => qualifyHead(name, qualified))),
        loadTimeUses: unique(atom.loadTimeUses.map((name) => qualifyHead(name, qualified)))
      },
      atom.defines
    ),
    body:
      atom.body === undefined
        ? undefined
        : {
            ...atom.body,
            members: atom.body.members.map((member) =>
              member.atom === undefined
                ? member
                : { ...member, atom: qualifyUses([member.atom], qualified)[0] }
            )
          }
  }))

/** `x.y` read as `N.x.y` when `x` is the sibling `N.x`. */
const qualifyHead = (name: string, qualified: ReadonlyMap<string, string>): string => {
  const head = headOf(name)
  const full = qualified.get(head)
  return full === undefined ? name : full + name.slice(head.length)
}
