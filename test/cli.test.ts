import { buildPlanGraph, transitiveDependents } from "@devmatrix/core"
import { Either } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"
import type { RunOptions } from "./devmatrixProcess.js"

// Each test file run gets its own SQLite store, so runs never see each other's plans.
const storeUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), "devmatrix-cli-")), "cli.db")}`
const underPnpmScript = {
  npm_lifecycle_event: "start",
  npm_execpath: "/usr/lib/node_modules/pnpm/bin/pnpm.cjs",
  npm_config_user_agent: "pnpm/10.34.9 npm/? node/v20.20.2 linux x64"
}

const devmatrix = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  runDevmatrix(args, { ...options, env: { DEVMATRIX_STORE: storeUrl, ...options.env } })

const planFile = (content: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), "devmatrix-")), "plan.json")
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content))
  return file
}

const example = (name: string) =>
  JSON.parse(readFileSync(join(root, "examples/plans", name), "utf8")) as {
    atoms: Array<{ id: string; dependsOn: Array<string> }>
  }

describe("devmatrix <command> --help", () => {
  it.each(["run", "resume", "status", "events", "cleanup"])(
    "%s --help prints its usage, exit 0",
    async (name) => {
      for (const help of ["--help", "-h"]) {
        const run = await devmatrix([name, help])
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout).toMatch(new RegExp(`^usage:\\n  devmatrix ${name} `))
        expect(run.stderr).toBe("")
      }
    }
  )

  it("cleanup's usage names every unit of AGE, down to seconds", async () => {
    const run = await devmatrix(["cleanup"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("(AGE: 7d, 12h, 30m, 45s)")
    expect((await devmatrix(["cleanup", "--older-than", "45s"])).code).toBe(0)
  })
})

describe("devmatrix run", () => {
  it("completes the example plan with transient faults: retries in the journal, a summary last", async () => {
    const run = await devmatrix([
      "run",
      "examples/plans/todo-api.json",
      "--json",
      "--fault-rate",
      "0.2",
      "--seed",
      "7"
    ])
    expect(run.code, run.stderr).toBe(0)
    const events = eventsOf(run.stdout)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.some((e) => e.type === "atom.retrying")).toBe(true)
    const plan = example("todo-api.json")
    expect(new Set(events.flatMap((e) => (e.type === "atom.completed" ? [e.atomId] : []))).size).toBe(
      plan.atoms.length
    )
    const last = events.at(-1)!
    expect(last.type).toBe("masterplan.completed")
    if (last.type === "masterplan.completed") {
      expect(last.summary.atoms.completed).toBe(plan.atoms.length)
      expect(last.summary.retries).toBeGreaterThan(0)
      expect(last.summary.costUsd).toBeGreaterThan(0)
    }
  })

  it("fails one atom on a non-retryable fault: exit 1, its transitive dependents skipped, all others completed", async () => {
    const run = await devmatrix(["run", "examples/plans/todo-api-fault.json", "--json"])
    expect(run.code).toBe(1)
    const events = eventsOf(run.stdout)
    const plan = example("todo-api-fault.json")
    const graph = Either.getOrThrow(buildPlanGraph(plan.atoms))
    const doomed = new Set(
      transitiveDependents(graph, graph.indexOf.get("validate-create")!).map((i) => graph.ids[i]!)
    )
    const ended = new Map(
      events.flatMap((e) =>
        e.type === "atom.completed" || e.type === "atom.failed" || e.type === "atom.skipped"
          ? [[e.atomId, e.type]]
          : []
      )
    )
    expect(ended.size).toBe(plan.atoms.length)
    for (const atom of plan.atoms) {
      const expected =
        atom.id === "validate-create"
          ? "atom.failed"
          : doomed.has(atom.id)
            ? "atom.skipped"
            : "atom.completed"
      expect(ended.get(atom.id), atom.id).toBe(expected)
    }
    expect(doomed.size).toBeGreaterThan(3)
    expect(events.at(-1)?.type).toBe("masterplan.failed")
  })

  it("prints progress lines and a summary table without --json, and exits 1 naming the failed atom", async () => {
    const run = await devmatrix(["run", "examples/plans/todo-api-fault.json", "--mode", "waves"])
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/atom validate-create \(wave \d+\) failed: invalid_request/)
    expect(run.stdout).toMatch(/outcome\s+failed/)
    expect(run.stdout).toMatch(/atoms\s+\d+ completed, 1 failed, \d+ skipped/)
    expect(run.stderr).toMatch(/using the offline scripted model/)
  })

  it("says once on stderr, also with --json, which model runs; a budget below one call's worst case pauses the plan (exit 3)", async () => {
    const atoms = [{ id: "a", instruction: "do a" }]
    const count = (text: string, part: string) => text.split(part).length - 1
    const fits = await devmatrix([
      "run",
      planFile({ name: "p", budget: { hardUsd: 5 }, atoms }),
      "--json",
      "--store",
      "memory:"
    ])
    expect(fits.code, fits.stderr).toBe(0)
    expect(count(fits.stderr, "no ANTHROPIC_API_KEY: using the offline scripted model\n")).toBe(1)
    expect(eventsOf(fits.stdout).at(-1)?.type).toBe("masterplan.completed")
    // A call's worst case is its prompt plus 2,048 output tokens at the model's price: over $0.01.
    const tight = await devmatrix([
      "run",
      planFile({ name: "p", atoms }),
      "--budget",
      "0.01",
      "--json",
      "--store",
      "memory:"
    ])
    expect(tight.code, tight.stderr).toBe(3)
    const events = eventsOf(tight.stdout)
    expect(events.map((e) => e.type)).not.toContain("atom.started")
    const hardLimit = events.find((e) => e.type === "cost.hard_limit")
    expect(hardLimit).toMatchObject({ limitUsd: 0.01, atomId: "a", level: "plan" })
    expect(events.at(-1)).toMatchObject({ type: "masterplan.paused", by: "budget" })
    expect(tight.stderr).toMatch(
      /paused on budget: \$0\.0000 spent of its hard limit of \$0\.0100 \(atom a needs up to \$0\.02\d+\)/
    )
  })

  describe("rejects bad input with exit 2, a message naming the problem, and no events", () => {
    const atom = (id: string, dependsOn: Array<string> = []) => ({ id, dependsOn, instruction: `do ${id}` })
    const cases: ReadonlyArray<[string, unknown, RegExp]> = [
      [
        "a dependency cycle",
        { name: "p", atoms: [atom("a", ["b"]), atom("b", ["a"])] },
        /dependency cycle: a -> b -> a/
      ],
      [
        "an unknown dependency",
        { name: "p", atoms: [atom("a", ["nope"])] },
        /atom "a" depends on unknown atom "nope"/
      ],
      ["a duplicate atom id", { name: "p", atoms: [atom("a"), atom("a")] }, /duplicate atom id "a"/],
      [
        "a wrong type",
        { name: "p", atoms: [{ id: "a", instruction: 42 }] },
        /atoms\[0\]\.instruction: Expected string/
      ],
      ["a missing field", { atoms: [atom("a")] }, /name: is missing/],
      [
        "an option out of range",
        { name: "p", options: { concurrency: 0 }, atoms: [atom("a")] },
        /options\.concurrency: Expected a number between 1 and 10000, actual 0/
      ],
      ["invalid JSON", "{ not json", /is not valid JSON/]
    ]
    it.each(cases)("%s, and creates no store", async (_, content, message) => {
      const dir = mkdtempSync(join(tmpdir(), "devmatrix-store-"))
      const run = await devmatrix(["run", planFile(content), "--json", "--store", `sqlite:${dir}/new/x.db`])
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(message)
      expect(run.stdout).toBe("")
      expect(readdirSync(dir)).toEqual([])
    })

    it.each([
      [["--concurrency", "0"], /--concurrency must be a whole number/],
      [["--mode", "sideways"], /--mode must be "eager" or "waves"/],
      [["--fault-rate", "2"], /--fault-rate must be between 0 and 1/],
      [
        ["--model", "claude-sonnet-4"],
        /unknown model "claude-sonnet-4": known models are .*claude-sonnet-5-5/
      ],
      [["--bogus"], /Unknown option '--bogus'/],
      [["--id", ""], /--id must name the masterplan, got ""/]
    ])("flag %j", async (flags, message) => {
      const run = await devmatrix(["run", "examples/plans/todo-api.json", ...flags])
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(message)
    })

    it.each([
      ["foo", /--store "foo" is not a store URL: use memory:, sqlite:<path> or postgres:\/\//],
      ["redis://someone:pw@x", /--store "redis:\/\/someone:\*\*\*@x" is not a store URL/],
      ["sqlite:", /--store "sqlite:" names no file/]
    ])("--store %s, for every command", async (store, message) => {
      for (const args of [
        ["run", "examples/plans/todo-api.json"],
        ["resume"],
        ["status"],
        ["events", "x"],
        ["cleanup", "--older-than", "1d"]
      ]) {
        const run = await devmatrix([...args, "--store", store])
        expect(run.code, args[0]).toBe(2)
        expect(run.stderr, args[0]).toMatch(message)
        expect(run.stdout, args[0]).toBe("")
      }
    })

    it("an --id already in the store", async () => {
      const id = `taken-${Date.now()}`
      const plan = planFile({ name: "p", atoms: [atom("a")] })
      expect((await devmatrix(["run", plan, "--id", id])).code).toBe(0)
      const again = await devmatrix(["run", plan, "--id", id, "--json"])
      expect(again.code).toBe(2)
      expect(again.stderr).toContain(`Conflict: masterplan "${id}" exists`)
      expect(again.stdout).toBe("")
    })

    it("a bad DEVMATRIX_STORE is named as such", async () => {
      const run = await devmatrix(["status"], { env: { DEVMATRIX_STORE: "foo" } })
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/DEVMATRIX_STORE "foo" is not a store URL/)
    })
  })

  it("Ctrl-C stops the run with its state saved (exit 130); the printed resume command finishes it", async () => {
    const id = `ctrl-c-${Date.now()}`
    const run = await devmatrix(
      // The file's runs share a store: --no-cache keeps this plan from being answered at once from it.
      ["run", "examples/plans/todo-api.json", "--json", "--latency-ms", "200", "--id", id, "--no-cache"],
      {
        onStdout: (text, kill) => {
          if (text.includes('"atom.completed"')) kill()
        }
      }
    )
    expect(run.code).toBe(130)
    expect(run.stderr).toContain(`\n  devmatrix resume ${id} --store ${storeUrl}\n`)
    const before = eventsOf(run.stdout)
    expect(
      before.some(
        (e) =>
          e.type.startsWith("masterplan.") &&
          e.type !== "masterplan.submitted" &&
          e.type !== "masterplan.started" &&
          e.type !== "masterplan.phase"
      )
    ).toBe(false)

    const status = await devmatrix(["status", id, "--json"])
    expect(JSON.parse(status.stdout)).toMatchObject({
      id,
      status: "running",
      resume: `devmatrix resume ${id} --store ${storeUrl}`
    })

    const resumed = await devmatrix(["resume", id, "--json", "--latency-ms", "5"])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain("no ANTHROPIC_API_KEY: using the offline scripted model\n")
    const journal = eventsOf((await devmatrix(["events", id])).stdout)
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1))
    const completions = journal.flatMap((e) => (e.type === "atom.completed" ? [e.atomId] : []))
    expect(new Set(completions).size).toBe(completions.length)
    expect(completions.length).toBe(example("todo-api.json").atoms.length)
    expect(journal.at(-1)?.type).toBe("masterplan.completed")
    const finished = JSON.parse((await devmatrix(["status", id, "--json"])).stdout) as object
    expect(finished).toMatchObject({ status: "completed" })
    expect(finished).not.toHaveProperty("resume")
    // Events printed by the resumed run continue the journal where the first run left it.
    expect(eventsOf(resumed.stdout)[0]!.seq).toBeGreaterThan(before.at(-1)!.seq)
  })

  it("a closed stdout ends the command quietly: run saves the plan as on Ctrl-C, status and events exit 0", async () => {
    const id = `closed-stdout-${Date.now()}`
    const run = await devmatrix(
      ["run", "examples/plans/todo-api.json", "--json", "--latency-ms", "50", "--id", id, "--no-cache"],
      { closeStdout: true }
    )
    expect(run.code, run.stderr).toBe(130)
    expect(run.stderr).not.toMatch(/EPIPE|\n\s+at /)
    expect(run.stderr).toContain(`output closed: masterplan ${id} is saved; continue it with`)
    for (const args of [["status"], ["status", id], ["events", id], ["events", id, "--follow"]]) {
      const read = await devmatrix(args, { closeStdout: true })
      expect(read.code, `${args.join(" ")}: ${read.stderr}`).toBe(0)
      expect(read.stderr).toBe("")
    }
    const resumed = await devmatrix(["resume", id, "--json", "--latency-ms", "5"])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(eventsOf(resumed.stdout).at(-1)?.type).toBe("masterplan.completed")
  })

  it("under a package script (pnpm start) the resume command shown runs devmatrix through the package's script", async () => {
    const id = `package-script-${Date.now()}`
    const run = await devmatrix(
      ["run", "examples/plans/todo-api.json", "--json", "--latency-ms", "50", "--id", id, "--no-cache"],
      {
        closeStdout: true,
        env: underPnpmScript
      }
    )
    expect(run.code, run.stderr).toBe(130)
    expect(run.stderr).toContain(`\n  pnpm devmatrix resume ${id} --store ${storeUrl}\n`)
    const npm = await devmatrix(["status", id], {
      env: { npm_lifecycle_event: "start", npm_execpath: "/usr/lib/node_modules/npm/bin/npm-cli.js" }
    })
    expect(npm.stdout).toContain(`\nresume   npm run devmatrix -- resume ${id} --store ${storeUrl}\n`)
    const shell = await devmatrix(["status", id])
    expect(shell.stdout).toContain(`\nresume   devmatrix resume ${id} --store ${storeUrl}\n`)
  })

  it("commands that read a store do not create a missing SQLite file: status and events exit 2, cleanup has nothing to do", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devmatrix-store-"))
    const store = `sqlite:${dir}/new/x.db`
    for (const args of [["status"], ["status", "x", "--json"], ["events", "x"], ["resume", "x"]]) {
      const read = await devmatrix([...args, "--store", store])
      expect(read.code, args.join(" ")).toBe(2)
      expect(read.stderr, args.join(" ")).toBe(`devmatrix: no store at ${store}: the file does not exist\n`)
    }
    const resume = await devmatrix(["resume", "--store", store])
    expect(resume.code).toBe(0)
    expect(resume.stderr).toBe(`nothing to resume: no store at ${store}\n`)
    const cleanup = await devmatrix(["cleanup", "--older-than", "1d", "--store", store])
    expect(cleanup.code).toBe(0)
    expect(cleanup.stdout).toBe(`nothing to clean: no store at ${store}\n`)
    expect(readdirSync(dir)).toEqual([])
  })

  it("status lists plans, cleanup removes finished ones, and a bad store is named at start", async () => {
    const list = await devmatrix(["status", "--json"])
    expect(list.code).toBe(0)
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true)
    const cleanup = await devmatrix(["cleanup", "--older-than", "0s"])
    expect(cleanup.stdout).toMatch(/deleted \d+ finished masterplan/)
    const notADatabase = planFile("definitely not sqlite")
    const bad = await devmatrix(["run", "examples/plans/todo-api.json", "--store", `sqlite:${notADatabase}`])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`store sqlite:${notADatabase}: Corrupt: the file is not an SQLite database`)
    const unreachable = await devmatrix(["status", "--store", "postgres://someone:pw@127.0.0.1:1/none"])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain("store postgres://someone:***@127.0.0.1:1/none: Unavailable")
  })
})
