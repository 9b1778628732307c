import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bin, eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"

// SIGTERM (a service manager's stop, `kill`) and SIGHUP (the terminal closed) stop a run as Ctrl-C
// does: the state saved, the resume command printed, exit 130; and the printed command finishes it.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const storeUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), "devmatrix-signals-")), "signals.db")}`
const env = { DEVMATRIX_STORE: storeUrl }
// A shell's environment, without what a package script sets (the resume command would name the script).
const shellEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")))
const atomCount = (
  JSON.parse(readFileSync(join(root, "examples/plans/todo-api.json"), "utf8")) as {
    atoms: Array<unknown>
  }
).atoms.length

interface Stopped {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `devmatrix <args>` and sends it `signals`, one right after the other, once an atom has completed. */
const runAndSignal = (
  args: ReadonlyArray<string>,
  signals: ReadonlyArray<NodeJS.Signals>,
  store: string = storeUrl
) =>
  new Promise<Stopped>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...shellEnv, ANTHROPIC_API_KEY: "", DEVMATRIX_STORE: store }
    })
    let stdout = ""
    let stderr = ""
    let sent = false
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (!sent && stdout.includes('"atom.completed"')) {
        sent = true
        for (const signal of signals) child.kill(signal)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

/** The resume command the stopped run printed, run as printed; then every atom must be completed exactly once. */
const resumeAsPrinted = async (stopped: Stopped, id: string) => {
  const printed = /\n {2}devmatrix (resume \S+ --store \S+)\n/.exec(stopped.stderr)
  expect(printed?.[1], stopped.stderr).toBe(`resume ${id} --store ${storeUrl}`)
  const resumed = await runDevmatrix([...printed![1]!.split(" "), "--json", "--latency-ms", "5"], { env })
  expect(resumed.code, resumed.stderr).toBe(0)
  const journal = eventsOf((await runDevmatrix(["events", id], { env })).stdout)
  expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1))
  const completions = new Map<string, number>()
  for (const event of journal)
    if (event.type === "atom.completed")
      completions.set(event.atomId, (completions.get(event.atomId) ?? 0) + 1)
  expect(completions.size).toBe(atomCount)
  expect([...completions.values()].every((n) => n === 1)).toBe(true)
  expect(journal.at(-1)?.type).toBe("masterplan.completed")
}

const runArgs = (id: string) => [
  "run",
  "examples/plans/todo-api.json",
  "--json",
  "--latency-ms",
  "200",
  "--id",
  id,
  // The file's runs share a store: without this its cache would answer the plan before the signal.
  "--no-cache"
]

describe("stop signals", () => {
  it.each(["SIGTERM", "SIGHUP"] as const)(
    "%s mid-run: the state is saved, the resume command printed, exit 130; the printed resume completes every atom once",
    async (signal) => {
      const id = `${signal.toLowerCase()}-${Date.now()}`
      const stopped = await runAndSignal(runArgs(id), [signal])
      expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr).toEqual({
        code: 130,
        signal: null
      })
      expect(stopped.stderr).toContain(
        `interrupted (${signal}): masterplan ${id} is saved; continue it with\n`
      )
      expect(stopped.stderr).not.toMatch(/\n\s+at /)
      // Nothing ended the plan: it stopped, resumable.
      expect(eventsOf(stopped.stdout).some((e) => e.type === "masterplan.completed")).toBe(false)
      await resumeAsPrinted(stopped, id)
    }
  )

  it("a second signal stops at once, and still saves the plan: exit 130, resumable", async () => {
    const id = `twice-${Date.now()}`
    const stopped = await runAndSignal(runArgs(id), ["SIGTERM", "SIGINT"])
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr).toEqual({
      code: 130,
      signal: null
    })
    expect(stopped.stderr).not.toMatch(/\n\s+at /)
    await resumeAsPrinted(stopped, id)
  })

  it("resume of several plans: a signal stops all of them, each saved with its resume command; resuming again finishes them", async () => {
    const store = `sqlite:${join(mkdtempSync(join(tmpdir(), "devmatrix-signals-")), "several.db")}`
    const ids = [`first-${Date.now()}`, `second-${Date.now()}`]
    for (const id of ids) expect((await runAndSignal(runArgs(id), ["SIGTERM"], store)).code).toBe(130)
    const stopped = await runAndSignal(["resume", "--json", "--latency-ms", "200"], ["SIGTERM"], store)
    expect(stopped.code, stopped.stderr).toBe(130)
    for (const id of ids)
      expect(stopped.stderr).toContain(
        `interrupted (SIGTERM): masterplan ${id} is saved; continue it with\n  devmatrix resume ${id} --store ${store}\n`
      )
    const resumed = await runDevmatrix(["resume", "--json", "--latency-ms", "5"], {
      env: { DEVMATRIX_STORE: store }
    })
    expect(resumed.code, resumed.stderr).toBe(0)
    for (const id of ids) {
      const journal = eventsOf(
        (await runDevmatrix(["events", id], { env: { DEVMATRIX_STORE: store } })).stdout
      )
      const completions = journal.flatMap((e) => (e.type === "atom.completed" ? [e.atomId] : []))
      expect(new Set(completions).size).toBe(atomCount)
      expect(completions.length).toBe(atomCount)
      expect(journal.at(-1)?.type).toBe("masterplan.completed")
    }
  })

  it("a signal while the plan is still being submitted stops it once stored: exit 130 and the resume command, not a silent kill", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devmatrix-signal-submit-"))
    const planFile = join(dir, "plan.json")
    // Large enough that storing it takes a while (a row per atom).
    const atoms = Array.from({ length: 100_000 }, (_, n) => ({
      id: `a${n}`,
      dependsOn: n >= 1_000 ? [`a${n - 1_000}`] : [],
      instruction: "x"
    }))
    writeFileSync(planFile, JSON.stringify({ name: "big", atoms }))
    const wal = join(dir, "s.db-wal")
    const child = spawn(
      process.execPath,
      [bin, "run", planFile, "--json", "--latency-ms", "50", "--no-cache"],
      {
        cwd: root,
        env: { ...shellEnv, ANTHROPIC_API_KEY: "", DEVMATRIX_STORE: `sqlite:${join(dir, "s.db")}` }
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    // The submission's rows going into the write-ahead log: the plan is being stored.
    while ((statSync(wal, { throwIfNoEntry: false })?.size ?? 0) < 1_000_000) await sleep(5)
    child.kill("SIGTERM")
    expect(await exited, stderr).toBe(130)
    expect(stderr).toMatch(
      /interrupted \(SIGTERM\): masterplan mp_\w+ is saved; continue it with\n {2}devmatrix resume mp_\w+ --store sqlite:/
    )
    expect(eventsOf(stdout)[0]?.type).toBe("masterplan.submitted")
  }, 120_000)
})
