import type { Event, PlanInputEncoded } from "@devmatrix/core"
import { createClient } from "@devmatrix/sdk"
import type { DevMatrixClient } from "@devmatrix/sdk"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventsOf, runDevmatrix } from "./devmatrixProcess.js"
import type { RunOptions } from "./devmatrixProcess.js"
import { chainedPlan, startHostProcess, testTokens } from "./hostProcess.js"
import type { HostProcess } from "./hostProcess.js"

// The CLI as a client of a host (DESIGN.md §10, issue 17): the real `devmatrix` binary with
// `--host URL --token T` against a real `devmatrix host` process, over real sockets. Its output
// and exit codes are the embedded ones; the host's journal is what it shows.

let host: HostProcess
let sdk: DevMatrixClient
const dir = mkdtempSync(join(tmpdir(), "devmatrix-cli-host-"))

beforeAll(async () => {
  host = await startHostProcess(["--store", "memory:"])
  sdk = createClient({ url: host.url, token: testTokens.acmeOperator.token })
})
afterAll(async () => {
  await sdk.close()
  host.child.kill("SIGTERM")
  await host.exited
})

let plans = 0
/** Writes `plan` to a file of its own; its path. */
const planFile = (plan: unknown): string => {
  const file = join(dir, `plan-${plans++}.json`)
  writeFileSync(file, JSON.stringify(plan))
  return file
}

/** `devmatrix <args> --host URL --token T` (the operator's token unless told). */
const onHost = (
  args: ReadonlyArray<string>,
  token: string = testTokens.acmeOperator.token,
  options: RunOptions = {}
) => runDevmatrix([...args, "--host", host.url, "--token", token], options)

/** Every event of the host's journal of `masterplanId`, through the SDK: the plan has ended. */
const journalOf = async (masterplanId: string): Promise<Array<Event>> => {
  const events: Array<Event> = []
  for await (const event of sdk.watch(masterplanId)) events.push(event)
  return events
}

