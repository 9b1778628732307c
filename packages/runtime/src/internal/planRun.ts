import {
  atomMachine,
  findModelPrice,
  masterplanMachine,
  permitLeaseMsOf,
  priorityOf,
  providerReactionTo,
  softLimitUsd,
  waveMachine
} from "@devmatrix/core"
import type {
  AtomActor,
  AtomOutcome,
  AttemptFailure,
  Budget,
  CallModelReport,
  CostCommit,
  EventBody,
  ExecutionOutput,
  LimitChange,
  MasterplanActor,
  ModelCallOutput,
  ModelPrice,
  PlanGraph,
  PlanInput,
  PriceTable,
  QueueClaim,
  ReviewedRow,
  RunOptions,
  WaveActor,
  WaveCounts
} from "@devmatrix/core"
import { Cause, Duration, Effect, FiberId, Option, Runtime } from "effect"
import type { Exit, Types } from "effect"
import type { AnyActorRef } from "xstate"
import { createActor, fromCallback, fromPromise } from "xstate"
import type { BudgetExceeded, CostLedgerService } from "../CostLedger.js"
import type { ModelProviderService } from "../ModelProvider.js"
import type { PromptCacheService, PromptCacheWrite } from "../PromptCache.js"
import type { AdmissionLane, PermitReclaim, SchedulerService } from "../Scheduler.js"
import type { AtomRow } from "../Store.js"
import { AcceptedCode } from "./acceptedCode.js"
import { cacheWriteOf, callReportOf, eventsOfOutcome, makeAtomCall } from "./atomCall.js"
import type { AtomCall, CallOutcome, PreparedCall } from "./atomCall.js"
import { defaultTenant } from "./localLane.js"
import { ReadyBacklog } from "./readyBacklog.js"
import { SummaryTally } from "./summaryTally.js"

/** Everything one masterplan run needs; the engine builds it from the submitted plan. */
export interface PlanRunConfig {
  readonly masterplanId: string
  readonly plan: PlanInput
  readonly graph: PlanGraph
  readonly options: RunOptions
  /** Whose plan it is and who submitted it (a host's token says), for `masterplan.submitted`. */
  readonly owner?:
    { readonly tenant?: string | undefined; readonly principal?: string | undefined } | undefined
  readonly provider: ModelProviderService
  /** Admits the plan's ready atoms: queue, permits, pause. */
  readonly scheduler: SchedulerService
  /**
   * The plan's slots of the engine's admission queue (`SchedulerService.claimQueue`): the most
   * atoms it has waiting for admission at once. It gives them back as its atoms settle, and all of
   * them when it ends or stops.
   */
  readonly queue: QueueClaim
  /** Holds each call's worst case before it starts, and takes its actual cost after (opened for this plan). */
  readonly ledger: CostLedgerService
  readonly cache: PromptCacheService
  readonly prices: PriceTable
  /** The price of the plan's model. */
  readonly price: ModelPrice
  /** Runs the side effects of the actors (model calls, waits) on the engine's services. */
  readonly runtime: Runtime.Runtime<never>
  /**
   * Stamps an event the machines decided with its seq and time, and journals it (with the atom's
   * code when it completes); the seq it got.
   */
  readonly journal: (event: EventBody, code?: string) => number
  /** The journal has fallen behind (a commit outstanding too long): admit nothing until `committed`. */
  readonly journalLagging: () => boolean
  /** The engine's clock (Effect's, so tests drive it). */
  readonly nowMs: () => number
  /** Where an earlier process left the plan. Absent for a new plan. */
  readonly recovered?: {
    readonly atoms: ReadonlyArray<AtomRow>
    readonly costs: ReadonlyArray<CostCommit>
    /** Events in the journal by type: the summary's counts carry on from them. */
    readonly eventCounts: Readonly<Record<string, number>>
    /** When the plan was first started (epoch ms): its duration runs from there. */
    readonly startedAtMs: number
    /** It was paused (by an operator, or later on budget): it stays paused. */
    readonly paused: boolean
  }
}

/** XState's internal stop, the one a parent uses on its children. */
type StoppableActor = { _stop(): void }

const settledStatuses: ReadonlySet<string> = new Set(["completed", "failed", "skipped", "cancelled"])

/**
 * One masterplan in flight: its masterplan actor, a wave actor per started wave, and an atom actor
 * per atom that became ready. An actor is created only when its atom is ready (or skipped), inside
 * the plan's actor system. Queued atoms wait in the scheduler's lane for a permit (`READY` queues
 * an atom, `START` once admitted); the lane runs the admitted atom's call on the fiber that
 * admitted it, and the call's outcome comes back as data, which the plan journals and hands to the
 * atom's machine. How a wave's atoms ended is told to its wave (`ATOMS_SETTLED`) once the last has,
 * and the wave decides it is complete.
 */
