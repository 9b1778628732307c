import { Predicate, Schema } from "effect"
import { AtomSpec } from "./Atom.js"
import { Budget } from "./Budget.js"
import { Requirement } from "./Requirement.js"
import { RunOptions } from "./RunOptions.js"
import { Milestone, Phase, Task } from "./Task.js"

/**
 * A structured masterplan (`plan.json`): its atoms and their dependencies are given, so discovery,
 * planning and atomization are skipped. (The `message` annotations word the problems of the plan
 * as a whole: not an object, no atoms.)
 */
export const PlanInput = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  description: Schema.optional(Schema.String),
  budget: Schema.optional(Budget),
  options: Schema.optional(Schema.encodedSchema(RunOptions)),
  phases: Schema.optionalWith(Schema.Array(Phase), { default: () => [] }),
  milestones: Schema.optionalWith(Schema.Array(Milestone), { default: () => [] }),
  tasks: Schema.optionalWith(Schema.Array(Task), { default: () => [] }),
  requirements: Schema.optionalWith(Schema.Array(Requirement), { default: () => [] }),
  atoms: Schema.NonEmptyArray(AtomSpec).annotations({
    message: (issue) =>
      Array.isArray(issue.actual)
        ? { message: "a plan needs at least one atom", override: issue.actual.length === 0 }
        : "expected a non-empty array of atoms"
  })
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
  name: Schema.NonEmptyTrimmedString,
  request: Schema.NonEmptyString,
  budget: Schema.optional(Budget),
  options: Schema.optional(Schema.encodedSchema(RunOptions))
})
export type RequestSpec = typeof RequestSpec.Type

/** What a masterplan is made from: a request to plan, or a plan already structured. */
export const MasterplanSpec = Schema.Union(PlanInput, RequestSpec)
export type MasterplanSpec = typeof MasterplanSpec.Type
