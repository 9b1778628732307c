import { isTerminalEvent } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Cause, Clock, Deferred, Duration, Effect, FiberId, Queue, Schedule } from "effect"
import { StoreError } from "../Store.js"
import type { StoreService } from "../Store.js"

/**
 * A commit that fails as `Unavailable` (a dropped connection, a busy database) is tried again a
 * few times before the run is given up: 0.1 s, 0.2 s, ... 1.6 s.
 */
const firstRetryDelay = Duration.millis(100)

/** The retries after the first (which waits `firstRetryDelay`): 0.2 s, 0.4 s, 0.8 s, 1.6 s. */
const laterRetries = Schedule.exponential(Duration.millis(200), 2).pipe(
  Schedule.intersect(Schedule.recurs(4))
)

/**
 * How long one commit may take before it counts as failed (`Unavailable`) and is tried again. A
 * connection that stalls without closing (a network partition) would otherwise hang the journal
 * for as long as the operating system keeps the socket, while the run goes on making calls. With
 * the retries, a store that does not answer for about 30 s stops the run.
 */
export const commitAttemptTimeoutMs = 5_000

/**
 * A commit outstanding longer than this holds admission: no new model call starts until the
 * journal has caught up, so a slow or stalled store does not let paid work pile up unrecorded.
 */
export const maxCommitLagMs = 1_000

/** A plan's events journaled and not yet committed, and who waits for them to be. */
export interface JournalBuffer {
  pending: Array<Event>
  results: Array<{ atomId: string; code: string }>
  /** Holds one token while `pending` is non-empty. */
  readonly signal: Queue.Queue<void>
  /** The highest seq committed so far, as the writer last saw it. */
  committedSeq: number
  /** The writer has stopped (terminal event committed, or a commit failed): nothing more will be committed. */
  writerEnded: boolean
  /** Waiting for the writer to commit up to a seq (or to stop), released by the writer itself. */
  readonly drainWaiters: Array<{ readonly upTo: number; readonly drained: Deferred.Deferred<void> }>
  /** When the commit under way began (epoch ms, the engine's clock); undefined between commits. */
  commitStartedAtMs: number | undefined
  /** The batch the commit under way holds (empty between commits). */
  committing: ReadonlyArray<Event>
}

export const makeJournalBuffer = (lastSeq: number) =>
  Effect.map(Queue.dropping<void>(1), (signal): JournalBuffer => ({
    pending: [],
    results: [],
    signal,
    committedSeq: lastSeq,
    writerEnded: false,
    drainWaiters: [],
    commitStartedAtMs: undefined,
    committing: []
  }))

/** The paid calls (`cost.updated`) among events that will not be committed. */
const unrecordedPayments = (events: ReadonlyArray<Event>) => {
  let calls = 0
  let costUsd = 0
  for (const event of events)
    if (event.type === "cost.updated") {
      calls++
      costUsd += event.costUsd
    }
  return { calls, costUsd }
}

/** Whether a commit has been under way for longer than `maxCommitLagMs`: admission waits for it. */
export const journalLagging = (buffer: JournalBuffer, nowMs: number): boolean =>
  buffer.commitStartedAtMs !== undefined && nowMs - buffer.commitStartedAtMs > maxCommitLagMs

/** Adds an event (and the code it settles) to the buffer, waking the writer if it was empty. */
export const bufferEvent = (buffer: JournalBuffer, event: Event, code: string | undefined): void => {
  if (code !== undefined && "atomId" in event && event.atomId !== undefined)
    buffer.results.push({ atomId: event.atomId, code })
  if (buffer.pending.push(event) === 1) buffer.signal.unsafeOffer(undefined)
}

/** Lets those waiting for the journal to be committed up to `committed` (or beyond) go on. */
const releaseDrainWaiters = (buffer: JournalBuffer, committed: number) =>
  Effect.suspend(() => {
    const waiting = buffer.drainWaiters
    if (waiting.length === 0) return Effect.void
    const released = []
    for (let i = waiting.length - 1; i >= 0; i--)
      if (waiting[i]!.upTo <= committed) released.push(...waiting.splice(i, 1))
    return Effect.forEach(released, (waiter) => Deferred.succeed(waiter.drained, undefined), {
      discard: true
    })
  })

