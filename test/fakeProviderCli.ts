import { costOfUsage, defaultPriceTable, Event, findModelPrice } from "@devmatrix/core"
import type { BilledCall, FakeAnthropic } from "@devmatrix/host"
import { Store, StoreSqlite } from "@devmatrix/runtime"
import { Effect, Schema } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bin, root } from "./devmatrixProcess.js"

// What the CLI tests against the local Messages API share: spawning `devmatrix` with the server in
// its environment (and keeping track of every child, so a test can check none is left running),
// reading the journal the children wrote, and pricing the server's billing log.

/** The environment of a shell: without what a package script (`pnpm test` itself) sets. */
const shellEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")))

/** A `devmatrix` child process, its output so far, and how it ended. */
export interface Devmatrix {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Its exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>
  /** Resolves once stdout so far satisfies `test` (rejects if the process exits first). */
  readonly waitForStdout: (test: (stdout: string) => boolean) => Promise<void>
}

/** Every child started by `startDevmatrix` in this test file, to check that all have exited. */
const children: Array<ChildProcess> = []

/** The children started in this file that are still running (each is killed, so none outlives the file). */
export const stillRunning = (): ReadonlyArray<ChildProcess> => {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill("SIGKILL")
  return running
}

/**
 * Starts `devmatrix <args>` with `env` over a shell's environment, without an Anthropic key or
 * base URL unless `env` gives them.
 */
export const startDevmatrix = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Devmatrix => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...shellEnv, ANTHROPIC_API_KEY: "", ANTHROPIC_BASE_URL: "", ...env }
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  const waiting: Array<{ test: (stdout: string) => boolean; resolve: () => void }> = []
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    for (const wait of [...waiting])
      if (wait.test(stdout)) {
        waiting.splice(waiting.indexOf(wait), 1)
        wait.resolve()
      }
  })
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => resolve(code))
  })
  const waitForStdout = (test: (stdout: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (test(stdout)) return resolve()
      waiting.push({ test, resolve })
      void exited.then((code) => reject(new Error(`devmatrix exited (${code}) first: ${stderr}`)))
    })
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitForStdout }
}

/** Runs `devmatrix <args>` to its end. */
export const runToEnd = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const run = startDevmatrix(args, env)
  const code = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

/** A fresh SQLite store in a temp dir: its URL for the children, its file for `readJournal`. */
export const tempSqliteStore = (name: string) => {
  const file = join(mkdtempSync(join(tmpdir(), `devmatrix-${name}-`)), `${name}.db`)
  return { file, url: `sqlite:${file}` }
}

/** Writes `plan` as JSON to a temp file; its path. */
export const writePlan = (plan: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), "devmatrix-plan-")), "plan.json")
  writeFileSync(file, JSON.stringify(plan))
  return file
}

/** A plan of `count` independent atoms, `a0`..., each with an instruction of its own. */
export const independentAtoms = (name: string, count: number, options: Record<string, unknown> = {}) => ({
  name,
  options,
  atoms: Array.from({ length: count }, (_, i) => ({ id: `a${i}`, instruction: `write function number ${i}` }))
})

/** A masterplan's journal and cost commits as a child process left them in the store. */
export const readJournal = (storeFile: string, masterplanId: string) =>
  Effect.runPromise(
    Effect.flatMap(Store, (store) =>
      Effect.all({ events: store.readEvents(masterplanId, 1), costs: store.listCostCommits(masterplanId) })
    ).pipe(Effect.provide(StoreSqlite(storeFile)), Effect.scoped)
  )

const decodeEvent = Schema.decodeUnknownSync(Event)

/** The `--json` lines of a run, each decoded with the `Event` schema (a partial last line is left out). */
export const jsonEvents = (stdout: string): Array<Event> =>
  stdout
    .split("\n")
    .slice(0, -1)
    .filter((line) => line.trim() !== "")
    .map((line) => decodeEvent(JSON.parse(line)))

/** The summary of the run's terminal event (the last `--json` line). */
export const summaryOf = (stdout: string) => {
  const last = jsonEvents(stdout).at(-1)
  if (
    last === undefined ||
    (last.type !== "masterplan.completed" &&
      last.type !== "masterplan.failed" &&
      last.type !== "masterplan.paused")
  )
    throw new Error(`the run did not end with a terminal event: ${last?.type}`)
  if (last.type === "masterplan.paused") throw new Error("the run paused: it has no summary")
  return last.summary
}

/** What one billed call cost at the price table's rates, from the usage the server sent. */
export const billedCostUsd = (call: BilledCall): number =>
  costOfUsage(findModelPrice(defaultPriceTable, call.model)!, {
    inputTokens: call.usage.input_tokens,
    outputTokens: call.usage.output_tokens,
    cacheWrite5mTokens: call.usage.cache_creation.ephemeral_5m_input_tokens,
    cacheWrite1hTokens: call.usage.cache_creation.ephemeral_1h_input_tokens,
    cacheReadTokens: call.usage.cache_read_input_tokens
  })

/** What the server billed for `masterplanId`'s calls, in nano-dollars (exact sums). */
export const billedNanos = (server: FakeAnthropic, masterplanId: string): number =>
  server
    .billed()
    .filter((call) => call.callId?.startsWith(`${masterplanId}/`) === true)
    .reduce((sum, call) => sum + Math.round(billedCostUsd(call) * 1e9), 0)

/** The atom a billed call was for: `<masterplanId>/<atomId>/<attempt>`. */
export const atomOfCall = (call: BilledCall): string => call.callId!.split("/")[1]!

/** The billed calls of `masterplanId`, by atom. */
export const billedPerAtom = (
  server: FakeAnthropic,
  masterplanId: string
): Map<string, Array<BilledCall>> => {
  const perAtom = new Map<string, Array<BilledCall>>()
  for (const call of server.billed())
    if (call.callId?.startsWith(`${masterplanId}/`) === true) {
      const atomId = atomOfCall(call)
      perAtom.set(atomId, [...(perAtom.get(atomId) ?? []), call])
    }
  return perAtom
}
