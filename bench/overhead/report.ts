import type { CliRun } from "./cliRun.js"
import { atomsPerSecond } from "./measurement.js"
import type { Measurement } from "./measurement.js"
import type { HotFunction } from "./profile.js"
import { atomsOf, hundredThousand, latencyRange, realLatency, zeroLatency } from "./workloads.js"

/** Everything one `pnpm bench:overhead` measured, for the report. */
export interface Results {
  readonly runs: number
  /** The machine's 1-minute load average when the bench began and ended: it is shared, and noisy. */
  readonly load: { readonly start: number; readonly end: number }
  readonly pool: Measurement
  readonly fibers: Measurement
  readonly actors: Measurement
  readonly engine: Measurement
  /** The engine with the prompt cache off: the cache's share of an atom's cost. */
  readonly engineNoCache: Measurement
  readonly poolLatency: Measurement
  readonly engineLatency: Measurement
  readonly cli: { readonly plan: CliRun; readonly oneAtom: CliRun; readonly atoms: number }
  readonly engine100k: Measurement
  /** The same plan on an SQLite file, the embedded default store. */
  readonly engine100kSqlite: Measurement
  readonly parts: ReadonlyArray<[string, number]>
  readonly hot: ReadonlyArray<HotFunction>
}

const int = (n: number) => Math.round(n).toLocaleString("en-US")
const pct = (share: number) => `${(share * 100).toFixed(1)}%`
const µsPerAtom = (m: Measurement) => ((m.seconds * 1e6) / m.atoms).toFixed(1)
const times = (faster: number, slower: number) => `${(faster / slower).toFixed(1)}×`
const meets = (ok: boolean) => (ok ? "met" : "**not met**")

/** The CLI's rate with start-up subtracted: the 1-atom run's wall time taken off the plan's. */
export const cliAtomsPerSecond = (cli: Results["cli"]) =>
  (cli.atoms - 1) / (cli.plan.wallSeconds - cli.oneAtom.wallSeconds)

