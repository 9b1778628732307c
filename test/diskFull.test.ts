import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { eventsOf, runDevmatrix } from "./devmatrixProcess.js"
import { fillUp, withTmpfs } from "../packages/runtime/test/tmpfs.js"

// The embedded store on a small file system that fills up mid-run, as a laptop's disk does: the
// run stops with one clear line, and once space is freed `resume` finishes the plan, every atom
// completed once. The real CLI in child processes, on a real tmpfs.

/** Ten layers of 30 atoms, each depending on two of the layer before. */
const layeredAtoms = Array.from({ length: 300 }, (_, n) => {
  const layer = Math.floor(n / 30)
  const i = n % 30
  const dependsOn =
    layer === 0 ? [] : [...new Set([`L${layer - 1}-${i}`, `L${layer - 1}-${(i * 7 + 1) % 30}`])]
  return { id: `L${layer}-${i}`, dependsOn, instruction: `atom ${n}` }
})

describe("a full disk under the SQLite store", () => {
  it("stops the run with one line naming the store and 'disk is full'; after space is freed, resume completes every atom once", async () => {
    const planDir = mkdtempSync(join(tmpdir(), "devmatrix-diskfull-"))
    const planFile = join(planDir, "plan.json")
    writeFileSync(
      planFile,
      JSON.stringify({ name: "disk-full", options: { concurrency: 10 }, atoms: layeredAtoms })
    )
    const id = `full-${Date.now()}`
    const callLog = join(planDir, "calls.jsonl")
    writeFileSync(callLog, "")
    const env = { DEVMATRIX_SCRIPTED_CALL_LOG: callLog }
    await withTmpfs(16, async (dir) => {
      const store = `sqlite:${join(dir, "store.db")}`
      let filler: string | undefined
      const run = await runDevmatrix(
        // Without the prompt cache, whose writes to the same file would race the journal's for
        // the last bytes: this is the journal's full disk (a full cache is only misses).
        [
          "run",
          planFile,
          "--json",
          "--id",
          id,
          "--store",
          store,
          "--latency-ms",
          "5-20",
          "--seed",
          "3",
          "--no-cache"
        ],
        {
          env,
          onStdout: (text) => {
            // Well into the run: fill the disk to its last byte.
            if (filler === undefined && text.split('"type":"atom.completed"').length > 20)
              filler = fillUp(dir)
          }
        }
      )
      expect(filler, "the run ended before the disk was filled").toBeDefined()
      expect(run.stderr).not.toContain("internal error")
      expect(run.stderr).not.toMatch(/^\s+at /m)
      expect(run.code, run.stderr).toBe(5)
      expect(run.stderr).toContain(`resume ${id}`)
      const lines = run.stderr.split("\n").filter((line) => line.includes("disk is full"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`store ${store}: DiskFull: disk is full`)
      expect(eventsOf(run.stdout).some((event) => event.type === "masterplan.completed")).toBe(false)

      rmSync(filler!)
      const resumed = await runDevmatrix(["resume", id, "--json", "--store", store, "--latency-ms", "1-5"], {
        env
      })
      expect(resumed.stderr).not.toContain("internal error")
      expect(resumed.code).toBe(0)
      expect(eventsOf(resumed.stdout).at(-1)?.type).toBe("masterplan.completed")

      const journal = eventsOf((await runDevmatrix(["events", id, "--store", store])).stdout)
      const completions = new Map<string, number>()
      for (const event of journal)
        if (event.type === "atom.completed")
          completions.set(event.atomId, (completions.get(event.atomId) ?? 0) + 1)
      expect(completions.size).toBe(layeredAtoms.length)
      expect([...completions.values()].every((n) => n === 1)).toBe(true)
      expect(journal.map((event) => event.seq)).toEqual(journal.map((_, i) => i + 1))
      // The money: the summary's cost is every payment the journal holds, the calls paid again
      // after the stop included; of the calls the model answered, fewer than the concurrency
      // limit (10) never reached the journal (the disk was full when they came back).
      const end = journal.at(-1)!
      if (end.type !== "masterplan.completed") throw new Error(end.type)
      const paid = journal.flatMap((event) => (event.type === "cost.updated" ? [event.costUsd] : []))
      expect(end.summary.costUsd).toBeCloseTo(
        paid.reduce((sum, cost) => sum + cost, 0),
        9
      )
      const answered = readFileSync(callLog, "utf8").split("\n").filter(Boolean).length
      expect(answered - paid.length).toBeLessThanOrEqual(10)
      // The stop said how many of them it knew of, and what they cost.
      const stated =
        /(\d+) paid calls? answered since the last commit \(\$([\d.]+)\) could not be recorded/.exec(
          lines[0]!
        )
      expect(stated, lines[0]).not.toBeNull()
      expect(answered - paid.length).toBeGreaterThanOrEqual(Number(stated![1]))
      expect(Number(stated![1])).toBeGreaterThan(0)
      expect(end.summary.repeatedCalls).toBe(
        journal.filter((event) => event.type === "atom.interrupted").length
      )
    })
    rmSync(planDir, { recursive: true })
  })
})