export class PlanRun {
  readonly masterplanActor: MasterplanActor
  /**
   * The parent of the plan's atom actors, in the plan's actor system: a callback actor, for which
   * an atom's end (an event typed by the atom's id) is one function call, where a machine parent
   * would memoize a transition lookup per atom.
   */
  private readonly atomsRoot: AnyActorRef
  private readonly config: PlanRunConfig
  private readonly graph: PlanGraph
  /** Live atom actors; an actor is dropped once its atom settles, so finished atoms cost no heap. */
  private readonly atoms: Array<AtomActor | undefined>
  private readonly created: Uint8Array
  private readonly waves: Array<WaveActor | undefined>
  /** Per wave with an actor: its atoms not settled yet, and how those settled since ended. */
  private readonly waveUnsettled: Int32Array
  private readonly waveSettled: Array<Types.Mutable<WaveCounts> | undefined>
  /** Dependencies of each atom not yet settled. */
  private readonly unsettledDeps: Int32Array
  /** The failed atom that makes each atom impossible, once one has. */
  private readonly doomedBy: Array<string | undefined>
  /** The last output each atom's model produced, journaled with the atom when it completes. */
  private readonly outputs: Array<string | undefined>
  /** Completed atoms' code, while their dependents' prompts may need it. */
  private readonly accepted: AcceptedCode
  /** Prior attempts (and interrupted ones) of atoms a recovered plan carries over. */
  private readonly priorAttempts: Int32Array
  private readonly priorInterrupted: Int32Array
  private readonly priorThrottled: Int32Array
  /** Atoms that were mid-call when the previous process stopped: journaled as interrupted at start. */
  private readonly interruptedAtStart: Array<number> = []
  /**
   * Recovered atoms that were waiting for a reviewer, with the output under review, and the
   * decision a reviewer journaled while no process ran the plan, if one did.
   */
  private readonly reviewAtStart = new Map<
    number,
    { readonly output: ModelCallOutput; readonly reviewed: ReviewedRow | undefined }
  >()
  /** Recovered atoms still in a backoff the previous process began: when it ends (epoch ms). */
  private readonly backoffUntil = new Map<number, number>()
  private detaching = false
  private readonly lane: AdmissionLane
  /** Atoms waiting for admission, and the ready ones held back while the plan's queue is full. */
  private readonly backlog: ReadyBacklog
  private readonly callStep: AtomCall
  /** The answer of each atom's last call, which the prompt cache keeps once the atom is accepted. */
  private readonly cacheable: Array<PromptCacheWrite | undefined>
  /** Accepted answers waiting for the fiber that writes them to the prompt cache. */
  private readonly cacheWrites: Array<PromptCacheWrite> = []
  private readonly tally: SummaryTally
  private readonly longestPath: number
  /** Runs a side effect as a fiber reporting its exit; the returned function interrupts it (actor stopped). */
  private readonly runFiber: <A, E>(
    effect: Effect.Effect<A, E>,
    onExit: (exit: Exit.Exit<A, E>) => void
  ) => () => void
  private lastSeq = 0
  /** The budget in force: the plan's, until an operator raises it. */
  private budget: Budget
  private startedAtMs: number | undefined
  private finished = false
  private currentWave = 0
  private settled = 0
  /** Atoms with a live actor (created, not settled), and how many of them wait in review. */
  private liveAtoms = 0
  private inReview = 0
  /** `review.waiting` is journaled for the current stretch of waiting; a decision ends the stretch. */
  private reviewWaitNoticed = false
  /** Reactions to run, in order, without recursing: a failure can skip a chain of 10,000 atoms. */
  private readonly work: Array<() => void> = []
  private draining = false
  private finish: ((output: ExecutionOutput) => void) | undefined

