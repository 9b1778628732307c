/**
 * The engine's overhead over a plain promise pool: 10,000 zero-work atoms in a layered DAG
 * (20 layers × 500, two dependencies each), concurrency 100, the scripted model at zero latency.
 * Each case runs in its own child process (so peak RSS is its own), three times; the report keeps
 * the median and says where the engine's time goes from a CPU profile.
 *
 *   pnpm bench            (writes bench/results/overhead.md)
 */
import { atomMachine, RetryPolicy, waveMachine } from "@devmatrix/core"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect, Runtime } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import pLimit from "p-limit"
import { Session } from "node:inspector/promises"
import { createActor, fromCallback } from "xstate"
import { layeredAtoms, layeredPlan } from "./layeredPlan.js"

const layers = 20
const width = 500
const concurrency = 100
const atomCount = layers * width
const here = dirname(fileURLToPath(import.meta.url))

interface Measurement {
  readonly atomsPerSecond: number
  readonly seconds: number
  readonly peakRssMb: number
}

/**
 * The baseline: p-limit at `concurrency`, each task submitted as soon as its dependencies are done.
 * `work` is what one task does: nothing for the baseline; for the floors below, the one part of the
 * engine's per-atom work being measured, on the same scheduler and DAG.
 */
const plainPool = async (work: (i: number) => Promise<unknown>): Promise<void> => {
  const atoms = layeredAtoms(layers, width)
  const index = new Map(atoms.map((atom, i) => [atom.id, i]))
  const dependents = atoms.map(() => [] as Array<number>)
  const waiting = atoms.map((atom) => atom.dependsOn.length)
  atoms.forEach((atom, i) => atom.dependsOn.forEach((dep) => dependents[index.get(dep)!]!.push(i)))
  const limit = pLimit(concurrency)
  let done = 0
  await new Promise<void>((resolve) => {
    const submit = (i: number): void => {
      void limit(() => work(i)).then(() => {
        done++
        for (const d of dependents[i]!) if (--waiting[d]! === 0) submit(d)
        if (done === atoms.length) resolve()
      })
    }
    atoms.forEach((_, i) => waiting[i] === 0 && submit(i))
  })
}

const zeroWork = async (i: number) => i

/** One scripted answer, as the atom machine's `callModel` reports it. */
const answer = {
  code: "export function f(value: string): string {\n  return `${value}:a`\n}\n",
  confidence: 0.95,
  model: "claude-sonnet-4",
  inputTokens: 160,
  outputTokens: 20,
  costUsd: 0.0008
}

/**
 * The XState floor: the engine's own atom machine, inside a wave actor's system, driven through
 * ready → queued → running → validating → completed with an invoked `callModel` that answers on a
 * microtask. No Effect, no journal, no engine: what an actor per atom costs by itself.
 */
const atomActorWork = () => {
  const retry = RetryPolicy.make({})
  const logic = atomMachine.provide({ actors: { backoff: fromCallback(() => undefined) } })
  const wave = createActor(waveMachine, { input: { wave: 0, size: atomCount } })
  wave.start()
  wave.send({ type: "START" })
  return (i: number) =>
    new Promise<void>((resolve) => {
      const atomId = `a${i}`
      const actor = createActor(logic, {
        id: atomId,
        input: { atomId, wave: 0, retry, reviewThreshold: 0.85, maxLines: 40, defines: ["f"] },
        parent: wave
      })
      actor.on("atom.completed", () => resolve())
      actor.start()
      actor.send({ type: "READY" })
      actor.send({ type: "START" })
      // The call's answer on a microtask, as a model that answers at once reaches the engine.
      queueMicrotask(() => actor.send({ type: "CALL_SUCCEEDED", output: answer }))
    })
}

/** The Effect floor: one forked fiber per task (as the engine forks one per model call), reporting its exit. */
const fiberWork = () => {
  const runFork = Runtime.runFork(Runtime.defaultRuntime)
  return (i: number) =>
    new Promise<void>((resolve) => {
      runFork(Effect.succeed(i), { immediate: false }).addObserver(() => resolve())
    })
}

const engineRun = () =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit(layeredPlan(layers, width, concurrency))
    const end = yield* engine.result(id)
    if (end.type !== "masterplan.completed" || end.summary.atoms.completed !== atomCount)
      throw new Error(`engine run did not complete: ${JSON.stringify(end.summary.atoms)}`)
  }).pipe(Effect.scoped, Effect.provide(embeddedLayer({ store: "memory:" })), Effect.runPromise)

/** Child mode: run one case once and print its measurement as JSON; with a path, CPU-profile the run alone. */
const child = async (which: string, profilePath: string | undefined) => {
  const session = profilePath === undefined ? undefined : new Session()
  if (session) {
    session.connect()
    await session.post("Profiler.enable")
    await session.post("Profiler.start")
  }
  const started = performance.now()
  if (which === "pool") await plainPool(zeroWork)
  else if (which === "actors") await plainPool(atomActorWork())
  else if (which === "fibers") await plainPool(fiberWork())
  else await engineRun()
  const seconds = (performance.now() - started) / 1000
  if (session && profilePath) {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(profilePath, JSON.stringify(profile))
    session.disconnect()
  }
  const result: Measurement = {
    atomsPerSecond: atomCount / seconds,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024
  }
  process.stdout.write(JSON.stringify(result))
}

const measure = (which: string, profilePath?: string): Measurement => {
  const args = [
    "--import",
    "tsx",
    join(here, "overhead.ts"),
    "--case",
    which,
    ...(profilePath ? ["--profile", profilePath] : [])
  ]
  const out = execFileSync(process.execPath, args, { encoding: "utf8" })
  return JSON.parse(out) as Measurement
}

