import type { Event } from "@devmatrix/core"
import type { EngineService, TerminalEvent } from "@devmatrix/runtime"
import { Deferred, Effect, Stream } from "effect"
import { resumeCommandLine } from "./commandLine.js"
import { ExitCode } from "./exitCodes.js"
import { outputClosed } from "./outputClosed.js"
import { makeProgressRenderer } from "./progressRenderer.js"
import type { EngineArgs } from "./runArgs.js"
import { renderSummary } from "./summaryTable.js"

/** Where the command writes: stdout for results, stderr for notes and errors. */
export interface Terminal {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

const exitCodeOf = (terminal: TerminalEvent): ExitCode =>
  terminal.type === "masterplan.completed" ? ExitCode.completed : ExitCode.failed

/**
 * Shows a running plan's events until it ends (JSON lines with `--json`, live progress on a
 * terminal, plain lines otherwise), then its summary; the exit code says how it ended.
 * The first Ctrl-C stops the run with its state saved (exit 130) and prints how to resume it;
 * a second one exits at once. A closed stdout (`devmatrix run --json | head -1`) stops it the same way.
 */
export const followPlan = (
  engine: EngineService,
  masterplanId: string,
  args: EngineArgs,
  terminal: Terminal,
  fromSeq = 1
) =>
  Effect.gen(function* () {
    const interrupted = yield* Deferred.make<void>()
    let sigint = false
    const onSigint = () => {
      if (sigint) process.exit(ExitCode.interrupted)
      sigint = true
      Deferred.unsafeDone(interrupted, Effect.void)
    }
    process.on("SIGINT", onSigint)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("SIGINT", onSigint)))

    const live = !args.json && terminal.stdout.isTTY === true
    const progress = live ? makeProgressRenderer(terminal.stdout, {}) : undefined
    const print = (event: Event) => {
      if (args.json) terminal.stdout.write(`${JSON.stringify(event)}\n`)
      else if (progress !== undefined) progress.onEvent(event)
      else if (event.type === "wave.completed")
        terminal.stdout.write(
          `wave ${event.wave} completed: ${event.completed} completed, ${event.failed} failed, ${event.skipped} skipped\n`
        )
      else if (event.type === "atom.failed")
        terminal.stdout.write(
          `atom ${event.atomId} (wave ${event.wave}) failed: ${event.reason}: ${event.error}\n`
        )
    }
    const shown = Stream.runForEach(engine.events(masterplanId, { fromSeq }), (event) =>
      Effect.sync(() => print(event))
    )
    const stopped = Effect.raceFirst(
      Effect.as(Deferred.await(interrupted), "interrupted" as const),
      Effect.as(
        Effect.promise(() => outputClosed(terminal.stdout)),
        "output closed" as const
      )
    )
    const outcome = yield* Effect.raceFirst(Effect.as(shown, "ended" as const), stopped)
    progress?.stop()
    if (outcome !== "ended") {
      yield* engine.detach(masterplanId)
      terminal.stderr.write(
        args.store === "memory:"
          ? `${outcome}: masterplan ${masterplanId} ran on the memory: store, which keeps nothing; it cannot be resumed\n`
          : `${outcome}: masterplan ${masterplanId} is saved; continue it with\n  ${resumeCommandLine(args.invocation, args.store, masterplanId)}\n`
      )
      return ExitCode.interrupted
    }
    const end = yield* engine.result(masterplanId)
    if (!args.json) {
      const lines = renderSummary(end.summary, { color: live, masterplanId })
      terminal.stdout.write(`${lines.join("\n")}\n`)
      if (end.type !== "masterplan.completed")
        terminal.stderr.write(`masterplan ${masterplanId}: ${end.reason}\n`)
    }
    return exitCodeOf(end)
  })
