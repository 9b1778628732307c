import { CloseCode, isTerminalEvent } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { HostProcess, RawClient } from "./hostProcess.js"
import { chainedPlan, rawClient, resultOf, startHostProcess, submitAs, testTokens } from "./hostProcess.js"

// Watches that resume: from the last seq seen, across cut sockets and a host killed with -9.

const storeIn = () => `sqlite:${join(mkdtempSync(join(tmpdir(), "devmatrix-resume-")), "host.db")}`

/**
 * A consumer that watches a plan to its end however often its connection is lost: it reconnects
 * (to whatever host `url()` names now) and watches again from the last seq it saw + 1, keeping
 * every event it is handed.
 */
const resumingWatch = async (
  url: () => string,
  masterplanId: string,
  onConnection: (client: RawClient) => void
) => {
  const seen: Array<Event> = []
  let connections = 0
  for (;;) {
    const client = await rawClient(url(), testTokens.acmeViewer.token).catch(() => undefined)
    if (client === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      continue
    }
    connections += 1
    const fromSeq = (seen.at(-1)?.seq ?? 0) + 1
    client.socket.on("message", () => undefined)
    onConnection(client)
    const ack = await Promise.race([
      client.request({ type: "watch", id: "w", masterplanId, fromSeq }),
      client.closed.then(() => undefined)
    ])
    if (ack !== undefined && ack.type === "ack") {
      const ended = await client.eventsUntilEnd(masterplanId).then(
        (events) => events,
        () => undefined
      )
      // What this connection got, ended or cut: kept, then the watch goes on from after it.
      const got = client.received.flatMap((r) => (r.type === "event" ? [r.event] : []))
      seen.push(...got)
      if (ended !== undefined) {
        client.close()
        return { seen, connections }
      }
    }
    client.close()
  }
}

const expectTheJournal = (seen: ReadonlyArray<Event>, journal: ReadonlyArray<Event>) => {
  expect(seen.length).toBe(journal.length)
  expect(seen.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1))
  expect(seen).toEqual(journal)
}

/** The whole journal, read by a fresh watcher once the plan has ended. */
const journalOf = async (host: HostProcess, masterplanId: string) => {
  const client = await rawClient(host.wsUrl, testTokens.acmeViewer.token)
  await client.request({ type: "watch", id: "j", masterplanId, fromSeq: 1 })
  const events = await client.eventsUntilEnd(masterplanId)
  client.close()
  return events
}

describe("resumed watches", () => {
  it("a consumer whose socket is cut 20 times sees exactly the journal, in order, once each", async () => {
    const host = await startHostProcess(["--store", storeIn()])
    try {
      const operator = await rawClient(host.wsUrl, testTokens.acmeOperator.token)
      const masterplanId = await submitAs(
        operator,
        "cut",
        chainedPlan("cut", 2_000, { chains: 16, latencyMs: { min: 2, max: 10 } })
      )
      let cuts = 0
      const { seen, connections } = await resumingWatch(
        () => host.wsUrl,
        masterplanId,
        (client) => {
          if (cuts >= 20) return
          // Cut after a random number of this connection's frames, in its replay or in the live
          // feed: the socket dies, no close handshake. Counted in frames, not time, so that all 20
          // cuts come before the plan's end (20 x 300 frames is well short of its journal) however
          // fast the machine runs it.
          const cutAfter = 1 + Math.floor(Math.random() * 300)
          let frames = 0
          client.socket.on("message", () => {
            frames += 1
            if (frames !== cutAfter) return
            cuts += 1
            client.socket.terminate()
          })
        }
      )
      expect(cuts).toBe(20)
      expect(connections).toBeGreaterThan(20)
      expect(isTerminalEvent(seen.at(-1)!)).toBe(true)
      expectTheJournal(seen, await journalOf(host, masterplanId))
      operator.close()
    } finally {
      host.child.kill("SIGKILL")
      await host.exited
    }
  }, 240_000)

  it("a host killed with -9 mid-plan and started again finishes it, and the consumer's stream is whole", async () => {
    const store = storeIn()
    let host = await startHostProcess(["--store", store])
    let current = host.wsUrl
    const operator = await rawClient(host.wsUrl, testTokens.acmeOperator.token)
    const masterplanId = await submitAs(
      operator,
      "killed",
      chainedPlan("killed", 1_500, { chains: 16, latencyMs: { min: 2, max: 10 } })
    )
    let killed = false
    const watching = resumingWatch(
      () => current,
      masterplanId,
      (client) => {
        if (killed) return
        killed = true
        // Once the stream is well under way (300 frames in, of a journal of thousands: counted, not
        // timed, so that the plan is mid-way however fast the machine), the host dies at once;
        // another starts on its store.
        let frames = 0
        client.socket.on("message", () => {
          if (++frames !== 300) return
          host.child.kill("SIGKILL")
          void host.exited.then(async () => {
            host = await startHostProcess(["--store", store])
            current = host.wsUrl
          })
        })
      }
    )
    const { seen, connections } = await watching
    try {
      expect(connections).toBeGreaterThan(1)
      expect(host.stderr()).toContain("resumed 1 unfinished plan")
      expect(seen.at(-1)!.type).toBe("masterplan.completed")
      expect(seen.some((e) => e.type === "masterplan.resumed" && e.reason === "recovery")).toBe(true)
      expectTheJournal(seen, await journalOf(host, masterplanId))
    } finally {
      host.child.kill("SIGTERM")
      await host.exited
    }
  }, 240_000)

  it("SIGTERM: the host saves its plans, closes its clients with 1001 and exits 0; the next start finishes them", async () => {
    const store = storeIn()
    const host = await startHostProcess(["--store", store])
    const operator = await rawClient(host.wsUrl, testTokens.acmeOperator.token)
    const masterplanId = await submitAs(
      operator,
      "stopped",
      chainedPlan("stopped", 3_000, { chains: 16, latencyMs: { min: 2, max: 10 } })
    )
    // SIGTERM mid-plan: once 300 of its thousands of events have reached the watcher.
    const underWay = new Promise<void>((resolve) => {
      let frames = 0
      operator.socket.on("message", () => {
        if (++frames === 300) resolve()
      })
    })
    resultOf(await operator.request({ type: "watch", id: "w", masterplanId, fromSeq: 1 }))
    await underWay
    host.child.kill("SIGTERM")
    const closed = await operator.closed
    expect(closed.code).toBe(CloseCode.goingAway)
    expect(await host.exited).toBe(0)
    const again = await startHostProcess(["--store", store])
    try {
      const events = await journalOf(again, masterplanId)
      expect(again.stderr()).toContain("resumed 1 unfinished plan")
      expect(events.at(-1)!.type).toBe("masterplan.completed")
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    } finally {
      again.child.kill("SIGTERM")
      await again.exited
    }
  }, 240_000)
})
