import { costOf } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { StorePg, StoreSqlite, Store } from "@devmatrix/runtime"
import type { StoreError } from "@devmatrix/runtime"
import { Effect } from "effect"
import type { Layer } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { withPgSchema } from "../packages/runtime/test/pgTestStore.js"

// A process running a 300-atom plan is killed with SIGKILL at random moments, 20 times, each time
// restarted with `devmatrix resume`; then the journal, the rows and the model's own call log must
// agree: every atom completed once, no completed atom called again, seq gap-free, and every paid
// call recorded once, except the uncommitted tail of a killed process.

const root = join(import.meta.dirname, "..")
const bin = join(root, "packages/host/bin/devmatrix.js")
const kills = 20
const concurrency = 2

const layered = (layers: number, width: number) =>
  Array.from({ length: layers * width }, (_, n) => {
    const layer = Math.floor(n / width)
    const i = n % width
    const dependsOn =
      layer === 0 ? [] : [...new Set([`L${layer - 1}-${i}`, `L${layer - 1}-${(i * 7 + 1) % width}`])]
    return { id: `L${layer}-${i}`, dependsOn, instruction: `atom ${n}` }
  })

interface CallLine {
  readonly atomId: string
  readonly attempt: number
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly segment: number
}

/** Starts `devmatrix` and resolves once it printed its first event (it is running) or exited. */
const start = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } })
  let stderr = ""
  let stdout = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  const running = new Promise<void>((resolve) => {
    child.stdout.once("data", () => resolve())
    void exited.then(() => resolve())
  })
  return { child, running, exited, stderr: () => stderr, stdout: () => stdout }
}

const killAfter = async (child: ChildProcess, ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms))
  child.kill("SIGKILL")
}

const readStore = <A>(
  layer: () => Layer.Layer<Store, StoreError>,
  f: (store: Store["Type"]) => Effect.Effect<A, StoreError>
) => Effect.runPromise(Effect.flatMap(Store, f).pipe(Effect.provide(layer()), Effect.scoped))

