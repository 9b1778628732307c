import { CloseCode, encodeWireFrame, isTerminalEvent } from "@devmatrix/core"
import type { ConnectionLimits, HostHandle } from "@devmatrix/host"
import { startHost, tokenTable } from "@devmatrix/host"
import { embeddedLayer } from "@devmatrix/runtime"
import { Effect, Exit, Layer, Scope } from "effect"
import fc from "fast-check"
import { afterEach, describe, expect, it } from "vitest"
import type { RawClient } from "./hostProcess.js"
import { chainedPlan, rawClient, resultOf, testTokens } from "./hostProcess.js"
import { parseMetrics, samplesBy } from "./prometheusText.js"

// The host in this process (so the test sets its limits), on the embedded engine with the
// scripted model, spoken to over real sockets.

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 4)

interface InProcessHost {
  readonly handle: HostHandle
  readonly wsUrl: string
  readonly close: () => Promise<void>
}

const hosts: Array<InProcessHost> = []
const clients: Array<RawClient> = []

const startInProcess = async (limits: Partial<ConnectionLimits>): Promise<InProcessHost> => {
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function* () {
    const context = yield* Layer.buildWithScope(embeddedLayer({ store: "memory:" }), scope)
    return yield* startHost({
      port: 0,
      tokens: tokenTable(Object.values(testTokens)),
      limits,
      shutdownGraceMs: 0
    }).pipe(Effect.provide(context), Scope.extend(scope))
  })
  const handle = await Effect.runPromise(program)
  const host = {
    handle,
    wsUrl: `${handle.url.replace(/^http/, "ws")}/ws`,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
  hosts.push(host)
  return host
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  for (const host of hosts.splice(0)) await host.close()
})

const connect = async (host: InProcessHost) => {
  const client = await rawClient(host.wsUrl, testTokens.acmeOperator.token)
  clients.push(client)
  return client
}

const planOf = (name: string, size: number, latencyMs: number | { min: number; max: number }) =>
  chainedPlan(name, size, { chains: 8, latencyMs })

/** Submits a plan and watches it from the start on `client`; resolves with all its events. */
const runWatched = async (
  client: RawClient,
  name: string,
  size: number,
  latencyMs: number | { min: number; max: number }
) => {
  const { masterplanId } = resultOf(
    await client.request({
      type: "submit",
      id: `submit-${name}`,
      plan: planOf(name, size, latencyMs) as never,
      masterplanId: name
    })
  ) as { masterplanId: string }
  resultOf(await client.request({ type: "watch", id: `watch-${name}`, masterplanId, fromSeq: 1 }))
  return client.eventsUntilEnd(masterplanId)
}

const expectWhole = (events: ReadonlyArray<{ readonly seq: number; readonly type: string }>) => {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
  expect(isTerminalEvent(events.at(-1) as never)).toBe(true)
}

