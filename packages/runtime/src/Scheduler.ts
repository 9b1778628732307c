import { ReadyQueue } from "@devmatrix/core"
import { Context, Duration, Effect, Exit, FiberId, Layer, Runtime } from "effect"
import type { Cause, Fiber } from "effect"

/**
 * What a plan gives the scheduler for its lane: how to order its ready atoms, the effectful step that
 * admits one (a cost reservation that may be refused), and what to do once one is admitted.
 * `A` is what admission hands to `start` (the reservation), `D` why it refused.
 */
export interface LaneConfig<A, D> {
  readonly masterplanId: string
  /** Calls in flight at most, counting calls whose end is not committed yet. */
  readonly concurrency: number
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
}

/**
 * One plan's admission: its queue of ready atoms (as indices, not parked fibers), its permits and its
 * pause. A permit is held from admission until the journal holds the call's outcome, so however the
 * store lags or stalls, the calls paid for but not recorded never outnumber the concurrency limit.
 */
export interface AdmissionLane {
  /** The atom is ready to call (its actor is `queued`). */
  readonly enqueue: (index: number) => void
  /**
   * The atom's call has ended and its outcome was journaled at `seq`: its permit returns once that is
   * committed. An atom holding no permit is ignored.
   */
  readonly ended: (index: number, seq: number) => void
  /** The journal is committed up to `seq`. */
  readonly committed: (seq: number) => void
  readonly pause: () => void
  readonly resume: () => void
  /**
   * Admits nothing for `ms` (on the runtime's clock): the provider said it is overloaded, and every
   * call of the plan waits, not only the one that was refused. Holds overlap: the longest wins.
   */
  readonly holdFor: (ms: number) => void
  /** Starts no more calls (a stop is coming); resolves once none is in flight. */
  readonly closeAdmission: () => Promise<void>
  /** The plan has ended or stopped: nothing more is admitted. */
  readonly stop: () => void
  /** Interrupts the atom's admission or call, if one is under way (a cancel, a stop). */
  readonly interrupt: (index: number) => void
  /** Interrupts every admission and call under way. */
  readonly interruptAll: () => void
  /** Calls in flight (admitted, not ended). */
  readonly inFlight: () => number
  /** Ready atoms waiting for admission. */
  readonly waiting: () => number
}

/** Admission for the plans of one engine. Later layers share a provider's limit between plans. */
export interface SchedulerService {
  /** Opens a plan's admission lane; `runtime` runs its admission effects. */
  readonly lane: <A, D>(config: LaneConfig<A, D>, runtime: Runtime.Runtime<never>) => AdmissionLane
}

export class Scheduler extends Context.Tag("@devmatrix/runtime/Scheduler")<Scheduler, SchedulerService>() {}

/**
 * A lane of the local scheduler. Admission is synchronous while `admit` is (an in-process ledger):
 * its effect runs on a fiber started inline, whose exit is observed at once when it needs no wait.
 */
class LocalLane<A, D> implements AdmissionLane {
  private readonly queue: ReadyQueue
  private readonly holdsPermit = new Set<number>()
  /**
   * Permits held: admissions under way, calls in flight, and calls that ended whose end is not
   * committed yet.
   */
  private running = 0
  /** Admitted calls not ended yet (a subset of `running`), admissions under way included. */
  private calling = 0
  /** The seqs of call ends journaled but not committed, in journal order; `endsHead` is the oldest. */
  private readonly endsAwaitingCommit: Array<number> = []
  private endsHead = 0
  private paused = false
  private stopped = false
  private admissionClosed = false
  /** Holds under way (`holdFor`): admission is closed while any is. */
  private holds = 0
  private readonly idleWaiters: Array<() => void> = []
  private admittedThisTurn = 0
  private turnPending = false
  private pumping = false
  private readonly runFork: ReturnType<typeof Runtime.runFork<never>>
  /** The fiber of each atom admitted and not ended: admission, then its call. */
  private readonly fibers = new Map<number, Fiber.RuntimeFiber<void, D>>()

  constructor(
    private readonly config: LaneConfig<A, D>,
    runtime: Runtime.Runtime<never>
  ) {
    this.queue = new ReadyQueue(config.before)
    this.runFork = Runtime.runFork(runtime)
  }

  enqueue(index: number): void {
    this.queue.push(index)
    this.pump()
  }

