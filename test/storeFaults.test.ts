import { Event } from "@devmatrix/core"
import { Store, StorePg } from "@devmatrix/runtime"
import { Effect, Schema } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { pgTestUrl, withPgSchema } from "../packages/runtime/test/pgTestStore.js"
import { bin, root } from "./devmatrixProcess.js"
import { startFaultProxy } from "./faultProxy.js"
import type { FaultProxy } from "./faultProxy.js"

// The real CLI on the real PostgreSQL, through a TCP proxy that stalls, drops and refuses its
// connections mid-run. Whatever the network does, the calls paid for but not journaled never
// outnumber the in-flight limit, and the plan finishes on `resume` with every atom completed once.

const concurrency = 20
const decodeEvent = Schema.decodeUnknownSync(Event)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const layered = (layers: number, width: number) =>
  Array.from({ length: layers * width }, (_, n) => {
    const layer = Math.floor(n / width)
    const i = n % width
    const dependsOn = layer === 0 ? [] : [`L${layer - 1}-${i}`, `L${layer - 1}-${(i * 7 + 1) % width}`]
    return { id: `L${layer}-${i}`, dependsOn: [...new Set(dependsOn)], instruction: `atom ${n}` }
  })

/**
 * Longer than any run or resume here takes, shorter than the tests' timeouts. A run on a store that
 * stays unreachable takes the longest: reaching its stall (6 s on a quiet machine), then about 33 s
 * of commit tries (6 of 5 s, planJournal.ts) before it stops, then up to `closeDeadline` (20 s) for
 * its services to close: about 60 s, which a fully loaded CI machine stretched past 100 s.
 */
const exitDeadlineMs = 200_000

/**
 * What a hung process is doing: Node's diagnostic report (its JavaScript stack and the handles that
 * keep it alive), written on SIGUSR2 even while its event loop is busy.
 */
const hangReport = async (child: ChildProcess, dir: string): Promise<string> => {
  child.kill("SIGUSR2")
  for (let tries = 0; tries < 50; tries++) {
    await sleep(100)
    const file = readdirSync(dir).find((name) => name.endsWith(".json"))
    if (file === undefined) continue
    try {
      const report = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
        javascriptStack?: { message?: string; stack?: ReadonlyArray<string> }
        libuv?: ReadonlyArray<{ type: string; is_active: boolean; is_referenced?: boolean; remoteEndpoint?: unknown }>
      }
      const handles = (report.libuv ?? [])
        .filter((handle) => handle.is_active)
        .map((handle) => `${handle.type}${handle.is_referenced === false ? " (unref)" : ""}${handle.remoteEndpoint !== undefined ? ` ${JSON.stringify(handle.remoteEndpoint)}` : ""}`)
      return `JavaScript stack: ${report.javascriptStack?.message ?? ""}\n  ${(report.javascriptStack?.stack ?? []).join("\n  ")}\nactive handles: ${handles.join(", ")}`
    } catch {
      // Still being written.
    }
  }
  return "no diagnostic report"
}

