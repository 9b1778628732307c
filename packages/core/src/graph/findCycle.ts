/**
 * One dependency cycle over index adjacency (`next[i]`: the nodes node `i` points to), the first
 * node repeated at the end (`[0, 2, 1, 0]`), or undefined when the graph is acyclic. Roots are
 * tried in index order and each node's neighbours from the last, so the cycle named is always the
 * same one. Iterative DFS: no recursion limit on long chains.
 */
export const findCycle = (next: ReadonlyArray<ReadonlyArray<number>>): ReadonlyArray<number> | undefined => {
  const size = next.length
  const state = new Uint8Array(size) // 1: on the current path, 2: fully explored
  // The path, and for each node on it how many of its neighbours are still to be tried.
  const path = new Int32Array(size)
  const untried = new Int32Array(size)
  for (let root = 0; root < size; root++) {
    if (state[root] !== 0) continue
    let depth = 0
    path[0] = root
    untried[0] = next[root]!.length
    state[root] = 1
    while (depth >= 0) {
      const node = path[depth]!
      if (untried[depth] === 0) {
        state[node] = 2
        depth--
        continue
      }
      const target = next[node]![--untried[depth]!]!
      if (state[target] === 1) {
        const from = path.subarray(0, depth + 1).lastIndexOf(target)
        return [...path.subarray(from, depth + 1), target]
      }
      if (state[target] === 2) continue
      state[target] = 1
      path[++depth] = target
      untried[depth] = next[target]!.length
    }
  }
  return undefined
}
