/**
 * Issue 17's fan-out figures: a real host (`startHost`, in a process of its own) streams a plan of
 * 1,000 atoms (about 5,000 events, paced by the scripted model) to 10 and then 200 watching
 * clients (real `ws` sockets, in this process), against a bare `ws` server broadcasting the same
 * frames on the same timeline to as many clients (its own process too), in the same run. Events/s
 * delivered, the delay from each event's commit to its arrival, the server's CPU and RSS, msgpackr
 * against JSON frames, and a CPU profile of the host under 200 watchers.
 *
 *   pnpm bench:host      (writes bench/results/host-fanout.md)
 *
 * DEVMATRIX_FANOUT_ATOMS, _CONCURRENCY, _LATENCY_MS shape the plan; DEVMATRIX_FANOUT_CLIENTS
 * ("10,200") the client counts; DEVMATRIX_FANOUT_RUNS (1) repeats every run and reports the
 * median; DEVMATRIX_FANOUT_PROFILE=0 skips the profiled run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { topFunctions } from "./overhead/profile.js"
import { timeByFanoutPart } from "./host-fanout/fanoutParts.js"
import { fanoutAtoms, fanoutConcurrency, fanoutLatencyMs } from "./host-fanout/fanoutPlan.js"
import { baselines, renderReport } from "./host-fanout/report.js"
import type { ClientCountResults } from "./host-fanout/report.js"
import { hostRun, rawRun, saveStream } from "./host-fanout/runs.js"
import type { Run } from "./host-fanout/runs.js"

const here = dirname(fileURLToPath(import.meta.url))
const clientCounts = (process.env.DEVMATRIX_FANOUT_CLIENTS ?? "10,200").split(",").map(Number)
const repetitions = Number(process.env.DEVMATRIX_FANOUT_RUNS) || 1
const profiled = process.env.DEVMATRIX_FANOUT_PROFILE !== "0"

const log = (line: string) => process.stderr.write(`host-fanout: ${line}\n`)

/** The run of median throughput among `runs` (the middle one of an odd number). */
const median = <TRun extends Run>(runs: ReadonlyArray<TRun>): TRun =>
  [...runs].sort((a, b) => a.throughput.deliveriesPerSecond - b.throughput.deliveriesPerSecond)[
    Math.floor(runs.length / 2)
  ]!

const repeated = async <TRun extends Run>(what: string, run: () => Promise<TRun>): Promise<TRun> => {
  const runs: Array<TRun> = []
  for (let i = 0; i < repetitions; i++) {
    log(`${what}${repetitions > 1 ? ` (${i + 1}/${repetitions})` : ""}`)
    runs.push(await run())
  }
  return median(runs)
}

const loadAtStart = loadavg()[0]!
const dir = mkdtempSync(join(tmpdir(), "devmatrix-fanout-"))
try {
  // The stream as the engine makes it when no one watches: what every baseline sends.
  const unwatched = await repeated("host, no watcher", () => hostRun(0))
  const streamFile = saveStream(unwatched.stream, join(dir, "stream.json"))
  const byClients: Array<ClientCountResults> = []
  for (const clients of clientCounts) {
    const host = await repeated(`host, ${clients} watchers`, () => hostRun(clients))
    const raw: Record<string, Run> = {}
    for (const baseline of baselines)
      raw[baseline.key] = await repeated(`${baseline.name}, ${clients} clients`, () =>
        rawRun(clients, { ...baseline.config, streamFile })
      )
    byClients.push({ clients, host, raw })
  }
  const most = Math.max(...clientCounts)
  let profile: Parameters<typeof renderReport>[0]["profile"]
  if (profiled) {
    const profileDir = join(here, "results", "tmp")
    mkdirSync(profileDir, { recursive: true })
    const profilePath = join(profileDir, "host-fanout.cpuprofile")
    log(`host, ${most} watchers, profiled`)
    await hostRun(most, { profilePath })
    profile = { clients: most, parts: timeByFanoutPart(profilePath), hot: topFunctions(profilePath, 15) }
  }
  const text = renderReport({
    date: new Date().toISOString(),
    cores: cpus().length,
    load: { start: loadAtStart, end: loadavg()[0]! },
    plan: { atoms: fanoutAtoms, concurrency: fanoutConcurrency, latencyMs: fanoutLatencyMs },
    repetitions,
    unwatched,
    byClients,
    profile
  })
  mkdirSync(join(here, "results"), { recursive: true })
  writeFileSync(join(here, "results", "host-fanout.md"), text)
  process.stdout.write(text)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
