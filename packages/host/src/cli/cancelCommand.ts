import { cut, maxEchoLength } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { ExitCode, UsageError } from "./exitCodes.js"
import { hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { masterplanIdArg, storeOf } from "./runArgs.js"
import type { Terminal } from "./showPlan.js"
import { synopsis } from "./usage.js"

/** The longest `--reason` taken: it is journaled with the cancellation, and shown back. */
const maxReasonLength = 1_000

/** `devmatrix cancel <id>` as parsed. */
interface CancelTarget {
  readonly masterplanId: string
  readonly reason?: string
}

/** `devmatrix cancel <id> [--store URL]` as parsed. */
export interface CancelArgs extends CancelTarget {
  readonly store: string
}

/** `devmatrix cancel <id> --host` as parsed. */
export interface HostCancelArgs extends CancelTarget {
  readonly host: HostTarget
}

const reasonOf = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined
  if (text.trim() === "" || text.length > maxReasonLength)
    throw new UsageError(
      `--reason must be a text of 1 to ${maxReasonLength} characters, got ${JSON.stringify(cut(text, maxEchoLength))}`
    )
  return text
}

/** The command line of `cancel`: its plan and reason, and its `--store` flag's value if given. */
const cancelLine = (argv: ReadonlyArray<string>) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    // `--host` and `--token` were read already (`hostTargetOf`): here they are only known.
    options: { store: { type: "string" }, reason: { type: "string" }, ...hostFlags }
  })
  if (positionals.length !== 1) throw new UsageError(`usage: ${synopsis.cancel}`)
  const reason = reasonOf(values.reason)
  const target: CancelTarget = {
    masterplanId: masterplanIdArg(positionals[0]!),
    ...(reason !== undefined ? { reason } : {})
  }
  return { target, store: values.store }
}

/** Parses `devmatrix cancel <id> [--reason TEXT] [--store URL]`. */
export const parseCancelArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): CancelArgs => {
  const { target, store } = cancelLine(argv)
  return { ...target, store: storeOf(store, env) }
}

/** Parses `devmatrix cancel <id> [--reason TEXT] --host URL --token T`. */
export const parseHostCancelArgs = (
  argv: ReadonlyArray<string>,
  _env: NodeJS.ProcessEnv,
  host: HostTarget
): HostCancelArgs => {
  const { target, store } = cancelLine(argv)
  refuseEmbeddedOnly({ store }, ["store"])
  return { ...target, host }
}

const cancelled = (terminal: Terminal, masterplanId: string) =>
  Effect.sync(() => {
    terminal.stderr.write(`masterplan ${masterplanId} cancelled\n`)
    return ExitCode.completed
  })

/**
 * `devmatrix cancel <id>` on a store: cancels a plan that no process runs (one stopped by a
 * crash or Ctrl-C, or paused on budget), under its lease and before any of its atoms starts, so
 * that nothing is paid; it journals `masterplan.cancelled` with the summary. A plan another
 * process runs is refused (exit 2, naming it): cancel it where it runs (`--host` for a host).
 */
export const cancelCommand = (args: CancelArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    yield* engine
      .recover(args.masterplanId, { cancel: args.reason !== undefined ? { reason: args.reason } : {} })
      .pipe(
        Effect.catchTags({
          MasterplanNotFound: () =>
            Effect.fail(
              new UsageError(`no masterplan ${JSON.stringify(args.masterplanId)} in ${args.store}`)
            ),
          // It has ended, or another process runs it (a host among them: cancel it with --host there).
          MasterplanNotResumable: (error) =>
            Effect.fail(
              new UsageError(
                `masterplan ${JSON.stringify(args.masterplanId)} cannot be cancelled here: ${error.reason}` +
                  (error.reason.startsWith("another process")
                    ? "; cancel it where it runs (--host URL for a host)"
                    : "")
              )
            )
        })
      )
    yield* engine.result(args.masterplanId)
    return yield* cancelled(terminal, args.masterplanId)
  })

/** `devmatrix cancel <id> --host`: the host cancels the plan (its atoms in flight are interrupted). */
export const cancelOnHost = (args: HostCancelArgs, terminal: Terminal) =>
  onHost(args.host, "cancel", terminal, (client) =>
    Effect.flatMap(
      sdkCall(() =>
        client.cancel(args.masterplanId, args.reason !== undefined ? { reason: args.reason } : {})
      ),
      () => cancelled(terminal, args.masterplanId)
    )
  )
