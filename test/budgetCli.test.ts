import type { Event } from "@devmatrix/core"
import { startFakeAnthropic } from "@devmatrix/host"
import type { FakeAnthropic } from "@devmatrix/host"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  billedCostUsd,
  billedPerAtom,
  billedNanos,
  independentAtoms,
  jsonEvents,
  readJournal,
  runToEnd,
  startDevmatrix,
  stillRunning,
  tempSqliteStore,
  writePlan
} from "./fakeProviderCli.js"

// `devmatrix` as a user runs it against a Messages API (the local one, through the real SDK):
// a hard budget stops new calls and exits 3, `budget` + `resume` finish the plan without paying
// again for what was done, also after a kill -9 with reservations out; bad model settings exit 2;
// a refused key stops the plan after a handful of requests.

const model = "claude-haiku-5-5"
const apiKey = "sk-test-budget-cli"

/**
 * What one call of these plans reserves (`max_tokens` of output dominates it) is about $0.00107 at
 * Haiku 5.5's prices, and what it costs about $0.00003: a hard limit a little above one
 * reservation lets a few calls through, one at a time, then refuses the next.
 */
const oneReservationAndAFewCallsUsd = 0.0012

let server: FakeAnthropic

beforeAll(async () => {
  server = await startFakeAnthropic({ apiKey, latencyMs: { min: 5, max: 30 }, seed: 5 })
})
afterAll(() => server.close())
afterEach(() => {
  expect(stillRunning(), "a devmatrix process outlived its test").toEqual([])
})

const claudeEnv = (store: string, url = server.url) => ({
  DEVMATRIX_STORE: store,
  ANTHROPIC_BASE_URL: url,
  ANTHROPIC_API_KEY: apiKey
})

const ofType = <T extends Event["type"]>(events: ReadonlyArray<Event>, type: T) =>
  events.filter((e): e is Extract<Event, { type: T }> => e.type === type)

const completedAtoms = (events: ReadonlyArray<Event>) =>
  new Set(ofType(events, "atom.completed").map((e) => e.atomId))

const nanos = (usd: number) => Math.round(usd * 1e9)

