import { Schema } from "effect"
import { listOf } from "./Atom.js"
import { Id, NonEmptyFreeText } from "./PlanText.js"

/** MUST requirements gate a release; SHOULD requirements count toward Gate S's 95%. */
export const RequirementPriority = Schema.Literal("must", "should")
export type RequirementPriority = typeof RequirementPriority.Type

/** A requirement of the plan, and the atoms whose output it is checked against. */
export const Requirement = Schema.Struct({
  id: Id,
  priority: RequirementPriority,
  text: NonEmptyFreeText,
  /** Ids of atoms of the plan. */
  atoms: Schema.optionalWith(listOf(Id), { default: () => [] })
})
export type Requirement = typeof Requirement.Type
