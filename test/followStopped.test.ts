import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bin, eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"

// `devmatrix events <id> --follow` watches a plan another process runs. When that process is
// killed, the follower notices (the lease's holder is gone), says that the plan stopped and how to
// resume it, and exits, instead of waiting for an end that will not come.

const dir = mkdtempSync(join(tmpdir(), "devmatrix-follow-"))
const storeUrl = `sqlite:${join(dir, "follow.db")}`
const env = { DEVMATRIX_STORE: storeUrl }

describe("events --follow", () => {
  it("exits once the process running the plan is killed (SIGKILL): the journal as committed, then the resume command on stderr", async () => {
    const plan = join(dir, "plan.json")
    const atoms = Array.from({ length: 60 }, (_, i) => ({
      id: `a${i}`,
      dependsOn: i > 0 ? [`a${i - 1}`] : [],
      instruction: `atom ${i}`
    }))
    writeFileSync(plan, JSON.stringify({ name: "chain", atoms }))
    const id = `follow-${Date.now()}`
    const runner = spawn(process.execPath, [bin, "run", plan, "--json", "--latency-ms", "100", "--id", id], {
      cwd: root,
      env: { ...process.env, ANTHROPIC_API_KEY: "", ...env }
    })
    const runnerGone = new Promise<NodeJS.Signals | null>((resolve) =>
      runner.on("close", (_, signal) => resolve(signal))
    )
    await new Promise<void>((resolve) => runner.stdout.once("data", () => resolve()))

    let killed = false
    const follower = runDevmatrix(["events", id, "--follow"], {
      env,
      // Killed once the follower has shown an atom completed: it is following a live plan.
      onStdout: (text) => {
        if (!killed && text.includes('"atom.completed"')) {
          killed = true
          runner.kill("SIGKILL")
        }
      }
    })
    const followed = await follower
    expect(await runnerGone).toBe("SIGKILL")
    expect(followed.code, followed.stderr).toBe(0)
    expect(followed.stderr).toBe(
      `masterplan ${id} stopped without ending: no process runs it any more; continue it with\n  devmatrix resume ${id} --store ${storeUrl}\n`
    )
    // Everything the killed process committed was shown, in order, without a gap.
    const shown = eventsOf(followed.stdout)
    const journal = eventsOf((await runDevmatrix(["events", id], { env })).stdout)
    expect(shown.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1))
    const ends = new Set(["masterplan.completed", "masterplan.failed", "masterplan.cancelled"])
    expect(journal.some((e) => ends.has(e.type))).toBe(false)

    const resumed = await runDevmatrix(["resume", id, "--json", "--latency-ms", "1"], { env })
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(eventsOf(resumed.stdout).at(-1)?.type).toBe("masterplan.completed")
  })
})
