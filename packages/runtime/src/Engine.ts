import {
  Budget,
  compilePlan,
  decodeInput,
  idProblem,
  isCompiledPlan,
  isTerminalEvent,
  PlanInput,
  PlanInputError,
  findModelPrice,
  maxConcurrency,
  RunOptions,
  softLimitUsd,
  unknownModelMessage
} from "@devmatrix/core"
import type {
  AtomStatus,
  CompiledPlan,
  Event,
  EventBody,
  EventOf,
  PlanGraph,
  PlanGraphError,
  QueueClaim,
  ReviewedRow,
  RunOptionsInput
} from "@devmatrix/core"
import {
  Chunk,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Fiber,
  Layer,
  Option,
  Queue,
  Runtime,
  Schedule,
  Scope,
  Stream
} from "effect"
import { randomUUID } from "node:crypto"
import {
  bufferEvent,
  drained,
  journalLagging,
  journalWriter,
  makeJournalBuffer,
  retriedStoreCall
} from "./internal/planJournal.js"
import type { JournalBuffer } from "./internal/planJournal.js"
import { leaseRenewMs, makePlanLeases } from "./internal/planLeases.js"
import { PlanRun } from "./internal/planRun.js"
import type { PlanRunConfig } from "./internal/planRun.js"
import { CostLedger, CostLedgerLocal } from "./CostLedger.js"
import { ModelProvider } from "./ModelProvider.js"
import { Prices, PricesDefault } from "./Prices.js"
import { PromptCache } from "./PromptCache.js"
import { PromptCacheStore } from "./PromptCacheStore.js"
import { Scheduler, SchedulerLocal } from "./Scheduler.js"
import type { AdmissionQueueFull, ModelLimit } from "./Scheduler.js"
import { finishedStatuses, Store, StoreError } from "./Store.js"

/** No masterplan with this id is known to the engine or its store. */
export class MasterplanNotFound extends Data.TaggedError("MasterplanNotFound")<{
  readonly masterplanId: string
}> {
  override get message(): string {
    return `no masterplan "${this.masterplanId}"`
  }
}

/** A masterplan that cannot be resumed: it has ended, or this engine is already running it. */
export class MasterplanNotResumable extends Data.TaggedError("MasterplanNotResumable")<{
  readonly masterplanId: string
  readonly reason: string
}> {
  override get message(): string {
    return `masterplan "${this.masterplanId}" cannot be resumed: ${this.reason}`
  }
}

/** A review decision for an atom that is not waiting in review. */
export class AtomNotInReview extends Data.TaggedError("AtomNotInReview")<{
  readonly masterplanId: string
  readonly atomId: string
  /** Where the atom is instead, when known: `unknown` (the plan has no such atom), or its status. */
  readonly status?: AtomStatus | "unknown" | undefined
  /** A decision already journaled for it, which the next resume applies. */
  readonly decided?: ReviewedRow["decision"] | undefined
}> {
  override get message(): string {
    const atom = `atom "${this.atomId}" of masterplan "${this.masterplanId}"`
    if (this.status === "unknown") return `masterplan "${this.masterplanId}" has no atom "${this.atomId}"`
    if (this.decided !== undefined)
      return `${atom} is reviewed already (${this.decided}); resuming the plan applies that decision`
    // Live, a row still in review whose machine has moved on: a decision is being applied.
    if (this.status === "review") return `${atom} is reviewed already; the decision is being applied`
    return `${atom} is not waiting for a review${this.status !== undefined ? ` (it is ${this.status})` : ""}`
  }
}

/** The event that ended a masterplan, with its summary. */
export type TerminalEvent = EventOf<"masterplan.completed" | "masterplan.failed" | "masterplan.cancelled">

/** Options of one submission; what it does not say comes from the plan, then from the defaults. */
export interface SubmitOptions {
  /** Use this id instead of a generated one; it must be an `Id` (well-formed, no control characters, at most 256 long). */
  readonly masterplanId?: string
  /** Overrides of the plan's own options (the CLI's flags). */
  readonly options?: Partial<RunOptionsInput>
  /** The tenant the plan belongs to (a host submits for its token's tenant); stored with it. */
  readonly tenant?: string
  /** Who submits it, named in `masterplan.submitted` (the audit trail). */
  readonly principal?: string
}

/**
 * The operator an action is taken for (a host's token says who): the event it journals names them,
 * so the journal is the audit trail of who paused, resumed, cancelled, raised a budget or reviewed.
 */
export interface Operator {
  readonly principal: string
}

/** Where to read a journal from, and whether to wait for what comes next. */
export interface EventsOptions {
  /** @default 1 */
  readonly fromSeq?: number
  /**
   * For a masterplan this engine is not running: keep polling the store for new events (another
   * process may be running it) until its terminal event. A running one is always followed.
   * @default false
   */
  readonly follow?: boolean
}

