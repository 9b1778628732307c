import type { Event } from "@devmatrix/core"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { HostProcess, RawClient } from "./hostProcess.js"
import { chainedPlan, rawClient, resultOf, startHostProcess, testTokens } from "./hostProcess.js"
import { parseMetrics, samplesBy } from "./prometheusText.js"

// A real `devmatrix host` process on SQLite, spoken to over real sockets, frame by frame.

let host: HostProcess
const clients: Array<RawClient> = []

const connect = async (token: string) => {
  const client = await rawClient(host.wsUrl)
  clients.push(client)
  const hello = await client.request({ type: "hello", id: "hello", token })
  expect(hello.type).toBe("ack")
  return client
}

let nextId = 0
const command = (client: RawClient, frame: Record<string, unknown> & { readonly type: string }) =>
  client.request({ ...frame, id: `c${++nextId}` } as never)

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-host-test-"))
  host = await startHostProcess(["--store", `sqlite:${join(dir, "host.db")}`])
}, 90_000)

afterAll(async () => {
  for (const client of clients) client.close()
  host.child.kill("SIGTERM")
  await host.exited
})

describe("devmatrix host", () => {
  it("answers health, readiness and metrics over HTTP on the WebSocket's port", async () => {
    expect((await fetch(`${host.url}/healthz`)).status).toBe(200)
    expect(await (await fetch(`${host.url}/readyz`)).text()).toBe("ready\n")
    const metrics = await fetch(`${host.url}/metrics`)
    expect(metrics.headers.get("content-type")).toContain("text/plain")
    expect(await metrics.text()).toContain("# TYPE devmatrix_events_total counter")
    expect((await fetch(`${host.url}/nope`)).status).toBe(404)
  })

  it("refuses a bad bearer token at upgrade, a bad hello, and any command before hello", async () => {
    await expect(rawClient(host.wsUrl, "not-a-token-of-this-host")).rejects.toThrow("401")
    const anonymous = await rawClient(host.wsUrl)
    clients.push(anonymous)
    const early = await command(anonymous, { type: "list" })
    expect(early).toMatchObject({ type: "error", code: "unauthenticated" })
    const bad = await command(anonymous, { type: "hello", token: "guess-guess-guess-guess" })
    expect(bad).toMatchObject({ type: "error", code: "unauthenticated" })
    expect((await anonymous.closed).code).toBe(4401)
    // A good bearer token at upgrade needs no hello.
    const bearer = await rawClient(host.wsUrl, testTokens.acmeViewer.token)
    clients.push(bearer)
    const listed = resultOf(await command(bearer, { type: "list" })) as { masterplans: unknown }
    expect(Array.isArray(listed.masterplans)).toBe(true)
  })

  it("submits a plan, streams its whole journal to a watcher, and shows it in list and get", async () => {
    const operator = await connect(testTokens.acmeOperator.token)
    const submitted = resultOf(
      await command(operator, { type: "submit", plan: chainedPlan("streamed", 40), masterplanId: "streamed" })
    )
    expect(submitted).toEqual({ masterplanId: "acme/streamed" })
    const watch = resultOf(
      await command(operator, { type: "watch", masterplanId: "acme/streamed", fromSeq: 1 })
    )
    expect(watch).toMatchObject({ masterplanId: "acme/streamed", fromSeq: 1, ended: false })
    const live = await operator.eventsUntilEnd("acme/streamed")
    expect(live.map((e) => e.seq)).toEqual(live.map((_, i) => i + 1))
    expect(live.at(-1)!.type).toBe("masterplan.completed")
    expect(live[0]).toMatchObject({ type: "masterplan.submitted", tenant: "acme", principal: "alice@acme" })

    // A second watcher after the end replays the same journal, event for event.
    const viewer = await connect(testTokens.acmeViewer.token)
    await command(viewer, { type: "watch", masterplanId: "acme/streamed", fromSeq: 1 })
    expect(await viewer.eventsUntilEnd("acme/streamed")).toEqual(live)
    // From the middle: the rest only.
    const late = await connect(testTokens.acmeViewer.token)
    await command(late, { type: "watch", masterplanId: "acme/streamed", fromSeq: 100 })
    expect(await late.eventsUntilEnd("acme/streamed")).toEqual(live.slice(99))
    // Past the end of an ended plan: acked as ended, nothing follows.
    const past = resultOf(
      await command(late, { type: "watch", masterplanId: "acme/streamed", fromSeq: live.length + 1 })
    )
    expect(past).toMatchObject({ ended: true, lastSeq: live.length })

    const listed = resultOf(await command(viewer, { type: "list" })) as {
      masterplans: Array<{ masterplanId: string }>
    }
    expect(listed.masterplans.map((p) => p.masterplanId)).toContain("acme/streamed")
    const got = resultOf(await command(viewer, { type: "get", masterplanId: "acme/streamed" }))
    expect(got).toMatchObject({
      status: "completed",
      atoms: { completed: 40 },
      summary: { outcome: "completed" }
    })
  })

  it("lets a viewer watch but not submit, act on or review a plan", async () => {
    const viewer = await connect(testTokens.acmeViewer.token)
    for (const frame of [
      { type: "submit", plan: chainedPlan("nope", 1) },
      { type: "cancel", masterplanId: "acme/streamed" },
      { type: "pause", masterplanId: "acme/streamed" },
      { type: "raiseBudget", masterplanId: "acme/streamed", hardUsd: 10 },
      { type: "approve", masterplanId: "acme/streamed", atomId: "a1" }
    ])
      expect(await command(viewer, frame)).toMatchObject({ type: "error", code: "forbidden" })
  })

  it("never shows a tenant another tenant's plans: the refusal is byte for byte that of a missing plan", async () => {
    const globex = await connect(testTokens.globexOperator.token)
    const acme = await connect(testTokens.acmeOperator.token)
    const probes = ["get", "watch", "cancel", "pause", "reviewList"].map((type) => ({
      type,
      id: `probe-${type}`,
      masterplanId: "acme/secret"
    }))
    const before = await Promise.all(probes.map((frame) => globex.request(frame as never)))
    resultOf(await command(acme, { type: "submit", plan: chainedPlan("secret", 8), masterplanId: "secret" }))
    const after = await Promise.all(probes.map((frame) => globex.request(frame as never)))
    expect(after).toEqual(before)
    for (const reply of after) expect(reply).toMatchObject({ type: "error", code: "not_found" })
    const listed = resultOf(await command(globex, { type: "list" })) as {
      masterplans: ReadonlyArray<unknown>
    }
    expect(listed.masterplans).toEqual([])
    // The same client id in another tenant is another plan.
    expect(
      resultOf(
        await command(globex, { type: "submit", plan: chainedPlan("secret", 2), masterplanId: "secret" })
      )
    ).toEqual({
      masterplanId: "globex/secret"
    })
  })

  it("journals who paused, resumed and cancelled, and refuses what does not fit the plan's state", async () => {
    const operator = await connect(testTokens.acmeOperator.token)
    await command(operator, { type: "submit", plan: chainedPlan("audited", 400), masterplanId: "audited" })
    await command(operator, { type: "watch", masterplanId: "acme/audited", fromSeq: 1 })
    expect(await command(operator, { type: "resume", masterplanId: "acme/audited" })).toMatchObject({
      code: "conflict"
    })
    resultOf(await command(operator, { type: "pause", masterplanId: "acme/audited", reason: "lunch" }))
    const admin = await connect(testTokens.acmeAdmin.token)
    // The pause is committed before the store says so: wait for it, then resume.
    await waitFor(
      async () =>
        (resultOf(await command(admin, { type: "get", masterplanId: "acme/audited" })) as { status: string })
          .status === "paused"
    )
    resultOf(await command(admin, { type: "resume", masterplanId: "acme/audited" }))
    resultOf(await command(operator, { type: "cancel", masterplanId: "acme/audited", reason: "enough" }))
    const events = await operator.eventsUntilEnd("acme/audited")
    expect(events.find((e) => e.type === "masterplan.paused")).toMatchObject({
      principal: "alice@acme",
      reason: "lunch"
    })
    expect(events.find((e) => e.type === "masterplan.resumed")).toMatchObject({ principal: "ada@acme" })
    expect(events.at(-1)).toMatchObject({
      type: "masterplan.cancelled",
      principal: "alice@acme",
      reason: "enough"
    })
    expect(await command(operator, { type: "cancel", masterplanId: "acme/audited" })).toMatchObject({
      code: "conflict"
    })
  })

  it("reviews: approve, edit and reject, each journaled with the reviewer; the dependents then run", async () => {
    const operator = await connect(testTokens.acmeOperator.token)
    const plan = {
      name: "reviewed",
      atoms: [
        { id: "ok", instruction: "an atom sure of itself" },
        ...["approved", "edited", "rejected"].map((id) => ({
          id,
          instruction: `an atom for a reviewer: ${id}`,
          simulate: { confidence: 0.5 }
        })),
        { id: "after-approved", instruction: "depends on the approved one", dependsOn: ["approved"] },
        { id: "after-rejected", instruction: "depends on the rejected one", dependsOn: ["rejected"] }
      ]
    }
    await command(operator, { type: "submit", plan, masterplanId: "reviewed" })
    await command(operator, { type: "watch", masterplanId: "acme/reviewed", fromSeq: 1 })
    await waitFor(async () => {
      const list = resultOf(
        await command(operator, { type: "reviewList", masterplanId: "acme/reviewed" })
      ) as {
        atoms: ReadonlyArray<{ atomId: string; code: string }>
      }
      return list.atoms.length === 3 && list.atoms.every((atom) => atom.code !== "")
    })
    resultOf(await command(operator, { type: "approve", masterplanId: "acme/reviewed", atomId: "approved" }))
    resultOf(
      await command(operator, {
        type: "edit",
        masterplanId: "acme/reviewed",
        atomId: "edited",
        code: "export const edited = 1"
      })
    )
    resultOf(
      await command(operator, {
        type: "reject",
        masterplanId: "acme/reviewed",
        atomId: "rejected",
        reason: "wrong"
      })
    )
    expect(
      await command(operator, { type: "approve", masterplanId: "acme/reviewed", atomId: "approved" })
    ).toMatchObject({
      code: "conflict"
    })
    const events = await operator.eventsUntilEnd("acme/reviewed")
    const reviewed = events.filter((e) => e.type === "atom.reviewed")
    expect(reviewed.map((e) => [e.atomId, e.decision, e.principal])).toEqual([
      ["approved", "approve", "alice@acme"],
      ["edited", "edit", "alice@acme"],
      ["rejected", "reject", "alice@acme"]
    ])
    const ended = (id: string) =>
      events.find((e) => "atomId" in e && e.atomId === id && e.type !== "atom.reviewed" && isAtomEnd(e))
    expect(ended("after-approved")?.type).toBe("atom.completed")
    expect(ended("after-rejected")?.type).toBe("atom.skipped")
    expect(events.at(-1)!.type).toBe("masterplan.failed")
  })

  it("pauses a plan on its budget, and a raised budget lets it finish", async () => {
    const operator = await connect(testTokens.acmeOperator.token)
    await command(operator, {
      type: "submit",
      plan: { ...chainedPlan("budgeted", 30), budget: { hardUsd: 0.004 } },
      masterplanId: "budgeted"
    })
    await command(operator, { type: "watch", masterplanId: "acme/budgeted", fromSeq: 1 })
    await waitFor(
      async () =>
        (
          resultOf(await command(operator, { type: "get", masterplanId: "acme/budgeted" })) as {
            status: string
          }
        ).status === "paused"
    )
    expect(
      resultOf(await command(operator, { type: "raiseBudget", masterplanId: "acme/budgeted", hardUsd: 5 }))
    ).toEqual({
      hardUsd: 5,
      softUsd: 4
    })
    resultOf(await command(operator, { type: "resume", masterplanId: "acme/budgeted" }))
    const events = await operator.eventsUntilEnd("acme/budgeted")
    expect(events.find((e) => e.type === "cost.hard_limit")).toBeDefined()
    expect(events.find((e) => e.type === "budget.raised")).toMatchObject({
      hardUsd: 5,
      principal: "alice@acme"
    })
    expect(events.at(-1)!.type).toBe("masterplan.completed")
  })

  it("answers frames that are not commands with an error naming the problem, and stays up", async () => {
    const client = await connect(testTokens.acmeOperator.token)
    client.send(new Uint8Array([0xc1]))
    client.send({ type: "frobnicate", id: "x1" } as never)
    client.send({ type: "watch", id: "x2", masterplanId: "acme/streamed", fromSeq: -3 } as never)
    client.send({
      type: "submit",
      id: "x3",
      plan: { name: "cyclic", atoms: [{ id: "a", instruction: "a", dependsOn: ["a"] }] }
    } as never)
    await waitFor(() => Promise.resolve(client.received.filter((r) => r.type === "error").length >= 4))
    const errors = client.received.filter((r) => r.type === "error")
    expect(errors.map((e) => e.code)).toEqual([
      "bad_frame",
      "unknown_command",
      "invalid_command",
      "invalid_command"
    ])
    expect(errors[2]!.message).toContain("watch.fromSeq")
    expect(errors[2]).toMatchObject({ id: "x2" })
    expect(resultOf(await command(client, { type: "list" }))).toBeDefined()
  })

  it("counts in /metrics what the journals hold", async () => {
    const viewer = await connect(testTokens.acmeViewer.token)
    const listed = resultOf(await command(viewer, { type: "list" })) as {
      masterplans: Array<{ masterplanId: string; status: string }>
    }
    const ended = listed.masterplans.filter((p) => ["completed", "failed", "cancelled"].includes(p.status))
    await waitFor(async () => {
      const all = resultOf(await command(viewer, { type: "list" })) as {
        masterplans: Array<{ status: string }>
      }
      return all.masterplans.every((p) => ["completed", "failed", "cancelled"].includes(p.status))
    })
    const journals = await Promise.all(
      listed.masterplans.map(async ({ masterplanId }) => {
        const client = await connect(testTokens.acmeViewer.token)
        await command(client, { type: "watch", masterplanId, fromSeq: 1 })
        return client.eventsUntilEnd(masterplanId)
      })
    )
    expect(ended.length).toBeGreaterThan(0)
    const all = journals.flat()
    const families = parseMetrics(await (await fetch(`${host.url}/metrics`)).text())
    // globex's plans count too: the host's metrics are the host's, not a tenant's.
    const globex = await connect(testTokens.globexOperator.token)
    const theirs = resultOf(await command(globex, { type: "list" })) as {
      masterplans: Array<{ masterplanId: string }>
    }
    for (const { masterplanId } of theirs.masterplans) {
      await command(globex, { type: "watch", masterplanId, fromSeq: 1 })
      all.push(...(await globex.eventsUntilEnd(masterplanId)))
    }
    const tally = (pairs: ReadonlyArray<readonly [string, number]>) => {
      const sums = new Map<string, number>()
      for (const [key, n] of pairs) sums.set(key, (sums.get(key) ?? 0) + n)
      return sums
    }
    expect(samplesBy(families.get("devmatrix_events_total"), "type")).toEqual(
      tally(all.map((event) => [event.type, 1]))
    )
    const endedAs: Partial<Record<Event["type"], string>> = {
      "atom.completed": "completed",
      "atom.failed": "failed",
      "atom.skipped": "skipped",
      "atom.cancelled": "cancelled"
    }
    expect(samplesBy(families.get("devmatrix_atoms_total"), "status")).toEqual(
      tally(
        all.flatMap((event) =>
          endedAs[event.type] !== undefined ? [[endedAs[event.type]!, 1] as const] : []
        )
      )
    )
    expect(samplesBy(families.get("devmatrix_retries_total"), "reason")).toEqual(
      tally(all.flatMap((event) => (event.type === "atom.retrying" ? [[event.reason, 1] as const] : [])))
    )
    const costs = all.flatMap((event) => (event.type === "cost.updated" ? [event] : []))
    expect(costs.length).toBeGreaterThan(0)
    expect(samplesBy(families.get("devmatrix_tokens_total"), "kind")).toEqual(
      tally(
        costs.flatMap((cost) => [
          ["input", cost.inputTokens],
          ["output", cost.outputTokens],
          ["cache_write", cost.cacheWriteTokens ?? 0],
          ["cache_read", cost.cacheReadTokens ?? 0]
        ])
      )
    )
    const spend = samplesBy(families.get("devmatrix_spend_usd_total"), "").get("")!
    expect(spend).toBeCloseTo(
      costs.reduce((sum, cost) => sum + cost.costUsd, 0),
      9
    )
    // One observation per call that ended (answered, failed, pushed back): a call a cancel cut
    // short has no duration, and an answer from the cache was no call.
    const callEnds = new Set([
      "atom.completed",
      "atom.failed",
      "atom.retrying",
      "atom.throttled",
      "atom.review",
      "atom.interrupted"
    ])
    const underWay = new Set<string>()
    let endedCalls = 0
    for (const event of all) {
      if (!("atomId" in event) || event.atomId === undefined) continue
      const key = `${event.masterplanId}/${event.atomId}`
      if (event.type === "atom.started") underWay.add(key)
      else if ((callEnds.has(event.type) || event.type === "atom.cancelled") && underWay.delete(key))
        endedCalls += event.type === "atom.cancelled" ? 0 : 1
    }
    const calls = families.get("devmatrix_model_call_duration_seconds")!
    expect(calls.type).toBe("HISTOGRAM")
    expect(endedCalls).toBeGreaterThan(0)
    // The `+Inf` bucket counts every observation (this parser folds a labelled histogram's series
    // into one family sample, the buckets kept: here every plan has the one scripted model).
    expect(calls.metrics.reduce((sum, metric) => sum + Number(metric.buckets?.["+Inf"]), 0)).toBe(endedCalls)
    expect(families.get("devmatrix_connected_clients")?.type).toBe("GAUGE")
  })
})

const isAtomEnd = (event: Event) =>
  event.type === "atom.completed" || event.type === "atom.failed" || event.type === "atom.skipped"

/** Polls `check` every 50 ms until it holds (the test's own timeout bounds it). */
const waitFor = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50))
}