/** What one plan's journal writer works with. */
export interface JournalWriterConfig<TTerminal extends Event> {
  readonly store: StoreService
  readonly masterplanId: string
  readonly buffer: JournalBuffer
  /** The lease owner the commits are fenced with. */
  readonly leaseOwner: string
  /** Completed with the terminal event once committed, or with why the journal could not be kept. */
  readonly done: Deferred.Deferred<TTerminal, StoreError>
  /** The journal can no longer be kept (after retries): the run must stop. */
  readonly onFailure: (cause: Cause.Cause<StoreError>) => void
  /** The writer has stopped, for whatever reason. */
  readonly onEnd: Effect.Effect<void>
  /** The journal is committed up to this seq, with these events: what waited on it (permits, followers) may go on. */
  readonly onCommitted: (seq: number, events: ReadonlyArray<Event>) => void
}

/**
 * A store call bounded by `commitAttemptTimeoutMs` and retried while it fails as `Unavailable`
 * (on `commitRetry`). A try that does not answer in time (a stalled connection) counts as
 * `Unavailable`; it is disconnected, left to end in the background (the connection may hold it,
 * and a transaction's rollback, until the network comes back) instead of holding its caller.
 * `doing` names the call in that error: `a commit to "mp_1"`.
 *
 * A store on this thread (`inProcess`: memory, SQLite) cannot stall apart from the thread, so its
 * calls get no deadline: the disconnected fiber and the timer each try would cost, once per commit,
 * buy nothing there. The retry's schedule is only built once a try has failed.
 */
export const retriedStoreCall = <A>(
  store: StoreService,
  doing: string,
  call: Effect.Effect<A, StoreError>
) => {
  const bounded =
    store.inProcess === true
      ? call
      : call.pipe(
          Effect.disconnect,
          Effect.timeoutFail({
            duration: Duration.millis(commitAttemptTimeoutMs),
            onTimeout: () =>
              new StoreError({
                reason: "Unavailable",
                store: store.name,
                detail: `${doing} did not finish within ${commitAttemptTimeoutMs / 1000} s (the store is not answering)`
              })
          })
        )
  return Effect.catchIf(
    bounded,
    (error) => error.reason === "Unavailable",
    () =>
      Effect.zipRight(
        Effect.sleep(firstRetryDelay),
        Effect.retry(bounded, { schedule: laterRetries, while: (error) => error.reason === "Unavailable" })
      )
  )
}

/**
 * Commits a plan's journal in batches (group commit): each commit takes everything journaled
 * while the previous one ran, so durability costs one store transaction per batch, not per event.
 */
export const journalWriter = <TTerminal extends Event>(config: JournalWriterConfig<TTerminal>) => {
  const { buffer, done } = config
  return Effect.gen(function* () {
    for (;;) {
      yield* Queue.take(buffer.signal)
      const events = buffer.pending
      const results = buffer.results
      buffer.pending = []
      buffer.results = []
      buffer.commitStartedAtMs = yield* Clock.currentTimeMillis
      buffer.committing = events
      // The store makes a retried commit idempotent: a try that landed and only lost its answer
      // is not appended twice.
      yield* retriedStoreCall(
        config.store,
        `a commit to "${config.masterplanId}"`,
        config.store.commit(config.masterplanId, { events, results, leaseOwner: config.leaseOwner })
      )
      buffer.commitStartedAtMs = undefined
      buffer.committing = []
      const committed = events[events.length - 1]!.seq
      buffer.committedSeq = committed
      config.onCommitted(committed, events)
      yield* releaseDrainWaiters(buffer, committed)
      const terminal = events.find(isTerminalEvent)
      if (terminal !== undefined) return yield* Deferred.succeed(done, terminal as TTerminal)
    }
  }).pipe(
    // The journal can no longer be kept: the run stops here rather than go on paying unrecorded.
    Effect.catchAllCause((failure) => {
      // Says what the stop costs: the payments journaled and never committed.
      const unrecorded = unrecordedPayments([...buffer.committing, ...buffer.pending])
      const cause = Cause.map(failure, (error) => new StoreError({ ...error, unrecorded }))
      return Effect.zipRight(
        Effect.sync(() => config.onFailure(cause)),
        Deferred.failCause(done, cause)
      )
    }),
    Effect.ensuring(
      Effect.suspend(() => {
        buffer.writerEnded = true
        return Effect.zipRight(releaseDrainWaiters(buffer, Number.POSITIVE_INFINITY), config.onEnd)
      })
    )
  )
}

/**
 * Waits until the journal is committed up to `upTo`, or its writer has stopped. The writer
 * releases the wait itself: nothing here needs interrupting, so this also works from a finalizer
 * (where the engine detaches its plans, uninterruptibly).
 */
export const drained = (buffer: JournalBuffer, upTo: number) =>
  Effect.suspend(() => {
    if (buffer.writerEnded || buffer.committedSeq >= upTo) return Effect.void
    const drained = Deferred.unsafeMake<void>(FiberId.none)
    buffer.drainWaiters.push({ upTo, drained })
    return Deferred.await(drained)
  })
