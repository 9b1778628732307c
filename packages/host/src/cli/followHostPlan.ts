import { isTerminalEvent } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import type { TerminalEvent } from "@devmatrix/runtime"
import { isDevMatrixError } from "@devmatrix/sdk"
import type { DevMatrixClient } from "@devmatrix/sdk"
import { Effect, Stream } from "effect"
import { hostCommandLine } from "./commandLine.js"
import { ExitCode } from "./exitCodes.js"
import { budgetPauseLine } from "./followPlan.js"
import { exitCodeOfHostError, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { showPlan } from "./showPlan.js"
import type { PlanFeed, ShowOptions, Terminal } from "./showPlan.js"

/** What following a plan of a host needs of the command line. */
export interface HostFollowArgs {
  readonly host: HostTarget
  readonly json: boolean
  /** How the user runs devmatrix (see `invocationOf`): printed commands start with it. */
  readonly invocation: string
}

/** A plan's events from `fromSeq`, as the SDK's watch gives them (it resumes across reconnects). */
const watched = (
  client: DevMatrixClient,
  masterplanId: string,
  fromSeq: number
): Stream.Stream<Event, unknown> =>
  Stream.fromAsyncIterable(client.watch(masterplanId, { fromSeq }), (error) => error)

/** The terminal event of a plan that has ended: the last of its journal. */
const lastEvent = (client: DevMatrixClient, masterplanId: string) =>
  Effect.gen(function* () {
    const { lastSeq } = yield* sdkCall(() => client.get(masterplanId))
    const [last] = yield* Stream.runCollect(
      Stream.take(watched(client, masterplanId, Math.max(lastSeq, 1)), 1)
    )
    if (last === undefined || !isTerminalEvent(last))
      return yield* Effect.fail(new Error(`masterplan ${masterplanId}'s watch ended before the plan did`))
    return last satisfies TerminalEvent
  })

/**
 * The command that follows the plan again, and the one that cancels it: a stopped follower
 * leaves the plan running in the host.
 */
const followAgain = (args: HostFollowArgs, masterplanId: string): string =>
  `follow it again with\n  ${hostCommandLine(args.invocation, "events", { masterplanId, flags: args.host.flags, more: "--follow" })}\n`

/**
 * Shows a plan that runs in a host (`showPlan`, the same output as embedded: JSON lines, live
 * progress or plain lines, then its summary; the same exit codes), from the SDK's watch.
 *
 * Stopping (Ctrl-C, a signal, a closed stdout) stops following, not the plan: it runs on in the
 * host, and stderr says how to follow it again (exit 130). A pause on budget leaves it paused in
 * the host (exit 3, with the `budget` and `resume` commands for it). A host lost for good while
 * following (the client's reconnects spent) is exit 5, with the command that follows it again.
 */
export const followHostPlan = (
  client: DevMatrixClient,
  masterplanId: string,
  args: HostFollowArgs,
  terminal: Terminal,
  options: Omit<ShowOptions, "json"> = {}
) => {
  let ended: TerminalEvent | undefined
  const line = (command: string, more?: string) =>
    hostCommandLine(args.invocation, command, {
      masterplanId,
      flags: args.host.flags,
      ...(more !== undefined ? { more } : {})
    })
  const feed: PlanFeed<unknown> = {
    masterplanId,
    events: (fromSeq) =>
      Stream.tap(watched(client, masterplanId, fromSeq), (event) =>
        Effect.sync(() => {
          if (isTerminalEvent(event)) ended = event
        })
      ),
    // A watch from past the end of an ended plan sees no event: its terminal event is read again.
    end: Effect.suspend(() =>
      ended !== undefined ? Effect.succeed(ended) : lastEvent(client, masterplanId)
    ),
    onBudgetPause: Effect.succeed(false),
    budgetMessage: (pause) =>
      `${budgetPauseLine(masterplanId, pause)}; it stays paused in the host: raise it with\n  ${line("budget", "--hard USD")}\nthen continue it with\n  ${line("resume")}\n`,
    onStop: () => Effect.succeed(false),
    stopMessage: (why) =>
      `${why}: stopped following masterplan ${masterplanId}, which runs on in the host; ${followAgain(args, masterplanId)}or stop it with\n  ${line("cancel")}\n`
  }
  return showPlan(feed, terminal, { ...options, json: args.json }).pipe(
    Effect.catchIf(
      (error) => isDevMatrixError(error) && exitCodeOfHostError(error) === ExitCode.storeFailed,
      (error) =>
        Effect.sync(() => {
          terminal.stderr.write(
            `devmatrix: lost the host at ${args.host.url}: ${(error as Error).message}\nmasterplan ${masterplanId} runs on in the host if it is up; ${followAgain(args, masterplanId)}`
          )
          return ExitCode.storeFailed
        })
    )
  )
}
