import {
  CloseCode,
  decodeCommand,
  emptySummary,
  encodeFrame,
  errorReplyOf,
  isTerminalEvent,
  webSocketPath,
  type Command,
  type ErrorCode,
  type Event,
  type EventOf,
  type Frame,
  type Principal
} from "@devmatrix/core"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"

/**
 * The events of the server's plans, shared by the servers of one test (a restarted server finds
 * them where the last one left them), with listeners for what is appended.
 */
export class MemoryJournal {
  private readonly plans = new Map<string, Array<Event>>()
  private readonly listeners = new Set<(event: Event) => void>()

  has(masterplanId: string): boolean {
    return this.plans.has(masterplanId)
  }
  ids(): Array<string> {
    return [...this.plans.keys()]
  }
  events(masterplanId: string): ReadonlyArray<Event> {
    return this.plans.get(masterplanId) ?? []
  }
  /** Appends an event of the next seq (the given `seq` is replaced) and tells every listener. */
  append(event: Event): Event {
    const events = this.plans.get(event.masterplanId) ?? []
    this.plans.set(event.masterplanId, events)
    const journaled = { ...event, seq: events.length + 1 }
    events.push(journaled)
    for (const listener of this.listeners) listener(journaled)
    return journaled
  }
  listen(listener: (event: Event) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/**
 * A plan's events as an engine journals them: submitted, `atoms` atoms started and completed,
 * then `masterplan.completed`: `2 * atoms + 2` events.
 */
export const planEvents = (masterplanId: string, atoms: number): Array<Event> => {
  const at = 1_700_000_000_000
  const envelope = (seq: number) => ({ masterplanId, seq, at: at + seq })
  const events: Array<Event> = [
    {
      type: "masterplan.submitted",
      ...envelope(1),
      name: masterplanId,
      atoms,
      waves: 1,
      mode: "eager",
      concurrency: 4,
      model: "scripted",
      criticalPath: 1
    }
  ]
  for (let i = 0; i < atoms; i++) {
    events.push({
      type: "atom.started",
      ...envelope(events.length + 1),
      atomId: `a${i}`,
      wave: 0,
      attempt: 1
    })
    events.push({
      type: "atom.completed",
      ...envelope(events.length + 1),
      atomId: `a${i}`,
      wave: 0,
      attempts: 1,
      model: "scripted",
      confidence: 0.9,
      inputTokens: 10 + i,
      outputTokens: 20,
      costUsd: 0.001,
      acceptedBy: "validation"
    })
  }
  events.push({
    type: "masterplan.completed",
    ...envelope(events.length + 1),
    summary: emptySummary(atoms, 1)
  })
  return events
}

/** What a test's handler makes of a command: a result, an error, or nothing (no reply at all). */
export type Handled =
  | { readonly result: unknown }
  | { readonly error: ErrorCode; readonly message: string }
  | "no reply"
  | undefined

/** One client's connection, as the server sees it. */
export interface ServerConnection {
  readonly socket: WebSocket
  readonly principal: Principal | undefined
}

export interface ProtocolServerOptions {
  readonly journal?: MemoryJournal
  /** Tokens and who they are. @default { "good-token": alice, operator of tenant t1 } */
  readonly tokens?: Readonly<Record<string, Principal>>
  /** 0 for any free port. */
  readonly port?: number
  /** Answers a command before the server's own handling does (undefined: the server's). */
  readonly handle?: (command: Command, connection: ServerConnection) => Handled
}

export interface ProtocolServer {
  readonly port: number
  readonly url: string
  readonly journal: MemoryJournal
  /** Every command read, in order, from every connection. */
  readonly commands: Array<Command>
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Connections open now. */
  readonly openConnections: () => number
  /** Event frames sent so far, over every connection. */
  readonly eventFramesSent: () => number
  /** Kills the connection that sends the `n`-th event frame (counted from the start) right after it. */
  readonly killAtEventFrame: (n: number) => void
  /** Kills every connection at once, as a dropped link does (the client sees 1006). */
  readonly killAll: () => void
  /** Closes every connection with a code and a reason, after an id-less error frame if given. */
  readonly closeAll: (code: number, reason: string, error?: { code: ErrorCode; message: string }) => void
  /** Stops listening and kills every connection. */
  readonly close: () => Promise<void>
}

export const alice: Principal = { principal: "alice", tenant: "t1", role: "operator" }

/**
 * A small but faithful DevMatrix host protocol server over real sockets: `hello` (a bad token
 * gets `unauthenticated` and a 4401 close), the plan commands over an in-memory journal, and
 * `watch` (replay from `fromSeq`, then live, ending with the terminal event) / `unwatch`. It has
 * no engine: a test appends the events.
 */
export const startProtocolServer = async (options: ProtocolServerOptions = {}): Promise<ProtocolServer> => {
  const journal = options.journal ?? new MemoryJournal()
  const tokens = options.tokens ?? { "good-token": alice }
  const commands: Array<Command> = []
  const kills = new Set<number>()
  let accepted = 0
  let eventFrames = 0

  const server = new WebSocketServer({ port: options.port ?? 0, path: webSocketPath })
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject))
  const port = (server.address() as AddressInfo).port