  constructor(config: PlanRunConfig) {
    this.config = config
    this.budget = config.options.budget
    const graph = (this.graph = config.graph)
    const size = graph.ids.length
    this.atoms = new Array<AtomActor | undefined>(size)
    this.created = new Uint8Array(size)
    this.waves = new Array<WaveActor | undefined>(graph.waves.length)
    this.waveUnsettled = new Int32Array(graph.waves.length)
    this.waveSettled = new Array<Types.Mutable<WaveCounts> | undefined>(graph.waves.length)
    this.unsettledDeps = Int32Array.from(graph.deps, (deps) => deps.length)
    this.doomedBy = new Array<string | undefined>(size)
    this.outputs = new Array<string | undefined>(size)
    this.accepted = new AcceptedCode(graph)
    this.priorAttempts = new Int32Array(size)
    this.priorInterrupted = new Int32Array(size)
    this.priorThrottled = new Int32Array(size)
    this.tally = new SummaryTally(size, graph.waves.length, {
      waveOf: (atomId) => {
        const index = graph.indexOf.get(atomId)
        return index === undefined ? undefined : graph.waveOf[index]
      },
      priceOf: (model) => findModelPrice(config.prices, model)
    })
    this.longestPath = graph.criticalPath.length
    const remaining = graph.remaining
    const before = (a: number, b: number) =>
      remaining[a]! > remaining[b]! || (remaining[a] === remaining[b] && a < b)
    this.backlog = new ReadyBacklog(size, before, () => config.queue.slots)
    this.lane = config.scheduler.lane(
      {
        masterplanId: config.masterplanId,
        model: config.options.model,
        // The tenant's cap (SchedulerOptions.tenantLimits) counts the plans a host submitted for it;
        // an embedded plan has none and is the default tenant's.
        tenant: config.owner?.tenant ?? defaultTenant,
        concurrency: config.options.concurrency,
        waveConcurrency: config.options.waveConcurrency,
        waveOf: (index) => graph.waveOf[index]!,
        weight: config.options.priority,
        leaseMs: permitLeaseMsOf(config.options),
        reclaimed: (index, lease) => this.permitReclaimed(index, lease),
        before,
        admit: (index) => this.prepareCall(index),
        start: (index, prepared) => this.startCall(index, prepared),
        denied: (index, cause) => this.admissionDenied(index, cause),
        revoked: (_, prepared) => void this.runFiber(this.releaseReservation(prepared), () => undefined),
        journalLagging: config.journalLagging,
        demandOf: (prepared) => prepared.demand,
        limitChanged: (change) => this.limitChanged(change)
      },
      config.runtime
    )
    this.callStep = makeAtomCall(config)
    this.cacheable = new Array<PromptCacheWrite | undefined>(size)
    const runFork = Runtime.runFork(config.runtime)
    this.runFiber = (effect, onExit) => {
      // Scheduled on Effect's scheduler, not started inline (`immediate: false`): the scheduler
      // yields to the event loop between batches, so commits, progress and Ctrl-C interleave with
      // a run whose model answers at once instead of waiting for all of it.
      const fiber = runFork(effect, { immediate: false })
      fiber.addObserver(onExit)
      return () => fiber.unsafeInterruptAsFork(FiberId.none)
    }
    if (config.recovered) this.restore(config.recovered)
    this.masterplanActor = createActor(
      masterplanMachine.provide({
        actors: { runExecution: fromPromise(({ signal }) => this.execute(signal)) }
      }),
      {
        input: {
          masterplanId: config.masterplanId,
          structured: true,
          acceptance: false,
          initialSummary: this.tally.summary(0),
          recovered: config.recovered !== undefined,
          paused: config.recovered?.paused === true,
          submitted: {
            name: config.plan.name,
            atoms: size,
            waves: graph.waves.length,
            mode: config.options.mode,
            concurrency: config.options.concurrency,
            model: config.options.model,
            criticalPath: this.longestPath,
            ...(config.owner?.tenant !== undefined ? { tenant: config.owner.tenant } : {}),
            ...(config.owner?.principal !== undefined ? { principal: config.owner.principal } : {})
          }
        }
      }
    )
    this.atomsRoot = createActor(
      fromCallback(() => undefined),
      { parent: this.masterplanActor }
    )
    this.masterplanActor.on("*", (event) => {
      this.record(event)
      if (event.type === "masterplan.paused") this.lane.pause()
      if (event.type === "masterplan.resumed") this.defer(() => this.lane.resume())
    })
  }

  /** Journals the masterplan's submission; `start` then runs it. */
  submit(): void {
    this.masterplanActor.start()
    this.atomsRoot.start()
  }

  start(): void {
    this.masterplanActor.send({ type: "START" })
  }

  // `principal` (here and below): the operator acting, whom the journaled event names (the audit trail).
  pause(reason: string, principal?: string): void {
    this.masterplanActor.send({ type: "PAUSE", reason, principal })
  }

  resume(principal?: string): void {
    this.masterplanActor.send({ type: "RESUME", principal })
  }

  /** Cancels every live atom, then the masterplan, whose terminal event carries the summary. */
  cancel(reason: string, principal?: string): void {
    this.cancelAtoms()
    this.masterplanActor.send({
      type: "CANCEL",
      reason,
      summary: this.tally.summary(this.elapsedMs()),
      principal
    })
  }

