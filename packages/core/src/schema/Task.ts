import { Schema } from "effect"

/** A unit of the plan a person would name ("add the todo store"); atoms implement tasks. */
export const Task = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  title: Schema.NonEmptyTrimmedString,
  description: Schema.optional(Schema.String),
  milestoneId: Schema.optional(Schema.NonEmptyTrimmedString)
})
export type Task = typeof Task.Type

/** A checkpoint within a phase of the plan. */
export const Milestone = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  title: Schema.NonEmptyTrimmedString,
  phaseId: Schema.optional(Schema.NonEmptyTrimmedString)
})
export type Milestone = typeof Milestone.Type

/** A coarse stage of the plan (setup, core, API, tests...). */
export const Phase = Schema.Struct({
  id: Schema.NonEmptyTrimmedString,
  title: Schema.NonEmptyTrimmedString
})
export type Phase = typeof Phase.Type
