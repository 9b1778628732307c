import { Schema } from "effect"
import { PhaseStatus, PipelinePhase } from "./Masterplan.js"
import { RunSummary } from "./RunSummary.js"
import { ScheduleMode } from "./RunOptions.js"
import { WaveCounts } from "./Wave.js"

/** Fields every event carries: its masterplan, its gap-free sequence number there, and when it happened. */
const envelope = {
  masterplanId: Schema.String,
  /** 1, 2, 3... per masterplan, with no gap and no duplicate. */
  seq: Schema.Int.pipe(Schema.positive()),
  /** Milliseconds since the Unix epoch. */
  at: Schema.Number
}

const event = <TType extends string, TFields extends Schema.Struct.Fields>(type: TType, fields: TFields) =>
  Schema.Struct({ type: Schema.Literal(type), ...envelope, ...fields })

const atomRef = { atomId: Schema.String, wave: Schema.NonNegativeInt }
const failure = {
  /** The failure class (`rate_limited`, `timeout`, `validation`...), see `ModelFailureReason`. */
  reason: Schema.String,
  /** What went wrong, in words. */
  error: Schema.String
}

export const MasterplanSubmitted = event("masterplan.submitted", {
  name: Schema.String,
  atoms: Schema.NonNegativeInt,
  waves: Schema.NonNegativeInt,
  mode: ScheduleMode,
  concurrency: Schema.Int,
  model: Schema.String,
  criticalPath: Schema.NonNegativeInt,
  /** The tenant the plan belongs to (a host's token says it); absent: the embedded default. */
  tenant: Schema.optional(Schema.String),
  /** Who submitted it, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})
export const MasterplanStarted = event("masterplan.started", {})
export const MasterplanPhase = event("masterplan.phase", {
  phase: PipelinePhase,
  status: PhaseStatus,
  durationMs: Schema.optional(Schema.NonNegative)
})
export const MasterplanPaused = event("masterplan.paused", {
  reason: Schema.String,
  /**
   * Who paused it: an `operator`, its `budget` (the hard limit), the provider's `spend_limit` (the
   * organisation's monthly cap), or a `restart` that found it paused. Absent in older journals.
   */
  by: Schema.optional(Schema.Literal("operator", "budget", "spend_limit", "restart")),
  /** The operator who paused it, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})
export const MasterplanResumed = event("masterplan.resumed", {
  /** `operator` after a pause; `recovery` when a new process picked the plan up after a crash or stop. */
  reason: Schema.optional(Schema.Literal("operator", "recovery")),
  /** The operator who resumed it, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})
export const MasterplanCompleted = event("masterplan.completed", { summary: RunSummary })
export const MasterplanFailed = event("masterplan.failed", { reason: Schema.String, summary: RunSummary })
export const MasterplanCancelled = event("masterplan.cancelled", {
  reason: Schema.String,
  summary: RunSummary,
  /** The operator who cancelled it, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})

export const WaveStarted = event("wave.started", {
  wave: Schema.NonNegativeInt,
  atoms: Schema.NonNegativeInt
})
export const WaveCompleted = event("wave.completed", { wave: Schema.NonNegativeInt, ...WaveCounts.fields })

export const AtomReady = event("atom.ready", atomRef)
export const AtomQueued = event("atom.queued", { ...atomRef, priority: Schema.Int })
export const AtomStarted = event("atom.started", { ...atomRef, attempt: Schema.Int.pipe(Schema.positive()) })
export const AtomRetrying = event("atom.retrying", {
  ...atomRef,
  ...failure,
  /** The attempt that failed. */
  attempt: Schema.Int.pipe(Schema.positive()),
  delayMs: Schema.NonNegative
})
/**
 * The provider pushed the attempt back (a 429: our rate limit; a 529: its overload): nothing was
 * billed, and it does not use up the atom's retries. The atom goes back through admission, behind
 * the limiter, until it has been pushed back for longer than `maxThrottledMs`.
 */
export const AtomThrottled = event("atom.throttled", {
  ...atomRef,
  ...failure,
  /** The attempt the provider refused. */
  attempt: Schema.Int.pipe(Schema.positive()),
  /** The provider's `retry-after`, when it sent one. */
  retryAfterMs: Schema.optional(Schema.NonNegative)
})
export const AtomReview = event("atom.review", { ...atomRef, confidence: Schema.Number })
/**
 * A reviewer decided on an atom waiting in review (the audit trail: who, and what): `approve`
 * accepts the output, `edit` accepts the reviewer's code, `reject` refuses it with `reason`.
 */