/** What `recover` picks a plan up for. */
export interface RecoverOptions {
  /**
   * Only to cancel it: the plan is loaded under its lease and cancelled before any atom starts
   * (no call is made), journaling `masterplan.cancelled` with its summary, which `result` then
   * gives. This is how a plan no process runs (stopped, or paused) is cancelled.
   */
  readonly cancel?: { readonly reason?: string; readonly by?: Operator }
}

/**
 * Who is handed a running masterplan's commits as they return (`EngineService.followCommits`). Both
 * are called in the plan's journal writer, between two commits: they must not block, and what
 * they throw is logged and stops their following, never the writer.
 */
export interface CommitListener {
  /** A batch just committed: gap-free, in seq order, right after the previous one. */
  readonly committed: (events: ReadonlyArray<Event>) => void
  /** The writer stopped (terminal event committed, the plan detached, or its journal could not be kept): nothing more comes. */
  readonly ended: () => void
}

/** A `followCommits` under way. */
export interface CommitFollowing {
  /** The seq committed before the first batch the listener is handed: anything up to it is in the store. */
  readonly committedSeq: number
  /** Stops handing commits to the listener (`ended` is not called). */
  readonly stop: () => void
}

/** How a detach treats the calls in flight. */
export interface DetachOptions {
  /**
   * How long calls in flight may take to end before they are interrupted. An answer that comes in
   * is journaled and kept; an interrupted call is paid again on resume.
   * @default 0
   */
  readonly graceMs?: number
}

/** A new budget for a masterplan: its hard limit and, optionally, its soft one (80% of hard if not given). */
export interface BudgetChange {
  readonly hardUsd: number
  readonly softUsd?: number
}

/** What a reviewer decides about an atom waiting in review. */
export type ReviewDecision = "APPROVE" | { readonly edit: string } | { readonly reject: string }

/**
 * Runs masterplans: submit, observe, pause, resume, cancel, review, and recover after a crash.
 * Every masterplan, wave and atom is an XState actor; every event they emit is journaled in the
 * `Store` with a gap-free `seq`, together with the rows it changes, and can be observed as a
 * `Stream` from any `seq`.
 */
export interface EngineService {
  /**
   * Validates a plan (schema and graph), stores and journals its submission, and starts it. Returns
   * its id. A plan `compilePlan` compiled already (`CompiledPlan`, as the CLI checks a plan file)
   * is not decoded again; only its options are resolved with the submission's.
   *
   * It first takes the plan's room in the engine's bounded admission queue
   * (`SchedulerService.claimQueue`): while the plans running leave none, it waits (up to
   * `maxQueueWaitMs`, 300 s by default), then fails with `AdmissionQueueFull`, having stored nothing.
   */
  readonly submit: (
    plan: unknown | CompiledPlan,
    options?: SubmitOptions
  ) => Effect.Effect<string, PlanInputError | PlanGraphError | StoreError | AdmissionQueueFull>
  /**
   * Picks up a masterplan an earlier process left unfinished: completed atoms stay completed (no
   * call is repeated), atoms that were mid-call are journaled as interrupted and run again. Its
   * atoms re-enter through admission: it waits for room in the engine's queue as `submit` does.
   * With `cancel`, it is cancelled instead of run.
   */
  readonly recover: (
    masterplanId: string,
    options?: RecoverOptions
  ) => Effect.Effect<
    void,
    | MasterplanNotFound
    | MasterplanNotResumable
    | PlanInputError
    | PlanGraphError
    | StoreError
    | AdmissionQueueFull
  >
  /** Recovers every unfinished masterplan in the store; their ids. */
  readonly recoverAll: () => Effect.Effect<ReadonlyArray<string>, StoreError>
  /** The masterplan's events from `fromSeq`, ending with its terminal event. */
  readonly events: (
    masterplanId: string,
    options?: EventsOptions
  ) => Stream.Stream<Event, MasterplanNotFound | StoreError>
  /**
   * Hands every batch of a masterplan this engine runs to `listener` as its commit returns, in the
   * journal writer itself: no stream, no store read, no fiber per listener, so that a host fans
   * its events out the moment they are durable. Fails for a plan this engine does not run, or
   * whose writer has stopped.
   */
  readonly followCommits: (
    masterplanId: string,
    listener: CommitListener
  ) => Effect.Effect<CommitFollowing, MasterplanNotFound>
  /** Waits for a masterplan this engine runs to end; its terminal event. */
  readonly result: (masterplanId: string) => Effect.Effect<TerminalEvent, MasterplanNotFound | StoreError>
  readonly cancel: (
    masterplanId: string,
    reason?: string,
    by?: Operator
  ) => Effect.Effect<void, MasterplanNotFound>
  /** Stops admitting atoms; those in flight finish. */
  readonly pause: (
    masterplanId: string,
    reason?: string,
    by?: Operator
  ) => Effect.Effect<void, MasterplanNotFound>
  readonly resume: (masterplanId: string, by?: Operator) => Effect.Effect<void, MasterplanNotFound>
  /**
   * Stops running a masterplan without ending it (Ctrl-C, a signal, shutdown): no new call starts;
   * calls in flight may end within `graceMs` (their results are paid for, so they are kept), the
   * rest are interrupted; everything journaled is committed, and `recover` continues it later.
   */
  readonly detach: (
    masterplanId: string,
    options?: DetachOptions
  ) => Effect.Effect<void, MasterplanNotFound | StoreError>
  /**
   * A reviewer's decision on an atom waiting in review, journaled as `atom.reviewed` (with `by`'s
   * principal). For a plan this engine runs it takes effect at once: approve and edit complete the
   * atom (with the model's code, or the edit's), reject fails it (not retried), and its dependents
   * go on. For a stored plan no process runs (`devmatrix run` ended with atoms waiting), the
   * decision is journaled in its store under its lease, an edit's code with it, and the next
   * `recover` applies it as the live path would; a second decision on the atom is refused.
   */
  readonly review: (
    masterplanId: string,
    atomId: string,
    decision: ReviewDecision,
    by?: Operator
  ) => Effect.Effect<void, MasterplanNotFound | MasterplanNotResumable | AtomNotInReview | StoreError>
  /**
   * Sets a masterplan's budget (journaled as `budget.raised`): at once for a plan this engine runs,
   * in the store for one no process runs (a plan paused on budget), so that `resume` runs under it.
   * A plan paused on budget stays paused: `resume` continues it.
   */
  readonly raiseBudget: (
    masterplanId: string,
    budget: BudgetChange,
    by?: Operator
  ) => Effect.Effect<void, MasterplanNotFound | MasterplanNotResumable | PlanInputError | StoreError>
  /**
   * Pins a model's limit at `limit` calls in flight (an integer from 1 to 10,000), shared by every
   * plan of this engine that calls it, while they run: the limiter stops adapting until it is
   * unpinned (`undefined`). Each running plan on the model journals the change
   * (`concurrency.limit_changed`); a plan's own `concurrency` still caps that plan.
   */
  readonly setConcurrency: (model: string, limit: number | undefined) => Effect.Effect<void, PlanInputError>
  /** The limits of the models this engine's plans have used: limit, pin, calls in flight, atoms waiting. */
  readonly limits: () => Effect.Effect<ReadonlyArray<ModelLimit>>
}