  /**
   * Journals the plan's new budget (the engine has given it to the ledger); a plan paused on budget
   * stays paused until `resume`.
   */
  raiseBudget(budget: Budget, principal?: string): void {
    const previousHardUsd = this.budget.hardUsd
    this.budget = budget
    const softUsd = softLimitUsd(budget)
    this.masterplanActor.send({
      type: "RAISE_BUDGET",
      hardUsd: budget.hardUsd,
      softUsd,
      previousHardUsd,
      principal
    })
  }

  /**
   * Sends a reviewer's decision to an atom waiting in review: `sent`, or why not (the plan has no
   * such atom, or it is not in review).
   */
  review(
    atomId: string,
    decision: "APPROVE" | { readonly edit: string } | { readonly reject: string },
    principal?: string
  ): "sent" | "unknown" | "not_in_review" {
    const index = this.graph.indexOf.get(atomId)
    if (index === undefined) return "unknown"
    const actor = this.atoms[index]
    if (actor === undefined || !actor.getSnapshot().matches("review")) return "not_in_review"
    if (typeof decision === "object" && "edit" in decision) this.outputs[index] = decision.edit
    actor.send(
      decision === "APPROVE"
        ? { type: "APPROVE", principal }
        : "edit" in decision
          ? { type: "EDIT", code: decision.edit, principal }
          : { type: "REJECT", reason: decision.reject, principal }
    )
    return "sent"
  }

  /**
   * Stops without deciding anything: no cancellation, no terminal event. In-flight calls are
   * interrupted; what was journaled stays, and another process can resume the plan from it.
   */
  detach(): void {
    this.detaching = true
    this.finished = true
    // Atoms and waves live in the plan's actor system with a parent, so XState only lets them be
    // stopped the way a parent stops a child (`_stop`): no event is emitted, their fibers are interrupted.
    for (const actor of this.atoms) (actor as StoppableActor | undefined)?._stop()
    this.lane.interruptAll()
    for (const wave of this.waves) (wave as StoppableActor | undefined)?._stop()
    const atomsRoot: StoppableActor = this.atomsRoot as unknown as StoppableActor
    atomsRoot._stop()
    this.lane.close()
    this.config.queue.release()
    if (this.masterplanActor.getSnapshot().status === "active") this.masterplanActor.stop()
  }

  /** Takes over the rows an earlier process left: settled atoms stay settled, the rest run again. */
  private restore(recovered: NonNullable<PlanRunConfig["recovered"]>): void {
    const graph = this.graph
    this.tally.restore(recovered.atoms, recovered.costs, recovered.eventCounts)
    for (const row of recovered.atoms) {
      const index = graph.indexOf.get(row.atomId)
      if (index === undefined) continue
      this.priorAttempts[index] = row.attempts
      this.priorInterrupted[index] = row.interrupted
      this.priorThrottled[index] = row.throttled
      if (row.status === "running") this.interruptedAtStart.push(index)
      if (row.status === "retrying" && row.retryAt !== undefined) this.backoffUntil.set(index, row.retryAt)
      if (row.status === "review" && row.code !== undefined)
        this.reviewAtStart.set(index, {
          // An edit journaled while no process ran the plan stored the reviewer's code in the row.
          output: {
            code: row.code,
            confidence: row.confidence ?? 0,
            model: row.model ?? this.config.options.model,
            inputTokens: 0,
            outputTokens: 0,
            costUsd: 0
          },
          reviewed: row.reviewed
        })
      // Its retries go on from the attempts and interruptions the row holds (the machine's input).
      if (!settledStatuses.has(row.status)) continue
      this.created[index] = 1
      this.settled++
      if (row.status === "completed") this.accepted.completed(index, row.code)
      for (const dependent of graph.dependents[index]!) {
        this.unsettledDeps[dependent]!--
        if (row.status !== "completed") this.doomedBy[dependent] ??= row.atomId
      }
    }
    // What settled in the earlier process needs no room in the engine's queue.
    const left = graph.ids.length - this.settled
    if (left < this.config.queue.slots) this.config.queue.shrinkTo(left)
    // Once every row is in: the code of atoms whose dependents have all settled is not needed.
    for (let index = 0; index < graph.ids.length; index++)
      if (this.created[index] === 1) this.accepted.settled(index)
    // In waves mode the plan goes on from the first wave with atoms left.
    while (
      this.currentWave < graph.waves.length - 1 &&
      graph.waves[this.currentWave]!.every((i) => this.created[i] === 1)
    )
      this.currentWave++
  }

  private elapsedMs(): number {
    return this.startedAtMs === undefined ? 0 : Math.max(0, this.now() - this.startedAtMs)
  }

