import type { Event, PlanInputEncoded } from "@devmatrix/core"
import { isTerminalEvent } from "@devmatrix/core"
import { Store, StoreSqlite } from "@devmatrix/runtime"
import { createClient } from "@devmatrix/sdk"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  jsonEvents,
  readJournal,
  runToEnd,
  stillRunning,
  tempSqliteStore,
  writePlan
} from "./fakeProviderCli.js"
import { startHostProcess, testTokens } from "./hostProcess.js"

// `devmatrix review` as a user runs it: a run whose atoms wait for review stops there (exit 6)
// instead of waiting for ever; list, approve, edit and reject journal their decisions in the
// store (SQLite); resume applies them. Through a real host, list and approve go over its API.

afterEach(() => {
  expect(stillRunning(), "a devmatrix process outlived its test").toEqual([])
})

/** Three atoms for a reviewer (the scripted model answers them with confidence 0.5, under the 0.85 threshold), a sure one, and dependents. */
const reviewPlan = (name: string): PlanInputEncoded => ({
  name,
  atoms: [
    { id: "sure", instruction: "an atom the model is sure of" },
    ...["approved", "edited", "rejected"].map((id) => ({
      id,
      instruction: `an atom for a reviewer: ${id}`,
      simulate: { confidence: 0.5 }
    })),
    { id: "after-approved", dependsOn: ["approved"], instruction: "after the approved one" },
    { id: "after-edited", dependsOn: ["edited"], instruction: "after the edited one" },
    { id: "after-rejected", dependsOn: ["rejected"], instruction: "after the rejected one" }
  ]
})

const ofType = <T extends Event["type"]>(events: ReadonlyArray<Event>, type: T) =>
  events.filter((e): e is Extract<Event, { type: T }> => e.type === type)

const atomRows = (file: string, masterplanId: string) =>
  Effect.runPromise(
    Effect.flatMap(Store, (store) => store.listAtoms(masterplanId)).pipe(
      Effect.provide(StoreSqlite(file)),
      Effect.scoped
    )
  )

