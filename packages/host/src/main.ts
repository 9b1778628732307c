import { Cause, Effect, Exit, Option } from "effect"
import { ExitCode, UsageError } from "./cli/exitCodes.js"
import { parseRunArgs } from "./cli/runArgs.js"
import { runCommand } from "./cli/runCommand.js"
import type { Terminal } from "./cli/runCommand.js"

const usage = `usage:
  devmatrix run <plan.json> [--json] [--budget USD] [--model scripted] [--concurrency N]
                [--mode eager|waves] [--id ID] [--seed N] [--latency-ms MS|MIN-MAX] [--fault-rate P]

Exit codes: 0 completed, 1 failed, 2 bad usage or input, 3 paused on budget, 4 gate failed,
130 interrupted.`

/** Commands of DESIGN.md §10 that later builds add; named so that users learn why they fail. */
const comingLater: Record<string, string> = {
  resume: "needs the durable store",
  status: "needs the durable store",
  events: "needs the durable store",
  host: "needs the standalone host",
  review: "needs the durable store and the host"
}

/** Errors a user can act on are one clear line (exit 2); anything else is a bug with its trace (exit 1). */
const report = (cause: Cause.Cause<unknown>, terminal: Terminal): ExitCode => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    const input =
      error instanceof UsageError ||
      (typeof error === "object" &&
        error !== null &&
        "_tag" in error &&
        (error._tag === "PlanInputError" || error._tag === "PlanGraphError"))
    terminal.stderr.write(`devmatrix: ${error instanceof Error ? error.message : String(error)}\n`)
    return input ? ExitCode.usage : ExitCode.failed
  }
  terminal.stderr.write(`devmatrix: internal error\n${Cause.pretty(cause)}\n`)
  return ExitCode.failed
}

/** Runs the `devmatrix` command line; resolves to the exit code. */
export const main = async (
  argv: ReadonlyArray<string>,
  terminal: Terminal = { stdout: process.stdout, stderr: process.stderr }
): Promise<number> => {
  const [command, ...rest] = argv
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    terminal.stdout.write(`${usage}\n`)
    return command === undefined ? ExitCode.usage : ExitCode.completed
  }
  if (command in comingLater) {
    terminal.stderr.write(`devmatrix ${command}: not available in this build (${comingLater[command]})\n`)
    return ExitCode.usage
  }
  if (command !== "run") {
    terminal.stderr.write(`devmatrix: unknown command "${command}"\n${usage}\n`)
    return ExitCode.usage
  }
  const program = Effect.try({
    try: () => parseRunArgs(rest, process.env),
    catch: (error) => (error instanceof UsageError ? error : new UsageError((error as Error).message))
  }).pipe(Effect.flatMap((args) => runCommand(args, terminal)))
  const exit = await Effect.runPromiseExit(program)
  return Exit.isSuccess(exit) ? exit.value : report(exit.cause, terminal)
}
