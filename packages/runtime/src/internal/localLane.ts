import { ReadyQueue, WaveReadyQueue } from "@devmatrix/core"
import type { LimitChange, TokenDemand } from "@devmatrix/core"
import { Duration, Effect, Exit, FiberId, Runtime } from "effect"
import type { Fiber } from "effect"
import type { AdmissionLane, CallReport, LaneConfig, PermitReclaim } from "../AdmissionLane.js"
import { noDemand } from "./modelGate.js"
import type { Gate, GateLane, TenantShare } from "./modelGate.js"

/** The tenant of a lane that names none. */
export const defaultTenant = "default"

/** What a permit of the lane holds, from admission to the end of its call. */
interface Permit {
  /** When the gate gave it: its lease runs from here. */
  readonly admittedAtMs: number
  /** When its call started (admission done). */
  startedAtMs: number
  /** Admission is done and the call runs (`start` was called). */
  calling: boolean
  demand: TokenDemand | undefined
  reported: boolean
  /** The fiber of its admission and call, while it runs. */
  fiber: Fiber.RuntimeFiber<void, unknown> | undefined
}

/**
 * One plan's admission under its model's gate: its ready atoms (as indices, not parked fibers) in
 * critical-path order, its own cap and its waves' caps, its pause, and the leases of its permits.
 * The gate picks the lane and takes the permit; the lane runs the atom's admission and call on one
 * fiber, started inline: with an in-process ledger admission needs no wait, and a call that answers
 * at once ends before the gate goes on.
 *
 * Permits are leases: one held longer than `leaseMs` (a call that never ends, an admission that
 * never comes back) is reclaimed by one timer per lane, armed for the oldest permit (permits are
 * kept in admission order, so that one is first): its fiber is interrupted and the plan is told
 * (`reclaimed`), which fails the attempt through the atom's retries.
 */
export class LocalLane<A, D> implements AdmissionLane, GateLane {
  readonly weight: number
  readonly tenant: TenantShare
  finishTag = 0
  private readonly queue: ReadyQueue | WaveReadyQueue
  /** The same queue when waves have caps (`waveConcurrency`): it counts the permits of each wave. */
  private readonly waves: WaveReadyQueue | undefined
  /** Atoms holding a permit whose call has not ended (admissions under way included), oldest first. */
  private readonly permits = new Map<number, Permit>()
  /** Permits held: admissions, calls in flight, and calls that ended whose end is not committed. */
  private running = 0
  /**
   * The seqs of call ends journaled but not committed, in journal order, and their atoms;
   * `endsHead` is the oldest.
   */
  private readonly endsAwaitingCommit: Array<number> = []
  private readonly endsAtoms: Array<number> = []
  private endsHead = 0
  private paused = false
  private stopped = false
  private closed = false
  private admissionClosed = false
  private readonly idleWaiters: Array<() => void> = []
  private admittedThisTurn = 0
  private turnPending = false
  private leaseTimer: Fiber.RuntimeFiber<void> | undefined
  /** A round of reclaims is under way: the timer is armed once, at its end. */
  private reclaiming = false
  private readonly runFork: ReturnType<typeof Runtime.runFork<never>>

