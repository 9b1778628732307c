import { maxUsd } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { hostCommandLine, invocationOf, resumeCommandLine } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { embeddedOnlyFlags, hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { usd } from "./format.js"
import { masterplanIdArg, number, storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"

/** `devmatrix budget` as parsed. */
export interface BudgetArgs {
  readonly store: string
  readonly masterplanId: string
  readonly hardUsd: number
  readonly softUsd?: number
  /** How the user runs devmatrix (see `invocationOf`): the resume command starts with it. */
  readonly invocation: string
}

const usdWhat = `an amount of dollars above 0 and at most ${maxUsd}`
const isUsd = (n: number) => n > 0 && n <= maxUsd

export const parseBudgetArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): BudgetArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { store: { type: "string" }, hard: { type: "string" }, soft: { type: "string" } }
  })
  if (positionals.length !== 1 || values.hard === undefined) throw new UsageError(`usage: ${synopsis.budget}`)
  const hardUsd = number("hard", values.hard, isUsd, usdWhat)!
  const softUsd = number("soft", values.soft, isUsd, usdWhat)
  if (softUsd !== undefined && softUsd > hardUsd)
    throw new UsageError(`--soft (${softUsd}) must not exceed --hard (${hardUsd})`)
  return {
    store: storeOf(values.store, env),
    masterplanId: masterplanIdArg(positionals[0]!),
    hardUsd,
    ...(softUsd !== undefined ? { softUsd } : {}),
    invocation: invocationOf(env)
  }
}

/**
 * `devmatrix budget <id> --hard USD [--soft USD]`: sets the budget of a plan no process runs (one
 * paused on budget, typically), journaled in its store; `devmatrix resume` then continues it.
 */
export const budgetCommand = (args: BudgetArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    yield* engine.raiseBudget(args.masterplanId, {
      hardUsd: args.hardUsd,
      ...(args.softUsd !== undefined ? { softUsd: args.softUsd } : {})
    })
    terminal.stderr.write(
      `masterplan ${args.masterplanId}: hard limit ${usd(args.hardUsd)}${args.softUsd !== undefined ? `, soft limit ${usd(args.softUsd)}` : ""}; continue it with\n  ${resumeCommandLine(args.invocation, args.store, args.masterplanId)}\n`
    )
    return ExitCode.completed
  })

/** `devmatrix budget <id> --host` as parsed. */
export interface HostBudgetArgs {
  readonly host: HostTarget
  readonly masterplanId: string
  readonly hardUsd: number
  readonly invocation: string
}

export const parseHostBudgetArgs = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  host: HostTarget
): HostBudgetArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...embeddedOnlyFlags(["store"]),
      hard: { type: "string" },
      soft: { type: "string" },
      ...hostFlags
    }
  })
  refuseEmbeddedOnly(values, ["store"])
  if (values.soft !== undefined)
    throw new UsageError(
      "--soft cannot be used with --host: a host sets the soft limit at 80% of the hard one (its raiseBudget takes the hard limit only)"
    )
  if (positionals.length !== 1 || values.hard === undefined) throw new UsageError(`usage: ${synopsis.budget}`)
  return {
    host,
    masterplanId: masterplanIdArg(positionals[0]!),
    hardUsd: number("hard", values.hard, isUsd, usdWhat)!,
    invocation: invocationOf(env)
  }
}

/**
 * `devmatrix budget <id> --hard USD --host`: sets the budget of a plan of the host (journaled
 * there as `budget.raised`); a plan paused on budget stays paused until `resume`.
 */
export const budgetOnHost = (args: HostBudgetArgs, terminal: Terminal) =>
  onHost(args.host, "budget", terminal, (client) =>
    Effect.map(
      sdkCall(() => client.raiseBudget(args.masterplanId, args.hardUsd)),
      (budget) => {
        terminal.stderr.write(
          `masterplan ${args.masterplanId}: hard limit ${usd(budget.hardUsd)}, soft limit ${usd(budget.softUsd)}; continue it with\n  ${hostCommandLine(args.invocation, "resume", { masterplanId: args.masterplanId, flags: args.host.flags })}\n`
        )
        return ExitCode.completed
      }
    )
  )
