import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"
import type { Run } from "./devmatrixProcess.js"
import { inPgSchema } from "../packages/runtime/test/pgTestStore.js"

// Several `devmatrix` processes on one store, as users run them: real child processes, the built binary.
const examplePlan = join(root, "examples/plans/todo-api.json")
const exampleAtoms = (JSON.parse(readFileSync(examplePlan, "utf8")) as { atoms: Array<unknown> }).atoms.length

const devmatrix = (args: ReadonlyArray<string>, store: string, onStdout?: (text: string) => void) =>
  runDevmatrix([...args, "--store", store], onStdout ? { onStdout } : {})

const sqliteStore = () => `sqlite:${join(mkdtempSync(join(tmpdir(), "devmatrix-shared-")), "shared.db")}`

describe("processes sharing one store", () => {
  it("four runs at once on one SQLite file all complete, each journal whole", async () => {
    const store = sqliteStore()
    const runs = await Promise.all(
      [1, 2, 3, 4].map((seed) =>
        devmatrix(
          ["run", examplePlan, "--json", "--latency-ms", "1-10", "--concurrency", "20", "--seed", `${seed}`],
          store
        )
      )
    )
    for (const run of runs) {
      expect(run.stderr).not.toMatch(/devmatrix:|Error|locked/)
      expect(run.code).toBe(0)
      const events = eventsOf(run.stdout)
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
      expect(events.filter((e) => e.type === "atom.completed")).toHaveLength(exampleAtoms)
    }
  }, 60_000)

  for (const [name, inStore] of [
    ["SQLite", <A>(body: (url: string) => Promise<A>) => body(sqliteStore())],
    ["PostgreSQL", inPgSchema]
  ] as const)
    it(
      `on ${name}, resume refuses a plan another process is running, which goes on undisturbed`,
      () =>
        inStore(async (url) => {
          const id = `live-${name}-${process.pid}-${Date.now()}`
          let resumed: Promise<Run> | undefined
          let status: Promise<Run> | undefined
          const runner = devmatrix(
            ["run", examplePlan, "--json", "--latency-ms", "500-800", "--id", id],
            url,
            (text) => {
              // Once the run is well under way, a second process tries to take it, and a third looks.
              if (resumed === undefined && text.split("\n").length > 40) {
                resumed = devmatrix(["resume", id, "--json"], url)
                status = devmatrix(["status", id, "--json"], url)
              }
            }
          )
          const run = await runner
          const refused = await resumed!
          const seen = JSON.parse((await status!).stdout) as { runningIn?: string; resume?: string }
          expect(seen.runningIn).toMatch(/\/\d+\//)
          expect(seen.resume).toBeUndefined()
          expect(refused.code).toBe(2)
          expect(refused.stderr).toMatch(/cannot be resumed: another process is running it/)
          expect(run.code).toBe(0)
          const events = eventsOf(run.stdout)
          expect(events.filter((e) => e.type === "atom.interrupted")).toHaveLength(0)
          expect(events.filter((e) => e.type === "atom.completed")).toHaveLength(exampleAtoms)
        }),
      60_000
    )

  it("resume continues a plan that was paused when its process stopped", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "devmatrix-paused-")), "paused.db")
    // An embedding program pauses a plan, then stops (its engine's scope closes).
    await Effect.gen(function* () {
      const engine = yield* Engine
      const id = yield* engine.submit(JSON.parse(readFileSync(examplePlan, "utf8")) as unknown, {
        masterplanId: "paused-plan"
      })
      yield* engine.pause(id, "the operator wants to look first")
    }).pipe(
      Effect.provide(embeddedLayer({ store: `sqlite:${file}`, scripted: { latencyMs: 50 } })),
      Effect.scoped,
      Effect.runPromise
    )
    const resumed = await devmatrix(["resume", "paused-plan", "--json"], `sqlite:${file}`)
    expect(resumed.stderr).toContain("masterplan paused-plan was paused: resuming it")
    expect(resumed.code).toBe(0)
    const events = eventsOf(resumed.stdout)
    expect(events.at(-1)?.type).toBe("masterplan.completed")
  }, 60_000)
})
