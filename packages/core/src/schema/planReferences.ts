import type { PlanInput } from "./PlanInput.js"
import type { InputProblem } from "./problemsOf.js"

/** Problems of ids in one list: each given twice is named at its second place. */
const duplicates = (field: string, items: ReadonlyArray<{ readonly id: string }>): Array<InputProblem> => {
  const seen = new Set<string>()
  return items.flatMap((item, i) => {
    if (!seen.has(item.id)) return (seen.add(item.id), [])
    return [{ path: `${field}[${i}].id`, message: `duplicate id ${JSON.stringify(item.id)}` }]
  })
}

/** `unknown task "x"`, with what the plan does have when it has none. */
const unknown = (what: string, id: string, known: ReadonlySet<string>, field: string): string =>
  known.size === 0
    ? `unknown ${what} ${JSON.stringify(id)}: the plan has no ${field}`
    : `unknown ${what} ${JSON.stringify(id)}`

/**
 * What the plan's parts name that the plan does not have: a requirement's atoms (it could never
 * be checked, and a MUST that names a misspelt atom would pass for want of it), an atom's task, a
 * task's milestone, a milestone's phase; and ids given twice in one list. Atom ids and
 * dependencies are the graph's to check (`buildPlanGraph`). Linear in the size of the plan.
 */
export const referenceProblems = (plan: PlanInput): ReadonlyArray<InputProblem> => {
  const ids = (items: ReadonlyArray<{ readonly id: string }>) => new Set(items.map((item) => item.id))
  const [tasks, milestones, phases] = [plan.tasks, plan.milestones, plan.phases].map(ids)
  // The atoms' ids only when a requirement names atoms: a plan of many atoms and no requirement
  // should not pay for a set of them (the graph has its own index of ids).
  const atoms = plan.requirements.length > 0 ? ids(plan.atoms) : new Set<string>()
  const atomTaskProblems: Array<InputProblem> = []
  for (const [i, atom] of plan.atoms.entries())
    if (atom.taskId !== undefined && !tasks!.has(atom.taskId))
      atomTaskProblems.push({
        path: `atoms[${i}].taskId`,
        message: unknown("task", atom.taskId, tasks!, "tasks")
      })
  return [
    ...duplicates("requirements", plan.requirements),
    ...duplicates("tasks", plan.tasks),
    ...duplicates("milestones", plan.milestones),
    ...duplicates("phases", plan.phases),
    ...plan.requirements.flatMap((requirement, r) =>
      requirement.atoms.flatMap((atomId, a) =>
        atoms.has(atomId)
          ? []
          : [{ path: `requirements[${r}].atoms[${a}]`, message: unknown("atom", atomId, atoms, "atoms") }]
      )
    ),
    ...atomTaskProblems,
    ...plan.tasks.flatMap((task, i) =>
      task.milestoneId === undefined || milestones!.has(task.milestoneId)
        ? []
        : [
            {
              path: `tasks[${i}].milestoneId`,
              message: unknown("milestone", task.milestoneId, milestones!, "milestones")
            }
          ]
    ),
    ...plan.milestones.flatMap((milestone, i) =>
      milestone.phaseId === undefined || phases!.has(milestone.phaseId)
        ? []
        : [
            {
              path: `milestones[${i}].phaseId`,
              message: unknown("phase", milestone.phaseId, phases!, "phases")
            }
          ]
    )
  ]
}