describe("devmatrix run --budget against the local Messages API", () => {
  it("stops starting calls at the hard limit (exit 3); budget + resume finish it, paying once per atom", async () => {
    const store = tempSqliteStore("budget")
    const id = "budget-stop"
    const atoms = 12
    const plan = writePlan(independentAtoms("budget", atoms, { concurrency: 1, retry: { initialMs: 50 } }))
    const env = claudeEnv(store.url)

    const run = await runToEnd(
      [
        "run",
        plan,
        "--id",
        id,
        "--json",
        "--model",
        model,
        "--budget",
        String(oneReservationAndAFewCallsUsd)
      ],
      env
    )
    expect(run.code, run.stderr).toBe(3)
    expect(run.stderr).toContain(`devmatrix budget ${id} --hard USD`)
    expect(run.stderr).toContain(`devmatrix resume ${id}`)

    const paused = await readJournal(store.file, id)
    const limit = ofType(paused.events, "cost.hard_limit")
    expect(limit).toHaveLength(1)
    expect(limit[0]!.limitUsd).toBe(oneReservationAndAFewCallsUsd)
    expect(ofType(paused.events, "masterplan.paused").map((e) => e.by)).toEqual(["budget"])
    const doneBeforePause = completedAtoms(paused.events)
    expect(doneBeforePause.size).toBeGreaterThan(0)
    expect(doneBeforePause.size).toBeLessThan(atoms)
    // No call started after the refusal: every start before it, and every start paid.
    const limitSeq = limit[0]!.seq
    expect(ofType(paused.events, "atom.started").every((e) => e.seq < limitSeq)).toBe(true)
    expect(server.billed().filter((call) => call.callId?.startsWith(`${id}/`))).toHaveLength(
      doneBeforePause.size
    )
    // Committed spend is under the limit, and is exactly what the server billed.
    const committedNanos = paused.costs.reduce((sum, cost) => sum + nanos(cost.costUsd), 0)
    expect(committedNanos).toBeGreaterThan(0)
    expect(committedNanos).toBeLessThanOrEqual(nanos(oneReservationAndAFewCallsUsd))
    expect(billedNanos(server, id)).toBe(committedNanos)

    const raised = await runToEnd(["budget", id, "--hard", "1"], env)
    expect(raised.code, raised.stderr).toBe(0)
    const afterRaise = await readJournal(store.file, id)
    expect(ofType(afterRaise.events, "budget.raised").map((e) => [e.previousHardUsd, e.hardUsd])).toEqual([
      [oneReservationAndAFewCallsUsd, 1]
    ])

    // The resumed run's first call fails with a 500 (not billed) and is retried under a new attempt.
    server.inject({ kind: "server_error", status: 500 })
    const resumed = await runToEnd(["resume", id, "--json"], env)
    expect(resumed.code, resumed.stderr).toBe(0)
    const end = await readJournal(store.file, id)
    expect(end.events.at(-1)?.type).toBe("masterplan.completed")
    expect(end.events.map((e) => e.seq)).toEqual(end.events.map((_, i) => i + 1))
    const failedCalls = server
      .requests()
      .filter((request) => request.callId?.startsWith(`${id}/`) === true && request.status === 500)
    expect(failedCalls).toHaveLength(1)
    const [, retriedAtom, failedAttempt] = failedCalls[0]!.callId!.split("/")
    expect(doneBeforePause.has(retriedAtom!)).toBe(false)
    expect(
      billedPerAtom(server, id)
        .get(retriedAtom!)
        ?.map((call) => call.callId)
    ).toEqual([`${id}/${retriedAtom}/${Number(failedAttempt) + 1}`])
    expect(completedAtoms(end.events).size).toBe(atoms)
    // The server's log: each atom billed exactly once (no completed atom was called again, and the
    // failed attempt was not billed).
    const perAtom = billedPerAtom(server, id)
    expect(perAtom.size).toBe(atoms)
    expect([...perAtom.values()].every((calls) => calls.length === 1)).toBe(true)
    expect(billedNanos(server, id)).toBe(end.costs.reduce((sum, cost) => sum + nanos(cost.costUsd), 0))
  }, 60_000)

  it("after a kill -9 with calls in flight, budget + resume complete it: the dead process's reservations do not count", async () => {
    const store = tempSqliteStore("budget-kill")
    const id = "budget-kill"
    const atoms = 16
    const concurrency = 4
    // Room for the 4 concurrent reservations (~$0.00428) and a few calls' spend; after the kill the
    // limit is raised by less than one reservation: a resume that still counted any reservation of
    // the dead process could not admit its 4 calls, and would pause on budget again (exit 3).
    const firstLimitUsd = 0.0046
    const raisedLimitUsd = 0.0047
    // Calls that take a while, so that some are in flight whenever the process is killed.
    const slow = await startFakeAnthropic({ apiKey, latencyMs: { min: 150, max: 350 }, seed: 5 })
    try {
      const plan = writePlan(independentAtoms("budget-kill", atoms, { concurrency }))
      const env = claudeEnv(store.url, slow.url)

      const run = startDevmatrix(
        ["run", plan, "--id", id, "--json", "--model", model, "--budget", String(firstLimitUsd)],
        env
      )
      // Killed once an atom is done and others are in flight (started, not ended): their reservations
      // are out when the process dies.
      await run.waitForStdout((stdout) => {
        const events = jsonEvents(stdout)
        const started = ofType(events, "atom.started").length
        const ended = ofType(events, "atom.completed").length + ofType(events, "atom.failed").length
        return ended >= 1 && started - ended >= 2
      })
      run.child.kill("SIGKILL")
      expect(await run.exited).toBeNull()

      const killed = await readJournal(store.file, id)
      const doneBeforeKill = completedAtoms(killed.events)
      expect(doneBeforeKill.size).toBeGreaterThan(0)
      expect(doneBeforeKill.size).toBeLessThan(atoms)
      expect(ofType(killed.events, "cost.hard_limit")).toEqual([])

      const raised = await runToEnd(["budget", id, "--hard", String(raisedLimitUsd)], env)
      expect(raised.code, raised.stderr).toBe(0)
      const resumed = await runToEnd(["resume", id, "--json"], env)
      expect(resumed.code, resumed.stderr).toBe(0)

      const end = await readJournal(store.file, id)
      expect(end.events.at(-1)?.type).toBe("masterplan.completed")
      expect(ofType(end.events, "cost.hard_limit")).toEqual([])
      expect(completedAtoms(end.events).size).toBe(atoms)
      const committedNanos = end.costs.reduce((sum, cost) => sum + nanos(cost.costUsd), 0)
      expect(committedNanos).toBeLessThanOrEqual(nanos(raisedLimitUsd))
      // The server's log: an atom completed before the kill was never called again; only the calls in
      // flight at the kill may have been paid twice (their answers died with the process).
      const billed = slow.billed().filter((call) => call.callId?.startsWith(`${id}/`))
      const perAtom = billedPerAtom(slow, id)
      expect(perAtom.size).toBe(atoms)
      for (const atomId of doneBeforeKill) expect(perAtom.get(atomId), atomId).toHaveLength(1)
      // Every committed cost is a call the server billed, at the price of what it billed.
      for (const cost of end.costs) {
        const calls = billed.filter((call) => call.callId === `${id}/${cost.atomId}/${cost.attempt}`)
        expect(calls.length, `${cost.atomId}#${cost.attempt}`).toBeGreaterThan(0)
        expect(calls.map((call) => nanos(billedCostUsd(call)))).toContain(nanos(cost.costUsd))
      }
    } finally {
      await slow.close()
    }
  }, 60_000)
})

