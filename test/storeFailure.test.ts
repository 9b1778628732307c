import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bin, eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"

// A store that refuses every commit from some moment on (here: a trigger in the SQLite file that
// aborts every journal insert, as a database gone read-only or broken would) ends `run` with one
// line naming the store and the cause, then the resume command, exit 5. Once the store is
// repaired, the printed resume finishes the plan with every atom completed once.

/** The SQLite driver the store itself uses, reached through the runtime's dependencies. */
const Database = (() => {
  const fromRuntime = createRequire(join(root, "packages/runtime/package.json"))
  const fromDriver = createRequire(fromRuntime.resolve("@effect/sql-sqlite-node"))
  return fromDriver("better-sqlite3") as new (file: string) => {
    exec(sql: string): void
    close(): void
  }
})()

const onDatabase = (file: string, sql: string) => {
  const db = new Database(file)
  try {
    db.exec(sql)
  } finally {
    db.close()
  }
}

const shellEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")))

describe("a store that can no longer be written, mid-run", () => {
  it("ends run with one line naming the store and the cause, the resume command, exit 5; resume finishes once it is repaired", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devmatrix-store-fault-"))
    const file = join(dir, "fault.db")
    const storeUrl = `sqlite:${file}`
    const plan = join(dir, "plan.json")
    const atoms = Array.from({ length: 40 }, (_, i) => ({
      id: `a${i}`,
      dependsOn: i >= 4 ? [`a${i - 4}`] : [],
      instruction: `atom ${i}`
    }))
    writeFileSync(plan, JSON.stringify({ name: "fault", atoms }))
    const id = `fault-${Date.now()}`
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [bin, "run", plan, "--json", "--latency-ms", "100", "--id", id],
          {
            cwd: root,
            env: { ...shellEnv, ANTHROPIC_API_KEY: "", DEVMATRIX_STORE: storeUrl }
          }
        )
        let stdout = ""
        let stderr = ""
        let broken = false
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString()
          if (!broken && stdout.includes('"atom.completed"')) {
            broken = true
            onDatabase(
              file,
              "CREATE TRIGGER dm_fault BEFORE INSERT ON dm_events BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
          }
        })
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        child.on("error", reject)
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      }
    )
    expect(run.code, run.stderr).toBe(5)
    const lines = run.stderr.split("\n").filter((line) => !/^(no ANTHROPIC_API_KEY|budget:)/.test(line))
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^devmatrix: store ${storeUrl}: Conflict: the database refused the change \\(a constraint\\): cannot commit to "${id}": .*injected fault`
        )
      ),
      `masterplan ${id} stopped with its state as stored; continue it with`,
      `  devmatrix resume ${id} --store ${storeUrl}`,
      ""
    ])

    onDatabase(file, "DROP TRIGGER dm_fault")
    const resumed = await runDevmatrix(["resume", id, "--json", "--latency-ms", "1"], {
      env: { DEVMATRIX_STORE: storeUrl }
    })
    expect(resumed.code, resumed.stderr).toBe(0)
    const journal = eventsOf(
      (await runDevmatrix(["events", id], { env: { DEVMATRIX_STORE: storeUrl } })).stdout
    )
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1))
    const completions = journal.flatMap((e) => (e.type === "atom.completed" ? [e.atomId] : []))
    expect(completions.length).toBe(atoms.length)
    expect(new Set(completions).size).toBe(atoms.length)
    expect(journal.at(-1)?.type).toBe("masterplan.completed")
  })
})
