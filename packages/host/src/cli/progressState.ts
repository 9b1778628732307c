import type { Event } from "@devmatrix/core"

/** One wave as the progress display shows it. */
export interface WaveProgress {
  readonly index: number
  size: number
  completed: number
  failed: number
  skipped: number
  cancelled: number
  running: number
  status: "pending" | "running" | "completed"
}

/** What the terminal shows while a plan runs, folded from its events. */
export interface ProgressState {
  name: string
  atomsTotal: number
  waves: Array<WaveProgress>
  running: number
  retrying: number
  completed: number
  failed: number
  skipped: number
  cancelled: number
  review: number
  /** Calls the provider pushed back (429, 529) so far: the atoms went back through admission. */
  throttled: number
  costUsd: number
  budgetUsd: number | undefined
  /** Calls in flight at most for this plan: its own cap, or its model's limit when that is lower. */
  concurrencyLimit: number
  /** The plan's own cap (`concurrency`, from its submission). */
  planCap: number | undefined
  /** Why the model's limit last changed (`concurrency.limit_changed`), once it has. */
  limitReason: string | undefined
  phase: string
  outcome: "completed" | "failed" | "cancelled" | undefined
  startedAt: number | undefined
  lastAt: number | undefined
  /** Atoms whose attempt is in flight, and atoms waiting out a backoff. */
  readonly runningAtoms: Set<string>
  readonly retryingAtoms: Set<string>
  /** Atoms queued for a permit, with when each was queued (epoch ms): the queue depth and the longest wait. */
  readonly queuedAtoms: Map<string, number>
}

export const initialProgress = (budgetUsd?: number): ProgressState => ({
  name: "",
  atomsTotal: 0,
  waves: [],
  running: 0,
  retrying: 0,
  completed: 0,
  failed: 0,
  skipped: 0,
  cancelled: 0,
  review: 0,
  throttled: 0,
  costUsd: 0,
  budgetUsd,
  concurrencyLimit: 0,
  planCap: undefined,
  limitReason: undefined,
  phase: "submitted",
  outcome: undefined,
  startedAt: undefined,
  lastAt: undefined,
  runningAtoms: new Set(),
  retryingAtoms: new Set(),
  queuedAtoms: new Map()
})

/** How long the atom queued longest has waited for a permit at `nowMs` (0 when none waits). */
export const longestWaitMs = (state: ProgressState, nowMs: number): number => {
  // A Map keeps insertion order, and an atom is queued again only after it left: the first is the oldest.
  for (const queuedAt of state.queuedAtoms.values()) return Math.max(0, nowMs - queuedAt)
  return 0
}

const wave = (state: ProgressState, index: number): WaveProgress => {
  while (state.waves.length <= index)
    state.waves.push({
      index: state.waves.length,
      size: 0,
      completed: 0,
      failed: 0,
      skipped: 0,
      cancelled: 0,
      running: 0,
      status: "pending"
    })
  return state.waves[index]!
}

/** An attempt of `atomId` is no longer in flight. */
const stopRunning = (state: ProgressState, atomId: string, index: number) => {
  if (!state.runningAtoms.delete(atomId)) return
  state.running--
  wave(state, index).running--
}

/** Folds one event into the state (in place: a 10,000-atom plan emits ~50,000 events). */
export const applyEvent = (state: ProgressState, event: Event): ProgressState => {
  state.startedAt ??= event.at
  state.lastAt = event.at
  switch (event.type) {
    case "masterplan.submitted":
      state.name = event.name
      state.atomsTotal = event.atoms
      state.concurrencyLimit = event.concurrency
      state.planCap = event.concurrency
      if (event.waves > 0) wave(state, event.waves - 1)
      break
    case "masterplan.phase":
      state.phase = event.status === "started" ? event.phase : state.phase
      break
    case "wave.started":
      Object.assign(wave(state, event.wave), { size: event.atoms, status: "running" })
      break
    case "wave.completed":
      wave(state, event.wave).status = "completed"
      break
    case "atom.queued":
      if (!state.queuedAtoms.has(event.atomId)) state.queuedAtoms.set(event.atomId, event.at)
      break
    case "atom.started":
      state.queuedAtoms.delete(event.atomId)
      if (state.retryingAtoms.delete(event.atomId)) state.retrying--
      if (!state.runningAtoms.has(event.atomId)) {
        state.runningAtoms.add(event.atomId)
        state.running++
        wave(state, event.wave).running++
      }
      break
    case "atom.retrying":
      stopRunning(state, event.atomId, event.wave)
      if (!state.retryingAtoms.has(event.atomId)) {
        state.retryingAtoms.add(event.atomId)
        state.retrying++
      }
      break
    case "atom.throttled":
      stopRunning(state, event.atomId, event.wave)
      state.throttled++
      break
    case "atom.review":
      stopRunning(state, event.atomId, event.wave)
      state.review++
      break
    case "atom.completed":
      stopRunning(state, event.atomId, event.wave)
      if (event.acceptedBy === "review") state.review--
      state.completed++
      wave(state, event.wave).completed++
      break
    case "atom.failed":
    case "atom.cancelled": {
      state.queuedAtoms.delete(event.atomId)
      stopRunning(state, event.atomId, event.wave)
      if (state.retryingAtoms.delete(event.atomId)) state.retrying--
      const outcome = event.type === "atom.failed" ? "failed" : "cancelled"
      state[outcome]++
      wave(state, event.wave)[outcome]++
      break
    }
    case "atom.skipped":
      state.skipped++
      wave(state, event.wave).skipped++
      break
    case "cost.updated":
      state.costUsd = event.totalUsd
      break
    case "concurrency.limit_changed":
      state.concurrencyLimit = Math.min(event.to, state.planCap ?? event.to)
      state.limitReason = event.reason
      break
    case "masterplan.completed":
      state.outcome = "completed"
      break
    case "masterplan.failed":
      state.outcome = "failed"
      break
    case "masterplan.cancelled":
      state.outcome = "cancelled"
      break
    default:
      break
  }
  return state
}
