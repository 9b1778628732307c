import { Engine, finishedStatuses, Store } from "@devmatrix/runtime"
import { Effect } from "effect"
import { resumeCommandLine } from "./commandLine.js"
import { UsageError } from "./exitCodes.js"
import { followPlan } from "./followPlan.js"
import { listenForStop } from "./stopSignals.js"
import type { Terminal } from "./followPlan.js"
import { readPlanFile } from "./planFile.js"
import type { PlanFile } from "./planFile.js"
import { defaultClaudeModel } from "./runArgs.js"
import type { RunArgs } from "./runArgs.js"

/** `devmatrix run` ready to start: its arguments, and its plan file read and checked. */
export interface RunInput extends RunArgs {
  readonly planFile: PlanFile
}

/** Reads and checks the plan file; nothing is opened or written before this succeeds. */
export const prepareRun = (args: RunArgs, env: NodeJS.ProcessEnv) =>
  Effect.map(
    readPlanFile(args.file, { flag: args.overrides.model, env, prices: args.prices }),
    (planFile): RunInput => ({
      ...args,
      planFile,
      // With a key and no model named (by flag or plan), Claude it is: the default DESIGN.md §10 gives.
      overrides:
        args.overrides.model === undefined &&
        planFile.plan.options?.model === undefined &&
        args.anthropic !== undefined
          ? { ...args.overrides, model: defaultClaudeModel }
          : args.overrides
    })
  )

/** The hard budget in force, by the engine's precedence: `--budget`, the plan's `budget`, its `options.budget`, the default. */
export const hardBudgetUsd = (args: Pick<RunInput, "overrides" | "planFile">): number =>
  args.overrides.budget?.hardUsd ?? args.planFile.plan.budget?.hardUsd ?? args.planFile.options.budget.hardUsd

/** `devmatrix run`: submits the plan to the engine and follows it to its end. */
export const runCommand = (args: RunInput, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    // Listening before the plan is submitted: a signal that comes while it is being stored stops it
    // as soon as it runs (calls in flight get their grace, the resume command is printed), instead
    // of killing the process with nothing said.
    const stop = yield* listenForStop
    // `--concurrency N` pins the model's limit before the plan's first call: it does not adapt.
    if (args.pinnedConcurrency !== undefined)
      yield* engine
        .setConcurrency(args.overrides.model ?? args.planFile.options.model, args.pinnedConcurrency)
        .pipe(Effect.mapError((error) => new UsageError(error.message)))
    const masterplanId = yield* engine
      .submit(args.planFile.compiled, {
        ...(args.masterplanId !== undefined ? { masterplanId: args.masterplanId } : {}),
        options: args.overrides
      })
      .pipe(
        // At submit a conflict can only be an `--id` already taken: the user's input, not the store's fault.
        Effect.catchTag("StoreError", (error) =>
          Effect.fail(error.reason === "Conflict" ? new UsageError(error.message) : error)
        )
      )
    if (args.notice !== undefined) terminal.stderr.write(`${args.notice}\n`)
    if (!args.json) {
      const store = yield* Store
      const others = (yield* store.listMasterplans()).filter(
        (p) => p.id !== masterplanId && !finishedStatuses.has(p.status)
      )
      if (others.length > 0)
        terminal.stderr.write(
          `${others.length} other unfinished masterplan(s) in ${store.name}: \`${resumeCommandLine(args.invocation, args.store)}\` continues them\n`
        )
    }
    return yield* followPlan(engine, masterplanId, args, terminal, { stop, budgetUsd: hardBudgetUsd(args) })
  })