/** A port that was free a moment ago: nothing listens there. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const seqsFrom = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i)

describe("devmatrix run --host", () => {
  it("submits the plan and follows it to its end: the --json lines are the host's journal, exit 0", async () => {
    const run = await onHost(["run", planFile(chainedPlan("json-run", 24)), "--id", "json-run", "--json"])
    expect(run.code, run.stderr).toBe(0)
    const events = eventsOf(run.stdout)
    expect(events.at(-1)?.type).toBe("masterplan.completed")
    expect(events.every((event) => event.masterplanId === "acme/json-run")).toBe(true)
    const journal = await journalOf("acme/json-run")
    expect(events).toEqual(journal)
    // `events` prints the very lines `run --json` printed.
    const printed = await onHost(["events", "acme/json-run"], testTokens.acmeViewer.token)
    expect(printed.code, printed.stderr).toBe(0)
    expect(printed.stdout).toBe(run.stdout)
  })

  it("without --json: a line per wave and the summary table, as embedded; DEVMATRIX_HOST and DEVMATRIX_TOKEN name the host", async () => {
    const run = await runDevmatrix(["run", planFile(chainedPlan("plain-run", 8, { chains: 4 }))], {
      env: { DEVMATRIX_HOST: host.url, DEVMATRIX_TOKEN: testTokens.acmeOperator.token }
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("wave 0 completed: 4 completed, 0 failed, 0 skipped\n")
    expect(run.stdout).toContain("wave 1 completed: 4 completed, 0 failed, 0 skipped\n")
    expect(run.stdout).toMatch(/^outcome {8}completed$/m)
    expect(run.stdout).toMatch(/^atoms {10}8 completed, 0 failed, 0 skipped, 0 cancelled \(of 8\)$/m)
  })

  it("a bad plan exits 2 naming the problem, and nothing is sent (the host named is not even there)", async () => {
    const bad = planFile({ name: "bad", atoms: [{ id: "a", instruction: "x", dependsOn: ["zz"] }] })
    const run = await runDevmatrix(["run", bad, "--host", "ws://127.0.0.1:9", "--token", "t"])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe('devmatrix: atom "a" depends on unknown atom "zz"\n')
  })

  it("Ctrl-C stops following, not the plan: exit 130, stderr says how to follow it again; the plan ends in the host", async () => {
    const plan = chainedPlan("interrupted", 40, { chains: 1, latencyMs: 20 })
    const run = await onHost(["run", planFile(plan), "--id", "interrupted", "--json"], undefined, {
      onStdout: (text, interrupt) => {
        if (text.includes('"type":"atom.completed"')) interrupt()
      }
    })
    expect(run.code, run.stderr).toBe(130)
    expect(run.stderr).toBe(
      "interrupted (SIGINT): stopped following masterplan acme/interrupted, which runs on in the host; follow it again with\n" +
        `  devmatrix events acme/interrupted --follow --host ${host.url} --token TOKEN\n` +
        `or stop it with\n  devmatrix cancel acme/interrupted --host ${host.url} --token TOKEN\n`
    )
    const shown = eventsOf(run.stdout)
    expect(shown.map((e) => e.seq)).toEqual(seqsFrom(1, shown.length))
    const journal = await journalOf("acme/interrupted")
    expect(journal.at(-1)?.type).toBe("masterplan.completed")
    expect(journal.length).toBeGreaterThan(shown.length)
    // Following it again from where it stopped shows the rest, each event once.
    const rest = await onHost([
      "events",
      "acme/interrupted",
      "--follow",
      "--from-seq",
      String(shown.length + 1)
    ])
    expect(rest.code, rest.stderr).toBe(0)
    expect([...shown, ...eventsOf(rest.stdout)]).toEqual(journal)
  })
})

describe("run --host across a host restart", () => {
  it("the follower reconnects and resumes from its last seq: the host's SIGTERM and restart cost no event and repeat none", async () => {
    const port = await freePort()
    const store = `sqlite:${join(dir, "restart.db")}`
    const args = ["--port", String(port), "--store", store]
    let restarting: HostProcess = await startHostProcess(args)
    let restarted: Promise<HostProcess> | undefined
    const plan = chainedPlan("restart", 30, { chains: 1, latencyMs: 20 })
    const run = await runDevmatrix(
      [
        "run",
        planFile(plan),
        "--id",
        "restart",
        "--json",
        "--host",
        restarting.url,
        "--token",
        testTokens.acmeOperator.token
      ],
      {
        onStdout: (text) => {
          // After its third atom, the host goes down (it saves the plan) and comes back on the same port.
          if (restarted === undefined && text.split('"type":"atom.completed"').length > 3) {
            restarting.child.kill("SIGTERM")
            restarted = restarting.exited.then(() => startHostProcess(args))
          }
        }
      }
    )
    expect(restarted, "the host was not restarted").toBeDefined()
    restarting = await restarted!
    try {
      expect(run.code, run.stderr).toBe(0)
      const events = eventsOf(run.stdout)
      expect(events.map((e) => e.seq)).toEqual(seqsFrom(1, events.length))
      expect(events.at(-1)).toMatchObject({
        type: "masterplan.completed",
        summary: { atoms: { completed: 30 } }
      })
      const client = createClient({ url: restarting.url, token: testTokens.acmeOperator.token })
      const journal: Array<Event> = []
      for await (const event of client.watch("acme/restart")) journal.push(event)
      await client.close()
      expect(events).toEqual(journal)
      // The restarted host picked the plan up mid-way: the follower saw it do so.
      expect(events.filter((e) => e.type === "masterplan.resumed")).toMatchObject([{ reason: "recovery" }])
    } finally {
      restarting.child.kill("SIGTERM")
      await restarting.exited
    }
  })
})

describe("status, events and budget --host", () => {
  it("status lists the tenant's plans and shows one, in the embedded format", async () => {
    const run = await onHost(["run", planFile(chainedPlan("shown", 12)), "--id", "shown", "--json"])
    expect(run.code, run.stderr).toBe(0)
    const journalLength = eventsOf(run.stdout).length
    const [list, one, json, hidden] = await Promise.all([
      onHost(["status"], testTokens.acmeViewer.token),
      onHost(["status", "acme/shown"], testTokens.acmeViewer.token),
      onHost(["status", "acme/shown", "--json"], testTokens.acmeViewer.token),
      onHost(["status", "acme/shown"], testTokens.globexOperator.token)
    ])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^acme\/shown {2}completed {12}shown {2}\(12 atoms, 3 waves, updated \S+\)$/m)
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toMatch(
      new RegExp(
        `^acme/shown  shown\nstatus   completed\natoms    12 completed \\(of 12\\)\ncost     \\$0\\.\\d{4}\njournal  ${journalLength} events\n$`
      )
    )
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: "acme/shown",
      status: "completed",
      atoms: { completed: 12 },
      lastSeq: journalLength,
      summary: { outcome: "completed" }
    })
    // Another tenant's plan is the `not_found` a missing one is: exit 2, as embedded.
    expect(hidden.code).toBe(2)
    expect(hidden.stderr).toBe(
      `devmatrix status: the host at ${host.url} refused it (not_found): no masterplan "acme/shown"\n`
    )
  })

  it("events --from-seq starts there; --follow follows a running plan to its end", async () => {
    const { masterplanId } = await sdk.submit(
      chainedPlan("followed", 30, { chains: 2, latencyMs: 10 }) as unknown as PlanInputEncoded,
      {
        masterplanId: "followed"
      }
    )
    const followed = await onHost(["events", masterplanId, "--follow"], testTokens.acmeViewer.token)
    expect(followed.code, followed.stderr).toBe(0)
    const events = eventsOf(followed.stdout)
    expect(events.map((e) => e.seq)).toEqual(seqsFrom(1, events.length))
    expect(events.at(-1)?.type).toBe("masterplan.completed")
    const [from, past] = await Promise.all([
      onHost(["events", masterplanId, "--from-seq", "10"], testTokens.acmeViewer.token),
      onHost(["events", masterplanId, "--from-seq", String(events.length + 1)])
    ])
    expect(eventsOf(from.stdout)).toEqual(events.slice(9))
    expect(past).toMatchObject({ code: 0, stdout: "" })
  })

  it("a run paused on budget exits 3 with the budget and resume commands; budget --host then resume --host finish it", async () => {
    // One call reserves about $0.02 on the scripted model and costs about $0.0005: a few fit.
    const plan = { ...chainedPlan("budgeted", 30, { chains: 1 }), budget: { hardUsd: 0.03 } }
    const run = await onHost(["run", planFile(plan), "--id", "budgeted", "--json"])
    expect(run.code, run.stderr).toBe(3)
    expect(run.stderr).toMatch(
      /^masterplan acme\/budgeted paused on budget: \$0\.\d{4} spent of its hard limit of \$0\.0300 \(atom a\d+ needs up to \$0\.\d{4}\); it stays paused in the host: raise it with\n/
    )
    expect(run.stderr).toContain(
      `raise it with\n  devmatrix budget acme/budgeted --hard USD --host ${host.url} --token TOKEN\n` +
        `then continue it with\n  devmatrix resume acme/budgeted --host ${host.url} --token TOKEN\n`
    )
    const paused = eventsOf(run.stdout)
    expect(paused.at(-1)).toMatchObject({ type: "masterplan.paused", by: "budget" })
    const status = await onHost(["status", "acme/budgeted"])
    expect(status.stdout).toContain(
      `resume   devmatrix resume acme/budgeted --host ${host.url} --token TOKEN\n`
    )

    const budget = await onHost(["budget", "acme/budgeted", "--hard", "5"])
    expect(budget.code, budget.stderr).toBe(0)
    expect(budget.stderr).toBe(
      `masterplan acme/budgeted: hard limit $5.00, soft limit $4.00; continue it with\n  devmatrix resume acme/budgeted --host ${host.url} --token TOKEN\n`
    )
    const resumed = await onHost(["resume", "acme/budgeted", "--json"])
    expect(resumed.code, resumed.stderr).toBe(0)
    const rest = eventsOf(resumed.stdout)
    expect(rest.at(-1)).toMatchObject({ type: "masterplan.completed", summary: { atoms: { completed: 30 } } })
    // Run and resume showed the journal up to the pause and from the resume on; between them are
    // the budget raised and what the calls in flight at the pause journaled as they ended.
    const journal = await journalOf("acme/budgeted")
    expect(paused).toEqual(journal.slice(0, paused.length))
    expect(rest).toEqual(journal.slice(rest[0]!.seq - 1))
    const between = journal.slice(paused.length, rest[0]!.seq - 1).map((e) => e.type)
    expect(between).toContain("budget.raised")
    expect(between.filter((type) => type.startsWith("masterplan."))).toEqual([])
  })
})

describe("devmatrix cancel", () => {
  it("--host cancels a running plan: the host journals masterplan.cancelled with the reason; an ended plan is refused (exit 2)", async () => {
    const { masterplanId } = await sdk.submit(
      chainedPlan("to-cancel", 50, { chains: 1, latencyMs: 50 }) as unknown as PlanInputEncoded,
      {
        masterplanId: "to-cancel"
      }
    )
    const cancel = await onHost(["cancel", masterplanId, "--reason", "not needed"])
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stderr).toBe("masterplan acme/to-cancel cancelled\n")
    const end = (await journalOf(masterplanId)).at(-1)
    expect(end).toMatchObject({ type: "masterplan.cancelled", reason: "not needed", principal: "alice@acme" })
    const again = await onHost(["cancel", masterplanId])
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(
      `devmatrix cancel: the host at ${host.url} refused it (conflict): masterplan "acme/to-cancel" has ended (cancelled)\n`
    )
  })

  it("on a store, cancels a plan no process runs (paused on budget) without running it; an ended one is refused (exit 2)", async () => {
    const store = `sqlite:${join(dir, "cancel.db")}`
    const plan = { ...chainedPlan("stored-cancel", 20, { chains: 1 }), budget: { hardUsd: 0.03 } }
    const run = await runDevmatrix(["run", planFile(plan), "--id", "stored", "--store", store, "--json"])
    expect(run.code, run.stderr).toBe(3)
    const before = eventsOf(run.stdout)
    const cancel = await runDevmatrix(["cancel", "stored", "--store", store, "--reason", "over budget"])
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stderr).toBe("masterplan stored cancelled\n")
    const journal = await runDevmatrix(["events", "stored", "--store", store])
    const after = eventsOf(journal.stdout).slice(before.length)
    // Picked up and cancelled before any atom started: no call was made.
    expect(after.map((e) => e.type)).toEqual(["masterplan.cancelled"])
    expect(after.at(-1)).toMatchObject({ reason: "over budget" })
    const again = await runDevmatrix(["cancel", "stored", "--store", store])
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(
      'devmatrix: masterplan "stored" cannot be cancelled here: it has ended (cancelled)\n'
    )
  })
})

describe("refusals: one line on stderr, the embedded contract's exit code", () => {
  it("a viewer's token may not run or cancel (exit 2, nothing submitted)", async () => {
    const before = (await sdk.list()).masterplans.length
    const [run, cancel] = await Promise.all([
      onHost(["run", planFile(chainedPlan("viewer", 2)), "--id", "viewer"], testTokens.acmeViewer.token),
      onHost(["cancel", "acme/json-run"], testTokens.acmeViewer.token)
    ])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      `devmatrix run: the host at ${host.url} refused it (forbidden): a viewer may not submit\n`
    )
    expect((await sdk.list()).masterplans.length).toBe(before)
    expect(cancel.code).toBe(2)
    expect(cancel.stderr).toBe(
      `devmatrix cancel: the host at ${host.url} refused it (forbidden): a viewer may not cancel\n`
    )
  })

  it("a token the host does not know: exit 2, saying so (never the token)", async () => {
    const status = await onHost(["status"], "not-a-token-of-this-host")
    expect(status.code).toBe(2)
    expect(status.stderr).toBe(
      `devmatrix status: the host at ${host.url} refused the token: check --token or DEVMATRIX_TOKEN\n`
    )
  })

  it("a host that cannot be reached: exit 5, naming it and the cause", async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const status = await runDevmatrix(["status", "--host", url, "--token", "t"])
    expect(status.code).toBe(5)
    expect(status.stderr).toMatch(
      new RegExp(`^devmatrix status: cannot reach the host at ${url}: .*ECONNREFUSED.*\\n$`)
    )
  })

  it("--store with --host, or --host without a token, is a usage error naming it (exit 2; every flag: hostClient.test.ts)", async () => {
    const [both, noToken] = await Promise.all([
      onHost(["run", planFile(chainedPlan("flags", 1)), "--store", "memory:"]),
      runDevmatrix(["status", "--host", host.url])
    ])
    expect(both).toMatchObject({
      code: 2,
      stderr: "devmatrix: --store cannot be used with --host: the host keeps its plans in its own store\n"
    })
    expect(noToken).toMatchObject({
      code: 2,
      stderr: "devmatrix: --host needs a token: --token T (or DEVMATRIX_TOKEN)\n"
    })
  })
})
