import { atomMachine, costOf, masterplanMachine, priorityOf, ReadyQueue, waveMachine } from "@devmatrix/core"
import type {
  AtomActor,
  AttemptFailure,
  EventBody,
  CostCommit,
  ExecutionOutput,
  MasterplanActor,
  ModelCallInput,
  ModelCallOutput,
  PlanGraph,
  PlanInput,
  RunOptions,
  WaveActor
} from "@devmatrix/core"
import { Cause, Duration, Effect, Exit, FiberId, Option, Runtime } from "effect"
import { createActor, fromCallback, fromPromise } from "xstate"
import type { ModelProviderService } from "../ModelProvider.js"
import type { AtomRow } from "../Store.js"
import { SummaryTally } from "./summaryTally.js"

/** Everything one masterplan run needs; the engine builds it from the submitted plan. */
export interface PlanRunConfig {
  readonly masterplanId: string
  readonly plan: PlanInput
  readonly graph: PlanGraph
  readonly options: RunOptions
  readonly provider: ModelProviderService
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

/** Output tokens a single atom may use; atoms are about ten lines of code. */
const maxTokensPerAtom = 2_048

/** The failure an attempt's Effect ended with; a defect or an interruption is not retried. */
const failureOf = (cause: Cause.Cause<AttemptFailure>): AttemptFailure =>
  Option.getOrElse(Cause.failureOption(cause), () => ({
    reason: "unknown" as const,
    retryable: false,
    message: Cause.pretty(cause)
  }))

/**
 * One masterplan in flight: its masterplan actor, a wave actor per started wave, and an atom actor
 * per atom that became ready. Atoms wait for a permit as indices in a priority queue, not as parked
 * fibers; an actor is created only when its atom is ready (or skipped), inside the plan's actor
 * system. The engine's admission lives here: `ENQUEUE` when ready, `START` when a permit is free.
 */
export class PlanRun {
  readonly masterplanActor: MasterplanActor
  private readonly config: PlanRunConfig
  private readonly graph: PlanGraph
  /** Live atom actors; an actor is dropped once its atom settles, so finished atoms cost no heap. */
  private readonly atoms: Array<AtomActor | undefined>
  private readonly created: Uint8Array
  private readonly waves: Array<WaveActor | undefined>
  /** Dependencies of each atom not yet settled. */
  private readonly unsettledDeps: Int32Array
  /** The failed atom that makes each atom impossible, once one has. */
  private readonly doomedBy: Array<string | undefined>
  private readonly holdsPermit: Uint8Array
  /** The last output each atom's model produced, journaled with the atom when it completes. */
  private readonly outputs: Array<string | undefined>
  /** Prior attempts (and interrupted ones) of atoms a recovered plan carries over. */
  private readonly priorAttempts: Int32Array
  private readonly priorInterrupted: Int32Array
  /** Atoms that were mid-call when the previous process stopped: journaled as interrupted at start. */
  private readonly interruptedAtStart: Array<number> = []
  /** Recovered atoms that were waiting for a reviewer, with the output under review. */
  private readonly reviewAtStart = new Map<number, ModelCallOutput>()
  /** Recovered atoms still in a backoff the previous process began: when it ends (epoch ms). */
  private readonly backoffUntil = new Map<number, number>()
  private detaching = false
  private readonly queue: ReadyQueue
  private readonly tally: SummaryTally
  private readonly longestPath: number
  /** Runs a side effect as a fiber reporting its exit; the returned function interrupts it (actor stopped). */
  private readonly runFiber: <A, E>(
    effect: Effect.Effect<A, E>,
    onExit: (exit: Exit.Exit<A, E>) => void
  ) => () => void
  /**
   * Permits held: calls in flight, and calls that ended whose end is not committed yet. A permit
   * comes back only once the journal holds the call's outcome, so however the store lags or
   * stalls, the calls paid for but not recorded never outnumber the concurrency limit.
   */
  private running = 0
  /** Calls in flight (a subset of `running`). */
  private calling = 0
  /** The seqs of call ends journaled but not committed, in journal order; `endsHead` is the oldest. */
  private readonly endsAwaitingCommit: Array<number> = []
  private endsHead = 0
  private lastSeq = 0
  /** Admission is closed for good (a stop with a grace period): calls in flight may still end. */
  private admissionClosed = false
  private readonly idleWaiters: Array<() => void> = []
  private startedAtMs: number | undefined
  private admittedThisTurn = 0
  private turnPending = false
  private paused = false
  private finished = false
  private currentWave = 0
  private settled = 0
  /** Reactions to run, in order, without recursing: a failure can skip a chain of 10,000 atoms. */
  private readonly work: Array<() => void> = []
  private draining = false
  private finish: ((output: ExecutionOutput) => void) | undefined