describe("host limits", () => {
  it("closes a consumer that never reads once its send buffer is full; the plan and other watchers go on", async () => {
    const host = await startInProcess({ maxSendBufferBytes: 64 * 1024 })
    const reader = await connect(host)
    const stalled = await connect(host)
    // Stops reading from its socket: the kernel's buffers fill, then the host's send buffer.
    const socket = (stalled.socket as unknown as { _socket: { pause: () => void } })._socket
    // About 42,000 events (7.6 MB): twice what the kernel holds for a socket that does not read
    // (a send buffer of at most 4 MB here, `tcp_wmem`, and the reader's small receive buffer),
    // now that the host writes a batch at a time (a write per frame filled it with less).
    const { masterplanId } = resultOf(
      await reader.request({
        type: "submit",
        id: "s",
        plan: planOf("big", 8_000, 0) as never,
        masterplanId: "big"
      })
    ) as { masterplanId: string }
    resultOf(await stalled.request({ type: "watch", id: "w", masterplanId, fromSeq: 1 }))
    socket.pause()
    resultOf(await reader.request({ type: "watch", id: "w", masterplanId, fromSeq: 1 }))
    const readerEvents = reader.eventsUntilEnd(masterplanId)
    // Once the host has dropped it, it reads again (before the host's 5 s for the close handshake
    // run out): it finds the reason it was closed for, then the close.
    const droppedConsumers = async () =>
      samplesBy(
        parseMetrics(await (await fetch(`${host.handle.url}/metrics`)).text()).get(
          "devmatrix_slow_consumers_dropped_total"
        ),
        ""
      ).get("")
    while ((await droppedConsumers()) !== 1)
      await new Promise((resolve) => setTimeout(resolve, 50))
    ;(socket as unknown as { resume: () => void }).resume()
    const closed = await stalled.closed
    expect(closed.code).toBe(CloseCode.slowConsumer)
    expect(closed.reason).toContain("slow consumer")
    expect(stalled.received.find((r) => r.type === "error")).toMatchObject({ code: "slow_consumer" })
    const events = await readerEvents
    expectWhole(events)
    expect(events.at(-1)!.type).toBe("masterplan.completed")
    expect(await droppedConsumers()).toBe(1)
  }, 120_000)

  it("answers thousands of hostile frames from several connections with errors or a clean close, and a good client's plan completes whole", async () => {
    const maxFrameBytes = 64 * 1024
    const host = await startInProcess({
      maxFrameBytes,
      commandsPerSecond: 2_000,
      commandBurst: 400,
      floodAfter: 300
    })
    const hostileFrame = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: "bytes", bytes })),
      fc
        .anything({ maxDepth: 3 })
        .map((value) => ({ kind: "shape", bytes: encodeWireFrame(value as never) })),
      fc.record({ type: fc.string({ maxLength: 12 }), id: fc.string({ maxLength: 8 }) }).map((value) => ({
        kind: "unknown",
        bytes: encodeWireFrame(value as never)
      })),
      fc.constantFrom("watch", "get", "cancel", "submit", "approve").map((type) => ({
        kind: "wrong fields",
        bytes: encodeWireFrame({ type, id: "w", masterplanId: 42, fromSeq: "x", plan: [] } as never)
      })),
      fc.integer({ min: 1, max: 3 }).map((times) => ({
        kind: "huge",
        bytes: new Uint8Array(maxFrameBytes * times + 1).fill(0xa0)
      }))
    )
    const rssBefore = process.memoryUsage().rss
    const good = await connect(host)
    const plan = runWatched(good, "good", 300, { min: 1, max: 5 })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(hostileFrame, { minLength: 50, maxLength: 400 }), { minLength: 3, maxLength: 5 }),
        async (connections) => {
          await Promise.all(
            connections.map(async (frames) => {
              const client = await rawClient(host.wsUrl, testTokens.acmeViewer.token)
              clients.push(client)
              for (const { bytes } of frames) client.send(bytes)
              // Every frame gets a reply, or the connection is closed with a reason.
              const outcome = await Promise.race([
                client.closed.then((closed) => ({ closed })),
                waitUntil(() => client.received.length >= frames.length).then(() => ({ closed: undefined }))
              ])
              if (outcome.closed !== undefined) {
                // 1009 is its own reason (RFC 6455: a message too big to process); ws sends no text with it.
                expect([CloseCode.flooding, CloseCode.frameTooLarge]).toContain(outcome.closed.code)
                if (outcome.closed.code === CloseCode.flooding)
                  expect(outcome.closed.reason).toContain("flooding")
              } else {
                for (const reply of client.received) expect(["error", "ack"]).toContain(reply.type)
                expect(client.received.filter((r) => r.type === "error").length).toBeGreaterThan(0)
                client.close()
              }
            })
          )
        }
      ),
      { numRuns }
    )
    // A flood: a burst far over the rate closes the connection as flooding, with a reason.
    const flood = await rawClient(host.wsUrl, testTokens.acmeViewer.token)
    clients.push(flood)
    const list = encodeWireFrame({ type: "list", id: "f" })
    for (let i = 0; i < 5_000; i++) flood.send(list)
    const flooded = await flood.closed
    expect(flooded.code).toBe(CloseCode.flooding)
    expect(flood.received.some((r) => r.type === "error" && r.code === "rate_limited")).toBe(true)

    const events = await plan
    expectWhole(events)
    expect(events.at(-1)!.type).toBe("masterplan.completed")
    expect((await fetch(`${host.handle.url}/healthz`)).status).toBe(200)
    // Bounded: the frames are not kept (a generous bound: this process runs the engine and the test too).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024)
  }, 240_000)

  it("refuses more watches than a connection may hold", async () => {
    const host = await startInProcess({ maxWatches: 2 })
    const client = await connect(host)
    const ids: Array<string> = []
    for (const name of ["w1", "w2", "w3"]) {
      const { masterplanId } = resultOf(
        await client.request({
          type: "submit",
          id: `s-${name}`,
          plan: planOf(name, 4, 30_000) as never,
          masterplanId: name
        })
      ) as { masterplanId: string }
      ids.push(masterplanId)
    }
    resultOf(await client.request({ type: "watch", id: "1", masterplanId: ids[0]!, fromSeq: 1 }))
    resultOf(await client.request({ type: "watch", id: "2", masterplanId: ids[1]!, fromSeq: 1 }))
    expect(await client.request({ type: "watch", id: "3", masterplanId: ids[2]!, fromSeq: 1 })).toMatchObject(
      {
        code: "too_many_watches"
      }
    )
    resultOf(await client.request({ type: "unwatch", id: "4", masterplanId: ids[0]! }))
    resultOf(await client.request({ type: "watch", id: "5", masterplanId: ids[2]!, fromSeq: 1 }))
  }, 60_000)
})

const waitUntil = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20))
}
