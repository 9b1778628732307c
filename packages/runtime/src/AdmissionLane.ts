import type { CallClass, LimitChange, RateLimitSignal, TokenDemand } from "@devmatrix/core"
import type { Cause, Effect } from "effect"

/*
 * One plan's admission lane as the scheduler gives it (`SchedulerService.lane`): what the plan tells
 * it, and what it offers the plan. `Scheduler.ts` re-exports these; the local lane is
 * `internal/localLane.ts`.
 */

/**
 * What a plan gives the scheduler for its lane: how to order its ready atoms, the effectful step that
 * admits one (a cost reservation that may be refused), and what to do once one is admitted.
 * `A` is what admission hands to `start` (the reservation), `D` why it refused.
 */
export interface LaneConfig<A, D> {
  readonly masterplanId: string
  /** The model the plan calls: its limit is shared with every other plan of the engine that calls it. */
  readonly model: string
  /**
   * Whose plan it is: the tenant's cap on its calls in flight to the model
   * (`SchedulerOptions.tenantLimits`) counts the permits of all its plans. @default "default"
   */
  readonly tenant?: string | undefined
  /**
   * The plan's own cap on its calls in flight, counting calls whose end is not committed yet; the
   * model's limit (and its tenant's cap) may hold it lower.
   */
  readonly concurrency: number
  /**
   * A cap on the permits of each wave of the plan (`RunOptions.waveConcurrency`), with `waveOf`:
   * the best atom of a wave under its cap goes first. Absent: no cap per wave.
   */
  readonly waveConcurrency?: number | undefined
  /** The wave of ready atom `index` (needed with `waveConcurrency`). */
  readonly waveOf?: ((index: number) => number) | undefined
  /**
   * How long a permit may be held, from admission to the end of its call, before it is reclaimed
   * (`reclaimed`). Absent: permits are not leased.
   */
  readonly leaseMs?: number | undefined
  /**
   * A permit was held past `leaseMs`: its fiber is interrupted. An admission under way is given up
   * (the atom is queued again); a call is reported ended as a timeout, and the plan fails the
   * attempt (its end returns the permit as any end does; if the plan does not end it, the permit
   * returns at once).
   */
  readonly reclaimed?: ((index: number, lease: PermitReclaim) => void) | undefined
  /** The plan's share of the model's limit while other plans wait for it too. @default 1 */
  readonly weight?: number | undefined
  /** True when ready atom `a` goes before `b` (the plan's critical-path priority). */
  readonly before: (a: number, b: number) => boolean
  /**
   * The last step before a call starts: it may await a reservation. A refusal puts the atom back in
   * the queue and closes the lane until `resume` (`denied` says why, and the plan decides what next).
   * Without one, an atom is admitted as soon as a permit is free (and `start` gets `undefined`).
   */
  readonly admit?: ((index: number) => Effect.Effect<A, D>) | undefined
  /**
   * The atom is admitted: its call, with what admission gave. It runs on the fiber that admitted it,
   * so an atom costs one fiber from admission to the end of its call.
   */
  readonly start: (index: number, admission: A) => Effect.Effect<void>
  /**
   * Admission refused the atom (or died): it is queued again and the lane is paused until `resume`.
   */
  readonly denied: (index: number, why: Cause.Cause<D>) => void
  /**
   * An admission that completed after the lane stopped or paused: the call does not start, and what
   * admission took (the reservation) must be given back.
   */
  readonly revoked: (index: number, admission: A) => void
  /** The journal has fallen behind (a commit outstanding too long): admit nothing until it catches up. */
  readonly journalLagging: () => boolean
  /**
   * What an admitted call may use of the model's per-minute token buckets (its input estimate,
   * cache reads excluded, and its `max_tokens`): reserved when it starts, refunded by `callEnded`.
   * Without one, a call reserves no tokens.
   */
  readonly demandOf?: ((admission: A) => TokenDemand) | undefined
  /** The model's limit changed (the plan journals it: `concurrency.limit_changed`). */
  readonly limitChanged?: ((change: LimitChange) => void) | undefined
}

/** How one call ended, as a plan reports it to its lane for the model's limiter. */
export interface CallReport {
  readonly class: CallClass
  /** What the response's rate-limit headers (and `retry-after`) said, when it had any. */
  readonly rateLimits?: RateLimitSignal | undefined
  /** The tokens it used that count against the buckets (cache reads excluded); none when not billed. */
  readonly used: TokenDemand
  /** False for an answer from the prompt cache: the provider saw no call, the limiter learns nothing. */
  readonly reachedProvider: boolean
}

/**
 * One plan's admission: its queue of ready atoms (as indices, not parked fibers), its permits and its
 * pause. A permit is held from admission until the journal holds the call's outcome, so however the
 * store lags or stalls, the calls paid for but not recorded never outnumber the concurrency limit
 * (the plan's cap, and the model's limit across plans).
 */
export interface AdmissionLane {
  /** The atom is ready to call (its actor is `queued`). */
  readonly enqueue: (index: number) => void
  /**
   * The atom's call ended, as the provider answered it: the model's limiter learns from it, and
   * the call's token reservation is refunded with what it used. Comes before `ended`.
   */
  readonly callEnded: (index: number, report: CallReport) => void
  /**
   * The atom's call has ended and its outcome was journaled at `seq`: its permit returns once that is
   * committed. An atom holding no permit is ignored.
   */
  readonly ended: (index: number, seq: number) => void
  /** The journal is committed up to `seq`. */
  readonly committed: (seq: number) => void
  readonly pause: () => void
  readonly resume: () => void
  /** Starts no more calls (a stop is coming); resolves once none is in flight. */
  readonly closeAdmission: () => Promise<void>
  /** The plan has ended or stopped: nothing more is admitted (ends still return permits as they commit). */
  readonly stop: () => void
  /**
   * The plan is no longer run here (detached, abandoned): it stops, and every permit it holds
   * returns to the model's limit now; nothing more of its journal is awaited.
   */
  readonly close: () => void
  /** Interrupts the atom's admission or call, if one is under way (a cancel, a stop). */
  readonly interrupt: (index: number) => void
  /** Interrupts every admission and call under way. */
  readonly interruptAll: () => void
  /** Calls in flight (admitted, not ended). */
  readonly inFlight: () => number
  /** Ready atoms waiting for admission. */
  readonly waiting: () => number
  /** The model's limit now: calls in flight at most across the plans that call it. */
  readonly modelLimit: () => number
}

/** A permit reclaimed after its lease, as the plan is told of it. */
export interface PermitReclaim {
  /** How long it was held, from admission. */
  readonly heldMs: number
  readonly leaseMs: number
  /** Its call had started (else its admission never came back, and the atom waits again). */
  readonly calling: boolean
}
