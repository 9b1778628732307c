import { Engine, finishedStatuses, Store } from "@devmatrix/runtime"
import { Deferred, Effect, Either, Option } from "effect"
import { parseArgs } from "node:util"
import { invocationOf } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import { followHostPlan } from "./followHostPlan.js"
import type { HostFollowArgs } from "./followHostPlan.js"
import { followPlan } from "./followPlan.js"
import { embeddedOnlyFlags, hostFlags, onHost, refuseEmbeddedOnly, sdkCall } from "./hostClient.js"
import type { HostTarget } from "./hostClient.js"
import type { Terminal } from "./followPlan.js"
import { engineArgs, engineFlags, masterplanIdArg } from "./runArgs.js"
import { listenForStop } from "./stopSignals.js"
import type { EngineArgs } from "./runArgs.js"
import { synopsis } from "./usage.js"

/** `devmatrix resume` as parsed: one masterplan, or every unfinished one. */
export interface ResumeArgs extends EngineArgs {
  readonly masterplanId?: string
}

export const parseResumeArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ResumeArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: engineFlags
  })
  if (positionals.length > 1) throw new UsageError(`usage: ${synopsis.resume}`)
  return {
    ...engineArgs(values, env),
    ...(positionals[0] !== undefined ? { masterplanId: masterplanIdArg(positionals[0]) } : {})
  }
}

/**
 * `devmatrix resume [<id>]`: continues a masterplan an earlier process left unfinished (crash,
 * kill, Ctrl-C) from its journal, or every unfinished one without an id. Completed atoms are not
 * run again; the events shown start where the journal stopped.
 */
export const resumeCommand = (args: ResumeArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const store = yield* Store
    // Listening from the start: a signal while plans are being recovered stops them all once they run.
    const stop = yield* listenForStop
    const ids = args.masterplanId !== undefined ? [args.masterplanId] : []
    const lastSeqs = new Map<string, number>()
    const paused = new Set<string>()
    const budgets = new Map<string, number>()
    const remember = (id: string) =>
      Effect.map(store.getMasterplan(id), (found) => {
        lastSeqs.set(id, Option.match(found, { onNone: () => 0, onSome: (r) => r.lastSeq }))
        if (Option.isSome(found) && found.value.status === "paused") paused.add(id)
        if (Option.isSome(found)) budgets.set(id, found.value.options.budget.hardUsd)
      })
    if (args.masterplanId !== undefined) {
      yield* remember(args.masterplanId)
      yield* engine.recover(args.masterplanId)
    } else {
      const unfinished = (yield* store.listMasterplans()).filter((p) => !finishedStatuses.has(p.status))
      for (const plan of unfinished) {
        // Stopped meanwhile: no more plans are started only to be stopped (those running are, below).
        if (Option.isSome(yield* Deferred.poll(stop.first))) break
        yield* remember(plan.id)
        // A plan another process is running is left to it, and said so; the others are resumed.
        const outcome = yield* Effect.either(engine.recover(plan.id))
        if (Either.isRight(outcome)) ids.push(plan.id)
        else terminal.stderr.write(`not resuming ${plan.id}: ${outcome.left.message}\n`)
      }
      const signal = yield* Deferred.poll(stop.first)
      if (ids.length === 0 && Option.isSome(signal)) {
        terminal.stderr.write(`interrupted (${yield* signal.value}): no masterplan was resumed\n`)
        return ExitCode.interrupted
      }
      if (ids.length === 0) {
        terminal.stderr.write(
          "nothing to resume: no unfinished masterplan in the store that no other process runs\n"
        )
        return ExitCode.completed
      }
    }
    // A plan stays paused across a restart; asking to resume it is what resumes it.
    for (const id of ids.filter((id) => paused.has(id))) {
      terminal.stderr.write(`masterplan ${id} was paused: resuming it\n`)
      yield* engine.resume(id)
    }
    if (args.notice !== undefined) terminal.stderr.write(`${args.notice}\n`)
    let code: number = ExitCode.completed
    for (const [i, id] of ids.entries()) {
      if (!args.json) terminal.stderr.write(`resuming masterplan ${id}\n`)
      const outcome = yield* followPlan(engine, id, args, terminal, {
        fromSeq: (lastSeqs.get(id) ?? 0) + 1,
        stop,
        alsoRunning: ids.slice(i + 1),
        ...(budgets.has(id) ? { budgetUsd: budgets.get(id)! } : {})
      })
      code = Math.max(code, outcome)
      // Stopped by a signal (all of them are), or on a store that cannot be written (it is theirs too).
      if (outcome === ExitCode.interrupted || outcome === ExitCode.storeFailed) break
    }
    return code
  })

/** `devmatrix resume <id> --host` as parsed. */
export interface HostResumeArgs extends HostFollowArgs {
  readonly masterplanId: string
}

/** Flags of `resume` that only a store's own engine has a use for. */
const embeddedOnly = ["store", "redis", "no-cache", "prices", "model", "seed", "latency-ms", "fault-rate"]

export const parseHostResumeArgs = (
  argv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  host: HostTarget
): HostResumeArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { ...embeddedOnlyFlags(embeddedOnly), json: { type: "boolean", default: false }, ...hostFlags }
  })
  refuseEmbeddedOnly(values, embeddedOnly)
  if (positionals.length > 1) throw new UsageError(`usage: ${synopsis.resume}`)
  // A host recovers its unfinished plans itself as it starts: only a paused one waits to be resumed.
  if (positionals[0] === undefined)
    throw new UsageError(
      "with --host, resume needs the masterplan's id (a host resumes its unfinished plans itself; `devmatrix status --host` lists them)"
    )
  return {
    host,
    json: values.json === true,
    invocation: invocationOf(env),
    masterplanId: masterplanIdArg(positionals[0])
  }
}

/**
 * `devmatrix resume <id> --host`: resumes a plan paused in the host (on budget, after `budget`;
 * or by an operator) through the SDK, then follows it from where its journal was, as an embedded
 * resume does. A plan that is not paused is refused by the host (`conflict`, exit 2).
 */
export const resumeOnHost = (args: HostResumeArgs, terminal: Terminal) =>
  onHost(args.host, "resume", terminal, (client) =>
    Effect.gen(function* () {
      const stop = yield* listenForStop
      const { lastSeq } = yield* sdkCall(() => client.get(args.masterplanId))
      yield* sdkCall(() => client.resume(args.masterplanId))
      if (!args.json)
        terminal.stderr.write(`resuming masterplan ${args.masterplanId} in the host at ${args.host.url}\n`)
      return yield* followHostPlan(client, args.masterplanId, args, terminal, { fromSeq: lastSeq + 1, stop })
    }).pipe(Effect.scoped)
  )