const crashTest = (storeUrl: string, layer: () => Layer.Layer<Store, StoreError>) => async () => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-crash-"))
  const planFile = join(dir, "plan.json")
  const callLog = join(dir, "calls.jsonl")
  const atoms = layered(15, 20)
  writeFileSync(
    planFile,
    JSON.stringify({ name: "crash", options: { concurrency, retry: { initialMs: 20 } }, atoms })
  )
  const id = `crash-${Date.now()}`
  const env = { DEVMATRIX_STORE: storeUrl, DEVMATRIX_SCRIPTED_CALL_LOG: callLog, ANTHROPIC_API_KEY: "" }
  const flags = ["--json", "--latency-ms", "5-30", "--fault-rate", "0.05", "--seed", "11"]
  const completedBefore: Array<ReadonlySet<string>> = []
  let killed = 0
  for (let round = 0; round <= kills; round++) {
    appendFileSync(callLog, `${JSON.stringify({ segment: round })}\n`)
    const proc = start(round === 0 ? ["run", planFile, "--id", id, ...flags] : ["resume", id, ...flags], env)
    await proc.running
    if (round < kills) {
      await killAfter(proc.child, Math.random() * 150)
      const code = await proc.exited
      if (code === null) killed++
    } else {
      const code = await proc.exited
      expect(code, proc.stderr()).toBe(0)
    }
    const atomsNow = await readStore(layer, (store) => store.listAtoms(id))
    completedBefore.push(new Set(atomsNow.filter((a) => a.status === "completed").map((a) => a.atomId)))
    if (round < kills && completedBefore.at(-1)!.size === atoms.length) break
  }
  // Most kills must land mid-run for the test to mean anything.
  expect(killed).toBeGreaterThanOrEqual(kills / 2)

  const { journal, costs, rows } = await readStore(layer, (store) =>
    Effect.all({
      journal: store.readEvents(id, 1),
      costs: store.listCostCommits(id),
      rows: store.listAtoms(id)
    })
  )
  // The journal: gap-free, ended, one completion per atom.
  expect(journal.map((e: Event) => e.seq)).toEqual(journal.map((_, i) => i + 1))
  expect(journal.at(-1)?.type).toBe("masterplan.completed")
  const completions = journal.flatMap((e) => (e.type === "atom.completed" ? [e.atomId] : []))
  expect(completions.length).toBe(atoms.length)
  expect(new Set(completions).size).toBe(atoms.length)
  expect(rows.every((row) => row.status === "completed" && row.code !== undefined)).toBe(true)

  // The model's own log: no atom completed (and committed) before a restart was called after it.
  let segment = 0
  const calls: Array<CallLine> = []
  for (const line of readFileSync(callLog, "utf8").split("\n").filter(Boolean)) {
    const entry = JSON.parse(line) as Partial<CallLine> & { segment?: number }
    if (entry.segment !== undefined) segment = entry.segment
    else calls.push({ ...(entry as CallLine), segment })
  }
  for (const call of calls)
    if (call.segment > 0)
      expect(
        completedBefore[call.segment - 1]!.has(call.atomId),
        `${call.atomId} called again after completing`
      ).toBe(false)

  // Money: every recorded payment is a call the model answered, recorded once, at the price of that
  // call. A call's cost is journaled the moment it returns and commits go in journal order, so a
  // kill can only lose the tail of its process's calls (those not yet committed): within each
  // killed process the recorded calls are a prefix, and the last process (never killed) loses none.
  const key = (c: { atomId: string; attempt: number }) => `${c.atomId}#${c.attempt}`
  const committed = new Map(costs.map((cost) => [key(cost), cost]))
  expect(committed.size).toBe(costs.length)
  const lastIndexOf = new Map(calls.map((call, i) => [key(call), i]))
  // Only the last call of an attempt number can be the recorded one: had an earlier one been
  // recorded, its attempt would have been committed too and the number not reused.
  const recorded = calls.map((call, i) => committed.has(key(call)) && lastIndexOf.get(key(call)) === i)
  for (const cost of costs) {
    const i = lastIndexOf.get(key(cost))
    expect(i, `${key(cost)} recorded but never answered`).toBeDefined()
    expect(cost.costUsd).toBeCloseTo(costOf(calls[i!]!.model, calls[i!]!), 12)
  }
  const finalSegment = Math.max(...calls.map((call) => call.segment))
  for (let seg = 0; seg <= finalSegment; seg++) {
    const inSegment = calls.flatMap((call, i) => (call.segment === seg ? [recorded[i]!] : []))
    const firstLost = inSegment.indexOf(false)
    if (seg === finalSegment) expect(firstLost, "the last process lost a payment").toBe(-1)
    else if (firstLost >= 0)
      expect(
        inSegment.slice(firstLost).every((r) => !r),
        `segment ${seg}`
      ).toBe(true)
  }
  const rowCost = rows.reduce((sum, row) => sum + row.costUsd, 0)
  expect(rowCost).toBeCloseTo(
    costs.reduce((sum, cost) => sum + cost.costUsd, 0),
    9
  )
}

describe("crash recovery under SIGKILL", () => {
  it("on SQLite", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "devmatrix-crash-db-")), "crash.db")
    await crashTest(`sqlite:${file}`, () => StoreSqlite(file))()
    expect(existsSync(file)).toBe(true)
  }, 240_000)

  it("on PostgreSQL", async () => {
    // One schema for the whole test: the child processes and this one share it.
    let url = ""
    const schemaLayer = withPgSchema((u) => {
      url = u
      return StorePg(u)
    })
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* Store
        yield* Effect.promise(() => crashTest(url, () => StorePg(url))())
      }).pipe(Effect.provide(schemaLayer), Effect.scoped)
    )
  }, 240_000)
})
