import type { Event, EventOf } from "@devmatrix/core"
import type { TerminalEvent } from "@devmatrix/runtime"
import { Deferred, Effect, Exit, Option, Stream } from "effect"
import { ExitCode } from "./exitCodes.js"
import { outputClosed } from "./outputClosed.js"
import { makeProgressRenderer } from "./progressRenderer.js"
import { listenForStop } from "./stopSignals.js"
import type { StopRequests } from "./stopSignals.js"
import { renderSummary } from "./summaryTable.js"
import { writeLine } from "./writeLine.js"

/** Where the command writes: stdout for results, stderr for notes and errors. */
export interface Terminal {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

/** A pause on budget, and the hard limit that caused it (none for the provider's spend limit). */
export interface BudgetPause {
  readonly paused: EventOf<"masterplan.paused">
  readonly limit: EventOf<"cost.hard_limit"> | undefined
}

/**
 * A plan to show, wherever it runs: in this process (`followPlan`, on the engine) or in a host
 * (`followHostPlan`, through the SDK). The rendering is the same for both; what differs is what
 * a pause on budget and a stop do to the plan, and the commands printed to go on.
 */
export interface PlanFeed<E> {
  readonly masterplanId: string
  /** Its events from `fromSeq`, journaled then live; the stream ends after its terminal event. */
  readonly events: (fromSeq: number) => Stream.Stream<Event, E>
  /** Its terminal event, once `events` has ended with it. */
  readonly end: Effect.Effect<TerminalEvent, E>
  /**
   * What a pause on budget does before it is said (embedded, the calls in flight finish and the
   * plan is saved); whether the events journaled meanwhile are then shown.
   */
  readonly onBudgetPause: Effect.Effect<boolean, E>
  /** What it says, on stderr, of a pause on budget: the spend, the limit, and the commands that go on. */
  readonly budgetMessage: (pause: BudgetPause) => string
  /**
   * What a stop (a signal, a closed stdout) does to the plan before it is said; whether the events
   * journaled meanwhile are then shown (unless the output has gone).
   */
  readonly onStop: (stop: StopRequests) => Effect.Effect<boolean, E>
  /** What it says, on stderr, of a stop (`why`: `interrupted (SIGINT)`, `output closed`). */
  readonly stopMessage: (why: string) => string
  /**
   * When only reviewers can move the plan on (`review.waiting`): what that does to it before it is
   * said, and what is said. Embedded, this process takes no reviews, so the command saves the plan
   * and ends there (exit 6) rather than wait with nothing said; a host takes reviews through its
   * API, so a feed from a host leaves these out and the command goes on following.
   */
  readonly onReviewWaiting?: Effect.Effect<void, E>
  readonly reviewMessage?: (waiting: EventOf<"review.waiting">) => string
}

/** How `showPlan` shows a plan. */
export interface ShowOptions {
  /** JSON lines, exactly the `Event` schema, rather than progress or plain lines. */
  readonly json: boolean
  /** The first seq to show. @default 1 */
  readonly fromSeq?: number
  /** Stop signals a command already listens for (`run`, `resume`); otherwise showPlan listens. */
  readonly stop?: StopRequests
  /** The hard budget, for the live progress's spend against it. */
  readonly budgetUsd?: number
}

/** What `showPlan`'s race says when the plan paused on budget. */
const budgetStop = "paused on budget"

/** What `showPlan`'s race says when nothing of the plan can run until a reviewer decides. */
const reviewStop = "waiting for review"

const exitCodeOf = (terminal: TerminalEvent): ExitCode =>
  terminal.type === "masterplan.completed" ? ExitCode.completed : ExitCode.failed

const plainLine = (event: Event): string | undefined =>
  event.type === "wave.completed"
    ? `wave ${event.wave} completed: ${event.completed} completed, ${event.failed} failed, ${event.skipped} skipped\n`
    : event.type === "atom.failed"
      ? `atom ${event.atomId} (wave ${event.wave}) failed: ${event.reason}: ${event.error}\n`
      : undefined

/**
 * Shows a plan's events until it ends (JSON lines with `--json`, live progress on a terminal,
 * plain lines otherwise), then its summary; the exit code says how it ended: `0` completed, `1`
 * failed or cancelled, `3` paused on budget (or on the provider's spend limit), `6` waiting for
 * review (when the feed stops there), `130` stopped by a signal or a closed stdout
 * (`devmatrix run --json | head -1`).
 */
export const showPlan = <E>(feed: PlanFeed<E>, terminal: Terminal, options: ShowOptions) =>
  Effect.gen(function* () {
    const stop = options.stop ?? (yield* listenForStop)
    const live = !options.json && terminal.stdout.isTTY === true
    const progress = live
      ? makeProgressRenderer(
          terminal.stdout,
          options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {}
        )
      : undefined
    // The events of a chunk (a commit, a page of the journal) leave in one write, and the next
    // chunk is taken only once stdout has room: a slow reader holds the stream back, and what it
    // has not read yet stays in the journal, not in memory.
    const lineOf = (event: Event): string | undefined =>
      options.json ? `${JSON.stringify(event)}\n` : progress === undefined ? plainLine(event) : undefined
    let nextSeq = options.fromSeq ?? 1
    // A pause on budget (the plan's hard limit, or the provider's spend limit) ends the command
    // there (exit 3): nothing more can be paid until the limit is raised.
    let hardLimit: EventOf<"cost.hard_limit"> | undefined
    const budgetPaused = yield* Deferred.make<BudgetPause>()
    const reviewWaiting = yield* Deferred.make<EventOf<"review.waiting">>()
    const isBudgetPause = (event: Event): event is EventOf<"masterplan.paused"> =>
      event.type === "masterplan.paused" && (event.by === "budget" || event.by === "spend_limit")
    const watchBudget = (event: Event) => {
      if (event.type === "cost.hard_limit") hardLimit = event
      else if (isBudgetPause(event))
        Deferred.unsafeDone(budgetPaused, Exit.succeed({ paused: event, limit: hardLimit }))
      else if (event.type === "review.waiting" && feed.onReviewWaiting !== undefined)
        Deferred.unsafeDone(reviewWaiting, Exit.succeed(event))
    }
    // The stream shown first ends at the event that stops the command (a pause on budget, a plan
    // waiting for review), so that nothing journaled after it slips out before the race is decided:
    // what comes after is the feed's to show or not (`onBudgetPause`).
    const stopsHere = (event: Event) =>
      isBudgetPause(event) || (event.type === "review.waiting" && feed.onReviewWaiting !== undefined)
    const showFrom = (fromSeq: number, until: (event: Event) => boolean = () => false) =>
      Stream.runForEachChunk(Stream.takeUntil(feed.events(fromSeq), until), (events) => {
        let text = ""
        for (const event of events) {
          nextSeq = event.seq + 1
          watchBudget(event)
          progress?.onEvent(event)
          text += lineOf(event) ?? ""
        }
        return text === "" ? Effect.void : writeLine(terminal.stdout, text)
      })
    const shown = showFrom(nextSeq, stopsHere)
    const stopped = Effect.raceFirst(
      Effect.map(Deferred.await(stop.first), (signal) => `interrupted (${signal})`),
      Effect.as(
        Effect.promise(() => outputClosed(terminal.stdout)),
        "output closed"
      )
    )
    // The first to end wins, a failure included (raceAll would wait for a success). The stream
    // that ended at a stopping event says which, through the deferred that event completed.
    const raced = yield* Effect.raceFirst(
      Effect.as(shown, Option.none<string>()),
      Effect.map(stopped, Option.some)
    )
    const outcome = Option.isSome(raced)
      ? raced
      : Option.isSome(yield* Deferred.poll(budgetPaused))
        ? Option.some(budgetStop)
        : Option.isSome(yield* Deferred.poll(reviewWaiting))
          ? Option.some(reviewStop)
          : raced
    progress?.stop()
    if (Option.isSome(outcome) && outcome.value === reviewStop) {
      const waiting = yield* Deferred.await(reviewWaiting)
      yield* feed.onReviewWaiting ?? Effect.void
      yield* Effect.ignore(showFrom(nextSeq))
      terminal.stderr.write(feed.reviewMessage?.(waiting) ?? "")
      return ExitCode.awaitingReview
    }
    if (Option.isSome(outcome) && outcome.value === budgetStop) {
      const pause = yield* Deferred.await(budgetPaused)
      if (yield* feed.onBudgetPause) yield* Effect.ignore(showFrom(nextSeq))
      terminal.stderr.write(feed.budgetMessage(pause))
      return ExitCode.budgetPaused
    }
    if (Option.isSome(outcome)) {
      const showRest = yield* feed.onStop(stop)
      // What the calls in flight journaled during the grace period is shown too (unless the
      // output is gone): run and resume together show the whole journal, each event once.
      if (showRest && outcome.value !== "output closed") yield* Effect.ignore(showFrom(nextSeq))
      terminal.stderr.write(feed.stopMessage(outcome.value))
      return ExitCode.interrupted
    }
    const end = yield* feed.end
    if (!options.json) {
      const lines = renderSummary(end.summary, {
        color: live,
        masterplanId: feed.masterplanId,
        budgetUsd: options.budgetUsd
      })
      terminal.stdout.write(`${lines.join("\n")}\n`)
      if (end.type !== "masterplan.completed")
        terminal.stderr.write(`masterplan ${feed.masterplanId}: ${end.reason}\n`)
    }
    return exitCodeOf(end)
  }).pipe(Effect.scoped)
