import {
  adaptiveLimiter,
  erasePolicyState,
  maxConcurrency,
  ReadyQueue,
  staticLimiter,
  withOverloadHold
} from "@devmatrix/core"
import type { CallClass, LimitChange, LimiterPolicy, RateLimitSignal, TokenDemand } from "@devmatrix/core"
import { Context, Effect, Exit, FiberId, Layer, Runtime } from "effect"
import type { Cause, Fiber, Scope } from "effect"
import { HerdGuard, herdGuardDefaults, ModelGate, noDemand } from "./internal/modelGate.js"
import type { Gate, GateLane, HerdGuardOptions } from "./internal/modelGate.js"
import { scriptedModel } from "./ModelProviderLive.js"

export type { HerdGuardOptions } from "./internal/modelGate.js"

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
   * The plan's own cap on its calls in flight, counting calls whose end is not committed yet; the
   * model's limit may hold it lower.
   */
  readonly concurrency: number
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

/** A model's limit as the scheduler holds it now. */
export interface ModelLimit {
  readonly model: string
  /** Calls in flight at most. */
  readonly limit: number
  /** The operator's limit, while one is pinned (`setConcurrency`). */
  readonly pinned?: number | undefined
  /** Calls in flight now, across plans. */
  readonly inFlight: number
  /** Permits held: calls in flight and ends not committed yet. */
  readonly permits: number
  /** Ready atoms waiting for the model, across plans. */
  readonly waiting: number
}

/**
 * Admission for the plans of one engine: one gate per model, shared by every plan that calls it,
 * holding the model's limiter, its permits and the plans' lanes.
 */
export interface SchedulerService {
  /** Opens a plan's admission lane under its model's gate; `runtime` runs its admission effects. */
  readonly lane: <A, D>(config: LaneConfig<A, D>, runtime: Runtime.Runtime<never>) => AdmissionLane
  /**
   * Pins a model's limit at `limit` calls in flight (the limiter stops adapting), or lets it adapt
   * again (undefined); plans running on it see the change at once, and journal it.
   */
  readonly setConcurrency: (model: string, limit: number | undefined) => void
  /** The limits of the models plans have used (or that were pinned). */
  readonly limits: () => ReadonlyArray<ModelLimit>
}

export class Scheduler extends Context.Tag("@devmatrix/runtime/Scheduler")<Scheduler, SchedulerService>() {}

/** What a permit of the lane holds while its call runs: when it started and what it reserved. */
interface Permit {
  startedAtMs: number
  demand: TokenDemand | undefined
  reported: boolean
}

/**
 * One plan's admission under its model's gate: its ready atoms (as indices, not parked fibers) in
 * critical-path order, its own cap, its pause. The gate picks the lane and takes the permit; the
 * lane runs the atom's admission and call on one fiber, started inline: with an in-process ledger
 * admission needs no wait, and a call that answers at once ends before the gate goes on.
 */
class LocalLane<A, D> implements AdmissionLane, GateLane {
  readonly weight: number
  finishTag = 0
  private readonly queue: ReadyQueue
  /** Atoms holding a permit whose call has not ended (admissions under way included). */
  private readonly permits = new Map<number, Permit>()
  /** Permits held: admissions, calls in flight, and calls that ended whose end is not committed. */
  private running = 0
  /** The seqs of call ends journaled but not committed, in journal order; `endsHead` is the oldest. */
  private readonly endsAwaitingCommit: Array<number> = []
  private endsHead = 0
  private paused = false
  private stopped = false
  private closed = false
  private admissionClosed = false
  private readonly idleWaiters: Array<() => void> = []
  private admittedThisTurn = 0
  private turnPending = false
  private readonly runFork: ReturnType<typeof Runtime.runFork<never>>
  /** The fiber of each atom admitted and not ended: admission, then its call. */
  private readonly fibers = new Map<number, Fiber.RuntimeFiber<void, D>>()

  constructor(
    private readonly config: LaneConfig<A, D>,
    runtime: Runtime.Runtime<never>,
    private readonly gate: Gate,
    private readonly nowMs: () => number
  ) {
    this.weight = config.weight ?? 1
    this.queue = new ReadyQueue(config.before)
    this.runFork = Runtime.runFork(runtime)
    gate.register(this)
  }