export class Engine extends Context.Tag("@devmatrix/runtime/Engine")<Engine, EngineService>() {}

interface LivePlan {
  readonly run: PlanRun
  /** Detaches the run and stops journaling what it says. */
  readonly stop: () => void
  /** Commits the journal; stopped once a detached plan's journal is drained. */
  readonly writer: Fiber.RuntimeFiber<void>
  readonly buffer: JournalBuffer
  readonly done: Deferred.Deferred<TerminalEvent, StoreError>
  /** The last seq journaled (committed or not). */
  readonly journaled: () => number
  /** Those handed each commit (`followCommits`). */
  readonly commitListeners: Set<CommitListener>
}

/** How often `events(..., { follow: true })` looks for new events of a plan run elsewhere. */
const followIntervalMs = 250

/** Events read from the store at a time by `events`. */
const journalPageSize = 1_000

const decodeBudget = decodeInput(Budget, "budget", { onExcessProperty: "error" })

// A misspelled option is refused, not ignored.
const decodeOverrides = decodeInput(RunOptions, "options", { onExcessProperty: "error" })

/**
 * A plan stored by an earlier process is decoded as leniently as it was accepted then: a field
 * that a plan may no longer have must not stop its resume.
 */
const decodeStoredPlan = decodeInput(PlanInput, "stored plan")

/** Options in force: defaults, then the plan's `options` and `budget`, then the submission's. */
const resolveOptions = (plan: PlanInput, overrides: Partial<RunOptionsInput> | undefined) =>
  decodeOverrides({
    ...plan.options,
    ...(plan.budget !== undefined ? { budget: plan.budget } : {}),
    ...overrides,
    retry: { ...plan.options?.retry, ...overrides?.retry }
  })

const fromEither = <A, E>(either: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })

