import { maxAgeMs } from "@devmatrix/core"
import { Store } from "@devmatrix/runtime"
import { Clock, Effect } from "effect"
import { parseArgs } from "node:util"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { storeOf } from "./runArgs.js"
import { synopsis } from "./usage.js"

export interface CleanupArgs {
  readonly store: string
  readonly olderThanMs: number
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `30d`, `12h`, `90m`, `45s` in milliseconds. */
export const parseAge = (text: string): number => {
  const match = /^(\d+)([smhd])$/.exec(text.trim())
  if (!match) throw new UsageError(`--older-than must be an age such as 7d, 12h, 30m or 45s, got "${text}"`)
  const ms = Number(match[1]) * units[match[2]!]!
  if (ms > maxAgeMs) throw new UsageError(`--older-than must be at most 100 years (36500d), got "${text}"`)
  return ms
}

export const parseCleanupArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): CleanupArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { store: { type: "string" }, "older-than": { type: "string" } }
  })
  if (positionals.length > 0 || values["older-than"] === undefined)
    throw new UsageError(`usage: ${synopsis.cleanup}`)
  return { store: storeOf(values.store, env), olderThanMs: parseAge(values["older-than"]) }
}

/** `devmatrix cleanup --older-than 7d`: deletes finished masterplans (and their journals) not touched for that long. */
export const cleanupCommand = (args: CleanupArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const store = yield* Store
    const now = yield* Clock.currentTimeMillis
    const deleted = yield* store.deleteFinishedBefore(now - args.olderThanMs)
    terminal.stdout.write(`deleted ${deleted.length} finished masterplan(s) from ${store.name}\n`)
    for (const id of deleted) terminal.stdout.write(`  ${id}\n`)
    return ExitCode.completed
  })
