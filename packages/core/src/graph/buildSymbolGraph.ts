import { Either } from "effect"
import { DirectedGraph } from "graphology"
import type { SourceAtom } from "../atom/SourceAtom.js"
import type { Language } from "../schema/Atom.js"
import { findCycle } from "./findCycle.js"
import { knownGlobals } from "../atom/knownGlobals.js"
import { makeSymbolResolver, type IndexedFile, type SymbolResolver } from "./symbolResolver.js"
import { SymbolGraphError } from "./SymbolGraphError.js"
import { topologicalWaves } from "./topologicalWaves.js"

/** One file of a project, atomized: its path (POSIX, relative to the project's root) and atoms. */
export interface SymbolGraphFile {
  readonly path: string
  readonly language: Language
  readonly atoms: ReadonlyArray<SourceAtom>
}

/**
 * When a use runs. `load`: while the module loads (top-level statements, constant and variable
 * initialisers, decorators, a class's `extends` and static fields, Python class bodies, default
 * arguments and annotations), and a member's use of the class or namespace it was cut out of.
 * `run`: later, when called (a use inside a function or method body, a JavaScript default
 * parameter, an instance field initialiser) or never (a TypeScript type, erased). Only `run`
 * edges may be dropped to break a cycle.
 */
export type UseTiming = "load" | "run"

/** An edge: `from` uses `symbols` that `to` defines. */
export interface SymbolEdge {
  /** The dependent: the atom whose code uses the symbols. */
  readonly from: string
  /** The dependency: the atom that defines them. */
  readonly to: string
  /** The names as the dependent writes them (`parse`, `ns.parse`, `Parser`). */
  readonly symbols: ReadonlyArray<string>
  /** `load` if any of the uses is a load-time one. */
  readonly timing: UseTiming
}

/** A name taken from a package outside the project: no atom, no edge. */
export interface ExternalUse {
  /** The specifier (`effect`, `node:fs`, `os.path`). */
  readonly module: string
  /** What is taken from it: an exported name, `default`, or `*` for the whole module. */
  readonly name: string
}

/** An atom in the graph. */
export interface SymbolGraphAtom {
  /** `<file>#<atom name>`, with `~2`, `~3`... for a name that repeats in its file. */
  readonly id: string
  readonly file: string
  readonly atom: SourceAtom
  /** The atoms it must come after: its edges' targets, less the edges dropped to break cycles. */
  readonly deps: ReadonlyArray<string>
  /** 0 without deps, else 1 + the highest wave among them. */
  readonly wave: number
  /** Uses defined nowhere in the project and not globals of the language (`x`, `ns.missing`). */
  readonly unresolved: ReadonlyArray<string>
  readonly externals: ReadonlyArray<ExternalUse>
}

/** A cycle of uses that run-time edges allow to order: the edge dropped breaks it. */
export interface BrokenCycle {
  /** The atoms of the cycle, each using the next, the first repeated at the end. */
  readonly atoms: ReadonlyArray<string>
  readonly dropped: SymbolEdge
}

/** The dependency graph of a project's atoms. */
export interface SymbolGraph {
  /** Every atom of every file, files in the order given, each file's atoms in order. */
  readonly atoms: ReadonlyArray<SymbolGraphAtom>
  readonly indexOf: ReadonlyMap<string, number>
  /** Every edge found, dropped ones included, by dependent then first use. */
  readonly edges: ReadonlyArray<SymbolEdge>
  /** The same edges on graphology: nodes are atom ids, an edge points from dependent to dependency. */
  readonly graph: DirectedGraph<{ readonly file: string }, SymbolEdge>
  readonly cycles: ReadonlyArray<BrokenCycle>
  /** Atom ids by wave. */
  readonly waves: ReadonlyArray<ReadonlyArray<string>>
}

const idsOf = (files: ReadonlyArray<SymbolGraphFile>): Array<string> => {
  const ids: Array<string> = []
  for (const file of files) {
    const seen = new Map<string, number>()
    for (const atom of file.atoms) {
      const count = (seen.get(atom.name) ?? 0) + 1
      seen.set(atom.name, count)
      ids.push(`${file.path}#${atom.name}${count === 1 ? "" : `~${count}`}`)
    }
  }
  return ids
}

interface Found {
  readonly symbols: Set<string>
  load: boolean
}

/** The edges, unresolved uses and externals of one atom. */
const usesOf = (resolver: SymbolResolver, file: IndexedFile, index: number) => {
  const atom = file.atoms[index - file.first]!
  const loadTime = new Set(atom.loadTimeUses)
  const edges = new Map<number, Found>()
  const unresolved: Array<string> = []
  const externals: Array<ExternalUse> = []
  const edge = (target: number, symbol: string, load: boolean): void => {
    if (target === index) return
    const found = edges.get(target)
    if (found === undefined) edges.set(target, { symbols: new Set([symbol]), load })
    else {
      found.symbols.add(symbol)
      found.load ||= load
    }
  }
  if (atom.parent !== undefined) {
    const shell = resolver.definition(file.path, atom.parent)
    if (shell !== undefined) edge(shell, atom.parent, true)
  }
  const membersOf = (name: string) => atom.memberUses.filter((member) => member.startsWith(`${name}.`))
  for (const name of atom.uses) {
    const target = resolver.local(file.path, name)
    if (target === undefined) {
      if (!knownGlobals(file.language).has(name)) unresolved.push(name)
      continue
    }
    switch (target.kind) {
      case "atom": {
        edge(target.index, name, loadTime.has(name))
        // `Parser.parse` on a class, `N.x` on a namespace: the member's own atom, if it has one.
        for (const member of membersOf(name)) {
          const memberAtom = resolver.definition(target.file, target.name + member.slice(name.length))
          if (memberAtom !== undefined) edge(memberAtom, member, loadTime.has(member))
        }
        break
      }
      case "module":
        for (const member of membersOf(name)) {
          const inner = resolver.exported(target.file, member.slice(name.length + 1))
          if (inner?.kind === "atom") edge(inner.index, member, loadTime.has(member))
          else if (inner?.kind === "external") externals.push({ module: inner.module, name: inner.name })
          else if (inner === undefined || inner.kind === "missing") unresolved.push(member)
        }
        break
      case "external":
        externals.push({ module: target.module, name: target.name })
        break
      case "missing":
        unresolved.push(name)
    }
  }
  return { edges, unresolved, externals }
}

