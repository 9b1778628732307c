import type { Command, PlanInputEncoded } from "@devmatrix/core"
import { createClient, type DevMatrixClient, type DevMatrixError } from "@devmatrix/sdk"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { alice, planEvents, type ProtocolServer } from "./protocolServer.js"
import { collect, failure, sdkHarness } from "./sdkHarness.js"

// The SDK client against a faithful protocol server over real sockets: typed results, the host's
// errors, what the client refuses itself, a refused token, close().

const { serve, connect: connectTo } = sdkHarness({ initialDelayMs: 5, maxDelayMs: 50 })
const connect = (server: ProtocolServer, token = "good-token", more: { commandTimeoutMs?: number } = {}) =>
  connectTo(server.url, { token, ...more })

const sent = (server: ProtocolServer, type: Command["type"]) => server.commands.filter((c) => c.type === type)

describe("the SDK client's commands", () => {
  it("says hello first, then sends each command with its fields and resolves with its typed result", async () => {
    const server = await serve()
    const client = connect(server)
    expect(await client.ready()).toEqual(alice)
    expect(client.state).toBe("open")

    const plan: PlanInputEncoded = {
      name: "demo",
      atoms: [
        { id: "a", instruction: "add" },
        { id: "b", instruction: "sub" }
      ]
    }
    const { masterplanId } = await client.submit(plan, { options: { concurrency: 3 }, masterplanId: "mp-x" })
    expect(masterplanId).toBe("mp-x")
    const view = await client.get(masterplanId)
    expect(view).toMatchObject({ masterplanId, status: "running", lastSeq: 1, costUsd: 0 })
    expect((await client.list()).masterplans.map((m) => m.masterplanId)).toEqual(["mp-x"])
    expect(await client.raiseBudget(masterplanId, 10)).toEqual({ hardUsd: 10, softUsd: 8 })
    expect((await client.reviewList(masterplanId)).atoms[0]).toMatchObject({ atomId: "a0", confidence: 0.4 })
    expect(await client.pause(masterplanId, { reason: "lunch" })).toEqual({})
    expect(await client.resume(masterplanId)).toEqual({})
    expect(await client.approve(masterplanId, "a")).toEqual({})
    expect(await client.edit(masterplanId, "a", "export const a = 2")).toEqual({})
    expect(await client.reject(masterplanId, "b", "wrong")).toEqual({})
    expect(await client.cancel(masterplanId)).toEqual({})

    expect(server.commands[0]).toEqual({
      type: "hello",
      id: expect.any(String) as string,
      token: "good-token"
    })
    const submit = sent(server, "submit")[0]
    expect(submit).toMatchObject({ masterplanId: "mp-x", options: { concurrency: 3 } })
    expect(submit?.type === "submit" && submit.plan.atoms.map((a) => a.id)).toEqual(["a", "b"])
    expect(sent(server, "pause")[0]).toMatchObject({ masterplanId, reason: "lunch" })
    expect(sent(server, "edit")[0]).toMatchObject({ masterplanId, atomId: "a", code: "export const a = 2" })
    expect(sent(server, "reject")[0]).toMatchObject({ masterplanId, atomId: "b", reason: "wrong" })
    const ids = server.commands.map((c) => c.id)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it("rejects with the host's error: its code and message, the command, and whether it may have taken effect", async () => {
    const server = await serve({
      handle: (command) =>
        command.type === "pause" ? { error: "internal", message: "the store is down" } : undefined
    })
    const client = connect(server)
    const missing = await failure(client.get("nope"))
    expect(missing).toMatchObject({
      _tag: "DevMatrixError",
      code: "not_found",
      reason: "rejected",
      command: "get",
      message: 'no masterplan "nope"',
      outcomeUnknown: false
    })
    expect(missing).toBeInstanceOf(Error)
    server.journal.append(planEvents("p", 1)[0]!)
    expect(await failure(client.pause("p"))).toMatchObject({
      code: "internal",
      reason: "rejected",
      outcomeUnknown: true
    })
    // The connection goes on.
    expect(await client.get("p")).toMatchObject({ masterplanId: "p" })
  })

  it("refuses invalid arguments itself, naming them, and sends nothing", async () => {
    const server = await serve()
    const client = connect(server)
    await client.ready()
    const noAtoms = await failure(client.submit({ name: "empty", atoms: [] as never }))
    expect(noAtoms).toMatchObject({ code: "invalid_command", reason: "invalid", command: "submit" })
    expect(noAtoms.message).toContain("plan.atoms")
    const badBudget = await failure(client.raiseBudget("p", -1))
    expect(badBudget.message).toContain("hardUsd")
    const typo = await failure(client.cancel("p", { reasn: "x" } as never))
    expect(typo.message).toContain("reasn")
    const badSeq = await failure(collect(client.watch("p", { fromSeq: 0 })))
    expect(badSeq).toMatchObject({ code: "invalid_command", command: "watch" })
    expect(badSeq.message).toContain("fromSeq")
    expect(server.commands.map((c) => c.type)).toEqual(["hello"])
  })

  it("rejects an ack whose result is not the command's (a host of another version) as a bad reply", async () => {
    const server = await serve({
      handle: (command) => (command.type === "raiseBudget" ? { result: { hardUsd: "ten" } } : undefined)
    })
    const client = connect(server)
    server.journal.append(planEvents("p", 1)[0]!)
    const error = await failure(client.raiseBudget("p", 10))
    expect(error).toMatchObject({
      code: "internal",
      reason: "bad_reply",
      command: "raiseBudget",
      outcomeUnknown: true
    })
    expect(error.message).toContain("hardUsd")
  })

  it("with a token the host refuses: everything rejects unauthenticated, and it does not try again", async () => {
    const server = await serve()
    const client = connect(server, "bad-token")
    expect(await failure(client.ready())).toMatchObject({ code: "unauthenticated", reason: "rejected" })
    expect(client.state).toBe("closed")
    expect(await failure(client.list())).toMatchObject({ code: "unauthenticated", command: "list" })
    expect(await failure(collect(client.watch("p")))).toMatchObject({
      code: "unauthenticated",
      command: "watch"
    })
    // With a reconnect delay of at most 50 ms, a client that retried would have by now.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(server.connections()).toBe(1)
    expect(server.commands.map((c) => c.type)).toEqual(["hello"])
  })

  it("treats a 4401 close as a refused token too, even without an error reply first", async () => {
    const server = await serve({ handle: (command) => (command.type === "get" ? "no reply" : undefined) })
    const client = connect(server)
    await client.ready()
    const pending = client.get("p")
    server.closeAll(4401, "token revoked")
    expect(await failure(pending)).toMatchObject({ code: "unauthenticated", command: "get" })
    expect(client.state).toBe("closed")
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(server.connections()).toBe(1)
  })

  it("close(): commands waiting reject, watches end, and it does not reconnect", async () => {
    const server = await serve({ handle: (command) => (command.type === "submit" ? "no reply" : undefined) })
    const client = connect(server)
    server.journal.append(planEvents("p", 3)[0]!)
    const iterator = client.watch("p")[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toMatchObject({ seq: 1 })
    const waiting = iterator.next()
    const submitting = failure(client.submit({ name: "x", atoms: [{ id: "a", instruction: "i" }] }))
    await expect.poll(() => sent(server, "submit").length).toBe(1)
    await client.close()
    expect(await waiting).toEqual({ done: true, value: undefined })
    expect(await submitting).toMatchObject({ reason: "closed", command: "submit" })
    expect(client.state).toBe("closed")
    expect(await failure(client.get("p"))).toMatchObject({ reason: "closed" })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(server.connections()).toBe(1)
    await expect.poll(() => server.openConnections()).toBe(0)
  })

  it("closes as an async disposable (await using)", async () => {
    const server = await serve()
    const client = connect(server)
    await client.ready()
    await client[Symbol.asyncDispose]()
    expect(client.state).toBe("closed")
    await expect.poll(() => server.openConnections()).toBe(0)
  })

  it("a command waits for a connection within commandTimeoutMs, then rejects saying it was not sent", async () => {
    const server = await serve()
    await server.close()
    const client = connect(server, "good-token", { commandTimeoutMs: 300 })
    const error = await failure(client.list())
    expect(error).toMatchObject({
      code: "internal",
      reason: "timeout",
      command: "list",
      outcomeUnknown: false
    })
    expect(error.message).toMatch(
      /list was not sent: no connection to the host within 300 ms \(.*ECONNREFUSED/
    )
    expect(client.state).toBe("reconnecting")
  })

  it("uses the WebSocket class it is given, else the global one, else ws", async () => {
    const server = await serve()
    let made = 0
    class Counted extends WebSocket {
      constructor(url: string) {
        super(url)
        made++
      }
    }
    const given = connectTo(`http://127.0.0.1:${server.port}`, { WebSocket: Counted })
    await given.ready()
    expect(made).toBe(1)

    const global = globalThis as { WebSocket?: unknown }
    global.WebSocket = Counted
    try {
      const viaGlobal: DevMatrixClient = connect(server)
      await viaGlobal.ready()
      expect(made).toBe(2)
    } finally {
      delete global.WebSocket
    }
    await connect(server).ready()
    expect(made).toBe(2)
    expect(server.connections()).toBe(3)
  })

  it("refuses invalid options, naming each, without echoing the token", () => {
    const attempt = (options: Parameters<typeof createClient>[0]) => {
      try {
        createClient(options)
      } catch (error) {
        return error as DevMatrixError
      }
      throw new Error("expected createClient to throw")
    }
    const bad = attempt({
      url: "ftp://host",
      token: "",
      reconnect: { jitter: 2, maxAttempts: -1 },
      commandTimeoutMs: 0
    })
    expect(bad).toMatchObject({ _tag: "DevMatrixError", reason: "invalid" })
    for (const field of ["url", "token", "reconnect.jitter", "reconnect.maxAttempts", "commandTimeoutMs"])
      expect(bad.message).toContain(`${field}:`)
    const secret = "s".repeat(5000)
    expect(attempt({ url: "ws://h", token: secret }).message).not.toContain("sss")
  })
})