describe("devmatrix run: which model, and what it needs", () => {
  const plan = writePlan(independentAtoms("models", 2))

  it("an unknown --model exits 2 naming the models it knows", async () => {
    const run = await runToEnd(["run", plan, "--model", "nope", "--store", "memory:"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('"nope"')
    for (const known of ["claude-haiku-5-5", "claude-sonnet-5-5", "scripted"])
      expect(run.stderr).toContain(known)
    expect(run.stdout).toBe("")
  })

  it("a Claude model without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL exits 2 saying what to set", async () => {
    const run = await runToEnd(["run", plan, "--model", model, "--store", "memory:"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("ANTHROPIC_API_KEY")
    expect(run.stderr).toContain("ANTHROPIC_BASE_URL")
    expect(run.stdout).toBe("")
  })

  it("without a key the README's main job runs offline on the scripted model, and says so once", async () => {
    const store = tempSqliteStore("offline")
    const run = await runToEnd(["run", "examples/plans/todo-api.json", "--json", "--store", store.url])
    expect(run.code, run.stderr).toBe(0)
    const notice = "no ANTHROPIC_API_KEY: using the offline scripted model"
    expect(run.stderr.split(notice).length - 1).toBe(1)
    const events = jsonEvents(run.stdout)
    expect(ofType(events, "masterplan.submitted").map((e) => e.model)).toEqual(["scripted"])
    expect(events.at(-1)?.type).toBe("masterplan.completed")
  }, 60_000)
})

describe("devmatrix run with a key the Messages API refuses", () => {
  it("exits 1 with one line naming authentication, after a handful of requests, not one per atom", async () => {
    const store = tempSqliteStore("auth")
    const id = "auth-refused"
    const atoms = 60
    const plan = writePlan(independentAtoms("auth", atoms, { concurrency: 4 }))
    const before = server.requests().length
    const run = await runToEnd(["run", plan, "--id", id, "--model", model], {
      ...claudeEnv(store.url),
      ANTHROPIC_API_KEY: "sk-wrong"
    })
    expect(run.code, run.stderr).toBe(1)
    const lines = run.stderr.split("\n").filter((line) => /authenticat/i.test(line))
    expect(lines, run.stderr).toHaveLength(1)
    const requests = server.requests().slice(before)
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.length).toBeLessThanOrEqual(8)
    expect(requests.every((request) => request.status === 401)).toBe(true)
    expect(server.billed().filter((call) => call.callId?.startsWith(`${id}/`))).toEqual([])
  }, 60_000)
})
