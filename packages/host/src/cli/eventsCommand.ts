import { maxSeq } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Engine, Store } from "@devmatrix/runtime"
import { Clock, Duration, Effect, Option, Stream } from "effect"
import { parseArgs } from "node:util"
import { invocationOf, resumeCommandLine } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { outputClosed } from "./outputClosed.js"
import { runnerOf, unfinished } from "./planRunner.js"
import { masterplanIdArg, storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"
import { untilDrained } from "./writeLine.js"

export interface EventsArgs {
  readonly store: string
  readonly masterplanId: string
  readonly fromSeq: number
  readonly follow: boolean
  /** How the user runs devmatrix (see `invocationOf`): the resume command starts with it. */
  readonly invocation: string
}

/**
 * How often `events --follow` checks that a process still runs the plan. It stops following
 * after two checks in a row found none (one could fall between a submission and its lease).
 */
export const runnerCheckMs = 1_000

export const parseEventsArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): EventsArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      store: { type: "string" },
      "from-seq": { type: "string" },
      follow: { type: "boolean", default: false }
    }
  })
  if (positionals.length !== 1) throw new UsageError(`usage: ${synopsis.events}`)
  const fromSeq = Number(values["from-seq"] ?? "1")
  if (!Number.isInteger(fromSeq) || fromSeq < 1 || fromSeq > maxSeq)
    throw new UsageError(`--from-seq must be a whole number from 1 to ${maxSeq}, got "${values["from-seq"]}"`)
  return {
    store: storeOf(values.store, env),
    masterplanId: masterplanIdArg(positionals[0]!),
    fromSeq,
    follow: values.follow ?? false,
    invocation: invocationOf(env)
  }
}

/**
 * Completes once no process has run the plan for two checks in a row while it is unfinished: the
 * one that ran it was killed, or lost its store, and its lease lapsed (at once for a process of
 * this host that is gone, after the lease's time for one elsewhere).
 */
const noLongerRun = (masterplanId: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    for (let misses = 0; misses < 2;) {
      yield* Effect.sleep(Duration.millis(runnerCheckMs))
      // A store that does not answer now says nothing about the runner (the journal's reads say if it is gone).
      const found = yield* Effect.option(store.getMasterplan(masterplanId))
      const record = Option.getOrUndefined(Option.flatten(found))
      const nowMs = yield* Clock.currentTimeMillis
      // An ended plan is not stopped: its terminal event ends the stream.
      const stopped =
        record !== undefined && unfinished(record.status) && runnerOf(record, nowMs) === undefined
      misses = stopped ? misses + 1 : 0
    }
  })

/**
 * `devmatrix events <id>`: the journal as JSON lines (the `--json` format), optionally following it
 * live, until it ends, the reader of stdout goes (`devmatrix events <id> --follow | head`), or, when
 * following, no process runs the plan any more (it says so, with the resume command, on stderr).
 */
export const eventsCommand = (args: EventsArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    let shownUpTo = args.fromSeq - 1
    // The seq is counted in the same step as the write: an interruption falls before both or after.
    const print = (event: Event) =>
      Effect.flatMap(
        Effect.sync(() => {
          shownUpTo = event.seq
          return terminal.stdout.write(`${JSON.stringify(event)}\n`)
        }),
        (room) => (room ? Effect.void : untilDrained(terminal.stdout))
      )
    const printFrom = (fromSeq: number, follow: boolean) =>
      Stream.runForEach(engine.events(args.masterplanId, { fromSeq, follow }), print)
    const printed = args.follow
      ? Effect.raceFirst(
          Effect.as(printFrom(args.fromSeq, true), false),
          Effect.as(noLongerRun(args.masterplanId), true)
        )
      : Effect.as(printFrom(args.fromSeq, false), false)
    const closed = Effect.promise(() => outputClosed(terminal.stdout))
    const stopped = yield* Effect.raceFirst(printed, Effect.as(closed, false))
    if (stopped) {
      // What the stopped process committed is all there is: show the rest of it, then say so.
      yield* Effect.raceFirst(printFrom(shownUpTo + 1, false), closed)
      terminal.stderr.write(
        `masterplan ${args.masterplanId} stopped without ending: no process runs it any more; continue it with\n  ${resumeCommandLine(args.invocation, args.store, args.masterplanId)}\n`
      )
    }
    return ExitCode.completed
  })
