import { Schema } from "effect"
import { FreeText, Id, Name } from "./PlanText.js"

/** A unit of the plan a person would name ("add the todo store"); atoms implement tasks. */
export const Task = Schema.Struct({
  id: Id,
  title: Name,
  description: Schema.optional(FreeText),
  /** One of the plan's `milestones`. */
  milestoneId: Schema.optional(Id)
})
export type Task = typeof Task.Type

/** A checkpoint within a phase of the plan. */
export const Milestone = Schema.Struct({
  id: Id,
  title: Name,
  /** One of the plan's `phases`. */
  phaseId: Schema.optional(Id)
})
export type Milestone = typeof Milestone.Type

/** A coarse stage of the plan (setup, core, API, tests...). */
export const Phase = Schema.Struct({
  id: Id,
  title: Name
})
export type Phase = typeof Phase.Type