export const renderReport = (r: Results, measuredAt: string): string => {
  const engineRate = atomsPerSecond(r.engine)
  const poolRate = atomsPerSecond(r.pool)
  const cliRate = cliAtomsPerSecond(r.cli)
  const goodputShare = atomsPerSecond(r.engineLatency) / atomsPerSecond(r.poolLatency)
  const zeroRow = (name: string, m: Measurement) =>
    `| ${name} | ${int(atomsPerSecond(m))} | ${µsPerAtom(m)} | ${times(poolRate, atomsPerSecond(m))} | ${m.seconds.toFixed(3)} | ${m.peakRssMb.toFixed(0)} |`
  const latencyRow = (name: string, m: Measurement) =>
    `| ${name} | ${int(atomsPerSecond(m))} | ${pct(atomsPerSecond(m) / atomsPerSecond(r.poolLatency))} | ${(m.inFlight ?? 0).toFixed(1)} | ${int(m.calls ?? 0)} | ${(m.eventLoopP99Ms ?? 0).toFixed(1)} | ${m.seconds.toFixed(3)} |`
  const rssMb = r.engine100k.peakRssMb
  return [
    "# Engine overhead",
    "",
    `Measured ${measuredAt} on ${process.platform} ${process.arch}, Node ${process.version}, by`,
    "`pnpm bench:overhead`. Every case runs in its own process; the figures are the median of",
    `${r.runs} runs (by throughput) except the 100,000-atom plan and the profile (one run each). Every`,
    "plan is a layered DAG (each atom after the first layer depends on two of the layer before), on",
    "the in-memory store, the scripted model answering.",
    `The machine's 1-minute load average was ${r.load.start.toFixed(1)} when the bench began and ${r.load.end.toFixed(1)} when it ended.`,
    "",
    "## Targets",
    "",
    "| figure | target | measured | baseline in the same run | status |",
    "| --- | ---: | ---: | --- | --- |",
    `| engine, 10,000 atoms, zero latency | ≥ 20,000 atoms/s | ${int(engineRate)} atoms/s | plain pool ${int(poolRate)} atoms/s (${times(poolRate, engineRate)} the engine) | ${meets(engineRate >= 20_000)} |`,
    `| CLI, 10,000 atoms, start-up subtracted | ≥ 15,000 atoms/s | ${int(cliRate)} atoms/s | plain pool ${int(poolRate)} atoms/s (${times(poolRate, cliRate)} the CLI) | ${meets(cliRate >= 15_000)} |`,
    `| limit 40, ${latencyRange.min}-${latencyRange.max} ms: goodput | ≥ 97% of the pool's | ${pct(goodputShare)} | pool ${int(atomsPerSecond(r.poolLatency))}, engine ${int(atomsPerSecond(r.engineLatency))} atoms/s | ${meets(goodputShare >= 0.97)} |`,
    `| limit 40: calls in flight (time-weighted) | ≥ 38 | ${(r.engineLatency.inFlight ?? 0).toFixed(1)} | pool ${(r.poolLatency.inFlight ?? 0).toFixed(1)} | ${meets((r.engineLatency.inFlight ?? 0) >= 38)} |`,
    `| limit 40: event loop delay p99 | < 10 ms | ${(r.engineLatency.eventLoopP99Ms ?? 0).toFixed(1)} ms | pool ${(r.poolLatency.eventLoopP99Ms ?? 0).toFixed(1)} ms | ${meets((r.engineLatency.eventLoopP99Ms ?? Infinity) < 10)} |`,
    `| 100,000 atoms: peak RSS, memory store | < 1 GiB | ${rssMb.toFixed(0)} MB | (${int(atomsPerSecond(r.engine100k))} atoms/s, ${r.engine100k.seconds.toFixed(1)} s) | ${meets(rssMb < 1024)} |`,
    `| 100,000 atoms: peak RSS, SQLite | < 1 GiB | ${r.engine100kSqlite.peakRssMb.toFixed(0)} MB | (${int(atomsPerSecond(r.engine100kSqlite))} atoms/s, ${r.engine100kSqlite.seconds.toFixed(1)} s) | ${meets(r.engine100kSqlite.peakRssMb < 1024)} |`,
    "",
    "## 1. Zero latency: 10,000 atoms, concurrency 100",
    "",
    `${int(atomsOf(zeroLatency))} atoms (${zeroLatency.layers} layers × ${zeroLatency.width}), concurrency ${zeroLatency.concurrency}, the model answering at once.`,
    "",
    "| case | atoms/s | µs per atom | pool is faster by | seconds | peak RSS (MB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    zeroRow("plain promise pool: p-limit (baseline)", r.pool),
    zeroRow("floor: the pool + one Effect fiber per task", r.fibers),
    zeroRow("floor: the pool + one XState atom actor per task", r.actors),
    zeroRow("DevMatrix engine", r.engine),
    zeroRow("DevMatrix engine, the prompt cache off", r.engineNoCache),
    "",
    `The prompt cache (its key, a lookup and a write per atom, in the memory store) costs ${(
      (r.engine.seconds / r.engine.atoms - r.engineNoCache.seconds / r.engineNoCache.atoms) *
      1e6
    ).toFixed(1)} µs of the engine's ${µsPerAtom(r.engine)} per atom.`,
    "",
    `The engine runs at ${(engineRate / atomsPerSecond(r.actors)).toFixed(2)}× the speed of its XState floor. The floor rows`,
    "measure one part of the engine's per-atom work alone, on the same pool and DAG: a fiber forked",
    "per task; or the engine's own atom machine in a wave actor's system, driven through one",
    "successful attempt by the commands the engine sends it, its `callModel` answering on a microtask",
    "(`bench/overhead/xstateFloor.ts`), with no Effect and no journal. The engine's time runs from",
    "building its layer to the plan's result: the plan's decoding and graph are in it.",
    "",
    `## 2. Real latency: a static limit of ${realLatency.concurrency}, a provider answering in ${latencyRange.min}-${latencyRange.max} ms`,
    "",
    `${int(atomsOf(realLatency))} atoms (${realLatency.layers} layers × ${realLatency.width}: far more than ${realLatency.concurrency} are ready at any time), concurrency ${realLatency.concurrency}. Each atom's`,
    `latency is drawn uniformly from ${latencyRange.min}-${latencyRange.max} ms by the scripted model's seeded generator, and the pool's`,
    "task waits exactly the latency the scripted model gives the same atom, so both do the same work.",
    "Calls in flight are counted by a provider layer of the bench's own around the scripted model",
    "(given to `embeddedLayer({ provider })`) and, for the pool, around its wait; the average is",
    "time-weighted from the first call's start to the last call's end. The event loop delay is",
    "`monitorEventLoopDelay` at 1 ms resolution over the whole run (Node records each sample's",
    "whole interval, so an idle loop reads about 1 ms).",
    "",
    "| case | goodput (atoms/s) | of the pool's | calls in flight (avg) | calls | event loop p99 (ms) | seconds |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    latencyRow(`plain promise pool: p-limit(${realLatency.concurrency}) (baseline)`, r.poolLatency),
    latencyRow("DevMatrix engine", r.engineLatency),
    "",
    "## 3. Through the CLI: 10,000 atoms",
    "",
    "The 10,000-atom plan of section 1 written to a temp JSON file and run as a child process,",
    "`node packages/host/bin/devmatrix.js run FILE --json --store memory: --model scripted --latency-ms 0`,",
    "its stdout piped to a sink that counts lines. **Start-up is subtracted by running the same",
    "command on a 1-atom plan** and taking its wall time off; the span from the first event line to",
    "the last is shown too (it leaves out reading and decoding the plan file and the first submit).",
    "",
    "| run | wall (s) | first to last event line (s) | event lines |",
    "| --- | ---: | ---: | ---: |",
    `| 10,000-atom plan | ${r.cli.plan.wallSeconds.toFixed(3)} | ${r.cli.plan.eventSpanSeconds.toFixed(3)} | ${int(r.cli.plan.lines)} |`,
    `| 1-atom plan (start-up) | ${r.cli.oneAtom.wallSeconds.toFixed(3)} | ${r.cli.oneAtom.eventSpanSeconds.toFixed(3)} | ${int(r.cli.oneAtom.lines)} |`,
    "",
    `**${int(cliRate)} atoms/s** with start-up subtracted (${int((r.cli.atoms - 1) / r.cli.plan.eventSpanSeconds)} atoms/s over the event lines' span).`,
    "",
    `## 4. ${int(atomsOf(hundredThousand))} atoms through the engine`,
    "",
    `${hundredThousand.layers} layers × ${hundredThousand.width}, concurrency ${hundredThousand.concurrency}, zero latency; one run per store in its own process,`,
    "peak RSS from `process.resourceUsage().maxRSS`. The memory store keeps every event, row and",
    "cached answer of the run in the heap; SQLite (the embedded default) keeps them in its file.",
    "",
    "| store | seconds | atoms/s | µs per atom | peak RSS (MB) | RSS per atom (KB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...(
      [
        ["memory", r.engine100k],
        ["SQLite", r.engine100kSqlite]
      ] as const
    ).map(
      ([store, m]) =>
        `| ${store} | ${m.seconds.toFixed(1)} | ${int(atomsPerSecond(m))} | ${µsPerAtom(m)} | ${m.peakRssMb.toFixed(0)} | ${((m.peakRssMb * 1024) / m.atoms).toFixed(1)} |`
    ),
    "",
    "## 5. Where the engine's time goes (self time, one profiled run of section 1's engine case)",
    "",
    "The inspector profiles the timed run alone (it starts after the process's start-up).",
    "",
    "| where | share |",
    "| --- | ---: |",
    ...r.parts.map(([name, share]) => `| ${name} | ${pct(share)} |`),
    "",
    `### The ${r.hot.length} functions with the most self time`,
    "",
    "Lines are those of the code Node ran (`dist/` for our packages and dependencies).",
    "",
    "| # | function | where | share of samples |",
    "| ---: | --- | --- | ---: |",
    ...r.hot.map((f, i) => `| ${i + 1} | \`${f.name}\` | ${f.location} | ${pct(f.share)} |`),
    ""
  ].join("\n")
}