export const AtomReviewed = event("atom.reviewed", {
  ...atomRef,
  decision: Schema.Literal("approve", "edit", "reject"),
  reason: Schema.optional(Schema.String),
  /** The reviewer, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})
/**
 * Nothing of the plan can run until a reviewer decides: every atom left waits in review or behind
 * one (no call in flight, none queued or backing off). Once per such stretch; `devmatrix run` ends
 * on it (exit 6), while a host keeps the plan for its reviewers.
 */
export const ReviewWaiting = event("review.waiting", {
  /** Atoms waiting for a reviewer. */
  atoms: Schema.Int.pipe(Schema.positive())
})
export const AtomCompleted = event("atom.completed", {
  ...atomRef,
  attempts: Schema.Int.pipe(Schema.positive()),
  model: Schema.String,
  confidence: Schema.Number,
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  costUsd: Schema.NonNegative,
  /** How the result was accepted: by validation, or by a reviewer. */
  acceptedBy: Schema.Literal("validation", "review")
})
export const AtomFailed = event("atom.failed", {
  ...atomRef,
  ...failure,
  attempts: Schema.NonNegativeInt
})
export const AtomSkipped = event("atom.skipped", {
  ...atomRef,
  /** The failed dependency this atom cannot run without. */
  becauseOf: Schema.String
})
export const AtomBlocked = event("atom.blocked", { ...atomRef, reason: Schema.String })
export const AtomInterrupted = event("atom.interrupted", { ...atomRef, attempt: Schema.Int })
export const AtomCancelled = event("atom.cancelled", atomRef)

export const CostUpdated = event("cost.updated", {
  atomId: Schema.String,
  /** The paid attempt: with the masterplan and the atom, the key that makes a cost commit idempotent. */
  attempt: Schema.Int.pipe(Schema.positive()),
  model: Schema.String,
  /** Input tokens billed at the input price (cache writes and reads apart). */
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  /** Input tokens written to the provider's prompt cache (5-minute and 1-hour writes together). */
  cacheWriteTokens: Schema.optional(Schema.NonNegativeInt),
  /** Input tokens read from the provider's prompt cache. */
  cacheReadTokens: Schema.optional(Schema.NonNegativeInt),
  /** What this call cost. */
  costUsd: Schema.NonNegative,
  /** What the masterplan has cost so far. */
  totalUsd: Schema.NonNegative,
  /** What admission reserved for the call (its worst case); the rest was given back. */
  reservedUsd: Schema.optional(Schema.NonNegative)
})
/** Committed spend crossed the soft limit (once per crossing). */
export const CostSoftLimit = event("cost.soft_limit", { totalUsd: Schema.Number, limitUsd: Schema.Number })
/**
 * A call's worst case did not fit under the hard limit: no new call starts, the calls in flight
 * finish, the masterplan pauses until its budget is raised.
 */
export const CostHardLimit = event("cost.hard_limit", {
  totalUsd: Schema.Number,
  limitUsd: Schema.Number,
  /** The atom whose call did not fit, and what it needed (its worst case), when one did not. */
  atomId: Schema.optional(Schema.String),
  neededUsd: Schema.optional(Schema.Number),
  /** Which limit: the plan's, a wave's, or the atom's own cap. */
  level: Schema.optional(Schema.Literal("plan", "wave", "atom"))
})
/** An operator raised the masterplan's budget (journaled, so a resume runs under it). */
export const BudgetRaised = event("budget.raised", {
  hardUsd: Schema.Number,
  softUsd: Schema.Number,
  previousHardUsd: Schema.Number,
  /** The operator who raised it, as the host's tokens name them; absent when embedded. */
  principal: Schema.optional(Schema.String)
})
export const ConcurrencyLimitChanged = event("concurrency.limit_changed", {
  from: Schema.Int,
  to: Schema.Int,
  reason: Schema.String
})
/** An attempt answered from the prompt cache: no call was made, `savedUsd` was not paid again. */
export const CacheHit = event("cache.hit", {
  ...atomRef,
  attempt: Schema.optional(Schema.Int),
  savedUsd: Schema.optional(Schema.NonNegative)
})
export const GatePassed = event("gate.passed", { wave: Schema.NonNegativeInt })
export const GateFailed = event("gate.failed", { wave: Schema.NonNegativeInt, reason: Schema.String })

/** Everything that happens to a masterplan, as journaled, streamed and printed by `--json`. */
export const Event = Schema.Union(
  MasterplanSubmitted,
  MasterplanStarted,
  MasterplanPhase,
  MasterplanPaused,
  MasterplanResumed,
  MasterplanCompleted,
  MasterplanFailed,
  MasterplanCancelled,
  WaveStarted,
  WaveCompleted,
  AtomReady,
  AtomQueued,
  AtomStarted,
  AtomRetrying,
  AtomThrottled,
  AtomReview,
  AtomReviewed,
  ReviewWaiting,
  AtomCompleted,
  AtomFailed,
  AtomSkipped,
  AtomBlocked,
  AtomInterrupted,
  AtomCancelled,
  CostUpdated,
  CostSoftLimit,
  CostHardLimit,
  BudgetRaised,
  ConcurrencyLimitChanged,
  CacheHit,
  GatePassed,
  GateFailed
)
export type Event = typeof Event.Type
export type EventType = Event["type"]
export type EventOf<TType extends EventType> = Extract<Event, { readonly type: TType }>

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** An event as a machine decides it, before the engine stamps `masterplanId`, `seq` and `at`. */
export type EventBody = DistributiveOmit<Event, "masterplanId" | "seq" | "at">

/** The events that end a masterplan. */
export const isTerminalEvent = (
  event: Event
): event is EventOf<"masterplan.completed" | "masterplan.failed" | "masterplan.cancelled"> =>
  event.type === "masterplan.completed" ||
  event.type === "masterplan.failed" ||
  event.type === "masterplan.cancelled"
