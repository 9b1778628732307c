import type { PlanInputEncoded, RunOptionsInput } from "@devmatrix/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { invocationOf } from "./commandLine.js"
import { UsageError } from "./exitCodes.js"
import { followHostPlan } from "./followHostPlan.js"
import type { HostFollowArgs } from "./followHostPlan.js"
import { embeddedOnlyFlags, hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { readPlanFile } from "./planFile.js"
import { hardBudgetUsd } from "./runCommand.js"
import { pathArg, runOptionFlags, runOptionsOf, runUsage } from "./runArgs.js"
import type { Terminal } from "./showPlan.js"
import { listenForStop } from "./stopSignals.js"

/** `devmatrix run --host` as parsed: the plan file, and the options sent with it. */
export interface HostRunArgs extends HostFollowArgs {
  readonly file: string
  readonly masterplanId?: string
  readonly overrides: Partial<RunOptionsInput>
}

/** Flags of `run` that only a store's own engine has a use for. */
const embeddedOnly = ["store", "redis", "no-cache", "prices", "seed", "latency-ms", "fault-rate", "out"]

/**
 * Parses `devmatrix run <plan.json> --host URL [flags]`. `--model` is sent as it is: the host
 * knows its models and keys. `--concurrency N` is the plan's own cap (a host's limit per model
 * is the host's).
 */
export const parseHostRunArgs = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  host: HostTarget
): HostRunArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...embeddedOnlyFlags(embeddedOnly),
      json: { type: "boolean", default: false },
      model: { type: "string" },
      ...runOptionFlags,
      ...hostFlags
    }
  })
  refuseEmbeddedOnly(values, embeddedOnly)
  if (positionals.length !== 1) throw new UsageError(runUsage)
  const { masterplanId, overrides } = runOptionsOf(values)
  return {
    host,
    json: values.json === true,
    invocation: invocationOf(env),
    file: pathArg("the plan file", positionals[0]!),
    ...(masterplanId !== undefined ? { masterplanId } : {}),
    overrides
  }
}

/**
 * `devmatrix run --host`: checks the plan file as an embedded run does (a bad one exits 2 with
 * nothing sent), submits it through the SDK, then follows it to its end with the embedded run's
 * output and exit codes. The masterplan id is the host's: `--id x` is `tenant/x` there.
 */
export const runOnHost = (args: HostRunArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const planFile = yield* readPlanFile(args.file, "by the host")
    return yield* onHost(args.host, "run", terminal, (client) =>
      Effect.gen(function* () {
        // Listening before the submit: a Ctrl-C while it is sent ends the command as one while following.
        const stop = yield* listenForStop
        const { masterplanId } = yield* sdkCall(() =>
          client.submit(planFile.compiled.input as PlanInputEncoded, {
            options: args.overrides,
            ...(args.masterplanId !== undefined ? { masterplanId: args.masterplanId } : {})
          })
        )
        return yield* followHostPlan(client, masterplanId, args, terminal, {
          stop,
          budgetUsd: hardBudgetUsd({ overrides: args.overrides, planFile })
        })
      }).pipe(Effect.scoped)
    )
  })
