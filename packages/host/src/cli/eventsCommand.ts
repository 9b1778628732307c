import { maxSeq } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Engine, Store } from "@devmatrix/runtime"
import { Clock, Duration, Effect, Option, Stream } from "effect"
import { parseArgs } from "node:util"
import { invocationOf, resumeCommandLine } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { embeddedOnlyFlags, hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { outputClosed } from "./outputClosed.js"
import { runnerOf, unfinished } from "./planRunner.js"
import { masterplanIdArg, storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"
import { untilDrained, writeLine } from "./writeLine.js"

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

/** `--from-seq N`: a seq of the journal, 1 when not given. */
const fromSeqOf = (text: string | undefined): number => {
  const fromSeq = Number(text ?? "1")
  if (!Number.isInteger(fromSeq) || fromSeq < 1 || fromSeq > maxSeq)
    throw new UsageError(`--from-seq must be a whole number from 1 to ${maxSeq}, got "${text}"`)
  return fromSeq
}

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
  return {
    store: storeOf(values.store, env),
    masterplanId: masterplanIdArg(positionals[0]!),
    fromSeq: fromSeqOf(values["from-seq"]),
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

/** `devmatrix events <id> --host` as parsed. */
export interface HostEventsArgs {
  readonly host: HostTarget
  readonly masterplanId: string
  readonly fromSeq: number
  readonly follow: boolean
}

export const parseHostEventsArgs = (
  argv: ReadonlyArray<string>,
  _env: NodeJS.ProcessEnv,
  host: HostTarget
): HostEventsArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...embeddedOnlyFlags(["store"]),
      "from-seq": { type: "string" },
      follow: { type: "boolean", default: false },
      ...hostFlags
    }
  })
  refuseEmbeddedOnly(values, ["store"])
  if (positionals.length !== 1) throw new UsageError(`usage: ${synopsis.events}`)
  return {
    host,
    masterplanId: masterplanIdArg(positionals[0]!),
    fromSeq: fromSeqOf(values["from-seq"]),
    follow: values.follow === true
  }
}

/**
 * `devmatrix events <id> --host`: the plan's journal in the host as JSON lines (the `--json`
 * format), from the SDK's watch: up to its last event when the command starts, or with
 * `--follow` on to its terminal event (the watch resumes across reconnects), or until the reader
 * of stdout goes.
 */
export const eventsOnHost = (args: HostEventsArgs, terminal: Terminal) =>
  onHost(args.host, "events", terminal, (client) =>
    Effect.gen(function* () {
      const upTo = args.follow ? maxSeq : (yield* sdkCall(() => client.get(args.masterplanId))).lastSeq
      if (args.fromSeq > upTo) return ExitCode.completed
      const events = Stream.takeUntil(
        Stream.fromAsyncIterable(
          client.watch(args.masterplanId, { fromSeq: args.fromSeq }),
          (error) => error
        ),
        (event) => event.seq >= upTo
      )
      const printed = Stream.runForEach(events, (event) =>
        writeLine(terminal.stdout, `${JSON.stringify(event)}\n`)
      )
      yield* Effect.raceFirst(
        printed,
        Effect.promise(() => outputClosed(terminal.stdout))
      )
      return ExitCode.completed
    })
  )
