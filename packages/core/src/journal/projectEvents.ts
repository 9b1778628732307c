import type { AtomStatus } from "../schema/Atom.js"
import type { Event } from "../schema/Event.js"
import type { MasterplanStatus, PipelinePhase } from "../schema/Masterplan.js"

/** How a batch of events changes one atom's row; absent fields stay as they are. */
export interface AtomRowChange {
  /** Undefined when the batch only paid for the atom (cost.updated) without moving it. */
  status: AtomStatus | undefined
  /** Attempts made so far (the highest attempt number seen). */
  attempts?: number
  /** Attempts cut short by a crash or stop, to add to the row's count. */
  interruptedDelta: number
  /** Attempts the provider pushed back (429, 529), to add to the row's count. */
  throttledDelta: number
  /** Paid in this batch, to add to the row's cost. */
  costDelta: number
  confidence?: number
  model?: string
  error?: string
  /** When a retrying atom's backoff ends (epoch ms): a restart waits it out, as the schedule decided. */
  retryAt?: number
  /**
   * A reviewer's decision on the atom in review. Journaled for a plan no process runs, it waits in
   * the row (status still `review`) until a resume applies it; `reason` is a rejection's.
   */
  reviewed?: ReviewedRow
}

/** A reviewer's decision as an atom's row keeps it. */
export interface ReviewedRow {
  readonly decision: "approve" | "edit" | "reject"
  readonly reason?: string | undefined
}

/** A phase checkpoint as the journal records it. */
export interface PhaseChange {
  readonly phase: PipelinePhase
  readonly status: "in_progress" | "completed" | "failed" | "skipped"
  readonly at: number
  readonly durationMs?: number | undefined
}

/** One paid model call, keyed by masterplan, atom and attempt so that recording it twice is a no-op. */
export interface CostCommit {
  readonly masterplanId: string
  readonly atomId: string
  readonly attempt: number
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
  readonly at: number
}

/** What a batch of journaled events changes in the rows next to the journal. */
export interface JournalProjection {
  readonly atoms: Map<string, AtomRowChange>
  readonly phases: Array<PhaseChange>
  readonly costs: Array<CostCommit>
  /** The masterplan's status after the batch, if the batch changed it. */
  status: MasterplanStatus | undefined
  /** The budget an operator raised it to in the batch (the last raise), kept with the masterplan's options. */
  budget?: { readonly hardUsd: number; readonly softUsd: number } | undefined
}

const atomStatusOf: Partial<Record<Event["type"], AtomStatus>> = {
  "atom.ready": "ready",
  "atom.queued": "queued",
  "atom.started": "running",
  "atom.retrying": "retrying",
  "atom.throttled": "retrying",
  "atom.review": "review",
  "atom.completed": "completed",
  "atom.failed": "failed",
  "atom.skipped": "skipped",
  "atom.blocked": "blocked",
  "atom.interrupted": "ready",
  "atom.cancelled": "cancelled"
}

const masterplanStatusOf: Partial<Record<Event["type"], MasterplanStatus>> = {
  "masterplan.started": "running",
  "masterplan.resumed": "running",
  "masterplan.paused": "paused",
  "masterplan.completed": "completed",
  "masterplan.failed": "failed",
  "masterplan.cancelled": "cancelled"
}

const phaseStatusOf = {
  started: "in_progress",
  completed: "completed",
  failed: "failed",
  skipped: "skipped"
} as const

/**
 * Folds a batch of events into the row changes every store applies in the same transaction as the
 * append: the journal stays the source of truth and the rows are its projection. Pure, so the
 * memory, SQLite and PostgreSQL stores cannot disagree about what an event means.
 */
export const projectEvents = (events: ReadonlyArray<Event>): JournalProjection => {
  const projection: JournalProjection = { atoms: new Map(), phases: [], costs: [], status: undefined }
  const atom = (atomId: string): AtomRowChange => {
    let change = projection.atoms.get(atomId)
    if (change === undefined) {
      change = { status: undefined, interruptedDelta: 0, throttledDelta: 0, costDelta: 0 }
      projection.atoms.set(atomId, change)
    }
    return change
  }
  for (const event of events) {
    projection.status = masterplanStatusOf[event.type] ?? projection.status
    if (event.type === "masterplan.phase") {
      projection.phases.push({
        phase: event.phase,
        status: phaseStatusOf[event.status],
        at: event.at,
        durationMs: event.durationMs
      })
      continue
    }
    if (event.type === "budget.raised") {
      projection.budget = { hardUsd: event.hardUsd, softUsd: event.softUsd }
      continue
    }
    if (event.type === "atom.reviewed") {
      atom(event.atomId).reviewed = {
        decision: event.decision,
        ...(event.reason !== undefined ? { reason: event.reason } : {})
      }
      continue
    }
    if (event.type === "cost.updated") {
      const change = atom(event.atomId)
      change.costDelta += event.costUsd
      projection.costs.push({
        masterplanId: event.masterplanId,
        atomId: event.atomId,
        attempt: event.attempt,
        model: event.model,
        inputTokens: event.inputTokens,
        outputTokens: event.outputTokens,
        costUsd: event.costUsd,
        at: event.at
      })
      continue
    }
    const status = atomStatusOf[event.type]
    if (status === undefined || !("atomId" in event) || event.atomId === undefined) continue
    const change = atom(event.atomId)
    change.status = status
    switch (event.type) {
      case "atom.started":
        change.attempts = Math.max(change.attempts ?? 0, event.attempt)
        break
      case "atom.interrupted":
        change.interruptedDelta++
        break
      case "atom.throttled":
        change.throttledDelta++
        // Not admitted again before the provider's retry-after: a restart waits what is left of it.
        change.retryAt = event.at + Math.ceil(event.retryAfterMs ?? 0)
        break
      case "atom.retrying":
        change.retryAt = event.at + Math.ceil(event.delayMs)
        break
      case "atom.review":
        change.confidence = event.confidence
        break
      case "atom.completed":
        change.attempts = Math.max(change.attempts ?? 0, event.attempts)
        change.confidence = event.confidence
        change.model = event.model
        break
      case "atom.failed":
        change.error = `${event.reason}: ${event.error}`
        break
      case "atom.skipped":
        change.error = `skipped: "${event.becauseOf}" failed`
        break
      default:
        break
    }
  }
  return projection
}
