import type { MasterplanListing, MasterplanView } from "@devmatrix/sdk"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { hostCommandLine, invocationOf } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import { usd } from "./format.js"
import { embeddedOnlyFlags, hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import { unfinished } from "./planRunner.js"
import { masterplanIdArg } from "./runArgs.js"
import type { Terminal } from "./showPlan.js"
import { synopsis } from "./usage.js"

/** `devmatrix status [<id>] --host` as parsed. */
export interface HostStatusArgs {
  readonly host: HostTarget
  readonly json: boolean
  readonly masterplanId?: string
  readonly invocation: string
}

export const parseHostStatusArgs = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  host: HostTarget
): HostStatusArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { ...embeddedOnlyFlags(["store"]), json: { type: "boolean", default: false }, ...hostFlags }
  })
  refuseEmbeddedOnly(values, ["store"])
  if (positionals.length > 1) throw new UsageError(`usage: ${synopsis.status}`)
  return {
    host,
    json: values.json === true,
    invocation: invocationOf(env),
    ...(positionals[0] !== undefined ? { masterplanId: masterplanIdArg(positionals[0]) } : {})
  }
}

/**
 * A host's listing under the names of a store's record (`id`, not `masterplanId`), so that what
 * reads `status --json` reads it the same from a store or from a host.
 */
const asRecord = ({ masterplanId, ...listing }: MasterplanListing) => ({ id: masterplanId, ...listing })

/**
 * `devmatrix status [<id>] --host`: the tenant's masterplans in the host, or one in detail, in
 * the embedded format. A host shows what its protocol has (`list`, `get`): no phases, and no
 * `(live)` / `(stopped)` (the host runs its unfinished plans); a failed plan's failures come from
 * its summary, and a paused one's line says how to resume it.
 */
export const statusOnHost = (args: HostStatusArgs, terminal: Terminal) =>
  onHost(args.host, "status", terminal, (client) =>
    Effect.gen(function* () {
      const write = (text: string) => terminal.stdout.write(`${text}\n`)
      if (args.masterplanId === undefined) {
        const { masterplans } = yield* sdkCall(() => client.list())
        if (args.json) write(JSON.stringify(masterplans.map(asRecord)))
        else if (masterplans.length === 0) write(`no masterplans in the host at ${args.host.url}`)
        else
          for (const plan of masterplans)
            write(
              `${plan.masterplanId}  ${plan.status.padEnd(19)}  ${plan.name}  (${plan.atomCount} atoms, ${plan.waveCount} waves, ` +
                `updated ${new Date(plan.updatedAt).toISOString()})`
            )
        return ExitCode.completed
      }
      const id = args.masterplanId
      const view: MasterplanView = yield* sdkCall(() => client.get(id))
      const resume =
        view.status === "paused"
          ? hostCommandLine(args.invocation, "resume", { masterplanId: id, flags: args.host.flags })
          : undefined
      if (args.json) {
        const { masterplanId: _, ...rest } = view
        write(JSON.stringify({ id, ...rest, resume }))
        return ExitCode.completed
      }
      write(`${id}  ${view.name}`)
      write(`status   ${view.status}${view.phase !== undefined ? ` (phase ${view.phase})` : ""}`)
      if (unfinished(view.status)) write(`process  running in the host at ${args.host.url}`)
      write(
        `atoms    ${Object.entries(view.atoms)
          .map(([status, n]) => `${n} ${status}`)
          .join(", ")} (of ${view.atomCount})`
      )
      write(`cost     ${usd(view.costUsd)}`)
      write(`journal  ${view.lastSeq} events`)
      for (const failure of view.summary?.failures ?? [])
        write(`failed   atom ${failure.atomId} (wave ${failure.wave}): ${failure.error}`)
      if (resume !== undefined) write(`resume   ${resume}`)
      return ExitCode.completed
    })
  )
