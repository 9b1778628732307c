import { buildPlanGraph, decodeInput, decodePlanInput, isTerminalEvent, RunOptions } from "@devmatrix/core"
import type {
  Event,
  EventBody,
  EventOf,
  PlanGraphError,
  PlanInput,
  PlanInputError,
  RunOptionsInput
} from "@devmatrix/core"
import { Context, Data, Deferred, Effect, Either, Layer, Queue, Stream, SubscriptionRef } from "effect"
import { randomUUID } from "node:crypto"
import { PlanRun } from "./internal/planRun.js"
import { ModelProvider } from "./ModelProvider.js"
import { Store } from "./Store.js"
import type { StoreError } from "./Store.js"

/** No masterplan with this id is known to the engine. */
export class MasterplanNotFound extends Data.TaggedError("MasterplanNotFound")<{
  readonly masterplanId: string
}> {
  override get message(): string {
    return `no masterplan "${this.masterplanId}"`
  }
}

/** A review decision for an atom that is not waiting in review. */
export class AtomNotInReview extends Data.TaggedError("AtomNotInReview")<{
  readonly masterplanId: string
  readonly atomId: string
}> {
  override get message(): string {
    return `atom "${this.atomId}" of masterplan "${this.masterplanId}" is not waiting for a review`
  }
}

/** The event that ended a masterplan, with its summary. */
export type TerminalEvent = EventOf<"masterplan.completed" | "masterplan.failed" | "masterplan.cancelled">

/** Options of one submission; what it does not say comes from the plan, then from the defaults. */
export interface SubmitOptions {
  /** Use this id instead of a generated one. */
  readonly masterplanId?: string
  /** Overrides of the plan's own options (the CLI's flags). */
  readonly options?: Partial<RunOptionsInput>
}

/** What a reviewer decides about an atom waiting in review. */
export type ReviewDecision = "APPROVE" | { readonly edit: string } | { readonly reject: string }

/**
 * Runs masterplans: submit, observe, pause, resume, cancel, review. Every masterplan, wave and atom
 * is an XState actor; every event they emit is journaled in the `Store` with a gap-free `seq` and
 * can be observed as a `Stream` from any `seq`.
 */
export interface EngineService {
  /** Validates a plan (schema and graph), journals its submission and starts it. Returns its id. */
  readonly submit: (
    plan: unknown,
    options?: SubmitOptions
  ) => Effect.Effect<string, PlanInputError | PlanGraphError | StoreError>
  /** The masterplan's events from `fromSeq` (default 1), live, ending with its terminal event. */
  readonly events: (
    masterplanId: string,
    fromSeq?: number
  ) => Stream.Stream<Event, MasterplanNotFound | StoreError>
  /** Waits for the masterplan to end; its terminal event. */
  readonly result: (masterplanId: string) => Effect.Effect<TerminalEvent, MasterplanNotFound | StoreError>
  readonly cancel: (masterplanId: string, reason?: string) => Effect.Effect<void, MasterplanNotFound>
  /** Stops admitting atoms; those in flight finish. */
  readonly pause: (masterplanId: string, reason?: string) => Effect.Effect<void, MasterplanNotFound>
  readonly resume: (masterplanId: string) => Effect.Effect<void, MasterplanNotFound>
  readonly review: (
    masterplanId: string,
    atomId: string,
    decision: ReviewDecision
  ) => Effect.Effect<void, MasterplanNotFound | AtomNotInReview>
}

export class Engine extends Context.Tag("@devmatrix/runtime/Engine")<Engine, EngineService>() {}

interface LivePlan {
  readonly run: PlanRun
  /** Highest seq committed to the store: readers follow it. */
  readonly committed: SubscriptionRef.SubscriptionRef<number>
  readonly done: Deferred.Deferred<TerminalEvent, StoreError>
}

