import { Either } from "effect"
import { DirectedGraph } from "graphology"
import { criticalPath } from "./criticalPath.js"
import { findCycle } from "./findCycle.js"
import { PlanGraphError } from "./PlanGraphError.js"
import { topologicalWaves } from "./topologicalWaves.js"

/**
 * A plan's dependency graph, compiled to index arrays for the engine's hot path. Index `i` is the
 * atom at position `i` of the plan.
 */
export interface PlanGraph {
  /**
   * The graph itself (edge dependency -> dependent), for analysis. Its nodes are keyed by the
   * atom's index as a string (`"0"`, `"1"`...), not by its id: graphology keeps neighbours in
   * plain objects, where an id such as `__proto__` is no safe key.
   */
  readonly graph: DirectedGraph
  readonly ids: ReadonlyArray<string>
  readonly indexOf: ReadonlyMap<string, number>
  readonly deps: ReadonlyArray<ReadonlyArray<number>>
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
  const indexOf = new Map<string, number>()
  const graph = new DirectedGraph()
  for (const [i, atom] of atoms.entries()) {
    if (indexOf.has(atom.id))
      return Either.left(new PlanGraphError({ reason: "DuplicateAtom", atomIds: [atom.id] }))
    indexOf.set(atom.id, i)
    graph.addNode(String(i))
  }
  const deps: Array<Array<number>> = []
  const dependents: Array<Array<number>> = atoms.map(() => [])
  for (const [i, atom] of atoms.entries()) {
    const own = new Set<number>()
    for (const dep of atom.dependsOn) {
      const d = indexOf.get(dep)
      if (d === undefined)
        return Either.left(new PlanGraphError({ reason: "UnknownDependency", atomIds: [atom.id, dep] }))
      if (d === i) return Either.left(new PlanGraphError({ reason: "SelfDependency", atomIds: [atom.id] }))
      if (own.has(d)) continue
      own.add(d)
      dependents[d]!.push(i)
      graph.addDirectedEdge(String(d), String(i))
    }
    deps.push([...own])
  }
  const cycle = findCycle(graph)
  // Edges point from a dependency to its dependent; the error lists the cycle as "depends on".
  if (cycle !== undefined)
    return Either.left(
      new PlanGraphError({
        reason: "Cycle",
        atomIds: [...cycle].reverse().map((key) => atoms[Number(key)]!.id)
      })
    )
  const { waveOf, waves } = topologicalWaves(deps, dependents)
  const { remaining, path } = criticalPath(dependents, waves)
  return Either.right({
    graph,
    ids: atoms.map((atom) => atom.id),
    indexOf,
    deps,
    dependents,
    waveOf,
    waves,
    remaining,
    criticalPath: path.map((i) => atoms[i]!.id)
  })
}
