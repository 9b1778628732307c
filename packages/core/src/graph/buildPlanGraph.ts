import { Either } from "effect"
import { criticalPath } from "./criticalPath.js"
import { findCycle } from "./findCycle.js"
import { PlanGraphError } from "./PlanGraphError.js"
import { topologicalWaves } from "./topologicalWaves.js"

/**
 * A plan's dependency graph, compiled to index arrays for the engine's hot path. Index `i` is the
 * atom at position `i` of the plan.
 */
export interface PlanGraph {
  readonly ids: ReadonlyArray<string>
  readonly indexOf: ReadonlyMap<string, number>
  /** Each atom's dependencies, each once, in the order the plan first names them. */
  readonly deps: ReadonlyArray<ReadonlyArray<number>>
  /** Each atom's direct dependents, in index order. */
  readonly dependents: ReadonlyArray<ReadonlyArray<number>>
  /** Topological generation: 0 without dependencies, else 1 + the deepest dependency's. */
  readonly waveOf: ReadonlyArray<number>
  readonly waves: ReadonlyArray<ReadonlyArray<number>>
  /** Longest path, in atoms and counting itself, from each atom to a sink: its scheduling priority. */
  readonly remaining: ReadonlyArray<number>
  /** One longest path through the whole plan. */
  readonly criticalPath: ReadonlyArray<string>
}

/**
 * Checks and compiles a plan's atoms: ids unique, dependencies known and not the atom itself,
 * no cycle (the error names one). Repeated dependencies in one list count once.
 */
export const buildPlanGraph = (
  atoms: ReadonlyArray<{ readonly id: string; readonly dependsOn: ReadonlyArray<string> }>
): Either.Either<PlanGraph, PlanGraphError> => {
  const size = atoms.length
  const indexOf = new Map<string, number>()
  const ids = new Array<string>(size)
  for (let i = 0; i < size; i++) {
    const id = atoms[i]!.id
    if (indexOf.has(id)) return Either.left(new PlanGraphError({ reason: "DuplicateAtom", atomIds: [id] }))
    indexOf.set(id, i)
    ids[i] = id
  }
  const deps = new Array<Array<number>>(size)
  const dependents = new Array<Array<number>>(size)
  for (let i = 0; i < size; i++) dependents[i] = []
  // `namedBy[d] === i + 1`: atom i already named d (a repeated dependency counts once).
  const namedBy = new Int32Array(size)
  for (let i = 0; i < size; i++) {
    const atom = atoms[i]!
    const own: Array<number> = []
    for (const dep of atom.dependsOn) {
      const d = indexOf.get(dep)
      if (d === undefined)
        return Either.left(new PlanGraphError({ reason: "UnknownDependency", atomIds: [atom.id, dep] }))
      if (d === i) return Either.left(new PlanGraphError({ reason: "SelfDependency", atomIds: [atom.id] }))
      if (namedBy[d] === i + 1) continue
      namedBy[d] = i + 1
      own.push(d)
      dependents[d]!.push(i)
    }
    deps[i] = own
  }
  const cycle = findCycle(dependents)
  // Edges point from a dependency to its dependent; the error lists the cycle as "depends on".
  if (cycle !== undefined)
    return Either.left(
      new PlanGraphError({ reason: "Cycle", atomIds: [...cycle].reverse().map((i) => ids[i]!) })
    )
  const { waveOf, waves } = topologicalWaves(deps, dependents)
  const { remaining, path } = criticalPath(dependents, waves)
  return Either.right({
    ids,
    indexOf,
    deps,
    dependents,
    waveOf,
    waves,
    remaining,
    criticalPath: path.map((i) => ids[i]!)
  })
}