/** Events journaled and not yet committed; `signal` holds one token while `pending` is non-empty. */
interface JournalBuffer {
  pending: Array<Event>
  readonly signal: Queue.Queue<void>
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const decodeOverrides = decodeInput(RunOptions, "options")

/** Options in force: defaults, then the plan's `options` and `budget`, then the submission's. */
const resolveOptions = (plan: PlanInput, overrides: Partial<RunOptionsInput> | undefined) =>
  decodeOverrides({
    ...plan.options,
    ...(plan.budget !== undefined ? { budget: plan.budget } : {}),
    ...overrides,
    retry: { ...plan.options?.retry, ...overrides?.retry }
  })

/** Builds the engine on a `ModelProvider` and a `Store`; masterplans still running when its scope closes are stopped. */
export const make = Effect.gen(function* () {
  const provider = yield* ModelProvider
  const store = yield* Store
  const scope = yield* Effect.scope
  const runtime = yield* Effect.runtime<never>()
  const clock = yield* Effect.clock
  const nowMs = () => clock.unsafeCurrentTimeMillis()
  const plans = new Map<string, LivePlan>()

  const find = (masterplanId: string) =>
    Effect.suspend(() => {
      const plan = plans.get(masterplanId)
      return plan ? Effect.succeed(plan) : Effect.fail(new MasterplanNotFound({ masterplanId }))
    })

  /**
   * Commits journaled events in batches (group commit): each commit takes everything journaled
   * while the previous one ran, so durability costs one store write per batch, not per event.
   */
  const journalWriter = (masterplanId: string, journal: JournalBuffer, live: Omit<LivePlan, "run">) =>
    Effect.gen(function* () {
      for (;;) {
        yield* Queue.take(journal.signal)
        const events = journal.pending
        journal.pending = []
        yield* store.commit(masterplanId, events)
        yield* SubscriptionRef.set(live.committed, events[events.length - 1]!.seq)
        const terminal = events.find(isTerminalEvent)
        if (terminal !== undefined) return yield* Deferred.succeed(live.done, terminal)
      }
    }).pipe(Effect.catchAll((error) => Deferred.fail(live.done, error)))

  const submit: EngineService["submit"] = (input, submitOptions) =>
    Effect.gen(function* () {
      const plan = yield* Either.match(decodePlanInput(input), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const options = yield* Either.match(resolveOptions(plan, submitOptions?.options), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const graph = yield* Either.match(buildPlanGraph(plan.atoms), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      const masterplanId =
        submitOptions?.masterplanId ?? `mp_${randomUUID().replaceAll("-", "").slice(0, 16)}`
      yield* store.createMasterplan({
        id: masterplanId,
        name: plan.name,
        status: "submitted",
        options,
        atomCount: graph.ids.length,
        waveCount: graph.waves.length,
        createdAt: nowMs()
      })
      const buffer: JournalBuffer = { pending: [], signal: yield* Queue.dropping<void>(1) }
      const live = {
        committed: yield* SubscriptionRef.make(0),
        done: yield* Deferred.make<TerminalEvent, StoreError>()
      }
      let seq = 0
      const journal = (body: EventBody) => {
        // The machines emit a fresh object per event: stamping it in place saves a copy per event.
        const event = body as Mutable<Event>
        event.masterplanId = masterplanId
        event.seq = ++seq
        event.at = nowMs()
        if (buffer.pending.push(event) === 1) buffer.signal.unsafeOffer(undefined)
      }
      const run = new PlanRun({ masterplanId, plan, graph, options, provider, runtime, journal, nowMs })
      plans.set(masterplanId, { run, ...live })
      yield* Effect.forkIn(journalWriter(masterplanId, buffer, live), scope)
      run.submit()
      run.start()
      return masterplanId
    })

  const events: EngineService["events"] = (masterplanId, fromSeq = 1) =>
    Stream.unwrap(
      Effect.map(find(masterplanId), (plan) => {
        let next = Math.max(1, fromSeq)
        return plan.committed.changes.pipe(
          Stream.mapEffect((committed) => {
            if (committed < next) return Effect.succeed<ReadonlyArray<Event>>([])
            const from = next
            next = committed + 1
            return store.readEvents(masterplanId, from, committed)
          }),
          Stream.flattenIterables,
          Stream.takeUntil(isTerminalEvent)
        )
      })
    )

  const withPlan =
    <TArgs extends ReadonlyArray<unknown>>(action: (run: PlanRun, ...args: TArgs) => void) =>
    (masterplanId: string, ...args: TArgs) =>
      Effect.flatMap(find(masterplanId), (plan) => Effect.sync(() => action(plan.run, ...args)))

  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const plan of plans.values()) plan.run.stop()
    })
  )

  const service: EngineService = {
    submit,
    events,
    result: (masterplanId) => Effect.flatMap(find(masterplanId), (plan) => Deferred.await(plan.done)),
    cancel: withPlan((run, reason?: string) => run.cancel(reason ?? "cancelled by the operator")),
    pause: withPlan((run, reason?: string) => run.pause(reason ?? "paused by the operator")),
    resume: withPlan((run) => run.resume()),
    review: (masterplanId, atomId, decision) =>
      Effect.flatMap(find(masterplanId), (plan) =>
        plan.run.review(atomId, decision)
          ? Effect.void
          : Effect.fail(new AtomNotInReview({ masterplanId, atomId }))
      )
  }
  return service
})

/** The engine on whatever `ModelProvider` and `Store` are provided. */
export const EngineLive: Layer.Layer<Engine, never, ModelProvider | Store> = Layer.scoped(Engine, make)
