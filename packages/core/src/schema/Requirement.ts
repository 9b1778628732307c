import { Schema } from "effect"

/** MUST requirements gate a release; SHOULD requirements count toward Gate S's 95%. */
export const RequirementPriority = Schema.Literal("must", "should")
export type RequirementPriority = typeof RequirementPriority.Type

/** A requirement of the plan, and the atoms whose output it is checked against. */
export const Requirement = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  priority: RequirementPriority,
  text: Schema.NonEmptyTrimmedString,
  atoms: Schema.optionalWith(Schema.Array(Schema.NonEmptyTrimmedString), { default: () => [] })
})
export type Requirement = typeof Requirement.Type