  private now(): number {
    return this.config.nowMs()
  }

  private record(event: EventBody): void {
    this.lastSeq = this.config.journal(event)
    this.tally.add(event)
  }

  /** The journal is committed up to `seq`: permits of the calls whose ends that covers come back. */
  committed(seq: number): void {
    this.defer(() => this.lane.committed(seq))
  }

  /** Starts no more calls (a stop is coming); resolves once none is in flight. */
  closeAdmission(): Promise<void> {
    return this.lane.closeAdmission()
  }

  /** The execution phase: resolves when every atom has settled. */
  private execute(signal: AbortSignal): Promise<ExecutionOutput> {
    return new Promise((resolve) => {
      this.startedAtMs = this.config.recovered?.startedAtMs ?? this.now()
      this.joinedModelLimit()
      this.finish = resolve
      signal.addEventListener("abort", () => this.detaching || this.cancelAtoms(), { once: true })
      for (const index of this.interruptedAtStart)
        this.record({
          type: "atom.interrupted",
          atomId: this.graph.ids[index]!,
          wave: this.graph.waveOf[index]!,
          attempt: this.priorAttempts[index]!
        })
      for (const index of this.interruptedAtStart) this.priorInterrupted[index]!++
      if (this.settled === this.graph.ids.length) return this.complete()
      if (this.config.options.mode === "waves" || this.config.recovered === undefined)
        this.defer(() => this.activateWave(this.currentWave))
      // A recovered eager plan picks up wherever atoms can run, in any wave.
      else this.defer(() => this.graph.ids.forEach((_, index) => this.resolve(index)))
    })
  }

  private defer(reaction: () => void): void {
    this.work.push(reaction)
    if (this.draining) return
    this.draining = true
    try {
      for (let i = 0; i < this.work.length; i++) this.work[i]!()
    } finally {
      this.work.length = 0
      this.draining = false
    }
  }

  private wave(index: number): WaveActor {
    let wave = this.waves[index]
    if (wave === undefined) {
      const size = this.graph.waves[index]!.length
      const settled = this.tally.waveCounts(index)
      wave = createActor(waveMachine, {
        input: { wave: index, size, settled },
        parent: this.masterplanActor
      })
      this.waveUnsettled[index] =
        size -
        (settled === undefined ? 0 : settled.completed + settled.failed + settled.skipped + settled.cancelled)
      this.waveSettled[index] = { completed: 0, failed: 0, skipped: 0, cancelled: 0 }
      this.waves[index] = wave
      wave.on("*", (event) => {
        this.record(event)
        if (event.type === "wave.completed" && this.config.options.mode === "waves")
          this.defer(() => this.activateWave(index + 1))
      })
      wave.start()
      wave.send({ type: "START" })
    }
    return wave
  }

  /** Makes the wave's atoms that can run ready, and skips those that cannot. */
  private activateWave(index: number): void {
    if (index >= this.graph.waves.length || this.finished) return
    this.currentWave = Math.max(this.currentWave, index)
    const atoms = this.graph.waves[index]!
    // A wave whose atoms all ended in an earlier process completed there (same commit as its last atom).
    if (atoms.every((atom) => this.created[atom] === 1)) return
    this.wave(index)
    for (const atom of atoms) this.resolve(atom)
  }

  /** Decides a pending atom whose dependencies have all settled, or one of which failed. */
  private resolve(index: number): void {
    if (this.created[index] === 1) return
    const backoffEnds = this.backoffUntil.get(index)
    if (backoffEnds !== undefined) {
      // A backoff begun by the previous process goes on in the atom's machine, for what is left of
      // it: the machine holds it (cancel, stop) and queues the atom when it ends, as after any backoff.
      this.backoffUntil.delete(index)
      this.backlog.backsOff(index)
      return void this.actor(index).send({ type: "RESTORE_BACKOFF", remainingMs: backoffEnds - this.now() })
    }
    const underReview = this.reviewAtStart.get(index)
    if (underReview !== undefined) {
      // Its output was paid for and stored: the reviewer decides on it (or has), no new call is made.
      this.reviewAtStart.delete(index)
      const { output, reviewed } = underReview
      this.outputs[index] = output.code
      return void this.actor(index).send(
        reviewed === undefined
          ? { type: "RESTORE_REVIEW", output }
          : { type: "RESTORE_REVIEWED", output, decision: reviewed.decision, reason: reviewed.reason }
      )
    }
    const doomedBy = this.doomedBy[index]
    if (doomedBy !== undefined) this.actor(index).send({ type: "SKIP", becauseOf: doomedBy })
    // Over the plan's queue bound it stays ready in the backlog, with no actor, until room appears.
    else if (this.unsettledDeps[index] === 0 && this.backlog.offer(index))
      this.actor(index).send({ type: "READY" })
  }

