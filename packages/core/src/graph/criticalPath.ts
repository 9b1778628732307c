/**
 * For each atom, the length in atoms (itself included) of the longest path from it to any sink,
 * and one longest path of the whole graph. `waves` (from `topologicalWaves`) gives the order.
 */
export const criticalPath = (
  dependents: ReadonlyArray<ReadonlyArray<number>>,
  waves: ReadonlyArray<ReadonlyArray<number>>
): { readonly remaining: ReadonlyArray<number>; readonly path: ReadonlyArray<number> } => {
  const remaining = new Array<number>(dependents.length).fill(1)
  const next = new Array<number>(dependents.length).fill(-1)
  for (let wave = waves.length - 1; wave >= 0; wave--) {
    for (const atom of waves[wave]!) {
      for (const dependent of dependents[atom]!) {
        if (remaining[dependent]! + 1 > remaining[atom]!) {
          remaining[atom] = remaining[dependent]! + 1
          next[atom] = dependent
        }
      }
    }
  }
  let start = -1
  for (let i = 0; i < remaining.length; i++) if (start < 0 || remaining[i]! > remaining[start]!) start = i
  const path: Array<number> = []
  for (let atom = start; atom >= 0; atom = next[atom]!) path.push(atom)
  return { remaining, path }
}
