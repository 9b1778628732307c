import type { Event } from "@devmatrix/core"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import type { TerminalEvent } from "@devmatrix/runtime"
import { Deferred, Effect, Stream } from "effect"
import { readFile } from "node:fs/promises"
import { ExitCode, UsageError } from "./exitCodes.js"
import { makeProgressRenderer } from "./progressRenderer.js"
import type { RunArgs } from "./runArgs.js"
import { renderSummary } from "./summaryTable.js"

/** Where the command writes: stdout for results, stderr for notes and errors. */
export interface Terminal {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

const exitCodeOf = (terminal: TerminalEvent, interrupted: boolean): ExitCode => {
  if (interrupted) return ExitCode.interrupted
  switch (terminal.type) {
    case "masterplan.completed":
      return ExitCode.completed
    case "masterplan.failed":
      return ExitCode.failed
    case "masterplan.cancelled":
      return ExitCode.failed
  }
}

/** Reads the plan file as JSON; markdown specs need the planning pipeline, which is not in this build. */
const readPlanFile = (file: string) =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (error) => new UsageError(`cannot read ${file}: ${(error as Error).message}`)
  }).pipe(
    Effect.flatMap((text) => {
      if (/\.(md|markdown|txt)$/i.test(file))
        return Effect.fail(
          new UsageError(
            `${file}: markdown specs need the code-generation pipeline, which is not in this build; give a plan.json`
          )
        )
      return Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (error) => new UsageError(`${file} is not valid JSON: ${(error as Error).message}`)
      })
    })
  )

/**
 * `devmatrix run`: submits the plan to an embedded engine, shows its events (JSON lines with
 * `--json`, live progress on a terminal, plain lines otherwise) and exits with the outcome's code.
 * Ctrl-C cancels the plan and exits 130.
 */
export const runCommand = (args: RunArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const plan = yield* readPlanFile(args.file)
    if (args.notice !== undefined && !args.json) terminal.stderr.write(`${args.notice}\n`)
    const engine = yield* Engine
    const masterplanId = yield* engine.submit(plan, {
      ...(args.masterplanId !== undefined ? { masterplanId: args.masterplanId } : {}),
      options: args.overrides
    })

    const interrupted = yield* Deferred.make<void>()
    let sigint = false
    // The first Ctrl-C cancels the plan cleanly; a second one does not wait for that.
    const onSigint = () => {
      if (sigint) process.exit(ExitCode.interrupted)
      sigint = true
      Deferred.unsafeDone(interrupted, Effect.void)
    }
    process.on("SIGINT", onSigint)
    yield* Effect.addFinalizer(() => Effect.sync(() => process.off("SIGINT", onSigint)))
    yield* Effect.forkScoped(
      Deferred.await(interrupted).pipe(Effect.zipRight(engine.cancel(masterplanId, "interrupted (SIGINT)")))
    )

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
    yield* engine.events(masterplanId).pipe(Stream.runForEach((event) => Effect.sync(() => print(event))))
    progress?.stop()
    const end = yield* engine.result(masterplanId)
    if (!args.json) {
      const lines = renderSummary(end.summary, { color: live, masterplanId })
      terminal.stdout.write(`${lines.join("\n")}\n`)
      if (end.type !== "masterplan.completed")
        terminal.stderr.write(`masterplan ${masterplanId}: ${end.reason}\n`)
    }
    return exitCodeOf(end, sigint)
  }).pipe(Effect.scoped, Effect.provide(embeddedLayer({ scripted: args.scripted })))