  /** Room in the plan's queue: the best ready atoms held back are queued, as many as fit. */
  private readonly admitBacklog = (): void => {
    for (let index = this.backlog.next(); index !== undefined; index = this.backlog.next())
      if (!this.finished && this.created[index] === 0) this.actor(index).send({ type: "READY" })
  }

  private actor(index: number): AtomActor {
    const spec = this.config.plan.atoms[index]!
    const options = this.config.options
    // Its wave exists before any of its atoms' events: the wave counts them as they settle.
    this.wave(this.graph.waveOf[index]!)
    const actor = createActor(this.atomLogic, {
      id: spec.id,
      input: {
        atomId: spec.id,
        wave: this.graph.waveOf[index]!,
        retry: options.retry,
        jitterSeed: this.config.masterplanId,
        reviewThreshold: options.reviewThreshold,
        priority: priorityOf(this.graph.remaining[index]!, this.longestPath),
        maxLines: options.maxAtomLines,
        defines: spec.defines,
        attempts: this.priorAttempts[index]!,
        interrupted: this.priorInterrupted[index]!,
        throttled: this.priorThrottled[index]!,
        maxThrottledMs: options.maxThrottledMs
      },
      parent: this.atomsRoot
    })
    this.atoms[index] = actor
    this.created[index] = 1
    this.liveAtoms++
    actor.on("*", (event) => this.onAtomEvent(index, event))
    actor.start()
    return actor
  }

  private onAtomEvent(index: number, event: EventBody): void {
    if (event.type === "atom.completed" || event.type === "atom.review") {
      // The output is stored with the event that settles it (completion) or parks it (review).
      this.lastSeq = this.config.journal(event, this.outputs[index])
      this.tally.add(event)
      if (event.type === "atom.completed") {
        // A reviewer's edit is not the model's answer: the cache keeps only what the model said.
        this.cacheAccepted(index, this.outputs[index] === this.cacheable[index]?.text)
        this.accepted.completed(index, this.outputs[index])
        this.outputs[index] = undefined
      }
    } else this.record(event)
    switch (event.type) {
      case "atom.queued":
        this.backlog.queues(index)
        this.defer(() => this.lane.enqueue(index))
        return
      case "atom.started":
        this.backlog.leaves(index)
        if (this.backlog.held > 0) this.defer(this.admitBacklog)
        return
      case "atom.retrying":
      case "atom.throttled":
        // Back to the queue after its wait (at once for a push back without `retry-after`).
        this.backlog.backsOff(index)
        this.release(index)
        return
      case "atom.blocked":
        this.backlog.leaves(index)
        if (this.backlog.held > 0) this.defer(this.admitBacklog)
        this.release(index)
        return
      case "atom.review":
        this.inReview++
        this.release(index)
        this.defer(this.noticeReviewWait)
        return
      case "atom.reviewed":
        this.inReview--
        this.reviewWaitNoticed = false
        return
      case "atom.completed":
        this.release(index)
        this.settle(index, "completed", undefined)
        return
      case "atom.failed":
        this.release(index)
        this.settle(index, "failed", event.atomId)
        return
      case "atom.skipped":
        this.settle(index, "skipped", event.becauseOf)
        return
      case "atom.cancelled":
        this.lane.interrupt(index)
        this.release(index)
        this.backlog.leaves(index)
        this.settled++
        this.liveAtoms--
        this.atoms[index] = undefined
        this.waveAtomSettled(this.graph.waveOf[index]!, "cancelled")
        return
      default:
        return
    }
  }

  /** The atom's call has ended (its outcome just journaled): its permit returns once that is committed. */
  private release(index: number): void {
    this.lane.ended(index, this.lastSeq)
  }

  /** An atom reached a terminal state; `failedAtom` names the failure its dependents inherit. */
  private settle(index: number, outcome: AtomOutcome, failedAtom: string | undefined): void {
    this.settled++
    this.backlog.leaves(index)
    // A plan with fewer atoms left than its slots gives the rest back to the engine's queue.
    const left = this.graph.ids.length - this.settled
    if (left < this.config.queue.slots) this.config.queue.shrinkTo(left)
    this.atoms[index] = undefined
    this.liveAtoms--
    this.accepted.settled(index)
    const eager = this.config.options.mode === "eager"
    for (const dependent of this.graph.dependents[index]!) {
      this.unsettledDeps[dependent]!--
      if (failedAtom !== undefined) this.doomedBy[dependent] ??= failedAtom
      if (eager || this.graph.waveOf[dependent]! <= this.currentWave)
        this.defer(() => this.resolve(dependent))
    }
    this.waveAtomSettled(this.graph.waveOf[index]!, outcome)
    if (this.settled === this.graph.ids.length) this.complete()
    // After the dependents it freed (deferred before this) have been made ready.
    else if (this.inReview > 0) this.defer(this.noticeReviewWait)
  }

