import { Predicate, Schema } from "effect"
import { AtomSpec, listOf, tooManyEntries } from "./Atom.js"
import { Budget } from "./Budget.js"
import { maxAtoms, maxListLength } from "./inputLimits.js"
import { FreeText, Name, NonEmptyFreeText } from "./PlanText.js"
import { Requirement } from "./Requirement.js"
import { RunOptionsAsGiven } from "./RunOptions.js"
import { Milestone, Phase, Task } from "./Task.js"

/**
 * A structured masterplan (`plan.json`): its atoms and their dependencies are given, so discovery,
 * planning and atomization are skipped. (The `message` annotations word the problems of the plan
 * as a whole: not an object, no atoms.)
 */
export const PlanInput = Schema.Struct({
  name: Name,
  description: Schema.optional(FreeText),
  budget: Schema.optional(Budget),
  options: Schema.optional(RunOptionsAsGiven),
  phases: Schema.optionalWith(listOf(Phase, maxListLength), { default: () => [] }),
  milestones: Schema.optionalWith(listOf(Milestone, maxListLength), { default: () => [] }),
  tasks: Schema.optionalWith(listOf(Task, maxAtoms), { default: () => [] }),
  requirements: Schema.optionalWith(listOf(Requirement, maxListLength), { default: () => [] }),
  atoms: Schema.NonEmptyArray(AtomSpec)
    .annotations({
      message: (issue) =>
        Array.isArray(issue.actual)
          ? { message: "a plan needs at least one atom", override: issue.actual.length === 0 }
          : "expected a non-empty array of atoms"
    })
    .pipe(Schema.maxItems(maxAtoms, { message: tooManyEntries(maxAtoms, "atoms") }))
}).annotations({
  message: (issue) => ({
    message: "a plan must be a JSON object",
    override: !Predicate.isRecord(issue.actual)
  })
})
export type PlanInput = typeof PlanInput.Type
export type PlanInputEncoded = typeof PlanInput.Encoded

/** A free-text request (or markdown spec) that the pipeline turns into a plan. */
export const RequestSpec = Schema.Struct({
  name: Name,
  request: NonEmptyFreeText,
  budget: Schema.optional(Budget),
  options: Schema.optional(RunOptionsAsGiven)
})
export type RequestSpec = typeof RequestSpec.Type

/** What a masterplan is made from: a request to plan, or a plan already structured. */
export const MasterplanSpec = Schema.Union(PlanInput, RequestSpec)
export type MasterplanSpec = typeof MasterplanSpec.Type