  enqueue(index: number): void {
    this.queue.push(index)
    this.gate.pump()
  }

  callEnded(index: number, report: CallReport): void {
    const permit = this.permits.get(index)
    if (permit === undefined || permit.reported) return
    permit.reported = true
    if (permit.demand !== undefined) this.gate.refund(permit.demand, report.used)
    if (!report.reachedProvider) return
    const atMs = this.nowMs()
    this.gate.observe({
      atMs,
      latencyMs: Math.max(0, atMs - permit.startedAtMs),
      class: report.class,
      rateLimits: report.rateLimits
    })
  }

  ended(index: number, seq: number): void {
    if (!this.permits.delete(index)) return
    this.gate.callEnded()
    this.endsAwaitingCommit.push(seq)
    if (this.permits.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  committed(seq: number): void {
    if (this.closed) return
    const ends = this.endsAwaitingCommit
    let returned = 0
    while (this.endsHead < ends.length && ends[this.endsHead]! <= seq) {
      this.endsHead++
      returned++
    }
    if (this.endsHead === ends.length) {
      ends.length = 0
      this.endsHead = 0
    }
    this.running -= returned
    // Pumps even when no permit returned: a journal that caught up reopens admission.
    this.gate.release(returned)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.gate.pump()
  }

  closeAdmission(): Promise<void> {
    this.admissionClosed = true
    if (this.permits.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.gate.unregister(this)
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  close(): void {
    this.stop()
    if (this.closed) return
    this.closed = true
    const held = this.running
    this.running = 0
    for (let i = 0; i < this.permits.size; i++) this.gate.callEnded()
    this.permits.clear()
    this.endsAwaitingCommit.length = 0
    this.endsHead = 0
    this.gate.release(held)
  }

  interrupt(index: number): void {
    this.fibers.get(index)?.unsafeInterruptAsFork(FiberId.none)
  }

  interruptAll(): void {
    for (const fiber of this.fibers.values()) fiber.unsafeInterruptAsFork(FiberId.none)
  }

  inFlight(): number {
    return this.permits.size
  }

  waiting(): number {
    return this.queue.size
  }

  modelLimit(): number {
    return this.gate.limit()
  }

  limitChanged(change: LimitChange): void {
    this.config.limitChanged?.(change)
  }

  admissible(): boolean {
    return (
      this.queue.size > 0 &&
      this.running < this.config.concurrency &&
      this.admittedThisTurn < this.config.concurrency &&
      this.open()
    )
  }

  admitNext(): void {
    const index = this.queue.pop()!
    this.permits.set(index, { startedAtMs: 0, demand: undefined, reported: false })
    this.running++
    if (++this.admittedThisTurn >= this.config.concurrency) this.yieldTurn()
    this.admit(index)
  }

  private open(): boolean {
    return !this.paused && !this.stopped && !this.admissionClosed && !this.config.journalLagging()
  }

  /** Runs the atom's admission and then its call on one fiber, started inline. */
  private admit(index: number): void {
    const admit = this.config.admit
    const work: Effect.Effect<void, D> =
      admit === undefined
        ? this.admitted(index, undefined as A)
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

  /**
   * Admission took the atom: what its call may use is reserved at the gate and the call runs,
   * unless the lane stopped or paused meanwhile.
   */
  private admitted(index: number, admission: A): Effect.Effect<void> {
    const permit = this.permits.get(index)
    if (permit === undefined || this.stopped || this.admissionClosed || this.paused) {
      this.giveBack(index)
      this.config.revoked(index, admission)
      if (!this.stopped) this.queue.push(index)
      return Effect.void
    }
    const demand = this.config.demandOf?.(admission) ?? noDemand
    permit.demand = demand
    permit.startedAtMs = this.nowMs()
    this.gate.reserve(demand)
    return this.config.start(index, admission)
  }

  /**
   * The atom's fiber ended. A refused admission (or one that died, or a call that died before its
   * end was reported) queues the atom again and pauses the lane: the plan decides what next.
   */
  private fiberEnded(index: number, exit: Exit.Exit<void, D>): void {
    if (Exit.isSuccess(exit) || !this.permits.has(index) || Exit.isInterrupted(exit)) return
    this.giveBack(index)
    if (this.stopped) return
    this.queue.push(index)
    this.paused = true
    this.config.denied(index, exit.cause)
  }

  /** An admission that did not become a call: its permit returns at once (nothing was paid). */
  private giveBack(index: number): void {
    if (!this.permits.delete(index) || this.closed) return
    this.running--
    this.gate.callEnded()
    if (this.permits.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    this.gate.release(1)
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
      this.gate.pump()
    })
  }
}

/** How the local scheduler limits each model. */
export interface SchedulerOptions<S> {
  /** The policy of a model's gate, made once per model when a plan first uses it (or it is pinned). */
  readonly limiter: (model: string) => LimiterPolicy<S>
  /**
   * How a burst of starts is spread, or false for never (for a policy that does not adapt). It
   * applies while the limit is not pinned and the model is a real provider (`spreadsStarts`): a
   * pinned limit is the operator's word, and the offline scripted model has no provider to protect
   * (its zero-latency runs and benches would only wait).
   * @default herdGuardDefaults (DESIGN.md section 9)
   */
  readonly herdGuard?: HerdGuardOptions | false
  /** Which models' bursts are spread. @default every model but the scripted one */
  readonly spreadsStarts?: (model: string) => boolean
}

/**
 * What the engine uses: a real provider's model adapts (`adaptiveLimiter`, DESIGN.md section 9:
 * its rate-limit headers when it sends them, loss and latency when it does not; 429 shrinks it, a
 * 529 holds every start) with the herd guard spreading bursts. The offline scripted model is no
 * provider to find the capacity of: it keeps a static limit (the plans' caps, up to
 * `maxConcurrency`), a 529 still holding every start back for its `retry-after` (or
 * `overloadHoldMs`), so its runs and benches measure the engine, not a limiter's ramp.
 */
export const defaultSchedulerOptions: SchedulerOptions<unknown> = {
  limiter: (model) =>
    model === scriptedModel
      ? erasePolicyState(withOverloadHold(staticLimiter(maxConcurrency)))
      : erasePolicyState(adaptiveLimiter())
}

/** The scheduler of one process, on the runtime's clock (its gates' timers too: `TestClock` drives them). */
export const makeLocalScheduler = <S>(
  runtime: Runtime.Runtime<never>,
  nowMs: () => number,
  options: SchedulerOptions<S>,
  /** Where the gates' timers live: closing it interrupts them (a hold does not keep a process up). */
  scope?: Scope.Scope
): SchedulerService => {
  const gates = new Map<string, ModelGate<S>>()
  const herdGuard = options.herdGuard === false ? undefined : (options.herdGuard ?? herdGuardDefaults)
  const spreadsStarts = options.spreadsStarts ?? ((model: string) => model !== scriptedModel)
  const gateOf = (model: string): ModelGate<S> => {
    let gate = gates.get(model)
    if (gate === undefined) {
      const guard = herdGuard !== undefined && spreadsStarts(model) ? new HerdGuard(herdGuard) : undefined
      gate = new ModelGate(model, options.limiter(model), { nowMs, runtime, scope }, guard)
      gates.set(model, gate)
    }
    return gate
  }
  return {
    lane: (config, laneRuntime) => new LocalLane(config, laneRuntime, gateOf(config.model), nowMs),
    setConcurrency: (model, limit) => gateOf(model).pin(limit),
    limits: () =>
      [...gates.values()].map((gate) => ({
        model: gate.model,
        limit: gate.limit(),
        pinned: gate.pinned(),
        inFlight: gate.callsInFlight(),
        permits: gate.permitsHeld(),
        waiting: gate.waiting()
      }))
  }
}

/** The local scheduler with `options` (`SchedulerLocal` has the defaults). */
export const SchedulerLocalWith = <S>(options: SchedulerOptions<S>): Layer.Layer<Scheduler> =>
  Layer.scoped(
    Scheduler,
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const clock = yield* Effect.clock
      const scope = yield* Effect.scope
      return makeLocalScheduler(runtime, () => clock.unsafeCurrentTimeMillis(), options, scope)
    })
  )

export const SchedulerLocal: Layer.Layer<Scheduler> = SchedulerLocalWith(defaultSchedulerOptions)
