import { Store } from "@devmatrix/runtime"
import type { AtomRow, MasterplanRecord } from "@devmatrix/runtime"
import { Clock, Effect, Option } from "effect"
import { parseArgs } from "node:util"
import { invocationOf, resumeCommandLine } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { usd } from "./format.js"
import { runnerOf, unfinished } from "./planRunner.js"
import { masterplanIdArg, storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"

export interface StatusArgs {
  readonly store: string
  readonly json: boolean
  readonly masterplanId?: string
  /** How the user runs devmatrix (see `invocationOf`): the resume command starts with it. */
  readonly invocation: string
}

export const parseStatusArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): StatusArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { store: { type: "string" }, json: { type: "boolean", default: false } }
  })
  if (positionals.length > 1) throw new UsageError(`usage: ${synopsis.status}`)
  return {
    store: storeOf(values.store, env),
    json: values.json ?? false,
    invocation: invocationOf(env),
    ...(positionals[0] !== undefined ? { masterplanId: masterplanIdArg(positionals[0]) } : {})
  }
}

const countByStatus = (atoms: ReadonlyArray<AtomRow>) =>
  atoms.reduce<Record<string, number>>(
    (counts, atom) => ({ ...counts, [atom.status]: (counts[atom.status] ?? 0) + 1 }),
    {}
  )

/** `live` when a process runs it, `stopped` when none does (resume continues it); nothing once it has ended. */
const liveness = (record: Pick<MasterplanRecord, "status" | "lease">, nowMs: number): string =>
  !unfinished(record.status) ? "" : runnerOf(record, nowMs) !== undefined ? " (live)" : " (stopped)"

/**
 * `devmatrix status [<id>]`: every masterplan in the store, or one in detail (atoms, phases, cost,
 * and the command that resumes it if unfinished).
 */
export const statusCommand = (args: StatusArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const store = yield* Store
    const nowMs = yield* Clock.currentTimeMillis
    const write = (text: string) => terminal.stdout.write(`${text}\n`)
    if (args.masterplanId === undefined) {
      const plans = yield* store.listMasterplans()
      if (args.json) write(JSON.stringify(plans))
      else if (plans.length === 0) write(`no masterplans in ${store.name}`)
      else
        for (const plan of plans)
          write(
            `${plan.id}  ${`${plan.status}${liveness(plan, nowMs)}`.padEnd(19)}  ${plan.name}  (${plan.atomCount} atoms, ${plan.waveCount} waves, ` +
              `updated ${new Date(plan.updatedAt).toISOString()})`
          )
      return ExitCode.completed
    }
    const id = args.masterplanId
    const found = yield* store.getMasterplan(id)
    if (Option.isNone(found)) {
      terminal.stderr.write(`devmatrix status: no masterplan "${id}" in ${store.name}\n`)
      return ExitCode.usage
    }
    const { plan: _, ...record } = found.value
    const atoms = yield* store.listAtoms(id)
    const phases = yield* store.listPhases(id)
    const costUsd = (yield* store.listCostCommits(id)).reduce((sum, c) => sum + c.costUsd, 0)
    const atomsByStatus = countByStatus(atoms)
    const runningIn = runnerOf(record, nowMs)
    // A plan another process is running is not to be resumed: it would be refused.
    const resume =
      unfinished(record.status) && runningIn === undefined
        ? resumeCommandLine(args.invocation, args.store, id)
        : undefined
    if (args.json) {
      write(JSON.stringify({ ...record, atoms: atomsByStatus, phases, costUsd, runningIn, resume }))
      return ExitCode.completed
    }
    write(`${record.id}  ${record.name}`)
    write(`status   ${record.status}${record.phase !== undefined ? ` (phase ${record.phase})` : ""}`)
    if (unfinished(record.status))
      write(
        runningIn !== undefined
          ? `process  running in ${runningIn} (lease renewed until ${new Date(record.lease!.untilMs).toISOString()})`
          : "process  none: stopped, resume continues it"
      )
    write(
      `atoms    ${Object.entries(atomsByStatus)
        .map(([status, n]) => `${n} ${status}`)
        .join(", ")} (of ${record.atomCount})`
    )
    write(
      `phases   ${phases.map((p) => `${p.phase} ${p.status}${p.attempts > 1 ? ` ×${p.attempts}` : ""}`).join(", ")}`
    )
    write(`cost     ${usd(costUsd)}`)
    write(`journal  ${record.lastSeq} events`)
    for (const atom of atoms.filter((a) => a.status === "failed").slice(0, 20))
      write(`failed   atom ${atom.atomId} (wave ${atom.wave}): ${atom.error ?? "unknown"}`)
    if (resume !== undefined) write(`resume   ${resume}`)
    return ExitCode.completed
  })
