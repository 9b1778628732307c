import type { PlanGraph } from "@devmatrix/core"

/**
 * The accepted code of completed atoms whose dependents have not all settled: a dependent's prompt
 * shows it. An atom's code is dropped once its last dependent settles, so the heap holds only the
 * frontier's code, not the plan's.
 */
export class AcceptedCode {
  private readonly code: Array<string | undefined>
  private readonly unsettledDependents: Int32Array

  constructor(private readonly graph: PlanGraph) {
    this.code = new Array<string | undefined>(graph.ids.length)
    this.unsettledDependents = Int32Array.from(graph.dependents, (dependents) => dependents.length)
  }

  /** The atom completed with `code`: kept while a dependent may still need it. */
  completed(index: number, code: string | undefined): void {
    if (this.unsettledDependents[index]! > 0) this.code[index] = code
  }

  /** The atom settled (any outcome): its dependencies have one dependent fewer to wait for. */
  settled(index: number): void {
    for (const dep of this.graph.deps[index]!)
      if (--this.unsettledDependents[dep]! === 0) this.code[dep] = undefined
  }

  /** The accepted code of an atom's dependencies, in the order the plan lists them. */
  ofDependencies(index: number): ReadonlyArray<{ readonly atomId: string; readonly code: string }> {
    const code: Array<{ atomId: string; code: string }> = []
    for (const dep of this.graph.deps[index]!) {
      const accepted = this.code[dep]
      if (accepted !== undefined) code.push({ atomId: this.graph.ids[dep]!, code: accepted })
    }
    return code
  }
}
