import { Schema } from "effect"
import { RunOptions } from "./RunOptions.js"

/** The stages a masterplan goes through, in order; each is checkpointed. */
export const PipelinePhase = Schema.Literal("discovery", "planning", "atomization", "execution", "acceptance")
export type PipelinePhase = typeof PipelinePhase.Type

/** How a phase ended, or that it is under way. */
export const PhaseStatus = Schema.Literal("started", "completed", "skipped", "failed")
export type PhaseStatus = typeof PhaseStatus.Type

export const MasterplanStatus = Schema.Literal(
  "submitted",
  "running",
  "paused",
  "completed",
  "failed",
  "cancelled"
)
export type MasterplanStatus = typeof MasterplanStatus.Type

/** The stored record of a masterplan. */
export const Masterplan = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: MasterplanStatus,
  phase: Schema.optional(PipelinePhase),
  options: RunOptions,
  atomCount: Schema.NonNegativeInt,
  waveCount: Schema.NonNegativeInt,
  createdAt: Schema.Number,
  /** The tenant it belongs to, when a host submitted it for one (a host's tokens say whose). */
  tenant: Schema.optional(Schema.String)
})
export type Masterplan = typeof Masterplan.Type
