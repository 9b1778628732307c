import pLimit from "p-limit"
import { layeredAtoms } from "../layeredPlan.js"
import type { Workload } from "./workloads.js"

/**
 * The baseline: p-limit at the workload's concurrency, each task submitted as soon as its
 * dependencies are done. `work` is what one task does: nothing for the baseline; for the floors, the
 * one part of the engine's per-atom work being measured, on the same scheduler and DAG.
 */
export const dagPool = async (
  workload: Workload,
  work: (i: number, atomId: string) => Promise<unknown>
): Promise<void> => {
  const atoms = layeredAtoms(workload.layers, workload.width)
  const index = new Map(atoms.map((atom, i) => [atom.id, i]))
  const dependents = atoms.map(() => [] as Array<number>)
  const waiting = atoms.map((atom) => atom.dependsOn.length)
  atoms.forEach((atom, i) => atom.dependsOn.forEach((dep) => dependents[index.get(dep)!]!.push(i)))
  const limit = pLimit(workload.concurrency)
  let done = 0
  await new Promise<void>((resolve) => {
    const submit = (i: number): void => {
      void limit(() => work(i, atoms[i]!.id)).then(() => {
        done++
        for (const d of dependents[i]!) if (--waiting[d]! === 0) submit(d)
        if (done === atoms.length) resolve()
      })
    }
    atoms.forEach((_, i) => waiting[i] === 0 && submit(i))
  })
}