const median = (runs: ReadonlyArray<Measurement>): Measurement =>
  [...runs].sort((a, b) => a.atomsPerSecond - b.atomsPerSecond)[Math.floor(runs.length / 2)]!

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string }
  readonly hitCount?: number
}

/** Self time of a CPU profile grouped by where the code lives. */
const whereTimeGoes = (profilePath: string): ReadonlyArray<[string, number]> => {
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as { nodes: ReadonlyArray<ProfileNode> }
  const buckets = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    total += hits
    const { url, functionName } = node.callFrame
    const bucket =
      functionName === "(garbage collector)"
        ? "garbage collection"
        : functionName === "(idle)" || functionName === "(program)"
          ? "idle / V8 internals"
          : url.includes("/@effect/sql") || url.includes("better-sqlite3")
            ? "store driver"
            : url.includes("/graphology")
              ? "graphology (plan graph)"
              : url.includes("/xstate/")
                ? "XState (actors, transitions)"
                : url.includes("/effect/")
                  ? "Effect (fibers, runtime)"
                  : url.includes("packages/runtime")
                    ? "DevMatrix runtime (engine, journal)"
                    : url.includes("packages/core")
                      ? "DevMatrix core (machines' actions, queue)"
                      : url.startsWith("node:") || url === ""
                        ? "Node.js internals (promises, timers)"
                        : "other"
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + hits)
  }
  return [...buckets.entries()]
    .map(([name, hits]): [string, number] => [name, hits / total])
    .sort((a, b) => b[1] - a[1])
}

const report = () => {
  const runs = 3
  const medianOf = (which: string) => median(Array.from({ length: runs }, () => measure(which)))
  const pool = medianOf("pool")
  const fibers = medianOf("fibers")
  const actors = medianOf("actors")
  const engine = medianOf("engine")
  const profileDir = join(here, "results", "tmp")
  mkdirSync(profileDir, { recursive: true })
  const profilePath = join(profileDir, "engine.cpuprofile")
  measure("engine", profilePath)
  const time = whereTimeGoes(profilePath)
  const times = (faster: Measurement, slower: Measurement) =>
    (faster.atomsPerSecond / slower.atomsPerSecond).toFixed(1)
  const microsPerAtom = (m: Measurement) => ((m.seconds * 1e6) / atomCount).toFixed(1)
  const row = (name: string, m: Measurement) =>
    `| ${name} | ${Math.round(m.atomsPerSecond).toLocaleString("en-US")} | ${microsPerAtom(m)} | ${times(pool, m)}× | ${m.seconds.toFixed(3)} | ${m.peakRssMb.toFixed(0)} |`
  const lines = [
    "# Engine overhead",
    "",
    `Workload: ${atomCount.toLocaleString("en-US")} zero-work atoms in a layered DAG (${layers} layers × ${width}, two`,
    `dependencies each), concurrency ${concurrency}, scripted model at zero latency, in-memory store.`,
    `Median of ${runs} runs, each in its own process. Measured ${new Date().toISOString()} on ${process.platform} ${process.arch}, Node ${process.version}.`,
    "",
    "| case | atoms/s | µs per atom | pool is faster by | seconds | peak RSS (MB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    row("plain promise pool: p-limit (baseline)", pool),
    row("floor: the pool + one Effect fiber per task", fibers),
    row("floor: the pool + one XState atom actor per task", actors),
    row("DevMatrix engine", engine),
    "",
    `**Ratio: the plain pool is ${times(pool, engine)}× faster than the engine** (aim: within 10×). The`,
    `engine runs at ${times(engine, actors)}× the speed of its XState floor.`,
    "",
    "The engine does per atom what the pool does not: an XState actor (inside its wave's actor",
    "system) driven through ready → queued → running → validating → completed, with an invoked",
    "`callModel` actor for the attempt; the model call as an Effect fiber; the L2 contract check of",
    "the output; five journaled events (ready, queued, started, cost.updated, completed) stamped",
    "with their gap-free seq and committed in batches; the wave actor counting its atoms; and, before",
    "the run, the plan decoded through its Schema and compiled into a graphology graph.",
    "",
    "The two floor rows measure parts of that work alone, on the same pool and DAG. The XState row is",
    "the engine's own atom machine, driven through the same four commands (READY, ENQUEUE, START,",
    "CALL_SUCCEEDED) with its invoked `callModel` answering on a microtask, and nothing else: no",
    "Effect, no journal. It shows why the aim of 10× cannot be met while every atom is an XState",
    `actor: the actor alone makes the pool ${times(pool, actors)}× faster. The engine's time beyond`,
    "that floor is the fiber per call, the journal and the store commit, the plan's decoding and",
    "graph, and the garbage those leave. The engine also yields the event loop after each full round",
    "of admissions, so that store commits, timers and Ctrl-C get a turn even when the model answers",
    "at once. The profile below is of the timed run alone (the inspector starts after start-up).",
    "",
    "## Where the engine's time goes (self time, one profiled run)",
    "",
    "| where | share |",
    "| --- | ---: |",
    ...time.map(([name, share]) => `| ${name} | ${(share * 100).toFixed(1)}% |`),
    ""
  ]
  mkdirSync(join(here, "results"), { recursive: true })
  writeFileSync(join(here, "results", "overhead.md"), lines.join("\n"))
  process.stdout.write(lines.join("\n"))
}

const caseArg = process.argv.indexOf("--case")
const profileArg = process.argv.indexOf("--profile")
if (caseArg >= 0)
  await child(process.argv[caseArg + 1]!, profileArg >= 0 ? process.argv[profileArg + 1] : undefined)
else report()
