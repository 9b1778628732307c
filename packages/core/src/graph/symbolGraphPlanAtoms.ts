import type { AtomSpec } from "../schema/Atom.js"
import type { SymbolGraph, SymbolGraphAtom } from "./buildSymbolGraph.js"

/** What the model is asked to write for an atom when the caller says nothing else. */
const defaultInstruction = (atom: SymbolGraphAtom): string =>
  `Write the ${atom.atom.kind} ${atom.atom.name} of ${atom.file}:\n${atom.atom.text.trim() || atom.atom.name}`

/**
 * The graph's atoms as a plan's atoms (`PlanInput.atoms`), so the engine can run them: id,
 * instruction, language, file, the symbols each must define, and its deps (the edges kept after
 * breaking cycles, so the plan is acyclic). Ordered by wave, then as the graph lists them.
 */
export const symbolGraphPlanAtoms = (
  graph: SymbolGraph,
  instructionOf: (atom: SymbolGraphAtom) => string = defaultInstruction
): Array<AtomSpec> =>
  graph.waves.flatMap((wave) =>
    wave.map((id) => {
      const atom = graph.atoms[graph.indexOf.get(id)!]!
      return {
        id: atom.id,
        dependsOn: atom.deps,
        instruction: instructionOf(atom),
        language: atom.atom.language,
        file: atom.file,
        defines: atom.atom.defines
      }
    })
  )
