import { maxSeq } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import { Effect, Stream } from "effect"
import { parseArgs } from "node:util"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { outputClosed } from "./outputClosed.js"
import { storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"

export interface EventsArgs {
  readonly store: string
  readonly masterplanId: string
  readonly fromSeq: number
  readonly follow: boolean
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
  const fromSeq = Number(values["from-seq"] ?? "1")
  if (!Number.isInteger(fromSeq) || fromSeq < 1 || fromSeq > maxSeq)
    throw new UsageError(`--from-seq must be a whole number from 1 to ${maxSeq}, got "${values["from-seq"]}"`)
  return {
    store: storeOf(values.store, env),
    masterplanId: positionals[0]!,
    fromSeq,
    follow: values.follow ?? false
  }
}

/**
 * `devmatrix events <id>`: the journal as JSON lines (the `--json` format), optionally following it
 * live, until it ends or the reader of stdout goes (`devmatrix events <id> --follow | head`).
 */
export const eventsCommand = (args: EventsArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const printed = Stream.runForEach(
      engine.events(args.masterplanId, { fromSeq: args.fromSeq, follow: args.follow }),
      (event) => Effect.sync(() => terminal.stdout.write(`${JSON.stringify(event)}\n`))
    )
    yield* Effect.raceFirst(
      printed,
      Effect.promise(() => outputClosed(terminal.stdout))
    )
    return ExitCode.completed
  })
