import { Schema } from "effect"

/** A wave is the atoms of one dependency level; wave N depends only on waves below N. */
export const WaveStatus = Schema.Literal("pending", "running", "completed")
export type WaveStatus = typeof WaveStatus.Type

export const Wave = Schema.Struct({
  index: Schema.NonNegativeInt,
  atomIds: Schema.Array(Schema.String),
  status: WaveStatus
})
export type Wave = typeof Wave.Type

/** How the atoms of a wave ended. */
export const WaveCounts = Schema.Struct({
  completed: Schema.NonNegativeInt,
  failed: Schema.NonNegativeInt,
  skipped: Schema.NonNegativeInt,
  cancelled: Schema.NonNegativeInt
})
export type WaveCounts = typeof WaveCounts.Type
