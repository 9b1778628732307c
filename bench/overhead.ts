/**
 * The engine's overhead, measured as issue 15 asks: 10,000 zero-latency atoms against a plain
 * promise pool and the engine's Effect and XState floors; a static limit of 40 with a provider
 * answering in 10-30 ms (goodput, calls in flight, event loop delay); the same 10,000 atoms through
 * the CLI; a 100,000-atom plan's time and peak RSS; and a CPU profile of the engine, by part and by
 * function. Each case runs in its own child process (so peak RSS is its own).
 *
 *   pnpm bench:overhead      (writes bench/results/overhead.md; `pnpm bench` runs it too)
 */
import { execFileSync } from "node:child_process"
import { Session } from "node:inspector/promises"
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { runCase } from "./overhead/cases.js"
import { cliRuns, medianBy } from "./overhead/cliRun.js"
import { median } from "./overhead/measurement.js"
import type { Measurement } from "./overhead/measurement.js"
import { timeByPart, topFunctions } from "./overhead/profile.js"
import { renderReport } from "./overhead/report.js"
import type { Results } from "./overhead/report.js"
import { atomsOf, zeroLatency } from "./overhead/workloads.js"

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(here)

/** Child mode: run one case once and print its measurement as JSON; with a path, CPU-profile the run alone. */
const child = async (name: string, profilePath: string | undefined) => {
  const session = profilePath === undefined ? undefined : new Session()
  if (session) {
    session.connect()
    await session.post("Profiler.enable")
    await session.post("Profiler.start")
  }
  const result = await runCase(name)
  if (session && profilePath) {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(profilePath, JSON.stringify(profile))
    session.disconnect()
  }
  process.stdout.write(JSON.stringify(result))
}

const measure = (name: string, profilePath?: string): Measurement => {
  const args = ["--import", "tsx", join(here, "overhead.ts"), "--case", name]
  if (profilePath !== undefined) args.push("--profile", profilePath)
  process.stderr.write(`overhead: ${name}${profilePath !== undefined ? " (profiled)" : ""}\n`)
  return JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8" })) as Measurement
}

const report = async () => {
  const runs = 3
  const loadAtStart = loadavg()[0]!
  const medianOf = (name: string) => median(Array.from({ length: runs }, () => measure(name)))
  const pool = medianOf("pool")
  const fibers = medianOf("fibers")
  const actors = medianOf("actors")
  const engine = medianOf("engine")
  const engineNoCache = medianOf("engine-no-cache")
  const poolLatency = medianOf("pool-latency")
  const engineLatency = medianOf("engine-latency")
  process.stderr.write("overhead: cli\n")
  const wall = (run: { wallSeconds: number }) => run.wallSeconds
  const cli = {
    plan: medianBy(await cliRuns(repoRoot, zeroLatency, runs), wall),
    oneAtom: medianBy(await cliRuns(repoRoot, { layers: 1, width: 1, concurrency: 1 }, runs), wall),
    atoms: atomsOf(zeroLatency)
  }
  const engine100k = measure("engine-100k")
  const engine100kSqlite = measure("engine-100k-sqlite")
  const profileDir = join(here, "results", "tmp")
  mkdirSync(profileDir, { recursive: true })
  const profilePath = join(profileDir, "engine.cpuprofile")
  measure("engine", profilePath)
  const results: Results = {
    runs,
    load: { start: loadAtStart, end: loadavg()[0]! },
    pool,
    fibers,
    actors,
    engine,
    engineNoCache,
    poolLatency,
    engineLatency,
    cli,
    engine100k,
    engine100kSqlite,
    parts: timeByPart(profilePath),
    hot: topFunctions(profilePath, 15)
  }
  const text = renderReport(results, new Date().toISOString())
  writeFileSync(join(here, "results", "overhead.md"), text)
  process.stdout.write(text)
}

const caseArg = process.argv.indexOf("--case")
const profileArg = process.argv.indexOf("--profile")
if (caseArg >= 0)
  await child(process.argv[caseArg + 1]!, profileArg >= 0 ? process.argv[profileArg + 1] : undefined)
else await report()
