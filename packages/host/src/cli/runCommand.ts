import { Engine, finishedStatuses, Store } from "@devmatrix/runtime"
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { resumeCommandLine } from "./commandLine.js"
import { UsageError } from "./exitCodes.js"
import { followPlan } from "./followPlan.js"
import type { Terminal } from "./followPlan.js"
import type { RunArgs } from "./runArgs.js"

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

/** `devmatrix run`: submits the plan to the engine and follows it to its end. */
export const runCommand = (args: RunArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const plan = yield* readPlanFile(args.file)
    const engine = yield* Engine
    const masterplanId = yield* engine
      .submit(plan, {
        ...(args.masterplanId !== undefined ? { masterplanId: args.masterplanId } : {}),
        options: args.overrides
      })
      .pipe(
        // At submit a conflict can only be an `--id` already taken: the user's input, not the store's fault.
        Effect.catchTag("StoreError", (error) =>
          Effect.fail(error.reason === "Conflict" ? new UsageError(error.message) : error)
        )
      )
    if (!args.json) {
      if (args.notice !== undefined) terminal.stderr.write(`${args.notice}\n`)
      const store = yield* Store
      const others = (yield* store.listMasterplans()).filter(
        (p) => p.id !== masterplanId && !finishedStatuses.has(p.status)
      )
      if (others.length > 0)
        terminal.stderr.write(
          `${others.length} other unfinished masterplan(s) in ${store.name}: \`${resumeCommandLine(args.invocation, args.store)}\` continues them\n`
        )
    }
    return yield* followPlan(engine, masterplanId, args, terminal)
  })
