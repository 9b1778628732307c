import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layeredPlan } from "../layeredPlan.js"
import type { Workload } from "./workloads.js"

/** One `devmatrix run` process, as its parent saw it. */
export interface CliRun {
  /** From spawning the process to its exit. */
  readonly wallSeconds: number
  /** From the first event line's arrival on the pipe to the last one's. */
  readonly eventSpanSeconds: number
  readonly lines: number
}

const runOnce = (repoRoot: string, planFile: string): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const args = ["run", planFile, "--json", "--store", "memory:", "--model", "scripted", "--latency-ms", "0"]
    const started = performance.now()
    const child = spawn(process.execPath, [join(repoRoot, "packages/host/bin/devmatrix.js"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    // The sink: stdout is read as fast as it comes and only its newlines are counted.
    let lines = 0
    let first: number | undefined
    let last = started
    child.stdout.on("data", (chunk: Buffer) => {
      let n = 0
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) n++
      if (n === 0) return
      last = performance.now()
      first ??= last
      lines += n
    })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const wallSeconds = (performance.now() - started) / 1000
      if (code !== 0) reject(new Error(`devmatrix run exited ${code}: ${stderr}`))
      else resolve({ wallSeconds, eventSpanSeconds: (last - (first ?? last)) / 1000, lines })
    })
  })

/** `runs` runs of `devmatrix run` on the workload's plan (in a temp file), one after another. */
export const cliRuns = async (repoRoot: string, workload: Workload, runs: number) => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-bench-"))
  try {
    const planFile = join(dir, "plan.json")
    writeFileSync(
      planFile,
      JSON.stringify(layeredPlan(workload.layers, workload.width, workload.concurrency))
    )
    const results: Array<CliRun> = []
    for (let i = 0; i < runs; i++) results.push(await runOnce(repoRoot, planFile))
    return results
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const medianBy = <A>(runs: ReadonlyArray<A>, key: (a: A) => number): A =>
  [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)]!
