import { decodeFrame, encodeWireFrame, isTerminalEvent, webSocketPath } from "@devmatrix/core"
import type { Event, FrameEncoded, Reply } from "@devmatrix/core"
import { Either } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import WebSocket from "ws"
import { bin, root } from "./devmatrixProcess.js"

/** The tokens every host test uses: two tenants, each role. */
export const testTokens = {
  acmeOperator: {
    token: "acme-operator-token-0001",
    tenant: "acme",
    role: "operator",
    principal: "alice@acme"
  },
  acmeViewer: { token: "acme-viewer-token-000002", tenant: "acme", role: "viewer", principal: "victor@acme" },
  acmeAdmin: { token: "acme-admin-token-0000003", tenant: "acme", role: "admin", principal: "ada@acme" },
  globexOperator: {
    token: "globex-operator-token-04",
    tenant: "globex",
    role: "operator",
    principal: "gus@globex"
  }
} as const

/** A tokens file of `testTokens`, in a fresh temporary directory. */
export const writeTokensFile = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "devmatrix-host-"))
  const file = join(dir, "tokens.json")
  writeFileSync(file, JSON.stringify({ tokens: Object.values(testTokens) }))
  return file
}

/** A `devmatrix host` child process on a port of its own. */
export interface HostProcess {
  readonly url: string
  readonly wsUrl: string
  readonly child: ChildProcess
  /** Everything it wrote to stderr so far. */
  readonly stderr: () => string
  /** Resolves with its exit code once it exits. */
  readonly exited: Promise<number | null>
}

/**
 * Starts `devmatrix host --port 0` (the system picks a free port, which the host prints) with the
 * test tokens and `args`, and resolves once it listens.
 */
export const startHostProcess = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<HostProcess>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [bin, "host", "--port", "0", "--tokens", writeTokensFile(), ...args],
      {
        cwd: root,
        env: { ...process.env, ANTHROPIC_API_KEY: "", ...env }
      }
    )
    let stderr = ""
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)))
    const timer = setTimeout(
      () => reject(new Error(`the host did not start within 60 s:\n${stderr}`)),
      60_000
    )
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      const listening = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr)
      if (listening !== null && timer.hasRef()) {
        clearTimeout(timer)
        timer.unref()
        const url = listening[1]!
        resolve({
          url,
          wsUrl: `${url.replace(/^http/, "ws")}${webSocketPath}`,
          child,
          stderr: () => stderr,
          exited
        })
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`the host exited (${code}) before listening:\n${stderr}`))
    })
  })

/** A client speaking the protocol frame by frame: what a test sends and everything it got back. */
export interface RawClient {
  readonly socket: WebSocket
  readonly send: (frame: FrameEncoded | Uint8Array) => void
  /** Sends a command and resolves with its reply (`ack` or `error` with the same id). */
  readonly request: (frame: FrameEncoded & { readonly id: string }) => Promise<Reply>
  /** Every frame received, in order. */
  readonly received: Array<Reply>
  /** Resolves with the events of `masterplanId` up to its terminal event (those received so far included). */
  readonly eventsUntilEnd: (masterplanId: string) => Promise<Array<Event>>
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  readonly close: () => void
}

/** Opens a connection; with `bearer`, the token goes in the upgrade's `Authorization` header. */
export const rawClient = (wsUrl: string, bearer?: string) =>
  new Promise<RawClient>((resolve, reject) => {
    const socket = new WebSocket(
      wsUrl,
      bearer !== undefined ? { headers: { authorization: `Bearer ${bearer}` } } : {}
    )
    const received: Array<Reply> = []
    const waiting = new Map<string, (reply: Reply) => void>()
    const eventsOf = new Map<string, Array<Event>>()
    const ends = new Map<string, () => void>()
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      socket.on("close", (code, reason) => done({ code, reason: reason.toString() }))
    )
    socket.on("message", (data: Buffer) => {
      const decoded = decodeFrame(new Uint8Array(data))
      if (Either.isLeft(decoded))
        throw new Error(`the host sent a frame that is not a reply: ${decoded.left.message}`)
      const reply = decoded.right as Reply
      received.push(reply)
      if ((reply.type === "ack" || reply.type === "error") && reply.id !== undefined) {
        waiting.get(reply.id)?.(reply)
        waiting.delete(reply.id)
      }
      if (reply.type === "event") {
        const events = eventsOf.get(reply.masterplanId) ?? []
        eventsOf.set(reply.masterplanId, events)
        events.push(reply.event)
        if (isTerminalEvent(reply.event)) ends.get(reply.masterplanId)?.()
      }
    })
    const send = (frame: FrameEncoded | Uint8Array) =>
      socket.send(frame instanceof Uint8Array ? frame : encodeWireFrame(frame))
    const client: RawClient = {
      socket,
      send,
      received,
      closed,
      close: () => socket.close(),
      request: (frame) =>
        new Promise((done) => {
          waiting.set(frame.id, done)
          send(frame)
        }),
      eventsUntilEnd: (masterplanId) =>
        new Promise((done, fail) => {
          const end = () => done(eventsOf.get(masterplanId) ?? [])
          ends.set(masterplanId, end)
          void closed.then(({ code, reason }) =>
            fail(new Error(`closed (${code} ${reason}) before the end of ${masterplanId}`))
          )
          if (eventsOf.get(masterplanId)?.some(isTerminalEvent) === true) end()
        })
    }
    socket.once("open", () => resolve(client))
    socket.once("unexpected-response", (_request, response) =>
      reject(new Error(`the upgrade was refused: ${response.statusCode}`))
    )
    socket.once("error", reject)
  })

/** The ack's result, or a failure naming the error the host sent instead. */
export const resultOf = (reply: Reply): unknown => {
  if (reply.type !== "ack") throw new Error(`expected an ack, got ${JSON.stringify(reply)}`)
  return reply.result
}