  ended(index: number, seq: number): void {
    if (!this.holdsPermit.delete(index)) return
    this.calling--
    this.endsAwaitingCommit.push(seq)
    if (this.calling === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  committed(seq: number): void {
    const ends = this.endsAwaitingCommit
    while (this.endsHead < ends.length && ends[this.endsHead]! <= seq) {
      this.endsHead++
      this.running--
    }
    if (this.endsHead === ends.length) {
      ends.length = 0
      this.endsHead = 0
    }
    this.pump()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.pump()
  }

  holdFor(ms: number): void {
    if (this.stopped || ms <= 0) return
    this.holds++
    const fiber = this.runFork(Effect.sleep(Duration.millis(ms)))
    fiber.addObserver(() => {
      this.holds--
      this.pump()
    })
  }

  closeAdmission(): Promise<void> {
    this.admissionClosed = true
    if (this.calling === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  stop(): void {
    this.stopped = true
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  interrupt(index: number): void {
    this.fibers.get(index)?.unsafeInterruptAsFork(FiberId.none)
  }

  interruptAll(): void {
    for (const fiber of this.fibers.values()) fiber.unsafeInterruptAsFork(FiberId.none)
  }

  inFlight(): number {
    return this.calling
  }

  waiting(): number {
    return this.queue.size
  }

  private open(): boolean {
    return (
      !this.paused &&
      !this.stopped &&
      !this.admissionClosed &&
      this.holds === 0 &&
      !this.config.journalLagging()
    )
  }

  /** Admits queued atoms, best first, while permits are free. */
  private pump(): void {
    // Admission can finish inline and start a call that ends inline (a cache hit): no recursion.
    if (this.pumping) return
    this.pumping = true
    try {
      const limit = this.config.concurrency
      while (this.running < limit && this.queue.size > 0 && this.open()) {
        if (this.admittedThisTurn >= limit) return this.yieldTurn()
        const index = this.queue.pop()!
        this.holdsPermit.add(index)
        this.running++
        this.calling++
        this.admittedThisTurn++
        this.admit(index)
      }
    } finally {
      this.pumping = false
    }
  }

  /**
   * Runs the atom's admission and then its call on one fiber, started inline: with an in-process
   * ledger admission needs no wait, and a call that answers at once ends before `pump` goes on.
   */
  private admit(index: number): void {
    const admit = this.config.admit
    const work: Effect.Effect<void, D> =
      admit === undefined
        ? this.config.start(index, undefined as A)
        : Effect.flatMap(admit(index), (admission) => this.admitted(index, admission))
    const fiber = this.runFork(work, { immediate: true })
    const endedInline = fiber.unsafePoll()
    if (endedInline !== null) return this.fiberEnded(index, endedInline)
    this.fibers.set(index, fiber)
    fiber.addObserver((exit) => {
      this.fibers.delete(index)
      this.fiberEnded(index, exit)
    })
  }

  /** Admission took the atom: its call runs, unless the lane stopped or paused meanwhile. */
  private admitted(index: number, admission: A): Effect.Effect<void> {
    if (this.stopped || this.admissionClosed || this.paused || this.holds > 0) {
      this.giveBack(index)
      this.config.revoked(index, admission)
      if (!this.stopped) this.queue.push(index)
      return Effect.void
    }
    return this.config.start(index, admission)
  }

  /**
   * The atom's fiber ended. A refused admission (or one that died, or a call that died before its
   * end was reported) queues the atom again and pauses the lane: the plan decides what next.
   */
  private fiberEnded(index: number, exit: Exit.Exit<void, D>): void {
    if (Exit.isSuccess(exit) || !this.holdsPermit.has(index) || Exit.isInterrupted(exit)) return
    this.giveBack(index)
    if (this.stopped) return
    this.queue.push(index)
    this.paused = true
    this.config.denied(index, exit.cause)
  }

  /** An admission that did not become a call: its permit returns at once (nothing was paid). */
  private giveBack(index: number): void {
    this.holdsPermit.delete(index)
    this.running--
    this.calling--
    if (this.calling === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  /**
   * After a full round of admissions without the event loop getting a turn (a model that answers
   * at once), admits the rest on the next turn: store commits, timers and signals run in between.
   */
  private yieldTurn(): void {
    if (this.turnPending) return
    this.turnPending = true
    setImmediate(() => {
      this.turnPending = false
      this.admittedThisTurn = 0
      this.pump()
    })
  }
}

/** Each plan admits on its own, up to its `concurrency`, in critical-path order. */
export const makeLocalScheduler = (): SchedulerService => ({
  lane: (config, runtime) => new LocalLane(config, runtime)
})

export const SchedulerLocal: Layer.Layer<Scheduler> = Layer.sync(Scheduler, makeLocalScheduler)
