import type { DirectedGraph } from "graphology"

/**
 * One dependency cycle of the graph as node keys, the first repeated at the end
 * (`["a", "b", "c", "a"]`), or undefined when the graph is acyclic. Iterative DFS: no recursion
 * limit on long chains.
 */
export const findCycle = (graph: DirectedGraph): ReadonlyArray<string> | undefined => {
  const state = new Map<string, 1 | 2>() // 1: on the current path, 2: fully explored
  for (const root of graph.nodes()) {
    if (state.has(root)) continue
    const path: Array<string> = [root]
    const pending: Array<Array<string>> = [graph.outNeighbors(root)]
    state.set(root, 1)
    while (path.length > 0) {
      const next = pending[pending.length - 1]!.pop()
      if (next === undefined) {
        state.set(path.pop()!, 2)
        pending.pop()
        continue
      }
      const seen = state.get(next)
      if (seen === 1) return [...path.slice(path.indexOf(next)), next]
      if (seen === 2) continue
      state.set(next, 1)
      path.push(next)
      pending.push(graph.outNeighbors(next))
    }
  }
  return undefined
}