  constructor(config: PlanRunConfig) {
    this.config = config
    const graph = (this.graph = config.graph)
    const size = graph.ids.length
    this.atoms = new Array<AtomActor | undefined>(size)
    this.created = new Uint8Array(size)
    this.waves = new Array<WaveActor | undefined>(graph.waves.length)
    this.unsettledDeps = Int32Array.from(graph.deps, (deps) => deps.length)
    this.doomedBy = new Array<string | undefined>(size)
    this.holdsPermit = new Uint8Array(size)
    this.outputs = new Array<string | undefined>(size)
    this.priorAttempts = new Int32Array(size)
    this.priorInterrupted = new Int32Array(size)
    this.tally = new SummaryTally(size, graph.waves.length)
    this.longestPath = graph.criticalPath.length
    const remaining = graph.remaining
    this.queue = new ReadyQueue(
      (a, b) => remaining[a]! > remaining[b]! || (remaining[a] === remaining[b] && a < b)
    )
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
            criticalPath: this.longestPath
          }
        }
      }
    )
    this.masterplanActor.on("*", (event) => {
      this.record(event)
      if (event.type === "masterplan.paused") this.paused = true
      if (event.type === "masterplan.resumed") {
        this.paused = false
        this.defer(() => this.pump())
      }
    })
  }

  /** Journals the masterplan's submission; `start` then runs it. */
  submit(): void {
    this.masterplanActor.start()
  }

  start(): void {
    this.masterplanActor.send({ type: "START" })
  }

  pause(reason: string): void {
    this.masterplanActor.send({ type: "PAUSE", reason })
  }

  resume(): void {
    this.masterplanActor.send({ type: "RESUME" })
  }

  /** Cancels every live atom, then the masterplan, whose terminal event carries the summary. */
  cancel(reason: string): void {
    this.cancelAtoms()
    this.masterplanActor.send({ type: "CANCEL", reason, summary: this.tally.summary(this.elapsedMs()) })
  }

  /** Sends a reviewer's decision to an atom waiting in review; false if there is no such atom. */
  review(
    atomId: string,
    decision: "APPROVE" | { readonly edit: string } | { readonly reject: string }
  ): boolean {
    const index = this.graph.indexOf.get(atomId)
    const actor = index === undefined ? undefined : this.atoms[index]
    if (actor === undefined || !actor.getSnapshot().matches("review")) return false
    if (typeof decision === "object" && "edit" in decision) this.outputs[index!] = decision.edit
    actor.send(
      decision === "APPROVE"
        ? { type: "APPROVE" }
        : "edit" in decision
          ? { type: "EDIT", code: decision.edit }
          : { type: "REJECT", reason: decision.reject }
    )
    return true
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
    for (const wave of this.waves) (wave as StoppableActor | undefined)?._stop()
    for (const resolve of this.idleWaiters.splice(0)) resolve()
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
      if (row.status === "running") this.interruptedAtStart.push(index)
      if (row.status === "retrying" && row.retryAt !== undefined) this.backoffUntil.set(index, row.retryAt)
      if (row.status === "review" && row.code !== undefined)
        this.reviewAtStart.set(index, {
          code: row.code,
          confidence: row.confidence ?? 0,
          model: row.model ?? this.config.options.model,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0
        })
      // Its retries go on from the attempts and interruptions the row holds (the machine's input).
      if (!settledStatuses.has(row.status)) continue
      this.created[index] = 1
      this.settled++
      for (const dependent of graph.dependents[index]!) {
        this.unsettledDeps[dependent]!--
        if (row.status !== "completed") this.doomedBy[dependent] ??= row.atomId
      }
    }
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
    const ends = this.endsAwaitingCommit
    while (this.endsHead < ends.length && ends[this.endsHead]! <= seq) {
      this.endsHead++
      this.running--
    }
    if (this.endsHead === ends.length) {
      ends.length = 0
      this.endsHead = 0
    }
    this.defer(() => this.pump())
  }

  /** Starts no more calls (a stop is coming); resolves once none is in flight. */
  closeAdmission(): Promise<void> {
    this.admissionClosed = true
    if (this.calling === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** The execution phase: resolves when every atom has settled. */
  private execute(signal: AbortSignal): Promise<ExecutionOutput> {
    return new Promise((resolve) => {
      this.startedAtMs = this.config.recovered?.startedAtMs ?? this.now()
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
      wave = createActor(waveMachine, {
        input: { wave: index, size: this.graph.waves[index]!.length, settled: this.tally.waveCounts(index) },
        parent: this.masterplanActor
      })
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
      return void this.actor(index).send({
        type: "RESTORE_BACKOFF",
        remainingMs: backoffEnds - this.now(),
        priority: priorityOf(this.graph.remaining[index]!, this.longestPath)
      })
    }
    const underReview = this.reviewAtStart.get(index)
    if (underReview !== undefined) {
      // Its output was paid for and stored: the reviewer decides on it, no new call is made.
      this.reviewAtStart.delete(index)
      this.outputs[index] = underReview.code
      return void this.actor(index).send({ type: "RESTORE_REVIEW", output: underReview })
    }
    const doomedBy = this.doomedBy[index]
    if (doomedBy !== undefined) this.actor(index).send({ type: "SKIP", becauseOf: doomedBy })
    else if (this.unsettledDeps[index] === 0) this.actor(index).send({ type: "READY" })
  }

  private actor(index: number): AtomActor {
    const spec = this.config.plan.atoms[index]!
    const options = this.config.options
    const actor = createActor(this.atomLogic, {
      id: spec.id,
      input: {
        atomId: spec.id,
        wave: this.graph.waveOf[index]!,
        retry: options.retry,
        jitterSeed: this.config.masterplanId,
        reviewThreshold: options.reviewThreshold,
        maxLines: options.maxAtomLines,
        defines: spec.defines,
        attempts: this.priorAttempts[index]!,
        interrupted: this.priorInterrupted[index]!
      },
      parent: this.wave(this.graph.waveOf[index]!)
    })
    this.atoms[index] = actor
    this.created[index] = 1
    actor.on("*", (event) => this.onAtomEvent(index, event))
    actor.start()
    return actor
  }

  private onAtomEvent(index: number, event: EventBody): void {
    if (event.type === "atom.completed" || event.type === "atom.review") {
      // The output is stored with the event that settles it (completion) or parks it (review).
      this.lastSeq = this.config.journal(event, this.outputs[index])
      this.tally.add(event)
      if (event.type === "atom.completed") this.outputs[index] = undefined
    } else this.record(event)
    switch (event.type) {
      case "atom.ready":
        this.defer(() =>
          this.atoms[index]!.send({
            type: "ENQUEUE",
            priority: priorityOf(this.graph.remaining[index]!, this.longestPath)
          })
        )
        return
      case "atom.queued":
        this.queue.push(index)
        this.defer(() => this.pump())
        return
      case "atom.retrying":
      case "atom.review":
      case "atom.blocked":
        this.release(index)
        return
      case "atom.completed":
        this.release(index)
        this.settle(index, undefined)
        return
      case "atom.failed":
        this.release(index)
        this.settle(index, event.atomId)
        return
      case "atom.skipped":
        this.settle(index, event.becauseOf)
        return
      case "atom.cancelled":
        this.release(index)
        this.settled++
        this.atoms[index] = undefined
        return
      default:
        return
    }
  }

  /** The atom's call has ended (its outcome just journaled): its permit returns once that is committed. */
  private release(index: number): void {
    if (this.holdsPermit[index] === 0) return
    this.holdsPermit[index] = 0
    this.calling--
    this.endsAwaitingCommit.push(this.lastSeq)
    if (this.calling === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  /** Admits queued atoms, best first, while permits are free. */
  private pump(): void {
    const limit = this.config.options.concurrency
    while (
      this.running < limit &&
      !this.paused &&
      !this.finished &&
      !this.admissionClosed &&
      this.queue.size > 0 &&
      !this.config.journalLagging()
    ) {
      if (this.admittedThisTurn >= limit) return this.yieldTurn()
      const index = this.queue.pop()!
      this.holdsPermit[index] = 1
      this.running++
      this.calling++
      this.admittedThisTurn++
      this.atoms[index]!.send({ type: "START" })
    }
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
      this.defer(() => this.pump())
    })
  }

  /** An atom reached a terminal state; `failedAtom` names the failure its dependents inherit. */
  private settle(index: number, failedAtom: string | undefined): void {
    this.settled++
    this.atoms[index] = undefined
    const eager = this.config.options.mode === "eager"
    for (const dependent of this.graph.dependents[index]!) {
      this.unsettledDeps[dependent]!--
      if (failedAtom !== undefined) this.doomedBy[dependent] ??= failedAtom
      if (eager || this.graph.waveOf[dependent]! <= this.currentWave)
        this.defer(() => this.resolve(dependent))
    }
    if (this.settled === this.graph.ids.length) this.complete()
  }

  private complete(): void {
    if (this.finished) return
    this.finished = true
    const durationMs = this.elapsedMs()
    this.finish?.({ durationMs, summary: this.tally.summary(durationMs) })
  }

  private cancelAtoms(): void {
    if (this.detaching) return
    if (this.finished) return
    this.finished = true
    let unstarted = 0
    for (let index = 0; index < this.atoms.length; index++) {
      const actor = this.atoms[index]
      if (this.created[index] === 0) unstarted++
      else if (actor !== undefined && actor.getSnapshot().status === "active") actor.send({ type: "CANCEL" })
    }
    this.tally.cancelUnstarted(unstarted)
  }

  /** One attempt at one atom: the model call with its timeout and its cost journaled; a failure is the machine's to decide on. */
  private callAtom(input: ModelCallInput): Effect.Effect<ModelCallOutput, AttemptFailure> {
    const index = this.graph.indexOf.get(input.atomId)!
    const spec = this.config.plan.atoms[index]!
    const options = this.config.options
    return this.config.provider
      .generate({
        model: options.model,
        masterplanId: this.config.masterplanId,
        atomId: spec.id,
        attempt: input.attempt,
        language: spec.language,
        instruction: spec.instruction,
        defines: spec.defines,
        // TODO(issue 14, planRun rewrite): the dependencies' accepted code (freed from memory once journaled).
        dependencies: [],
        feedback: input.feedback,
        maxTokens: maxTokensPerAtom,
        timeoutMs: options.callTimeoutMs,
        // The scripted model's per-atom instructions (`ScriptedModelRequest`), only for a provider that reads them.
        ...(this.config.provider.acceptsSimulation === true ? { simulate: spec.simulate } : {})
      })
      .pipe(
        Effect.map((response) => {
          const costUsd = costOf(response.model, response.usage)
          this.outputs[index] = response.text
          this.record({
            type: "cost.updated",
            atomId: spec.id,
            attempt: input.attempt,
            model: response.model,
            inputTokens: response.usage.inputTokens,
            outputTokens: response.usage.outputTokens,
            costUsd,
            totalUsd: this.tally.costUsd + costUsd
          })
          return {
            code: response.text,
            confidence: response.confidence ?? 1,
            model: response.model,
            inputTokens: response.usage.inputTokens,
            outputTokens: response.usage.outputTokens,
            costUsd
          }
        }),
        Effect.mapError((error): AttemptFailure => error.failure)
      )
  }

  private readonly atomLogic = atomMachine.provide({
    actors: {
      callModel: fromCallback(({ input, sendBack }) =>
        this.runFiber(this.callAtom(input), (exit) =>
          sendBack(
            Exit.isSuccess(exit)
              ? { type: "CALL_SUCCEEDED", output: exit.value }
              : { type: "CALL_FAILED", failure: failureOf(exit.cause) }
          )
        )
      ),
      backoff: fromCallback(({ input, sendBack }) =>
        this.runFiber(Effect.sleep(Duration.millis(input.delayMs)), () => sendBack({ type: "BACKOFF_DONE" }))
      )
    }
  })
}