const start = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const reports = mkdtempSync(join(tmpdir(), "devmatrix-report-"))
  const diagnostics = ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${reports}`]
  const child = spawn(process.execPath, [...diagnostics, bin, ...args], {
    cwd: root,
    env: { ...process.env, ANTHROPIC_API_KEY: "", ...env }
  })
  let stdout = ""
  let stderr = ""
  const startedAt = Date.now()
  let lastOutputAt = startedAt
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    lastOutputAt = Date.now()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
    lastOutputAt = Date.now()
  })
  let ended = false
  // A process that neither ends nor fails is killed after `exitDeadlineMs`, and the test fails
  // with what it printed: a hang reads as a cause, not as the test's own timeout.
  const exited = new Promise<number | null>((resolve, reject) => {
    const deadline = setTimeout(() => {
      void hangReport(child, reports).then((report) => {
        child.kill("SIGKILL")
        reject(
          new Error(
            `devmatrix ${args[0]} did not end within ${exitDeadlineMs / 1_000} s (its last output came ` +
              `${Math.round((lastOutputAt - startedAt) / 1_000)} s after its start); it printed:\n` +
              `${stderr.slice(-2_000)}\n(stdout, last lines) ${stdout.slice(-1_000)}\n${report}`
          )
        )
      })
    }, exitDeadlineMs)
    child.on("close", (code) => {
      ended = true
      clearTimeout(deadline)
      resolve(code)
    })
  })
  return { child, exited, ended: () => ended, stdout: () => stdout, stderr: () => stderr }
}

const events = (stdout: string): Array<Event> =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => decodeEvent(JSON.parse(line)))

/**
 * The model's own log: answered calls, with the marks the test wrote between them. The run appends
 * to it while the test reads, so a last line without its newline is still being written: left out.
 */
const readCallLog = (file: string) => {
  const text = readFileSync(file, "utf8")
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { atomId?: string; attempt?: number; mark?: string })
}

/** Atoms the model answered more than once: each such extra call was paid again. */
const paidTwice = (calls: ReadonlyArray<{ atomId?: string }>): number => {
  const perAtom = new Map<string, number>()
  for (const call of calls)
    if (call.atomId !== undefined) perAtom.set(call.atomId, (perAtom.get(call.atomId) ?? 0) + 1)
  return [...perAtom.values()].reduce((sum, n) => sum + (n - 1), 0)
}

/** Every atom of the plan completed exactly once in the journal, which is gap-free and ended. */
const expectCompletedOnce = (journal: ReadonlyArray<Event>, atoms: number) => {
  expect(journal.map((event) => event.seq)).toEqual(journal.map((_, i) => i + 1))
  expect(journal.at(-1)?.type).toBe("masterplan.completed")
  const completed = journal.flatMap((event) => (event.type === "atom.completed" ? [event.atomId] : []))
  expect(completed.length).toBe(atoms)
  expect(new Set(completed).size).toBe(atoms)
}

/**
 * The summary's money is the journal's: its cost is the sum of every journaled payment, repeated
 * ones included, and it says how many calls a stop made necessary again. Of the calls the model
 * answered, those the journal never got are fewer than the in-flight limit.
 */
const expectSummaryCounts = (journal: ReadonlyArray<Event>, answered: number) => {
  const end = journal.at(-1)!
  if (end.type !== "masterplan.completed") throw new Error(`ended with ${end.type}`)
  const paid = journal.flatMap((event) => (event.type === "cost.updated" ? [event.costUsd] : []))
  expect(end.summary.costUsd).toBeCloseTo(
    paid.reduce((sum, cost) => sum + cost, 0),
    9
  )
  expect(end.summary.repeatedCalls).toBe(journal.filter((event) => event.type === "atom.interrupted").length)
  expect(end.summary.repeatedCalls).toBeGreaterThan(0)
  expect(answered - paid.length, "answered calls the journal never got").toBeLessThanOrEqual(concurrency)
  expect(answered - paid.length).toBeGreaterThanOrEqual(0)
}

/** What a test reads of the store directly (not through the proxy): atoms whose call is under way in it. */
interface DirectStore {
  readonly runningAtoms: (masterplanId: string) => Promise<number>
}

/** Runs `body` with a PostgreSQL schema of its own, reached directly and through a fault proxy. */
const withProxiedPg = (
  body: (urls: { direct: string; proxied: string }, proxy: FaultProxy, store: DirectStore) => Promise<void>
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      let direct = ""
      const layer = withPgSchema((url) => {
        direct = url
        return StorePg(url)
      })
      yield* Effect.gen(function* () {
        const store = yield* Store
        const runningAtoms = (masterplanId: string) =>
          Effect.runPromise(
            Effect.map(
              store.listAtoms(masterplanId),
              (rows) => rows.filter((row) => row.status === "running").length
            )
          )
        yield* Effect.promise(async () => {
          const target = new URL(pgTestUrl)
          const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) })
          proxies.push(proxy)
          const proxied = new URL(direct)
          proxied.port = String(proxy.port)
          await body({ direct, proxied: proxied.toString() }, proxy, { runningAtoms })
        })
      }).pipe(Effect.provide(layer), Effect.scoped)
    })
  )

const proxies: Array<FaultProxy> = []
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close()
})

const setUp = (name: string, atoms: ReturnType<typeof layered>) => {
  const dir = mkdtempSync(join(tmpdir(), `devmatrix-${name}-`))
  const planFile = join(dir, "plan.json")
  const callLog = join(dir, "calls.jsonl")
  writeFileSync(callLog, "")
  writeFileSync(planFile, JSON.stringify({ name, options: { concurrency, retry: { initialMs: 20 } }, atoms }))
  return { planFile, callLog }
}

const flags = ["--json", "--latency-ms", "20-40", "--seed", "5"]

/**
 * Starts `devmatrix run` of a new plan on `store` and resolves once the model has answered
 * `answered` calls (well into the run, far from its end), with what it needs to check it later.
 */
const runUntil = async (name: string, atoms: ReturnType<typeof layered>, store: string, answered: number) => {
  const { planFile, callLog } = setUp(name, atoms)
  const id = `${name}-${Date.now()}`
  const env = { DEVMATRIX_SCRIPTED_CALL_LOG: callLog }
  const run = start(["run", planFile, "--id", id, "--store", store, ...flags], env)
  while (readCallLog(callLog).length < answered) {
    if (run.ended())
      throw new Error(`the run ended before ${answered} calls were answered; it printed:\n${run.stderr()}`)
    await sleep(20)
  }
  return { id, run, callLog, env }
}

/** Marks in the call log that the store stalls from here on; how many calls were answered after the mark. */
const markStall = (callLog: string) => {
  appendFileSync(callLog, `${JSON.stringify({ mark: "stall" })}\n`)
  return () => {
    const log = readCallLog(callLog)
    return log.length - 1 - log.findIndex((line) => line.mark === "stall")
  }
}

/**
 * The plan's whole journal, read with `devmatrix events`: every atom completed once, and no more
 * atoms paid twice than the in-flight limit. Returns it with the model's answered calls.
 */
const finishedJournal = async (id: string, store: string, callLog: string, atomCount: number) => {
  const journal = start(["events", id, "--store", store], {})
  expect(await journal.exited, journal.stderr()).toBe(0)
  const all = events(journal.stdout())
  expectCompletedOnce(all, atomCount)
  const calls = readCallLog(callLog).filter((line) => line.atomId !== undefined)
  expect(paidTwice(calls), "atoms paid twice").toBeLessThanOrEqual(concurrency)
  return { all, calls }
}

/** Resumes a stopped plan to its end. */
const resumeToEnd = async (id: string, store: string, env: Record<string, string>) => {
  const resumed = start(["resume", id, "--store", store, ...flags], env)
  expect(await resumed.exited, resumed.stderr()).toBe(0)
}

/** A run that stopped on its store: one line naming it and the cause, then how to resume; no trace. */
const expectStoppedOnStore = (code: number | null, stderr: string, id: string, cause: RegExp) => {
  expect(stderr).not.toMatch(/internal error|\n\s+at /)
  expect(code, stderr).toBe(5)
  expect(stderr).toMatch(cause)
  expect(stderr).toContain(`resume ${id}`)
}

describe("a PostgreSQL whose network fails mid-run (a fault-injecting proxy in between)", () => {
  it(
    "a 10 s stall: at most the in-flight limit of calls is made during it; kill -9 in it, then resume: every atom completed once, paid twice within the limit",
    () =>
      withProxiedPg(async ({ proxied }, proxy, store) => {
        const atoms = layered(20, 100)
        const { id, run, callLog, env } = await runUntil("stall", atoms, proxied, 300)
        // The stall comes while the store holds calls under way (their start committed, not their
        // end), as it would in a run that never pauses: those are the calls a resume makes again.
        // Under load the journal can catch up in between (admission holds while it lags).
        while ((await store.runningAtoms(id)) === 0) await sleep(5)
        proxy.setMode("stall")
        const answeredSinceStall = markStall(callLog)
        await sleep(8_000)
        run.child.kill("SIGKILL")
        await run.exited
        expect(answeredSinceStall(), "calls made while the journal stood still").toBeLessThanOrEqual(
          concurrency
        )
        expect(readCallLog(callLog).length - 1, "the kill landed mid-run").toBeLessThan(atoms.length)

        proxy.setMode("pass")
        await resumeToEnd(id, proxied, env)
        const { all, calls } = await finishedJournal(id, proxied, callLog, atoms.length)
        expectSummaryCounts(all, calls.length)
      }),
    300_000
  )

  it(
    "a store that stays unreachable: the run stops by itself with one clear line, exit 5 and the resume command; once it is back, resume finishes the plan",
    () =>
      withProxiedPg(async ({ proxied }, proxy) => {
        const atoms = layered(10, 100)
        const { id, run, callLog, env } = await runUntil("unreachable", atoms, proxied, 200)
        proxy.setMode("stall")
        const answeredSinceStall = markStall(callLog)
        expectStoppedOnStore(
          await run.exited,
          run.stderr(),
          id,
          /store postgres:\/\/.*Unavailable.*not answering/
        )
        expect(answeredSinceStall()).toBeLessThanOrEqual(concurrency)

        proxy.setMode("pass")
        await resumeToEnd(id, proxied, env)
        await finishedJournal(id, proxied, callLog, atoms.length)
      }),
    400_000
  )

  it(
    "drops and a short outage: commits are retried; the run rides through or stops with one clear line and the resume command; resume finishes it",
    () =>
      withProxiedPg(async ({ proxied }, proxy) => {
        const atoms = layered(15, 100)
        const { id, run, callLog, env } = await runUntil("drops", atoms, proxied, 200)
        // Three dropped links 0.3 s apart, then the server refuses connections for 0.1 s.
        for (let blip = 0; blip < 3; blip++) {
          proxy.dropAll()
          await sleep(300)
        }
        proxy.setMode("refuse")
        proxy.dropAll()
        await sleep(100)
        proxy.setMode("pass")
        const code = await run.exited
        expect(run.stderr()).not.toMatch(/internal error|\n\s+at /)
        if (code !== 0) {
          expectStoppedOnStore(code, run.stderr(), id, /store postgres:\/\/.*Unavailable/)
          await resumeToEnd(id, proxied, env)
        }
        await finishedJournal(id, proxied, callLog, atoms.length)
      }),
    400_000
  )

  it(
    "a dropped connection costs a retry, not the run: the run rides through a drop with exit 0",
    () =>
      withProxiedPg(async ({ proxied }, proxy) => {
        const atoms = layered(10, 100)
        // A slow link, so that reads and commits are under way when it drops.
        proxy.setDelayMs(30)
        const { id, run, callLog } = await runUntil("one-drop", atoms, proxied, 200)
        proxy.dropAll()
        proxy.setDelayMs(0)
        expect(await run.exited, run.stderr()).toBe(0)
        expectCompletedOnce(events(run.stdout()), atoms.length)
        await finishedJournal(id, proxied, callLog, atoms.length)
      }),
    300_000
  )
})
