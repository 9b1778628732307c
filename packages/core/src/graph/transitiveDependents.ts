import type { PlanGraph } from "./buildPlanGraph.js"

/** Every atom that depends on the given one, directly or not, each once. */
export const transitiveDependents = (graph: PlanGraph, index: number): ReadonlyArray<number> => {
  const seen = new Set<number>()
  const stack = [...graph.dependents[index]!]
  while (stack.length > 0) {
    const atom = stack.pop()!
    if (seen.has(atom)) continue
    seen.add(atom)
    stack.push(...graph.dependents[atom]!)
  }
  return [...seen]
}
