/**
 * Topological generations over index arrays: an atom's wave is 0 without dependencies, else one
 * more than its deepest dependency. `deps` must be acyclic. Returns the wave of each atom and the
 * atoms of each wave in input order.
 */
export const topologicalWaves = (
  deps: ReadonlyArray<ReadonlyArray<number>>,
  dependents: ReadonlyArray<ReadonlyArray<number>>
): { readonly waveOf: ReadonlyArray<number>; readonly waves: ReadonlyArray<ReadonlyArray<number>> } => {
  const size = deps.length
  const waveOf = new Array<number>(size).fill(0)
  const unresolved = Int32Array.from(deps, (d) => d.length)
  const order: Array<number> = []
  for (let i = 0; i < size; i++) if (unresolved[i] === 0) order.push(i)
  for (let head = 0; head < order.length; head++) {
    const atom = order[head]!
    for (const dependent of dependents[atom]!) {
      waveOf[dependent] = Math.max(waveOf[dependent]!, waveOf[atom]! + 1)
      if (--unresolved[dependent]! === 0) order.push(dependent)
    }
  }
  const waves: Array<Array<number>> = []
  for (let i = 0; i < size; i++) (waves[waveOf[i]!] ??= []).push(i)
  return { waveOf, waves }
}