  server.on("connection", (socket) => {
    accepted++
    let principal: Principal | undefined
    const watches = new Map<string, () => void>()
    const send = (frame: Frame) => {
      if (socket.readyState !== WebSocket.OPEN) return false
      socket.send(encodeFrame(frame))
      if (frame.type !== "event") return true
      eventFrames++
      if (!kills.delete(eventFrames)) return true
      socket.terminate()
      return false
    }
    const stopWatch = (masterplanId: string) => {
      watches.get(masterplanId)?.()
      watches.delete(masterplanId)
    }
    const sendEvent = (event: Event) => {
      const sent = send({ type: "event", masterplanId: event.masterplanId, event })
      if (isTerminalEvent(event)) stopWatch(event.masterplanId)
      return sent
    }
    const watch = (masterplanId: string, fromSeq: number) => {
      stopWatch(masterplanId)
      // Replay, then live: nothing is appended between the two (one thread), so no gap.
      for (const event of journal.events(masterplanId).slice(fromSeq - 1)) if (!sendEvent(event)) return
      if (journal.events(masterplanId).some(isTerminalEvent)) return
      watches.set(
        masterplanId,
        journal.listen((event) => {
          if (event.masterplanId === masterplanId) sendEvent(event)
        })
      )
    }
    socket.on("close", () => {
      for (const id of [...watches.keys()]) stopWatch(id)
    })

    socket.on("message", (data: Buffer) => {
      const decoded = decodeCommand(new Uint8Array(data))
      if (decoded._tag === "Left") return void send(errorReplyOf(decoded.left))
      const command = decoded.right
      commands.push(command)
      const reply = (handled: Exclude<Handled, undefined>) => {
        if (handled === "no reply") return
        if ("error" in handled)
          send({ type: "error", id: command.id, code: handled.error, message: handled.message })
        else send({ type: "ack", id: command.id, result: handled.result })
      }
      if (command.type === "hello") {
        principal = Object.hasOwn(tokens, command.token) ? tokens[command.token] : undefined
        if (principal !== undefined) return reply({ result: principal })
        reply({ error: "unauthenticated", message: "unknown token" })
        return socket.close(CloseCode.unauthenticated, "unauthenticated")
      }
      if (principal === undefined) {
        reply({ error: "unauthenticated", message: "hello first" })
        return socket.close(CloseCode.unauthenticated, "unauthenticated")
      }
      const handled = options.handle?.(command, { socket, principal })
      if (handled !== undefined) return reply(handled)
      reply(answer(command, journal))
      if (command.type === "watch" && journal.has(command.masterplanId))
        watch(command.masterplanId, command.fromSeq)
      if (command.type === "unwatch") stopWatch(command.masterplanId)
    })
  })

  const each = (act: (socket: WebSocket) => void) => server.clients.forEach(act)
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    journal,
    commands,
    connections: () => accepted,
    openConnections: () => server.clients.size,
    eventFramesSent: () => eventFrames,
    killAtEventFrame: (n) => void kills.add(n),
    killAll: () => each((socket) => socket.terminate()),
    closeAll: (code, reason, error) =>
      each((socket) => {
        if (error !== undefined) socket.send(encodeFrame({ type: "error", ...error }))
        socket.close(code, reason)
      }),
    close: () =>
      new Promise<void>((resolve) => {
        each((socket) => socket.terminate())
        server.close(() => resolve())
      })
  }
}

const notFound = (masterplanId: string): Exclude<Handled, undefined> => ({
  error: "not_found",
  message: `no masterplan ${JSON.stringify(masterplanId)}`
})

/** The server's own answer to a command (after `hello`), from the journal. */
const answer = (
  command: Exclude<Command, { type: "hello" }>,
  journal: MemoryJournal
): Exclude<Handled, undefined> => {
  if (command.type === "list")
    return { result: { masterplans: journal.ids().map((id) => listingOf(id, journal)) } }
  if (command.type === "submit") {
    const masterplanId = command.masterplanId ?? `mp-${journal.ids().length + 1}`
    const submitted = planEvents(
      masterplanId,
      command.plan.atoms.length
    )[0] as EventOf<"masterplan.submitted">
    journal.append({ ...submitted, name: command.plan.name })
    return { result: { masterplanId } }
  }
  if (!journal.has(command.masterplanId)) return notFound(command.masterplanId)
  switch (command.type) {
    case "get":
      return { result: { ...listingOf(command.masterplanId, journal), atoms: {}, costUsd: 0 } }
    case "watch": {
      const lastSeq = journal.events(command.masterplanId).length
      return { result: { masterplanId: command.masterplanId, fromSeq: command.fromSeq, lastSeq } }
    }
    case "raiseBudget":
      return { result: { hardUsd: command.hardUsd, softUsd: command.hardUsd * 0.8 } }
    case "reviewList":
      return { result: { atoms: [{ atomId: "a0", wave: 0, confidence: 0.4, code: "export const a = 1" }] } }
    default:
      return { result: {} }
  }
}

const listingOf = (masterplanId: string, journal: MemoryJournal) => {
  const events = journal.events(masterplanId)
  const last = events.at(-1)
  return {
    masterplanId,
    name: masterplanId,
    status: last !== undefined && isTerminalEvent(last) ? "completed" : "running",
    atomCount: 0,
    waveCount: 0,
    createdAt: events[0]?.at ?? 0,
    updatedAt: last?.at ?? 0,
    lastSeq: events.length
  }
}
