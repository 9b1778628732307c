import { isTerminalEvent, type Event, type PlanInputEncoded } from "@devmatrix/core"
import { createClient, type DevMatrixClient } from "@devmatrix/sdk"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFaultProxy, type FaultProxy } from "./faultProxy.js"
import { startHostProcess, testTokens, type HostProcess } from "./hostProcess.js"
import { failure } from "./sdkHarness.js"

// The SDK against a real `devmatrix host` process over real sockets: the typed commands, roles and
// tenants as the host enforces them, and a watch whose link (a TCP proxy) is cut at random moments.

const planOf = (name: string, size: number): PlanInputEncoded => {
  const atom = (i: number) => ({
    id: `a${i}`,
    instruction: `write part ${i}`,
    dependsOn: i >= 8 ? [`a${i - 8}`] : []
  })
  return {
    name,
    options: { scripted: { latencyMs: { min: 1, max: 5 } } },
    atoms: [atom(0), ...Array.from({ length: size - 1 }, (_, i) => atom(i + 1))]
  }
}

let host: HostProcess
let proxy: FaultProxy
const clients: Array<DevMatrixClient> = []

beforeAll(async () => {
  host = await startHostProcess(["--store", "memory:"])
  proxy = await startFaultProxy({ host: "127.0.0.1", port: Number(new URL(host.url).port) })
})
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()))
  await proxy.close()
  host.child.kill("SIGTERM")
  await host.exited
})

const connect = (token: string, url = host.url) => {
  const client = createClient({ url, token, reconnect: { initialDelayMs: 5, maxDelayMs: 100 } })
  clients.push(client)
  return client
}

describe("the SDK against a real host", () => {
  it("runs a plan's commands with their typed results, as its token's tenant and role allow", async () => {
    const operator = connect(testTokens.acmeOperator.token)
    expect(await operator.ready()).toEqual({ principal: "alice@acme", tenant: "acme", role: "operator" })
    const { masterplanId } = await operator.submit(planOf("typed", 40), { masterplanId: "typed" })
    expect(masterplanId).toBe("acme/typed")
    const events: Array<Event> = []
    for await (const event of operator.watch(masterplanId)) events.push(event)
    expect(events.at(-1)?.type).toBe("masterplan.completed")
    // From past the end of an ended plan: the host says it has ended, and the watch ends empty.
    const after: Array<Event> = []
    for await (const event of operator.watch(masterplanId, { fromSeq: events.length + 1 })) after.push(event)
    expect(after).toEqual([])
    expect(await operator.get(masterplanId)).toMatchObject({
      masterplanId,
      status: "completed",
      atomCount: 40,
      atoms: { completed: 40 },
      lastSeq: events.length
    })
    expect((await operator.list()).masterplans.map((m) => m.masterplanId)).toContain(masterplanId)
    expect(await operator.reviewList(masterplanId)).toEqual({ atoms: [] })
    expect(await failure(operator.cancel(masterplanId))).toMatchObject({
      code: "conflict",
      command: "cancel"
    })

    const viewer = connect(testTokens.acmeViewer.token)
    expect(await failure(viewer.submit(planOf("nope", 1)))).toMatchObject({
      code: "forbidden",
      command: "submit"
    })
    expect((await viewer.get(masterplanId)).status).toBe("completed")
    const otherTenant = connect(testTokens.globexOperator.token)
    const hidden = await failure(otherTenant.get(masterplanId))
    const missing = await failure(otherTenant.get("acme/never-submitted"))
    expect(hidden).toMatchObject({ code: "not_found", reason: "rejected" })
    expect(hidden.message.replace(masterplanId, "ID")).toBe(
      missing.message.replace("acme/never-submitted", "ID")
    )

    const stranger = connect("not-a-token-of-this-host")
    expect(await failure(stranger.ready())).toMatchObject({ code: "unauthenticated" })
    expect(stranger.state).toBe("closed")
  })

  it("property: a watch whose link is cut at random moments sees the plan's journal, in order, once each", async () => {
    const operator = connect(testTokens.acmeOperator.token)
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 800 }), { minLength: 1, maxLength: 10 }),
        async (cuts) => {
          const { masterplanId } = await operator.submit(planOf(`cut-${run++}`, 150))
          const watcher = connect(testTokens.acmeViewer.token, `ws://127.0.0.1:${proxy.port}`)
          const cutAt = new Set(cuts)
          const accepted = proxy.accepted()
          const seen: Array<Event> = []
          for await (const event of watcher.watch(masterplanId)) {
            seen.push(event)
            if (cutAt.has(seen.length)) proxy.dropAll()
          }
          expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1))
          expect(isTerminalEvent(seen.at(-1)!)).toBe(true)
          // What a watch from the start on a link never cut sees: the journal.
          const journal: Array<Event> = []
          for await (const event of operator.watch(masterplanId)) journal.push(event)
          expect(seen).toEqual(journal)
          // The first cut before the end met an open connection, and the client came back on
          // another. (A later cut may fall while it waits to reconnect, and cut nothing.)
          if (cuts.some((c) => c < journal.length))
            await expect.poll(() => proxy.accepted() - accepted).toBeGreaterThanOrEqual(2)
          await watcher.close()
        }
      ),
      { numRuns: Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 3) }
    )
  })
})
