import type { PlanInputEncoded } from "@devmatrix/core"

/** Layer `l` atom `i` of a layered DAG; each atom after the first layer depends on two of the layer before. */
export const layeredAtoms = (layers: number, width: number) => {
  const atoms: Array<{ id: string; dependsOn: Array<string> }> = []
  for (let layer = 0; layer < layers; layer++) {
    for (let i = 0; i < width; i++) {
      const dependsOn = layer === 0 ? [] : [`L${layer - 1}-${i}`, `L${layer - 1}-${(i * 7 + 1) % width}`]
      atoms.push({ id: `L${layer}-${i}`, dependsOn: [...new Set(dependsOn)] })
    }
  }
  return atoms
}

/** The overhead workload as a plan: 20 layers of 500 atoms, two dependencies each, no retry delay. */
export const layeredPlan = (layers: number, width: number, concurrency: number): PlanInputEncoded => ({
  name: `layered-${layers}x${width}`,
  options: { concurrency, retry: { initialMs: 0 } },
  atoms: layeredAtoms(layers, width).map((atom) => ({
    ...atom,
    instruction: "zero-work atom"
  })) as unknown as PlanInputEncoded["atoms"]
})