  /** Counts an atom's end for its wave, and tells the wave how its atoms ended once the last has. */
  private waveAtomSettled(wave: number, outcome: AtomOutcome): void {
    const settled = this.waveSettled[wave]
    if (settled === undefined) return
    settled[outcome]++
    if (--this.waveUnsettled[wave]! === 0) this.waves[wave]?.send({ type: "ATOMS_SETTLED", settled })
  }

  /**
   * Journals `review.waiting` once the plan can go no further without a reviewer: every live atom
   * waits in review (none runs, is queued or backs off), none is held back, and every other atom
   * left waits for one of those. A plan in that state makes no progress on its own, so a process
   * that cannot take reviews (`devmatrix run`) learns that it may stop.
   */
  private readonly noticeReviewWait = (): void => {
    if (this.finished || this.reviewWaitNoticed || this.inReview === 0) return
    if (this.liveAtoms > this.inReview || this.backlog.held > 0) return
    this.reviewWaitNoticed = true
    this.record({ type: "review.waiting", atoms: this.inReview })
  }

  private complete(): void {
    if (this.finished) return
    this.finished = true
    this.lane.stop()
    this.config.queue.release()
    const durationMs = this.elapsedMs()
    this.finish?.({ durationMs, summary: this.tally.summary(durationMs) })
  }

  private cancelAtoms(): void {
    if (this.detaching) return
    if (this.finished) return
    this.finished = true
    this.lane.stop()
    this.config.queue.release()
    let unstarted = 0
    for (let index = 0; index < this.atoms.length; index++) {
      const actor = this.atoms[index]
      if (this.created[index] === 0) unstarted++
      else if (actor !== undefined && actor.getSnapshot().status === "active") actor.send({ type: "CANCEL" })
    }
    this.tally.cancelUnstarted(unstarted)
  }

  /** Admission's last step: the atom's next request, and its worst case reserved in the ledger. */
  private prepareCall(index: number): Effect.Effect<PreparedCall, BudgetExceeded> {
    const context = this.atoms[index]!.getSnapshot().context
    return this.callStep.prepare(this.config.plan.atoms[index]!, {
      attempt: context.attempts + 1,
      feedback: context.failure?.reason === "validation" ? context.problems : [],
      wave: this.graph.waveOf[index]!,
      dependencies: this.accepted.ofDependencies(index),
      afterMaxTokens: context.failure?.reason === "max_tokens"
    })
  }

  private releaseReservation(prepared: PreparedCall): Effect.Effect<void> {
    return Effect.ignore(this.config.ledger.release(this.config.masterplanId, prepared.reservationId))
  }

  /** Admission refused an atom: its worst case does not fit the budget, and the plan pauses on it. */
  private admissionDenied(index: number, cause: Cause.Cause<BudgetExceeded>): void {
    const refusal = Option.getOrUndefined(Cause.failureOption(cause))
    // A defect in admission: the plan stops admitting rather than retrying it forever.
    if (refusal === undefined)
      return this.pause(
        `the admission or call of atom ${this.graph.ids[index]!} died: ${Cause.pretty(cause)}`
      )
    this.masterplanActor.send({
      type: "BUDGET_EXHAUSTED",
      totalUsd: this.tally.costUsd,
      limitUsd: refusal.limitUsd,
      level: refusal.level,
      atomId: this.graph.ids[index]!,
      neededUsd: refusal.requestedUsd
    })
  }

  /**
   * An attempt's outcome, as the call step reports it: what was billed is journaled first (so the
   * atom's own events that follow never come before what it cost), then what the ledger and the
   * cache said, then the machine decides.
   */
  private callEnded(index: number, prepared: PreparedCall, outcome: CallOutcome): CallModelReport {
    const attempt = {
      atomId: prepared.request.atomId,
      wave: this.graph.waveOf[index]!,
      attempt: prepared.request.attempt
    }
    for (const event of eventsOfOutcome(outcome, attempt, this.tally.costUsd)) this.record(event)
    this.lane.callEnded(index, callReportOf(outcome, this.now()))
    if (outcome._tag === "failed") {
      this.providerReaction(outcome.failure)
      return { type: "CALL_FAILED", failure: outcome.failure, atMs: this.now() }
    }
    this.outputs[index] = outcome.output.code
    this.cacheable[index] = cacheWriteOf(prepared, outcome)
    return { type: "CALL_SUCCEEDED", output: outcome.output }
  }