/**
 * The dependency graph of a project's atoms: an edge from each atom to each atom defining a
 * symbol it uses, found by name within its file and across files through imports (named,
 * default, namespace `ns.x`, CommonJS `require`, Python `from m import x` and `import m` + `m.x`)
 * and re-exports (`export { x } from`, `export * from`, chains of them). Relative specifiers
 * resolve against the importing file (`./a` is `a.ts`, `a/index.ts`; `./a.js` is `a.ts`);
 * packages are externals, not atoms. A member cut out of a class or namespace depends on its
 * shell.
 *
 * Cycles: a cycle with a `run` edge (see `UseTiming`) is broken by dropping one, preferring an
 * atom's use of one declared after it (in file order, then position), so the declaration comes
 * before its use; the cycle is reported in `cycles`. A cycle of `load` edges alone cannot run
 * in any order: `SymbolGraphError` names it. Waves follow the remaining edges, as
 * `topologicalWaves` computes them for the engine.
 *
 * @example
 * const graph = buildSymbolGraph([{ path: "src/a.ts", language: "typescript", atoms }])
 * if (Either.isRight(graph)) graph.right.waves
 */
export const buildSymbolGraph = (
  files: ReadonlyArray<SymbolGraphFile>
): Either.Either<SymbolGraph, SymbolGraphError> => {
  const seenPaths = new Set<string>()
  const indexed: Array<IndexedFile> = []
  let first = 0
  for (const file of files) {
    if (seenPaths.has(file.path))
      return Either.left(new SymbolGraphError({ reason: "DuplicateFile", atomIds: [file.path] }))
    seenPaths.add(file.path)
    indexed.push({ ...file, first })
    first += file.atoms.length
  }
  const ids = idsOf(files)
  const size = ids.length
  const resolver = makeSymbolResolver(indexed)
  const graph = new DirectedGraph<{ readonly file: string }, SymbolEdge>()
  indexed.forEach((file) =>
    file.atoms.forEach((_, i) => graph.addNode(ids[file.first + i]!, { file: file.path }))
  )
  const edges: Array<SymbolEdge> = []
  const deps: Array<Array<number>> = []
  const timing = new Map<string, SymbolEdge>()
  const found: Array<{
    readonly unresolved: ReadonlyArray<string>
    readonly externals: ReadonlyArray<ExternalUse>
  }> = []
  for (const file of indexed) {
    for (let index = file.first; index < file.first + file.atoms.length; index++) {
      const uses = usesOf(resolver, file, index)
      const own: Array<number> = []
      for (const [target, use] of uses.edges) {
        const edge: SymbolEdge = {
          from: ids[index]!,
          to: ids[target]!,
          symbols: [...use.symbols],
          timing: use.load ? "load" : "run"
        }
        edges.push(edge)
        graph.addEdge(edge.from, edge.to, edge)
        timing.set(`${index}>${target}`, edge)
        own.push(target)
      }
      deps.push(own)
      found.push(uses)
    }
  }
  const cycles: Array<BrokenCycle> = []
  for (;;) {
    const cycle = findCycle(deps)
    if (cycle === undefined) break
    let drop = -1
    for (let k = 0; k + 1 < cycle.length; k++) {
      const [from, to] = [cycle[k]!, cycle[k + 1]!]
      if (timing.get(`${from}>${to}`)!.timing !== "run") continue
      const forward = to > from
      if (drop === -1 || (forward && !(cycle[drop + 1]! > cycle[drop]!))) drop = k
    }
    const cycleIds = cycle.map((i) => ids[i]!)
    if (drop === -1) return Either.left(new SymbolGraphError({ reason: "LoadTimeCycle", atomIds: cycleIds }))
    const [from, to] = [cycle[drop]!, cycle[drop + 1]!]
    deps[from] = deps[from]!.filter((target) => target !== to)
    cycles.push({ atoms: cycleIds, dropped: timing.get(`${from}>${to}`)! })
  }
  const dependents: Array<Array<number>> = Array.from({ length: size }, () => [])
  deps.forEach((own, i) => own.forEach((target) => dependents[target]!.push(i)))
  const { waveOf, waves } = topologicalWaves(deps, dependents)
  const atoms: Array<SymbolGraphAtom> = []
  for (const file of indexed)
    file.atoms.forEach((atom, i) => {
      const index = file.first + i
      atoms.push({
        id: ids[index]!,
        file: file.path,
        atom,
        deps: deps[index]!.map((target) => ids[target]!),
        wave: waveOf[index]!,
        unresolved: found[index]!.unresolved,
        externals: found[index]!.externals
      })
    })
  return Either.right({
    atoms,
    indexOf: new Map(ids.map((id, i) => [id, i])),
    edges,
    graph,
    cycles,
    waves: waves.map((wave) => wave.map((i) => ids[i]!))
  })
}
