import type { Event, EventOf } from "@devmatrix/core"
import type { EngineService, StoreError, TerminalEvent } from "@devmatrix/runtime"
import { Deferred, Effect, Exit, Option, Stream } from "effect"
import { budgetCommandLine, resumeCommandLine, reviewListCommandLine } from "./commandLine.js"
import { ExitCode } from "./exitCodes.js"
import { outputClosed } from "./outputClosed.js"
import { usd } from "./format.js"
import { makeProgressRenderer } from "./progressRenderer.js"
import type { EngineArgs } from "./runArgs.js"
import { listenForStop, signalGraceMs } from "./stopSignals.js"
import type { StopRequests } from "./stopSignals.js"
import { oneLine, storeErrorIn } from "./storeFailure.js"
import { renderSummary } from "./summaryTable.js"
import { writeLine } from "./writeLine.js"

/** Where the command writes: stdout for results, stderr for notes and errors. */
export interface Terminal {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

/** How `followPlan` follows a plan, and what else it stops when it stops. */
export interface FollowOptions {
  /** The first seq to show. @default 1 */
  readonly fromSeq?: number
  /** Stop signals a command already listens for (`resume` does, before it recovers its plans); otherwise followPlan listens. */
  readonly stop?: StopRequests
  /** Other plans this process runs: a signal stops them with this one. */
  readonly alsoRunning?: ReadonlyArray<string>
  /** The hard budget, for the live progress's spend against it. */
  readonly budgetUsd?: number
}

/** What `followPlan`'s race says when the plan paused on budget. */
const budgetStop = "paused on budget"

/** What `followPlan`'s race says when nothing of the plan can run until a reviewer decides. */
const reviewStop = "waiting for review"

/** How long the calls in flight of a plan paused on budget may take to finish before it is saved. */
const budgetGraceMs = 10 * 60_000

/** A pause on budget, and the hard limit that caused it (none for the provider's spend limit). */
interface BudgetPause {
  readonly paused: EventOf<"masterplan.paused">
  readonly limit: EventOf<"cost.hard_limit"> | undefined
}

const budgetMessage = (args: EngineArgs, masterplanId: string, { paused, limit }: BudgetPause): string =>
  (limit === undefined || paused.by !== "budget"
    ? `masterplan ${masterplanId} paused: ${paused.reason}`
    : `masterplan ${masterplanId} paused on budget: ${usd(limit.totalUsd)} spent of its hard limit of ${usd(limit.limitUsd)}` +
      (limit.atomId !== undefined && limit.neededUsd !== undefined
        ? ` (atom ${limit.atomId} needs up to ${usd(limit.neededUsd)})`
        : "")) +
  (args.store === "memory:"
    ? "; it ran on the memory: store, which keeps nothing\n"
    : `; raise it with\n  ${budgetCommandLine(args.invocation, args.store, masterplanId)}\nthen continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`)

/** The commands that list what waits, decide, and continue: a run that stops for its reviewers says them. */
const reviewMessage = (args: EngineArgs, masterplanId: string, waiting: EventOf<"review.waiting">): string =>
  `masterplan ${masterplanId}: ${waiting.atoms} atom${waiting.atoms === 1 ? " waits" : "s wait"} for review, and nothing else can run until ${waiting.atoms === 1 ? "it is" : "they are"} decided` +
  (args.store === "memory:"
    ? "; it ran on the memory: store, which keeps nothing\n"
    : `; see ${waiting.atoms === 1 ? "it" : "them"} with\n  ${reviewListCommandLine(args.invocation, args.store, masterplanId)}\ndecide with ${args.invocation} review approve|edit|reject, then continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`)

const exitCodeOf = (terminal: TerminalEvent): ExitCode =>
  terminal.type === "masterplan.completed" ? ExitCode.completed : ExitCode.failed

/** How to continue a stopped plan, or that it cannot be (the `memory:` store keeps nothing). */
const howToContinue = (args: EngineArgs, masterplanId: string, what: string): string =>
  args.store === "memory:"
    ? `masterplan ${masterplanId} ran on the memory: store, which keeps nothing; it cannot be resumed\n`
    : `masterplan ${masterplanId} ${what}; continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`

/**
 * Shows a running plan's events until it ends (JSON lines with `--json`, live progress on a
 * terminal, plain lines otherwise), then its summary; the exit code says how it ended.
 *
 * A first SIGINT, SIGTERM or SIGHUP (or a closed stdout: `devmatrix run --json | head -1`) stops
 * admitting atoms, lets the calls in flight end within `signalGraceMs`, saves the plan and prints
 * how to resume it (exit 130); a second signal interrupts the calls in flight and still saves what
 * is journaled. A store that can no longer be written ends it with one line naming the store and
 * the cause, and the resume command (exit 5).
 */
export const followPlan = (
  engine: EngineService,
  masterplanId: string,
  args: EngineArgs,
  terminal: Terminal,
  options: FollowOptions = {}
) =>
  Effect.gen(function* () {
    const stop = options.stop ?? (yield* listenForStop)
    const live = !args.json && terminal.stdout.isTTY === true
    const progress = live
      ? makeProgressRenderer(
          terminal.stdout,
          options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {}
        )
      : undefined
    const plainLine = (event: Event): string | undefined =>
      event.type === "wave.completed"
        ? `wave ${event.wave} completed: ${event.completed} completed, ${event.failed} failed, ${event.skipped} skipped\n`
        : event.type === "atom.failed"
          ? `atom ${event.atomId} (wave ${event.wave}) failed: ${event.reason}: ${event.error}\n`
          : undefined
    // The next event is taken only once stdout has room for this one: a slow reader holds the
    // stream back, and what it has not read yet stays in the store's journal, not in memory.
    const show = (event: Event): Effect.Effect<void> => {
      if (args.json) return writeLine(terminal.stdout, `${JSON.stringify(event)}\n`)
      if (progress !== undefined) return Effect.sync(() => progress.onEvent(event))
      const line = plainLine(event)
      return line === undefined ? Effect.void : writeLine(terminal.stdout, line)
    }
    let nextSeq = options.fromSeq ?? 1
    // A pause on budget (the plan's hard limit, or the provider's spend limit) ends the run there
    // (exit 3): nothing more can be paid until the limit is raised.
    let hardLimit: EventOf<"cost.hard_limit"> | undefined
    const budgetPaused = yield* Deferred.make<BudgetPause>()
    // So does a plan that only reviewers can move on: this process takes no reviews, and waiting
    // would hang with nothing said. `devmatrix review` decides in the store; resume goes on.
    const reviewWaiting = yield* Deferred.make<EventOf<"review.waiting">>()
    const watchBudget = (event: Event) => {
      if (event.type === "cost.hard_limit") hardLimit = event
      else if (event.type === "masterplan.paused" && (event.by === "budget" || event.by === "spend_limit"))
        Deferred.unsafeDone(budgetPaused, Exit.succeed({ paused: event, limit: hardLimit }))
      else if (event.type === "review.waiting") Deferred.unsafeDone(reviewWaiting, Exit.succeed(event))
    }
    const showFrom = (fromSeq: number) =>
      Stream.runForEach(engine.events(masterplanId, { fromSeq }), (event) => {
        nextSeq = event.seq + 1
        watchBudget(event)
        return show(event)
      })
    const shown = showFrom(nextSeq)
    const stopped = Effect.raceFirst(
      Effect.map(Deferred.await(stop.first), (signal) => `interrupted (${signal})`),
      Effect.as(
        Effect.promise(() => outputClosed(terminal.stdout)),
        "output closed"
      )
    )
    // The first to end wins, a failure included (raceAll would wait for a success).
    const outcome = yield* Effect.raceFirst(
      Effect.raceFirst(Effect.as(shown, Option.none<string>()), Effect.map(stopped, Option.some)),
      Effect.raceFirst(
        Effect.as(Deferred.await(budgetPaused), Option.some(budgetStop)),
        Effect.as(Deferred.await(reviewWaiting), Option.some(reviewStop))
      )
    )
    progress?.stop()
    if (Option.isSome(outcome) && outcome.value === reviewStop) {
      const waiting = yield* Deferred.await(reviewWaiting)
      // Nothing is in flight (that is what the event says): the plan is saved as it stands.
      yield* Effect.catchTag(engine.detach(masterplanId), "MasterplanNotFound", () => Effect.void)
      yield* Effect.ignore(showFrom(nextSeq))
      terminal.stderr.write(reviewMessage(args, masterplanId, waiting))
      return ExitCode.awaitingReview
    }
    if (Option.isSome(outcome) && outcome.value === budgetStop) {
      const limit = yield* Deferred.await(budgetPaused)
      // The calls in flight are paid for: they may finish (their own timeout bounds them), then the
      // plan is saved, paused, for `budget` and `resume`.
      yield* Effect.catchTag(
        engine.detach(masterplanId, { graceMs: budgetGraceMs }),
        "MasterplanNotFound",
        () => Effect.void
      )
      yield* Effect.ignore(showFrom(nextSeq))
      terminal.stderr.write(budgetMessage(args, masterplanId, limit))
      return ExitCode.budgetPaused
    }
    if (Option.isSome(outcome)) {
      yield* stopRunning(engine, [masterplanId, ...(options.alsoRunning ?? [])], stop, terminal)
      // What the calls in flight journaled during the grace period is shown too (unless the
      // output is gone): run and resume together show the whole journal, each event once.
      if (outcome.value !== "output closed") yield* Effect.ignore(showFrom(nextSeq))
      for (const id of [masterplanId, ...(options.alsoRunning ?? [])])
        terminal.stderr.write(`${outcome.value}: ${howToContinue(args, id, "is saved")}`)
      return ExitCode.interrupted
    }
    const end = yield* engine.result(masterplanId)
    if (!args.json) {
      const lines = renderSummary(end.summary, { color: live, masterplanId, budgetUsd: options.budgetUsd })
      terminal.stdout.write(`${lines.join("\n")}\n`)
      if (end.type !== "masterplan.completed")
        terminal.stderr.write(`masterplan ${masterplanId}: ${end.reason}\n`)
    }
    return exitCodeOf(end)
  }).pipe(
    Effect.scoped,
    // The journal can no longer be committed: the plan stays as stored, and resume continues it.
    Effect.catchAllCause((cause) =>
      Option.match(storeErrorIn(cause), {
        onNone: () => Effect.failCause(cause),
        onSome: (error: StoreError) =>
          Effect.sync(() => {
            terminal.stderr.write(
              `devmatrix: ${oneLine(error.message)}\n${howToContinue(args, masterplanId, "stopped with its state as stored")}`
            )
            return ExitCode.storeFailed
          })
      })
    )
  )

/**
 * Detaches the plans: within the grace period for the calls in flight, or at once if a second
 * signal comes meanwhile. A plan the engine no longer runs (it ended meanwhile) is left as it is.
 */
const stopRunning = (
  engine: EngineService,
  ids: ReadonlyArray<string>,
  stop: StopRequests,
  terminal: Terminal
) =>
  Effect.gen(function* () {
    const detachAll = (graceMs: number) =>
      Effect.forEach(
        ids,
        (id) => Effect.catchTag(engine.detach(id, { graceMs }), "MasterplanNotFound", () => Effect.void),
        { concurrency: "unbounded", discard: true }
      )
    if (Option.isNone(yield* Deferred.poll(stop.second)))
      terminal.stderr.write(
        `stopping: the calls in flight may finish for up to ${signalGraceMs / 1000} s (a second Ctrl-C or signal stops them at once)\n`
      )
    const now = yield* Effect.raceFirst(
      Effect.as(detachAll(signalGraceMs), false),
      Effect.as(Deferred.await(stop.second), true)
    )
    if (now) yield* detachAll(0)
  })
