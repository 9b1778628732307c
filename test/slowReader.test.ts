import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bin, eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"

// `devmatrix run --json` into a pipe nobody reads for a while: the run goes on (the journal in the
// store is the buffer), and once the reader reads, every event arrives, in order, without a gap.
// (That the writer then holds back instead of buffering in memory is tested on followPlan itself,
// packages/host/test/cli/followPlan.test.ts: the peak RSS of a child differs too little from the
// engine's own to be a stable bound, 444 against 473 MB at 20,000 atoms.)

describe("a slow reader of --json", () => {
  it("gets every event in order once it reads, however long it did not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devmatrix-slow-reader-"))
    const storeUrl = `sqlite:${join(dir, "slow.db")}`
    const plan = join(dir, "plan.json")
    const atoms = Array.from({ length: 5000 }, (_, i) => ({
      id: `a${i}`,
      dependsOn: i >= 50 ? [`a${i - 50}`] : [],
      instruction: `atom ${i}`
    }))
    writeFileSync(plan, JSON.stringify({ name: "slow-reader", atoms }))
    const id = `slow-${Date.now()}`
    const child = spawn(process.execPath, [bin, "run", plan, "--json", "--latency-ms", "0", "--id", id], {
      cwd: root,
      env: { ...process.env, ANTHROPIC_API_KEY: "", DEVMATRIX_STORE: storeUrl },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.pause()

    // Not a byte is read until the plan has ended in the store.
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const status = await runDevmatrix(["status", id, "--json"], { env: { DEVMATRIX_STORE: storeUrl } })
      if (status.code === 0 && (JSON.parse(status.stdout) as { status: string }).status === "completed") break
    }
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stdout.resume()
    expect(await exited, stderr).toBe(0)

    const events = eventsOf(stdout)
    expect(events.length).toBeGreaterThan(atoms.length * 4)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.at(-1)?.type).toBe("masterplan.completed")
    const journal = eventsOf(
      (await runDevmatrix(["events", id], { env: { DEVMATRIX_STORE: storeUrl } })).stdout
    )
    expect(events.length).toBe(journal.length)
  })
})