  constructor(
    private readonly config: LaneConfig<A, D>,
    runtime: Runtime.Runtime<never>,
    private readonly gate: Gate,
    private readonly nowMs: () => number
  ) {
    this.weight = config.weight ?? 1
    this.tenant = gate.tenantOf(config.tenant ?? defaultTenant)
    const waveOf = config.waveOf
    this.waves =
      config.waveConcurrency === undefined || waveOf === undefined
        ? undefined
        : new WaveReadyQueue(config.before, waveOf, config.waveConcurrency)
    this.queue = this.waves ?? new ReadyQueue(config.before)
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
    this.endsAtoms.push(index)
    if (this.permits.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  committed(seq: number): void {
    if (this.closed) return
    const ends = this.endsAwaitingCommit
    let returned = 0
    while (this.endsHead < ends.length && ends[this.endsHead]! <= seq) {
      this.waves?.returned(this.endsAtoms[this.endsHead]!)
      this.endsHead++
      returned++
    }
    if (this.endsHead === ends.length) {
      ends.length = 0
      this.endsAtoms.length = 0
      this.endsHead = 0
    }
    this.running -= returned
    // Pumps even when no permit returned: a journal that caught up reopens admission.
    this.gate.release(returned, this.tenant)
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
    // Nothing more is admitted, and what runs is being ended: no lease is left to keep.
    this.cancelLeaseTimer()
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
    this.endsAtoms.length = 0
    this.endsHead = 0
    this.gate.release(held, this.tenant)
  }

  interrupt(index: number): void {
    this.permits.get(index)?.fiber?.unsafeInterruptAsFork(FiberId.none)
  }

  interruptAll(): void {
    for (const permit of this.permits.values()) permit.fiber?.unsafeInterruptAsFork(FiberId.none)
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
      (this.waves === undefined ? this.queue.size > 0 : this.waves.hasEligible()) &&
      this.running < this.config.concurrency &&
      this.admittedThisTurn < this.config.concurrency &&
      this.open()
    )
  }

  admitNext(): void {
    const index = this.queue.pop()!
    const permit: Permit = {
      admittedAtMs: this.nowMs(),
      startedAtMs: 0,
      calling: false,
      demand: undefined,
      reported: false,
      fiber: undefined
    }
    this.permits.set(index, permit)
    this.running++
    if (++this.admittedThisTurn >= this.config.concurrency) this.yieldTurn()
    if (this.leaseTimer === undefined) this.armLease()
    this.admit(index, permit)
  }

  private open(): boolean {
    return !this.paused && !this.stopped && !this.admissionClosed && !this.config.journalLagging()
  }

  /** Runs the atom's admission and then its call on one fiber, started inline. */
  private admit(index: number, permit: Permit): void {
    const admit = this.config.admit
    const work: Effect.Effect<void, D> =
      admit === undefined
        ? this.admitted(index, permit, undefined as A)
        : Effect.flatMap(admit(index), (admission) => this.admitted(index, permit, admission))
    const fiber = this.runFork(work, { immediate: true })
    const endedInline = fiber.unsafePoll()
    if (endedInline !== null) return this.fiberEnded(index, permit, endedInline)
    permit.fiber = fiber
    fiber.addObserver((exit) => {
      permit.fiber = undefined
      this.fiberEnded(index, permit, exit)
    })
  }

  /**
   * Admission took the atom: what its call may use is reserved at the gate and the call runs,
   * unless the lane stopped or paused meanwhile, or the permit was reclaimed.
   */
  private admitted(index: number, permit: Permit, admission: A): Effect.Effect<void> {
    if (this.permits.get(index) !== permit || this.stopped || this.admissionClosed || this.paused) {
      if (this.permits.get(index) === permit) {
        this.giveBack(index)
        if (!this.stopped) this.queue.push(index)
      }
      this.config.revoked(index, admission)
      return Effect.void
    }
    const demand = this.config.demandOf?.(admission) ?? noDemand
    permit.demand = demand
    permit.startedAtMs = this.nowMs()
    permit.calling = true
    this.gate.reserve(demand)
    return this.config.start(index, admission)
  }

  /**
   * The atom's fiber ended. A refused admission (or one that died, or a call that died before its
   * end was reported) queues the atom again and pauses the lane: the plan decides what next.
   */
  private fiberEnded(index: number, permit: Permit, exit: Exit.Exit<void, D>): void {
    if (Exit.isSuccess(exit) || this.permits.get(index) !== permit || Exit.isInterrupted(exit)) return
    this.giveBack(index)
    if (this.stopped) return
    this.queue.push(index)
    this.paused = true
    this.config.denied(index, exit.cause)
  }

  /** A permit that did not become a journaled end: it returns at once (nothing was recorded). */
  private giveBack(index: number): void {
    if (!this.permits.delete(index) || this.closed) return
    this.running--
    this.waves?.returned(index)
    this.gate.callEnded()
    if (this.permits.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    this.gate.release(1, this.tenant)
  }

  /** One timer for the oldest permit's lease; none while no lease is set or nothing is held. */
  private armLease(): void {
    const leaseMs = this.config.leaseMs
    if (leaseMs === undefined || this.stopped || this.reclaiming) return
    const oldest = this.permits.values().next()
    if (oldest.done === true) return
    // At least 1 ms: the timer always ends on a later turn, never inside the admission that armed it.
    const dueInMs = Math.max(1, Math.ceil(oldest.value.admittedAtMs + leaseMs - this.nowMs()))
    const timer = this.runFork(Effect.sleep(Duration.millis(dueInMs)))
    this.leaseTimer = timer
    timer.addObserver((exit) => {
      if (this.leaseTimer !== timer) return
      this.leaseTimer = undefined
      if (Exit.isSuccess(exit)) this.reclaimExpired(leaseMs)
    })
  }

  private cancelLeaseTimer(): void {
    const timer = this.leaseTimer
    this.leaseTimer = undefined
    timer?.unsafeInterruptAsFork(FiberId.none)
  }

  /** Reclaims every permit held for `leaseMs` or more (the oldest first), then waits for the next. */
  private reclaimExpired(leaseMs: number): void {
    const nowMs = this.nowMs()
    this.reclaiming = true
    try {
      for (const [index, permit] of this.permits) {
        const heldMs = nowMs - permit.admittedAtMs
        // Admission order: every permit after a young one is younger.
        if (heldMs < leaseMs) break
        this.reclaim(index, permit, { heldMs, leaseMs, calling: permit.calling })
      }
    } finally {
      this.reclaiming = false
    }
    this.armLease()
  }

  /**
   * A permit held past its lease: its fiber is interrupted (an admission under way is given up
   * and the atom waits again; a call is ended as a timeout, for the limiter too), and the plan is
   * told, so that it fails the attempt through the atom's retries and ends it as any call ends. If it
   * does not, the permit returns here.
   */
  private reclaim(index: number, permit: Permit, lease: PermitReclaim): void {
    permit.fiber?.unsafeInterruptAsFork(FiberId.none)
    if (!permit.calling) {
      this.config.reclaimed?.(index, lease)
      // Queued again before its permit returns: that return pumps the gate, which may take it at once.
      if (!this.stopped) this.queue.push(index)
      this.giveBack(index)
      return
    }
    this.callEnded(index, { class: "timeout", used: noDemand, reachedProvider: true })
    this.config.reclaimed?.(index, lease)
    if (this.permits.get(index) === permit) this.giveBack(index)
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