  /** A failure that is the provider's, not the atom's: the plan fails, pauses or holds (`providerReactionTo`). */
  private providerReaction(failure: AttemptFailure): void {
    const reaction = providerReactionTo(failure)
    // A hold (a 529) is the model's limiter's: `callEnded` told it, and it holds every plan's starts.
    if (reaction === undefined || this.finished || reaction._tag === "hold") return
    if (reaction._tag === "pause")
      return this.masterplanActor.send({ type: "PAUSE", by: "spend_limit", reason: reaction.reason })
    this.cancelAtoms()
    this.masterplanActor.send({
      type: "PROVIDER_FAILED",
      reason: reaction.reason,
      summary: this.tally.summary(this.elapsedMs())
    })
  }

  /**
   * An atom held its permit past its lease (a call that never ended, an admission that never came
   * back): the lane interrupted it and took the permit back. A call counts as an attempt that timed
   * out, through the atom's retries (retried after its backoff, or failed once they are spent); an
   * admission simply waits again. Logged, and the attempt's `atom.retrying` (or `atom.failed`) says so.
   */
  private permitReclaimed(index: number, lease: PermitReclaim): void {
    const atomId = this.graph.ids[index]!
    const message = `${lease.calling ? "its call" : "its admission"} held a concurrency permit for ${Math.round(lease.heldMs)} ms, past the permit's lease of ${lease.leaseMs} ms: abandoned, and the permit reclaimed`
    this.runFiber(
      Effect.logWarning(`masterplan ${this.config.masterplanId}, atom ${atomId}: ${message}`),
      () => undefined
    )
    const actor = this.atoms[index]
    if (!lease.calling || actor === undefined || !actor.getSnapshot().matches("running")) return
    actor.send({
      type: "CALL_FAILED",
      failure: { reason: "timeout", retryable: true, message },
      atMs: this.now()
    })
  }

  /** A plan that starts under a model limit below its own cap says so: its progress shows that limit. */
  private joinedModelLimit(): void {
    const cap = this.config.options.concurrency
    const limit = Math.round(this.lane.modelLimit())
    if (limit < cap)
      this.record({
        type: "concurrency.limit_changed",
        from: cap,
        to: limit,
        reason: `the limit of ${this.config.options.model}, shared by the engine's plans`
      })
  }

  /**
   * The model's limit moved (this plan's calls, another plan's, an operator's pin): journaled while
   * the plan runs, so its progress and `--json` show the limit it runs under.
   */
  private limitChanged(change: LimitChange): void {
    if (this.startedAtMs === undefined || this.finished) return
    const from = Math.round(change.from)
    const to = Math.round(change.to)
    if (from !== to) this.record({ type: "concurrency.limit_changed", from, to, reason: change.reason })
  }

  /**
   * Keeps an accepted answer in the prompt cache, in the background: a cache never holds an atom
   * up. The answers accepted together are written by one fiber, started once they are all in.
   */
  private cacheAccepted(index: number, acceptedAsAnswered: boolean): void {
    const write = this.cacheable[index]
    this.cacheable[index] = undefined
    if (write === undefined || !acceptedAsAnswered) return
    if (this.cacheWrites.push(write) === 1) this.runFiber(this.writeCache, () => undefined)
  }

  private readonly writeCache = Effect.suspend(() =>
    Effect.forEach(this.cacheWrites.splice(0), (write) => this.config.cache.put(write), { discard: true })
  )

  /**
   * The atom was admitted: its machine starts the attempt, and the call runs on the fiber that
   * admitted it; the plan journals its outcome and hands it back to the machine. A call cut short (a
   * cancel, a stop) reports nothing: its reservation is released, and the journal says it was
   * interrupted.
   */
  private startCall(index: number, prepared: PreparedCall): Effect.Effect<void> {
    const actor = this.atoms[index]!
    actor.send({ type: "START" })
    return Effect.map(this.callStep.call(prepared), (outcome) => {
      if (this.atoms[index] !== actor) return
      const report = this.callEnded(index, prepared, outcome)
      // What the outcome set off (a provider failure cancels the plan's atoms) may have ended it.
      if (this.atoms[index] === actor) actor.send(report)
    })
  }

  private readonly atomLogic = atomMachine.provide({
    actors: {
      backoff: fromCallback(({ input, sendBack }) =>
        this.runFiber(Effect.sleep(Duration.millis(input.delayMs)), () => sendBack({ type: "BACKOFF_DONE" }))
      )
    }
  })
}