describe("devmatrix review, embedded (SQLite)", () => {
  it("a run stops when only reviewers can move it; approve, edit, reject are journaled; resume applies them", async () => {
    const store = tempSqliteStore("review")
    const id = "reviewed"
    const env = { DEVMATRIX_STORE: store.url }
    const plan = writePlan(reviewPlan("review-cli"))

    const run = await runToEnd(["run", plan, "--id", id, "--json", "--latency-ms", "1"], env)
    expect(run.code, run.stderr).toBe(6)
    const shown = jsonEvents(run.stdout)
    expect(shown.at(-1)).toMatchObject({ type: "review.waiting", atoms: 3 })
    expect(run.stderr).toContain(`masterplan ${id}: 3 atoms wait for review, and nothing else can run`)
    expect(run.stderr).toContain(`devmatrix review list ${id} --store ${store.url}`)
    expect(run.stderr).toContain(`devmatrix resume ${id} --store ${store.url}`)
    // What could run without a reviewer did.
    expect(ofType(shown, "atom.completed").map((e) => e.atomId)).toEqual(["sure"])

    const list = await runToEnd(["review", "list", "--json"], env)
    expect(list.code, list.stderr).toBe(0)
    const listed = JSON.parse(list.stdout) as Array<Record<string, unknown>>
    expect(
      listed.map((item) => [item["masterplanId"], item["atomId"], item["wave"], item["confidence"]])
    ).toEqual([
      [id, "approved", 0, 0.5],
      [id, "edited", 0, 0.5],
      [id, "rejected", 0, 0.5]
    ])
    expect(listed[0]!["why"]).toBe("confidence 0.50 is below the plan's review threshold 0.85")
    expect(listed[0]!["code"]).toContain("approved")
    const table = await runToEnd(["review", "list", id], env)
    expect(table.stdout.split("\n")[0]).toMatch(/^masterplan\s+atom\s+wave\s+confidence\s+why$/)
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+edited\\s+0\\s+0\\.50\\s+confidence 0\\.50`, "m"))

    // Bad input: each says what is wrong, exits 2 and writes nothing.
    const refused = await Promise.all([
      runToEnd(["review", "approve", id, "nope"], env),
      runToEnd(["review", "approve", id, "sure"], env),
      runToEnd(["review", "reject", id, "rejected"], env),
      runToEnd(["review", "edit", id, "edited"], env),
      runToEnd(["review", "approve", "no-such-plan", "approved"], env),
      runToEnd(["review", "approve", "nope"], env)
    ])
    expect(refused.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2])
    expect(refused.map((r) => r.stderr.trim())).toEqual([
      `devmatrix: masterplan "${id}" has no atom "nope"`,
      `devmatrix: atom "sure" of masterplan "${id}" is not waiting for a review (it is completed)`,
      "devmatrix: devmatrix review reject needs --reason TEXT: why the atom's code is refused (it is journaled)",
      "devmatrix: devmatrix review edit needs --file F: the atom's code as the reviewer wants it",
      'devmatrix: no masterplan "no-such-plan"',
      `devmatrix: no unfinished masterplan in ${store.url} has an atom "nope" waiting for review (devmatrix review list shows those that do)`
    ])
    expect((await readJournal(store.file, id)).events.length).toBe(shown.length)

    const edit = join(mkdtempSync(join(tmpdir(), "devmatrix-edit-")), "edited.ts")
    writeFileSync(edit, "export const edited = 42\n")
    // The plan is found from the atom alone when only one waits on it.
    const approve = await runToEnd(["review", "approve", "approved", "--by", "ann"], env)
    expect(approve.code, approve.stderr).toBe(0)
    expect(approve.stderr).toContain(`atom approved of masterplan ${id}: approved by ann (journaled)`)
    expect(approve.stderr).toContain(`devmatrix resume ${id} --store ${store.url}`)
    const edited = await runToEnd(["review", "edit", id, "edited", "--file", edit, "--by", "bob"], env)
    expect(edited.code, edited.stderr).toBe(0)
    const rejected = await runToEnd(
      ["review", "reject", id, "rejected", "--reason", "not what was asked"],
      env
    )
    expect(rejected.code, rejected.stderr).toBe(0)
    const again = await runToEnd(["review", "reject", id, "approved", "--reason", "second thoughts"], env)
    expect(again.code).toBe(2)
    expect(again.stderr).toContain(`atom "approved" of masterplan "${id}" is reviewed already (approve)`)
    // Decided: nothing waits for a reviewer any more, the decisions wait for resume.
    const after = await runToEnd(["review", "list"], env)
    expect(after.stdout.trim()).toBe(`no atom waits for review in ${store.url}`)
    expect(after.stderr).toContain("3 decisions made already wait for devmatrix resume to apply them")

    const resumed = await runToEnd(["resume", id, "--json"], env)
    expect(resumed.code, resumed.stderr).toBe(1)
    const { events } = await readJournal(store.file, id)
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    expect(events.at(-1)?.type).toBe("masterplan.failed")
    expect(ofType(events, "atom.reviewed").map((e) => [e.atomId, e.decision, e.principal, e.reason])).toEqual(
      [
        ["approved", "approve", "ann", undefined],
        ["edited", "edit", "bob", undefined],
        // Without --by, the OS user decides.
        ["rejected", "reject", expect.any(String), "not what was asked"]
      ]
    )
    const ends = new Map(
      events.flatMap((e) =>
        e.type === "atom.completed" || e.type === "atom.failed" || e.type === "atom.skipped"
          ? [[e.atomId, e] as const]
          : []
      )
    )
    expect(ends.get("approved")).toMatchObject({ type: "atom.completed", acceptedBy: "review" })
    expect(ends.get("edited")).toMatchObject({ type: "atom.completed", acceptedBy: "review" })
    expect(ends.get("rejected")).toMatchObject({
      type: "atom.failed",
      reason: "rejected",
      error: "not what was asked"
    })
    expect(ends.get("after-approved")?.type).toBe("atom.completed")
    expect(ends.get("after-edited")?.type).toBe("atom.completed")
    expect(ends.get("after-rejected")).toMatchObject({ type: "atom.skipped", becauseOf: "rejected" })
    // No reviewed atom was called again: one call each, in the first run.
    const started = ofType(events, "atom.started")
    expect(
      started.filter((e) => ["approved", "edited", "rejected"].includes(e.atomId)).map((e) => e.attempt)
    ).toEqual([1, 1, 1])
    const rows = new Map((await atomRows(store.file, id)).map((row) => [row.atomId, row]))
    expect(rows.get("edited")?.code).toBe("export const edited = 42\n")
    expect(rows.get("approved")?.code).toContain("approved")
    expect(rows.get("rejected")?.status).toBe("failed")
  }, 60_000)

  it("a resume that still finds atoms undecided stops again for them (exit 6)", async () => {
    const store = tempSqliteStore("review-again")
    const env = { DEVMATRIX_STORE: store.url }
    const plan = writePlan(reviewPlan("review-again"))
    expect((await runToEnd(["run", plan, "--id", "again", "--latency-ms", "1"], env)).code).toBe(6)
    expect((await runToEnd(["review", "approve", "again", "approved"], env)).code).toBe(0)
    const resumed = await runToEnd(["resume", "again", "--json"], env)
    expect(resumed.code, resumed.stderr).toBe(6)
    expect(jsonEvents(resumed.stdout).at(-1)).toMatchObject({ type: "review.waiting", atoms: 2 })
    expect(resumed.stderr).toContain("masterplan again: 2 atoms wait for review")
  }, 60_000)
})

describe("devmatrix review through a host", () => {
  it("lists and approves over the host's API (--host, or DEVMATRIX_HOST and DEVMATRIX_TOKEN)", async () => {
    const host = await startHostProcess(["--store", "memory:"])
    const client = createClient({ url: host.url, token: testTokens.acmeOperator.token })
    try {
      const { masterplanId } = await client.submit(reviewPlan("review-host"), { masterplanId: "hosted" })
      // The host keeps the plan for its reviewers: it says when nothing else can run, and waits.
      const events: Array<Event> = []
      let waitingSeen: () => void = () => undefined
      const waiting = new Promise<void>((resolve) => (waitingSeen = resolve))
      const watching = (async () => {
        for await (const event of client.watch(masterplanId)) {
          events.push(event)
          if (event.type === "review.waiting") waitingSeen()
        }
      })()
      await Promise.race([
        waiting,
        watching.then(() => {
          throw new Error("the watch ended before the plan waited for review")
        })
      ])

      const token = ["--token", testTokens.acmeOperator.token]
      const list = await runToEnd(["review", "list", "--json", "--host", host.url, ...token])
      expect(list.code, list.stderr).toBe(0)
      expect((JSON.parse(list.stdout) as Array<{ atomId: string }>).map((item) => item.atomId)).toEqual([
        "approved",
        "edited",
        "rejected"
      ])
      const hostEnv = { DEVMATRIX_HOST: host.url, DEVMATRIX_TOKEN: testTokens.acmeOperator.token }
      const approve = await runToEnd(["review", "approve", "approved"], hostEnv)
      expect(approve.code, approve.stderr).toBe(0)
      expect(approve.stderr).toContain(`atom approved of masterplan ${masterplanId}: approved on ${host.url}`)
      const edit = join(mkdtempSync(join(tmpdir(), "devmatrix-edit-")), "edited.ts")
      writeFileSync(edit, "export const edited = 7\n")
      expect((await runToEnd(["review", "edit", masterplanId, "edited", "--file", edit], hostEnv)).code).toBe(
        0
      )
      const reject = await runToEnd(["review", "reject", masterplanId, "rejected", "--reason", "no"], hostEnv)
      expect(reject.code, reject.stderr).toBe(0)
      // Refusals keep the store's exit codes: an atom not in review, a viewer's token, a bad token.
      const refused = await Promise.all([
        runToEnd(["review", "approve", masterplanId, "sure"], hostEnv),
        runToEnd(["review", "approve", masterplanId, "nope"], hostEnv),
        runToEnd(["review", "approve", masterplanId, "approved"], {
          ...hostEnv,
          DEVMATRIX_TOKEN: testTokens.acmeViewer.token
        }),
        runToEnd(["review", "approve", masterplanId, "approved", "--by", "ann"], hostEnv)
      ])
      expect(refused.map((r) => r.code)).toEqual([2, 2, 2, 2])
      expect(refused[0].stderr).toContain(
        `atom "sure" of "${masterplanId}" is not waiting for review (it is completed)`
      )
      expect(refused[1].stderr).toContain(`masterplan "${masterplanId}" has no atom "nope"`)
      expect(refused[2].stderr).toContain("a viewer may not approve")
      expect(refused[3].stderr).toContain("--by is for a review in the store")
      await watching
      expect(events.at(-1)?.type).toBe("masterplan.failed")
      expect(isTerminalEvent(events.at(-1)!)).toBe(true)
      // Journaled with the token's principal.
      expect(ofType(events, "atom.reviewed").map((e) => [e.atomId, e.decision, e.principal])).toEqual([
        ["approved", "approve", "alice@acme"],
        ["edited", "edit", "alice@acme"],
        ["rejected", "reject", "alice@acme"]
      ])
      expect(ofType(events, "atom.completed").find((e) => e.atomId === "after-approved")).toBeDefined()
    } finally {
      await client.close()
      host.child.kill("SIGTERM")
      await host.exited
    }
  }, 60_000)
})