/** Builds the engine on a `ModelProvider` and a `Store`; masterplans still running when its scope closes are detached. */
export const make = Effect.gen(function* () {
  const provider = yield* ModelProvider
  const scheduler = yield* Scheduler
  const ledger = yield* CostLedger
  const cache = yield* PromptCache
  const prices = yield* Prices
  const store = yield* Store
  // Journal writers live in a scope of their own, opened before the engine's finalizer is added:
  // scopes close last-in first-out, so on shutdown plans are detached (and their journals drained)
  // before the writers stop.
  const writers = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
  const runtime = yield* Effect.runtime<never>()
  const clock = yield* Effect.clock
  const nowMs = () => clock.unsafeCurrentTimeMillis()
  const plans = new Map<string, LivePlan>()
  /** How each plan this engine ran ended or will end, kept after a run is abandoned so `result` can say why. */
  const outcomes = new Map<string, Deferred.Deferred<TerminalEvent, StoreError>>()
  const leases = makePlanLeases(store, nowMs)

  const find = (masterplanId: string) =>
    Effect.suspend(() => {
      const plan = plans.get(masterplanId)
      return plan ? Effect.succeed(plan) : Effect.fail(new MasterplanNotFound({ masterplanId }))
    })

  /**
   * Stops running a plan that this process can no longer keep (its journal cannot be committed, or
   * another process took its lease): in-flight calls are interrupted, nothing more is journaled, and
   * `recover` may try it again later.
   */
  const abandon = (masterplanId: string) => {
    const plan = plans.get(masterplanId)
    if (plan === undefined) return
    plans.delete(masterplanId)
    plan.stop()
  }

  /** Takes a plan's lease, or says which live process holds it. */
  const takeLease = (masterplanId: string) =>
    Effect.flatMap(leases.take(masterplanId), (holder) =>
      Option.match(holder, {
        onNone: () => Effect.void,
        onSome: (lease) =>
          Effect.fail(
            new MasterplanNotResumable({
              masterplanId,
              reason: `another process is running it (${lease.owner}; its lease runs until ${new Date(lease.untilMs).toISOString()} and is renewed every ${leaseRenewMs / 1000} s while it runs)`
            })
          )
      })
    )

  /**
   * Takes the lease for a short change to a stored plan (its budget, a review). Another such change
   * (a second reviewer at the same moment) holds it for a commit's time only, so it is asked for
   * again for up to about 2 s before the holder is reported as running the plan.
   */
  const takeLeaseForChange = (masterplanId: string) =>
    takeLease(masterplanId).pipe(
      Effect.retry({
        while: (error) => error._tag === "MasterplanNotResumable",
        schedule: Schedule.intersect(Schedule.spaced(Duration.millis(50)), Schedule.recurs(40))
      })
    )

  /**
   * Runs `change` on a stored plan no process runs (it must not have ended), under its lease: no
   * other process moves its journal or rows meanwhile, so `change` reads them again and commits the
   * next event. The lease is released after, whatever `change` does.
   */
  const changeStored = <A, E>(masterplanId: string, change: Effect.Effect<A, E>) =>
    Effect.gen(function* () {
      yield* storedUnfinished(masterplanId)
      yield* takeLeaseForChange(masterplanId)
      return yield* Effect.ensuring(change, leases.release(masterplanId))
    })

  /** Renews a running plan's lease; if another process has taken it, this one stops running the plan. */
  const keepLease = (masterplanId: string, buffer: JournalBuffer) =>
    leases.keep(
      masterplanId,
      () => !buffer.writerEnded && plans.has(masterplanId),
      (holder) =>
        Effect.suspend(() => {
          const plan = plans.get(masterplanId)
          abandon(masterplanId)
          const taken = new StoreError({
            reason: "Conflict",
            store: store.name,
            detail: `masterplan "${masterplanId}" was taken over by another process (${holder.owner}); this one stopped running it`
          })
          return plan === undefined ? Effect.void : Deferred.fail(plan.done, taken)
        })
    )

  /** Starts running a plan: its journal, its writer, its actors. */
  const launch = (
    masterplanId: string,
    config: Omit<
      PlanRunConfig,
      | "masterplanId"
      | "provider"
      | "scheduler"
      | "ledger"
      | "cache"
      | "prices"
      | "price"
      | "runtime"
      | "journal"
      | "nowMs"
      | "journalLagging"
    >,
    start: { readonly lastSeq: number; readonly cancel?: RecoverOptions["cancel"] }
  ) =>
    Effect.gen(function* () {
      const lastSeq = start.lastSeq
      // The plan's money: its budget, and what its journal says was paid already (the reservations
      // of a process that died are gone with it).
      const budget = config.options.budget
      yield* ledger.open(
        masterplanId,
        { hardUsd: budget.hardUsd, softUsd: softLimitUsd(budget), perAtomUsd: budget.perAtomUsd },
        (config.recovered?.costs ?? []).map((cost) => ({
          id: `${cost.atomId}/${cost.attempt}`,
          usd: cost.costUsd,
          atomId: cost.atomId
        }))
      )
      const buffer = yield* makeJournalBuffer(lastSeq)
      const live = {
        buffer,
        done: yield* Deferred.make<TerminalEvent, StoreError>(),
        commitListeners: new Set<CommitListener>()
      }
      // A listener that throws stops being handed commits; the writer goes on.
      const tell = (call: (listener: CommitListener) => void) => {
        for (const listener of live.commitListeners)
          try {
            call(listener)
          } catch (error) {
            live.commitListeners.delete(listener)
            Runtime.runFork(runtime)(
              Effect.logWarning(
                `a follower of the commits of masterplan ${masterplanId} failed and was dropped`,
                error
              )
            )
          }
      }
      let seq = lastSeq
      let stopped = false
      const journal = (body: EventBody, code?: string) => {
        // Once the plan is detached or abandoned, what its stopping actors say is not journaled.
        if (stopped) return seq
        // A copy, never the emitted object stamped in place: a machine may emit one constant
        // object for every actor (`emit({ type: "masterplan.started" })`), shared by all plans.
        bufferEvent(buffer, { ...body, masterplanId, seq: ++seq, at: nowMs() }, code)
        return seq
      }
      const run = new PlanRun({
        ...config,
        masterplanId,
        provider,
        scheduler,
        ledger,
        cache,
        prices,
        // The model was checked against the table when the plan was compiled.
        price: findModelPrice(prices, config.options.model)!,
        runtime,
        journal,
        nowMs,
        journalLagging: () => journalLagging(buffer, nowMs())
      })
      const stop = () => {
        run.detach()
        stopped = true
        // Its reservations go with it: a call this process no longer makes holds no money.
        Runtime.runFork(runtime)(ledger.close(masterplanId))
      }
      const writer = yield* Effect.forkIn(
        Effect.asVoid(
          journalWriter({
            store,
            masterplanId,
            ...live,
            leaseOwner: leases.owner,
            onFailure: () => abandon(masterplanId),
            onEnd: Effect.zipRight(
              Effect.sync(() => {
                tell((listener) => listener.ended())
                live.commitListeners.clear()
              }),
              Effect.zipRight(leases.release(masterplanId), ledger.close(masterplanId))
            ),
            onCommitted: (committedSeq, events) => {
              tell((listener) => listener.committed(events))
              run.committed(committedSeq)
            }
          })
        ),
        writers
      )
      yield* Effect.forkIn(keepLease(masterplanId, buffer), writers)
      plans.set(masterplanId, { run, stop, writer, ...live, journaled: () => seq })
      outcomes.set(masterplanId, live.done)
      run.submit()
      if (start.cancel === undefined) run.start()
      else run.cancel(start.cancel.reason ?? "cancelled by the operator", start.cancel.by?.principal)
    })

  const compile = (
    input: unknown,
    overrides: Partial<RunOptionsInput> | undefined,
    decode?: (input: unknown) => Either.Either<PlanInput, PlanInputError>
  ) =>
    Effect.gen(function* () {
      const {
        plan,
        graph,
        input: given
      } = isCompiledPlan(input) ? input : yield* fromEither(compilePlan(input, decode))
      const options = yield* fromEither(resolveOptions(plan, overrides))
      // A model the price table does not know is never billed at a guessed price.
      if (findModelPrice(prices, options.model) === undefined)
        return yield* new PlanInputError({
          source: "options",
          problems: [{ path: "model", message: unknownModelMessage(prices, options.model) }]
        })
      return { plan, options, graph, input: given }
    })

  const submit: EngineService["submit"] = (input, submitOptions) =>
    Effect.gen(function* () {
      const { plan, options, graph, input: given } = yield* compile(input, submitOptions?.options)
      // A given id is stored and looked up again: it must be an id the stores keep exactly.
      const idIssue =
        submitOptions?.masterplanId === undefined ? undefined : idProblem(submitOptions.masterplanId)
      if (idIssue !== undefined)
        return yield* new PlanInputError({
          source: "submit",
          problems: [{ path: "masterplanId", message: idIssue }]
        })
      const masterplanId =
        submitOptions?.masterplanId ?? `mp_${randomUUID().replaceAll("-", "").slice(0, 16)}`
      // Room in the engine's queue first: a plan that cannot get it is refused with nothing stored.
      const queue = yield* scheduler.claimQueue(masterplanId, graph.ids.length)
      const owner = { tenant: submitOptions?.tenant, principal: submitOptions?.principal }
      yield* Effect.onError(storeAndLaunch(masterplanId, { plan, options, graph, given }, queue, owner), () =>
        Effect.sync(() => queue.release())
      )
      return masterplanId
    })

  /** Stores a new plan that has its room in the queue, and starts it. */
  const storeAndLaunch = (
    masterplanId: string,
    compiled: {
      readonly plan: PlanInput
      readonly options: RunOptions
      readonly graph: PlanGraph
      readonly given: unknown
    },
    queue: QueueClaim,
    owner: PlanRunConfig["owner"]
  ) =>
    Effect.gen(function* () {
      const { plan, options, graph, given } = compiled
      yield* store.createMasterplan({
        masterplan: {
          id: masterplanId,
          name: plan.name,
          status: "submitted",
          options,
          atomCount: graph.ids.length,
          waveCount: graph.waves.length,
          createdAt: nowMs(),
          ...(owner?.tenant !== undefined ? { tenant: owner.tenant } : {})
        },
        // Stored with the options in force (overrides and budget folded in): a resume runs as the run began.
        plan: { ...(given as Record<string, unknown>), budget: undefined, options },
        atoms: graph.ids.map((atomId, index) => ({ atomId, index, wave: graph.waveOf[index]! }))
      })
      yield* leases.takeNew(masterplanId)
      yield* launch(masterplanId, { plan, graph, options, queue, owner }, { lastSeq: 0 })
    })

  /** A stored plan that has not ended (it may be resumed, or its budget raised), or why not. */
  const storedUnfinished = (masterplanId: string) =>
    Effect.gen(function* () {
      const found = yield* store.getMasterplan(masterplanId)
      if (Option.isNone(found)) return yield* new MasterplanNotFound({ masterplanId })
      if (finishedStatuses.has(found.value.status))
        return yield* new MasterplanNotResumable({
          masterplanId,
          reason: `it has ended (${found.value.status})`
        })
      return found.value
    })

  const recover: EngineService["recover"] = (masterplanId, options) =>
    Effect.gen(function* () {
      if (plans.has(masterplanId))
        return yield* new MasterplanNotResumable({
          masterplanId,
          reason: "it is already running in this process"
        })
      const record = yield* storedUnfinished(masterplanId)
      // Resumed work re-enters through admission: room in the engine's queue before anything else
      // (the lease is taken after the wait, so no other process sees it lapse meanwhile).
      const queue = yield* scheduler.claimQueue(masterplanId, record.atomCount)
      yield* Effect.onError(
        Effect.gen(function* () {
          // The lease first: once this process holds it, no other one commits to the plan (or, if one
          // still tries, its commits no longer fit the journal and are refused).
          yield* takeLease(masterplanId)
          const loaded = yield* Effect.tapError(loadAndCompile(masterplanId), () =>
            leases.release(masterplanId)
          )
          yield* launch(
            masterplanId,
            { ...loaded, queue, owner: { tenant: record.tenant } },
            { lastSeq: loaded.lastSeq, ...(options?.cancel !== undefined ? { cancel: options.cancel } : {}) }
          )
        }),
        () => Effect.sync(() => queue.release())
      )
    })

  /** Reads what a recovering process needs and compiles the stored plan again. */
  const loadAndCompile = (masterplanId: string) =>
    Effect.gen(function* () {
      const snapshot = yield* store.loadForRecovery(masterplanId)
      if (Option.isNone(snapshot)) return yield* new MasterplanNotFound({ masterplanId })
      const { record, atoms, costs, eventCounts } = snapshot.value
      const compiled = yield* compile(record.plan, undefined, decodeStoredPlan)
      const { plan, graph } = compiled
      // A budget raised since the plan was stored is kept with its options (`budget.raised`).
      const options = { ...compiled.options, budget: record.options.budget ?? compiled.options.budget }
      // A plan stopped before its first commit has nothing to carry over: it starts afresh.
      const recovered =
        record.lastSeq > 0
          ? { atoms, costs, eventCounts, startedAtMs: record.createdAt, paused: record.status === "paused" }
          : undefined
      return { plan, graph, options, lastSeq: record.lastSeq, ...(recovered ? { recovered } : {}) }
    })

  const recoverAll: EngineService["recoverAll"] = () =>
    Effect.gen(function* () {
      const unfinished = (yield* store.listMasterplans()).filter(
        (plan) => !finishedStatuses.has(plan.status) && !plans.has(plan.id)
      )
      const recovered: Array<string> = []
      for (const plan of unfinished) {
        const outcome = yield* Effect.either(recover(plan.id))
        if (Either.isRight(outcome)) recovered.push(plan.id)
        else yield* Effect.logWarning(`masterplan ${plan.id} not recovered: ${outcome.left.message}`)
      }
      return recovered
    })

  /** One page of a journal, bounded and retried as commits are: a dropped connection costs a reader a retry. */
  const readPage = (masterplanId: string, from: number, upTo: number) =>
    retriedStoreCall(
      store,
      `a read of the journal of "${masterplanId}"`,
      store.readEvents(masterplanId, from, upTo)
    )

  /**
   * A journal from `from` as far as `upTo` (or to its end), read in pages of at most
   * `journalPageSize` events: a reader far behind (a slow `--json` consumer, `events` on a plan of
   * 100,000 atoms) holds one page at a time, never the whole journal. Seqs are gap-free, so a
   * short page is the end.
   */
  const journalFrom = (masterplanId: string, from: number, upTo?: number) =>
    Stream.paginateChunkEffect(from, (start) => {
      const end = Math.min(upTo ?? Number.POSITIVE_INFINITY, start + journalPageSize - 1)
      return Effect.map(readPage(masterplanId, start, end), (page) => {
        const more = page.length === end - start + 1 && end !== upTo
        return [Chunk.unsafeFromArray(page), more ? Option.some(end + 1) : Option.none()] as const
      })
    })

  /**
   * A running plan's journal from `from`: each commit it is told of (`commitListeners`, only while
   * the stream is read) is read back from the store, so a slow reader holds back its reads, not
   * the writer, and what it has not read yet stays in the store, not in memory.
   */
  const liveJournal = (masterplanId: string, live: LivePlan, from: number) =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        let next = from
        // Only the latest commit matters: the reads go from where the last one ended up to it.
        // One token says there is something new to read (a dropping queue of one: a second
        // commit before the read finds the token there already).
        const news = yield* Queue.dropping<void>(1)
        const listener: CommitListener = {
          committed: () => void news.unsafeOffer(undefined),
          ended: () => undefined
        }
        live.commitListeners.add(listener)
        yield* Effect.addFinalizer(() => Effect.sync(() => live.commitListeners.delete(listener)))
        news.unsafeOffer(undefined)
        return Stream.repeatEffect(Queue.take(news)).pipe(
          Stream.flatMap(() => {
            const committed = live.buffer.committedSeq
            if (committed < next) return Stream.empty
            const start = next
            next = committed + 1
            return journalFrom(masterplanId, start, committed)
          }),
          Stream.takeUntil(isTerminalEvent),
          // A journal that can no longer be committed ends the stream with the store's error,
          // a read under way included (on a stalled connection it would never return).
          Stream.interruptWhen(Effect.zipRight(Deferred.await(live.done), Effect.never))
        )
      })
    )

  const events: EngineService["events"] = (masterplanId, options = {}) =>
    Stream.unwrap(
      Effect.gen(function* () {
        let next = Math.max(1, options.fromSeq ?? 1)
        const live = plans.get(masterplanId)
        if (live !== undefined) return liveJournal(masterplanId, live, next)
        if (Option.isNone(yield* store.getMasterplan(masterplanId)))
          return yield* new MasterplanNotFound({ masterplanId })
        const tail = Stream.suspend(() => journalFrom(masterplanId, next)).pipe(
          Stream.tap((event) => Effect.sync(() => (next = event.seq + 1)))
        )
        const pages = options.follow
          ? Stream.repeat(tail, Schedule.spaced(Duration.millis(followIntervalMs)))
          : tail
        return pages.pipe(Stream.takeUntil(isTerminalEvent))
      })
    )

  const followCommits: EngineService["followCommits"] = (masterplanId, listener) =>
    Effect.flatMap(find(masterplanId), (plan) => {
      // Its writer has stopped (and told its listeners so): there is nothing left to follow.
      if (plan.buffer.writerEnded) return Effect.fail(new MasterplanNotFound({ masterplanId }))
      plan.commitListeners.add(listener)
      return Effect.succeed({
        committedSeq: plan.buffer.committedSeq,
        stop: () => void plan.commitListeners.delete(listener)
      })
    })

  const withPlan =
    <TArgs extends ReadonlyArray<unknown>>(action: (run: PlanRun, ...args: TArgs) => void) =>
    (masterplanId: string, ...args: TArgs) =>
      Effect.flatMap(find(masterplanId), (plan) => Effect.sync(() => action(plan.run, ...args)))

  const detach: EngineService["detach"] = (masterplanId, options) =>
    Effect.gen(function* () {
      const plan = yield* find(masterplanId)
      const graceMs = options?.graceMs ?? 0
      if (graceMs > 0)
        yield* Effect.promise(() => plan.run.closeAdmission()).pipe(
          Effect.timeoutOption(Duration.millis(graceMs))
        )
      plan.stop()
      yield* drained(plan.buffer, plan.journaled())
      plans.delete(masterplanId)
      outcomes.delete(masterplanId)
      // A writer that stopped on a store error: the journal could not be kept, say so.
      const ended = yield* Deferred.poll(plan.done)
      // Everything is committed: the writer has nothing left to do (it releases the lease as it stops).
      yield* Fiber.interrupt(plan.writer)
      yield* leases.release(masterplanId)
      if (Option.isSome(ended)) yield* Effect.asVoid(ended.value)
    })

  /** Journals a new budget for a plan no process runs: under its lease, as the next event of its journal. */
  const raiseStoredBudget = (masterplanId: string, budget: Budget, by: Operator | undefined) =>
    changeStored(
      masterplanId,
      Effect.gen(function* () {
        // Read again under the lease: no other process moves the journal now.
        const record = Option.getOrThrow(yield* store.getMasterplan(masterplanId))
        yield* store.commit(masterplanId, {
          events: [
            {
              type: "budget.raised",
              masterplanId,
              seq: record.lastSeq + 1,
              at: nowMs(),
              hardUsd: budget.hardUsd,
              softUsd: softLimitUsd(budget),
              previousHardUsd: record.options.budget.hardUsd,
              ...(by !== undefined ? { principal: by.principal } : {})
            }
          ],
          results: [],
          leaseOwner: leases.owner
        })
      })
    )

  /** Journals a review of an atom of a plan no process runs: under its lease, as the next event of its journal. */
  const reviewStored = (
    masterplanId: string,
    atomId: string,
    decision: ReviewDecision,
    by: Operator | undefined
  ) =>
    changeStored(
      masterplanId,
      Effect.gen(function* () {
        // Read again under the lease: no other process moves the journal or the rows now.
        const record = Option.getOrThrow(yield* store.getMasterplan(masterplanId))
        const row = (yield* store.listAtoms(masterplanId)).find((atom) => atom.atomId === atomId)
        if (row === undefined) return yield* new AtomNotInReview({ masterplanId, atomId, status: "unknown" })
        if (row.status !== "review" || row.reviewed !== undefined)
          return yield* new AtomNotInReview({
            masterplanId,
            atomId,
            status: row.status,
            decided: row.status === "review" ? row.reviewed?.decision : undefined
          })
        const edit = typeof decision === "object" && "edit" in decision ? decision.edit : undefined
        const reason = typeof decision === "object" && "reject" in decision ? decision.reject : undefined
        yield* store.commit(masterplanId, {
          events: [
            {
              type: "atom.reviewed",
              masterplanId,
              seq: record.lastSeq + 1,
              at: nowMs(),
              atomId,
              wave: row.wave,
              decision: edit !== undefined ? "edit" : reason !== undefined ? "reject" : "approve",
              ...(reason !== undefined ? { reason } : {}),
              ...(by !== undefined ? { principal: by.principal } : {})
            }
          ],
          // The edit's code replaces the output under review: the resume completes the atom with it.
          results: edit !== undefined ? [{ atomId, code: edit }] : [],
          leaseOwner: leases.owner
        })
      })
    )

  const review: EngineService["review"] = (masterplanId, atomId, decision, by) =>
    Effect.suspend(() => {
      const live = plans.get(masterplanId)
      if (live === undefined) return reviewStored(masterplanId, atomId, decision, by)
      const outcome = live.run.review(atomId, decision, by?.principal)
      if (outcome === "sent") return Effect.void
      if (outcome === "unknown")
        return Effect.fail(new AtomNotInReview({ masterplanId, atomId, status: "unknown" }))
      // Where the atom is instead, as far as the store has it (a refusal is rare: the read costs nothing).
      return Effect.flatMap(
        Effect.orElseSucceed(store.listAtoms(masterplanId), () => []),
        (rows) =>
          Effect.fail(
            new AtomNotInReview({
              masterplanId,
              atomId,
              status: rows.find((row) => row.atomId === atomId)?.status
            })
          )
      )
    })

  const raiseBudget: EngineService["raiseBudget"] = (masterplanId, change, by) =>
    Effect.gen(function* () {
      const budget = yield* fromEither(decodeBudget(change))
      const live = plans.get(masterplanId)
      if (live !== undefined) {
        yield* Effect.ignore(
          ledger.raise(masterplanId, { hardUsd: budget.hardUsd, softUsd: softLimitUsd(budget) })
        )
        return live.run.raiseBudget(budget, by?.principal)
      }
      yield* raiseStoredBudget(masterplanId, budget, by)
    })

  yield* Effect.addFinalizer(() =>
    Effect.forEach([...plans.keys()], (id) => Effect.ignore(detach(id)), { discard: true })
  )

  const setConcurrency: EngineService["setConcurrency"] = (model, limit) =>
    Effect.suspend(() => {
      if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= maxConcurrency))
        return Effect.fail(
          new PlanInputError({
            source: "setConcurrency",
            problems: [
              { path: "limit", message: `must be an integer from 1 to ${maxConcurrency}, got ${limit}` }
            ]
          })
        )
      return Effect.sync(() => scheduler.setConcurrency(model, limit))
    })

  const service: EngineService = {
    submit,
    recover,
    recoverAll,
    events,
    followCommits,
    result: (masterplanId) =>
      Effect.suspend((): Effect.Effect<TerminalEvent, StoreError | MasterplanNotFound> => {
        const done = outcomes.get(masterplanId)
        return done ? Deferred.await(done) : Effect.fail(new MasterplanNotFound({ masterplanId }))
      }),
    cancel: withPlan((run, reason?: string, by?: Operator) =>
      run.cancel(reason ?? "cancelled by the operator", by?.principal)
    ),
    pause: withPlan((run, reason?: string, by?: Operator) =>
      run.pause(reason ?? "paused by the operator", by?.principal)
    ),
    resume: withPlan((run, by?: Operator) => run.resume(by?.principal)),
    detach,
    raiseBudget,
    setConcurrency,
    limits: () => Effect.sync(() => scheduler.limits()),
    review
  }
  return service
})

/** The engine on whatever services are provided: the seams later layers (cluster-wide ledger, limiter) fill. */
export const EngineBase: Layer.Layer<
  Engine,
  never,
  ModelProvider | Scheduler | CostLedger | PromptCache | Prices | Store
> = Layer.scoped(Engine, make)

/**
 * The engine on whatever `ModelProvider` and `Store` are provided, with this process's scheduler and
 * ledger, the default price table, and the prompt cache kept in the store.
 */
export const EngineLive: Layer.Layer<Engine, never, ModelProvider | Store> = EngineBase.pipe(
  Layer.provide(Layer.mergeAll(SchedulerLocal, CostLedgerLocal, PricesDefault, PromptCacheStore()))
)
