import type { EventOf } from "@devmatrix/core"
import type { EngineService, StoreError } from "@devmatrix/runtime"
import { Deferred, Effect, Option } from "effect"
import { budgetCommandLine, resumeCommandLine, reviewListCommandLine } from "./commandLine.js"
import { ExitCode } from "./exitCodes.js"
import { usd } from "./format.js"
import type { EngineArgs } from "./runArgs.js"
import { showPlan } from "./showPlan.js"
import type { BudgetPause, PlanFeed, Terminal } from "./showPlan.js"
import { signalGraceMs } from "./stopSignals.js"
import type { StopRequests } from "./stopSignals.js"
import { oneLine, storeErrorIn } from "./storeFailure.js"

export type { Terminal } from "./showPlan.js"

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

/** How long the calls in flight of a plan paused on budget may take to finish before it is saved. */
const budgetGraceMs = 10 * 60_000

/** What a pause on budget says: the spend, the limit, and the two commands that continue it. */
export const budgetPauseLine = (masterplanId: string, { paused, limit }: BudgetPause): string =>
  limit === undefined || paused.by !== "budget"
    ? `masterplan ${masterplanId} paused: ${paused.reason}`
    : `masterplan ${masterplanId} paused on budget: ${usd(limit.totalUsd)} spent of its hard limit of ${usd(limit.limitUsd)}` +
      (limit.atomId !== undefined && limit.neededUsd !== undefined
        ? ` (atom ${limit.atomId} needs up to ${usd(limit.neededUsd)})`
        : "")

const budgetMessage = (args: EngineArgs, masterplanId: string, pause: BudgetPause): string =>
  budgetPauseLine(masterplanId, pause) +
  (args.store === "memory:"
    ? "; it ran on the memory: store, which keeps nothing\n"
    : `; raise it with\n  ${budgetCommandLine(args.invocation, args.store, masterplanId)}\nthen continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`)

/** The commands that list what waits, decide, and continue: a run that stops for its reviewers says them. */
const reviewMessage = (args: EngineArgs, masterplanId: string, waiting: EventOf<"review.waiting">): string =>
  `masterplan ${masterplanId}: ${waiting.atoms} atom${waiting.atoms === 1 ? " waits" : "s wait"} for review, and nothing else can run until ${waiting.atoms === 1 ? "it is" : "they are"} decided` +
  (args.store === "memory:"
    ? "; it ran on the memory: store, which keeps nothing\n"
    : `; see ${waiting.atoms === 1 ? "it" : "them"} with\n  ${reviewListCommandLine(args.invocation, args.store, masterplanId)}\ndecide with ${args.invocation} review approve|edit|reject, then continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`)

/** How to continue a stopped plan, or that it cannot be (the `memory:` store keeps nothing). */
const howToContinue = (args: EngineArgs, masterplanId: string, what: string): string =>
  args.store === "memory:"
    ? `masterplan ${masterplanId} ran on the memory: store, which keeps nothing; it cannot be resumed\n`
    : `masterplan ${masterplanId} ${what}; continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`

/**
 * Shows a plan this process runs until it ends (`showPlan`: JSON lines, live progress or plain
 * lines, then its summary); the exit code says how it ended.
 *
 * A first SIGINT, SIGTERM or SIGHUP (or a closed stdout: `devmatrix run --json | head -1`) stops
 * admitting atoms, lets the calls in flight end within `signalGraceMs`, saves the plan and prints
 * how to resume it (exit 130); a second signal interrupts the calls in flight and still saves what
 * is journaled. A pause on budget lets the calls in flight finish and saves the plan, paused (exit
 * 3); a plan only reviewers can move on is saved as it stands (exit 6). A store that can no longer be written ends it with one line naming the store and the cause,
 * and the resume command (exit 5).
 */
export const followPlan = (
  engine: EngineService,
  masterplanId: string,
  args: EngineArgs,
  terminal: Terminal,
  options: FollowOptions = {}
) => {
  const running = [masterplanId, ...(options.alsoRunning ?? [])]
  const feed: PlanFeed<unknown> = {
    masterplanId,
    events: (fromSeq) => engine.events(masterplanId, { fromSeq }),
    end: engine.result(masterplanId),
    // The calls in flight are paid for: they may finish (their own timeout bounds them), then the
    // plan is saved, paused, for `budget` and `resume`.
    onBudgetPause: Effect.as(
      Effect.catchTag(
        engine.detach(masterplanId, { graceMs: budgetGraceMs }),
        "MasterplanNotFound",
        () => Effect.void
      ),
      true
    ),
    budgetMessage: (pause) => budgetMessage(args, masterplanId, pause),
    onStop: (stop) => Effect.as(stopRunning(engine, running, stop, terminal), true),
    // This process takes no reviews: nothing is in flight (that is what the event says), so the
    // plan is saved as it stands, for `devmatrix review` and `resume`.
    onReviewWaiting: Effect.catchTag(engine.detach(masterplanId), "MasterplanNotFound", () => Effect.void),
    reviewMessage: (waiting) => reviewMessage(args, masterplanId, waiting),
    stopMessage: (why) => running.map((id) => `${why}: ${howToContinue(args, id, "is saved")}`).join("")
  }
  return showPlan(feed, terminal, {
    json: args.json,
    ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}),
    ...(options.stop !== undefined ? { stop: options.stop } : {}),
    ...(options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {})
  }).pipe(
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
}

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
