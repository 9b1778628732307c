import { encodeFrame, type Command, type Event } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MemoryJournal, planEvents, startProtocolServer } from "./protocolServer.js"
import { collect, failure, sdkHarness } from "./sdkHarness.js"

// Reconnects: a watch resumes from the last seq its consumer saw, whatever cuts the connection
// and whenever; commands wait for the next connection, or say that they may have taken effect.

/** More runs: `DEVMATRIX_PROPERTY_RUNS=200 npx vitest run test/sdkReconnect.test.ts`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 12)

const { serve, connect } = sdkHarness({ initialDelayMs: 1, maxDelayMs: 20 })

const watchesOf = (commands: ReadonlyArray<Command>, masterplanId: string) =>
  commands.flatMap((c) =>
    c.type === "watch" && c.masterplanId === masterplanId
      ? [`watch ${c.fromSeq}`]
      : c.type === "unwatch" && c.masterplanId === masterplanId
        ? ["unwatch"]
        : []
  )

describe("the SDK client across reconnects", () => {
  it("property: with the connection killed at random moments of a long stream, the consumer sees exactly the journal, in order, once each", async () => {
    let killsFired = 0
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 600 }), // atoms: 2 events each, + 2
        fc.double({ min: 0, max: 1, noNaN: true }), // the share journaled before the watch
        fc.double({ min: 0, max: 1, noNaN: true }), // where the watch starts
        fc.uniqueArray(fc.integer({ min: 1, max: 1_200 }), { maxLength: 8 }), // kills, by event frame
        fc.integer({ min: 1, max: 64 }), // events appended per turn of the event loop
        async (atoms, journaledShare, startShare, kills, perTurn) => {
          const journal = planEvents("mp", atoms)
          const fromSeq = 1 + Math.floor(startShare * (journal.length - 1))
          const server = await startProtocolServer()
          const client = connect(server.url)
          try {
            const before = Math.floor(journaledShare * journal.length)
            for (const event of journal.slice(0, before)) server.journal.append(event)
            for (const kill of kills) server.killAtEventFrame(kill)
            const seen = collect(client.watch("mp", { fromSeq }))
            for (const [i, event] of journal.slice(before).entries()) {
              server.journal.append(event)
              if (i % perTurn === 0) await new Promise((resolve) => setImmediate(resolve))
            }
            const events = await seen
            expect(events.map((e) => e.seq)).toEqual(journal.slice(fromSeq - 1).map((e) => e.seq))
            expect(events).toEqual(journal.slice(fromSeq - 1))
            // Every kill that happened was a reconnect the watch came through, from where it was
            // (a kill at the terminal event's frame needs none if the event got through first).
            const fired = kills.filter((k) => k <= server.eventFramesSent()).length
            killsFired += fired
            const watches = watchesOf(server.commands, "mp")
            expect(watches.length).toBeGreaterThanOrEqual(Math.max(1, fired))
            expect(watches.length).toBeLessThanOrEqual(1 + fired)
            const starts = watches.map((w) => Number(w.slice("watch ".length)))
            expect(starts[0]).toBe(fromSeq)
            expect(starts).toEqual([...starts].sort((x, y) => x - y))
          } finally {
            await client.close()
            await server.close()
          }
        }
      ),
      { numRuns }
    )
    expect(killsFired).toBeGreaterThan(0)
  })

  it.each([
    [
      "a slow consumer (4408, after an slow_consumer error)",
      4408,
      { code: "slow_consumer", message: "send buffer full" }
    ],
    ["a host going away (1001)", 1001, undefined]
  ] as const)("after %s it watches again from the last seq seen + 1", async (_, code, error) => {
    const server = await serve()
    const journal = planEvents("mp", 10)
    for (const event of journal.slice(0, 9)) server.journal.append(event)
    const client = connect(server.url)
    const iterator = client.watch("mp")[Symbol.asyncIterator]()
    const seen: Array<Event> = []
    for (let i = 0; i < 9; i++) seen.push((await iterator.next()).value as Event)
    server.closeAll(code, "bye", error)
    await expect.poll(() => watchesOf(server.commands, "mp")).toEqual(["watch 1", "watch 10"])
    for (const event of journal.slice(9)) server.journal.append(event)
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) break
      seen.push(next.value)
    }
    expect(seen).toEqual(journal)
    expect(server.connections()).toBe(2)
  })

  it("a command made while the host is down waits for it, and a read-only one whose connection dropped is sent again", async () => {
    const journal = new MemoryJournal()
    journal.append(planEvents("mp", 1)[0]!)
    let gets = 0
    const first = await startProtocolServer({
      journal,
      // The first get is never answered: its connection drops first.
      handle: (command, { socket }) => {
        if (command.type !== "get" || gets++ > 0) return undefined
        socket.terminate()
        return "no reply"
      }
    })
    const client = connect(first.url)
    await client.ready()
    expect(await client.get("mp")).toMatchObject({ masterplanId: "mp" })
    const getIds = first.commands.filter((c) => c.type === "get").map((c) => c.id)
    expect(getIds).toHaveLength(2)
    expect(new Set(getIds).size).toBe(1)

    await first.close()
    await expect.poll(() => client.state).toBe("reconnecting")
    const listing = client.list()
    const second = await serve({ journal, port: first.port })
    expect((await listing).masterplans.map((m) => m.masterplanId)).toEqual(["mp"])
    expect(second.commands.map((c) => c.type)).toEqual(["hello", "list"])
  })

  it("a command that changes something, whose connection dropped before its reply, rejects saying it may have taken effect, and is not sent again", async () => {
    const server = await serve({
      handle: (command, { socket }) => {
        if (command.type !== "cancel") return undefined
        socket.terminate()
        return "no reply"
      }
    })
    server.journal.append(planEvents("mp", 1)[0]!)
    const client = connect(server.url)
    const error = await failure(client.cancel("mp", { reason: "stop" }))
    expect(error).toMatchObject({
      code: "internal",
      reason: "disconnected",
      command: "cancel",
      outcomeUnknown: true
    })
    expect(error.message).toMatch(/may or may not have taken effect/)
    await client.get("mp")
    expect(server.commands.filter((c) => c.type === "cancel")).toHaveLength(1)
    expect(server.connections()).toBe(2)
  })

  it("gives up after reconnect.maxAttempts failed attempts in a row, and closes", async () => {
    const server = await serve()
    const client = connect(server.url, { reconnect: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } })
    await client.ready()
    const watching = failure(collect(client.watch("nothing-yet")))
    await server.close()
    expect(await watching).toMatchObject({ code: "internal", reason: "closed" })
    expect(client.state).toBe("closed")
    const error = await failure(client.list())
    expect(error.message).toMatch(/after 2 attempts to reconnect/)
  })
})

describe("the SDK client's watches", () => {
  it("breaking out of the loop sends unwatch", async () => {
    const server = await serve()
    // Not ended: a watch that has seen the terminal event is over, at the host too.
    for (const event of planEvents("mp", 5).slice(0, 6)) server.journal.append(event)
    const client = connect(server.url)
    for await (const event of client.watch("mp")) if (event.seq === 3) break
    await expect.poll(() => watchesOf(server.commands, "mp")).toEqual(["watch 1", "unwatch"])
  })

  it("consumers of the same plan share one host watch, started again from an earlier seq when one needs it", async () => {
    const server = await serve()
    const journal = planEvents("mp", 20)
    for (const event of journal.slice(0, 10)) server.journal.append(event)
    const client = connect(server.url)
    const a = client.watch("mp", { fromSeq: 5 })[Symbol.asyncIterator]()
    const seenByA: Array<Event> = []
    for (let i = 0; i < 6; i++) seenByA.push((await a.next()).value as Event)
    const later = collect(client.watch("mp", { fromSeq: 12 }))
    const fromStart = collect(client.watch("mp"))
    await expect.poll(() => watchesOf(server.commands, "mp")).toEqual(["watch 5", "unwatch", "watch 1"])
    for (const event of journal.slice(10)) server.journal.append(event)
    for (;;) {
      const next = await a.next()
      if (next.done === true) break
      seenByA.push(next.value)
    }
    expect(seenByA).toEqual(journal.slice(4))
    expect(await later).toEqual(journal.slice(11))
    expect(await fromStart).toEqual(journal)
  })

  it("a watch the host refuses throws its error from the loop", async () => {
    const server = await serve()
    const client = connect(server.url)
    expect(await failure(collect(client.watch("nope")))).toMatchObject({
      code: "not_found",
      reason: "rejected",
      command: "watch"
    })
  })

  it("a host that skips a seq fails the watch, naming the gap, after the events before it", async () => {
    const journal = planEvents("mp", 3)
    const server = await serve({
      handle: (command, { socket }) => {
        if (command.type !== "watch") return undefined
        socket.send(
          encodeFrame({ type: "ack", id: command.id, result: { masterplanId: "mp", fromSeq: 1, lastSeq: 8 } })
        )
        for (const event of [journal[0]!, journal[1]!, journal[3]!])
          socket.send(encodeFrame({ type: "event", masterplanId: "mp", event }))
        return "no reply"
      }
    })
    server.journal.append(journal[0]!)
    const client = connect(server.url)
    const seen: Array<number> = []
    const error = await failure(
      (async () => {
        for await (const event of client.watch("mp")) seen.push(event.seq)
      })()
    )
    expect(seen).toEqual([1, 2])
    expect(error).toMatchObject({ code: "internal", reason: "bad_reply" })
    expect(error.message).toContain("event 4")
    await expect.poll(() => watchesOf(server.commands, "mp")).toEqual(["watch 1", "unwatch"])
  })
})
