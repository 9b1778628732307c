/**
 * Peak RSS of a 100,000-atom plan run through the engine (200 layers × 500, two dependencies
 * each, concurrency 100, scripted model at zero latency), with the memory store and with SQLite in
 * a temporary directory, each in its own process. Besides the peak, what is live (after a full
 * collection) at each step: the plan's JSON value, the plan compiled (decoded and its graph),
 * the run at its fullest (sampled), and what is left when it has ended, the engine still open.
 *
 *   pnpm build && node --import tsx bench/memory100k.ts      (writes bench/results/memory-100k.md)
 */
import { compilePlan } from "@devmatrix/core"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { layeredPlan } from "./layeredPlan.js"

const layers = 200
const width = 500
const atomCount = layers * width
const concurrency = 100
const here = dirname(fileURLToPath(import.meta.url))
const mb = (bytes: number) => bytes / 1024 / 1024

interface Measurement {
  readonly store: string
  readonly seconds: number
  readonly peakRssMb: number
  /** Live heap (MB, after a full collection) at each step, and its growth over the step before. */
  readonly liveMb: ReadonlyArray<readonly [string, number]>
}

/** The heap in use after a full collection (`--expose-gc`). */
const liveHeap = () => {
  globalThis.gc!()
  return mb(process.memoryUsage().heapUsed)
}

const child = async (store: string) => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-memory-"))
  const url = store === "sqlite" ? `sqlite:${join(dir, "plan.db")}` : "memory:"
  const liveMb: Array<readonly [string, number]> = [["start-up", liveHeap()]]
  let input: unknown = layeredPlan(layers, width, concurrency)
  liveMb.push(["the plan's JSON value", liveHeap()])
  let compiled = Either.getOrThrow(compilePlan(input))
  liveMb.push(["compiled (decoded plan, graph)", liveHeap()])
  let fullest = 0
  const started = performance.now()
  await Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit(compiled)
    // Nothing of the bench holds the plan now: what stays live is the engine's and the store's.
    input = undefined
    compiled = undefined as never
    const sampler = setInterval(() => (fullest = Math.max(fullest, liveHeap())), 10_000)
    const end = yield* engine.result(id)
    clearInterval(sampler)
    if (end.type !== "masterplan.completed" || end.summary.atoms.completed !== atomCount)
      throw new Error(`the run did not complete: ${JSON.stringify(end.summary.atoms)}`)
    liveMb.push(["the run at its fullest (sampled every 10 s)", fullest])
    liveMb.push(["the run ended, the engine open", liveHeap()])
  }).pipe(Effect.scoped, Effect.provide(embeddedLayer({ store: url })), Effect.runPromise)
  const seconds = (performance.now() - started) / 1000
  liveMb.push(["the engine closed", liveHeap()])
  rmSync(dir, { recursive: true, force: true })
  const result: Measurement = { store, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, liveMb }
  process.stdout.write(JSON.stringify(result))
}

const measure = (store: string): Measurement =>
  JSON.parse(
    execFileSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", join(here, "memory100k.ts"), "--store", store],
      { encoding: "utf8", maxBuffer: 1 << 20 }
    )
  ) as Measurement

const report = () => {
  const runs = ["memory", "sqlite"].map(measure)
  const lines = [
    "# Memory of a 100,000-atom plan",
    "",
    `Workload: ${atomCount.toLocaleString("en-US")} zero-work atoms in a layered DAG (${layers} layers × ${width}, two`,
    `dependencies each), concurrency ${concurrency}, scripted model at zero latency; each store in its own`,
    `process. Measured ${new Date().toISOString()} on ${process.platform} ${process.arch}, Node ${process.version}.`,
    "",
    "| store | peak RSS (MB) | seconds (submit to end) |",
    "| --- | ---: | ---: |",
    ...runs.map((m) => `| ${m.store} | ${m.peakRssMb.toFixed(0)} | ${m.seconds.toFixed(1)} |`),
    "",
    "Live heap after a full collection at each step (MB; the difference is what the step holds):",
    "",
    `| step | ${runs.map((m) => m.store).join(" | ")} |`,
    `| --- | ${runs.map(() => "---:").join(" | ")} |`,
    ...runs[0]!.liveMb.map(
      ([step], i) => `| ${step} | ${runs.map((m) => m.liveMb[i]![1].toFixed(0)).join(" | ")} |`
    ),
    ""
  ]
  mkdirSync(join(here, "results"), { recursive: true })
  writeFileSync(join(here, "results", "memory-100k.md"), lines.join("\n"))
  process.stdout.write(lines.join("\n"))
}

const storeFlag = process.argv.indexOf("--store")
if (storeFlag > 0) await child(process.argv[storeFlag + 1]!)
else report()
