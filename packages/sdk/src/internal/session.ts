import {
  CloseCode,
  decodeFrame,
  encodeFrame,
  type CommandType,
  type Event,
  type Principal,
  type ProtocolError
} from "@devmatrix/core"
import { Either } from "effect"
import type { ClientSettings, WebSocketClass } from "../ClientOptions.js"
import type { DevMatrixError } from "../DevMatrixError.js"
import {
  badReply,
  clientError,
  encodeCommand,
  forCommand,
  hostError,
  resultDecoder,
  watchFieldsOf
} from "./commandFrames.js"
import { EventQueue } from "./eventQueue.js"
import { PendingCommands } from "./pendingCommands.js"
import { PlanWatches, type WatchLink } from "./planWatches.js"
import { reconnectDelayMs } from "./reconnectDelayMs.js"
import { bytesOf, loadWebSocket, type WebSocketLike } from "./webSocket.js"

/**
 * Where a client is:
 * - `connecting`: opening its first connection (commands wait for it);
 * - `open`: connected, its token acknowledged;
 * - `reconnecting`: a connection failed or dropped; it waits its backoff, or tries again;
 * - `closed`: by `close()`, or for good (a token the host refused, `reconnect.maxAttempts` spent).
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed"

const readOnly: ReadonlySet<CommandType> = new Set(["get", "list", "reviewList"])

/** The refusals of a `hello` that another connection would get too. */
const refusesTheToken: ReadonlySet<string> = new Set(["unauthenticated", "forbidden", "invalid_command"])

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A watch that fails at once. */
const failedQueue = (error: DevMatrixError): EventQueue<Event> => {
  const queue = new EventQueue<Event>(() => {})
  queue.fail(error)
  return queue
}

/**
 * One client's connection to a host, made again whenever it drops: the commands that wait for
 * it or for their replies, and the watches it carries.
 */
export class Session {
  state: ClientState = "connecting"
  principal: Principal | undefined
  private readonly watches: PlanWatches
  private readonly pending = new PendingCommands()
  private readonly webSocketClass: Promise<WebSocketClass>
  private socket: WebSocketLike | undefined
  /** Numbers the connection attempts: a WebSocket class loaded for an attempt given up on is not used. */
  private attempt = 0
  private failedAttempts = 0
  /** What went wrong with the current socket so far (an error event, an id-less error frame). */
  private problem: string | undefined
  /** How the last connection failed, until one is open again: for the messages of what waits. */
  private lastFailure: string | undefined
  private connectTimer: ReturnType<typeof setTimeout> | undefined
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private readyWaiters: Array<{
    resolve: (principal: Principal) => void
    reject: (error: DevMatrixError) => void
  }> = []
  private closedBy: DevMatrixError | undefined
  private closing: Promise<void> | undefined
  private lastId = 0

  constructor(private readonly settings: ClientSettings) {
    const link: WatchLink = { send: (command, replies) => this.sendOnConnection(command, replies) }
    this.watches = new PlanWatches(link)
    this.webSocketClass = loadWebSocket(settings.WebSocket)
    this.connect()
  }

  /** Sends a command (now, or once connected) and settles with its decoded result or its error. */
  request(type: CommandType, fields: Readonly<Record<string, unknown>>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closedBy !== undefined) return reject(forCommand(this.closedBy, type))
      const id = this.nextId()
      const bytes = encodeCommand(type, fields, id, this.settings.maxFrameBytes)
      if (Either.isLeft(bytes)) return reject(bytes.left)
      const decodeResult = resultDecoder(type)
      const timeoutMs = this.settings.commandTimeoutMs
      this.pending.add(id, {
        type,
        bytes: bytes.right,
        sent: false,
        retryable: readOnly.has(type),
        ofConnection: false,
        // A command of no result may have its `result` left out.
        onAck: (result) =>
          Either.match(decodeResult(result ?? {}), {
            onLeft: (error) => reject(badReply(type, `its ack's result does not match: ${error.message}`)),
            onRight: resolve
          }),
        onError: reject,
        timer: setTimeout(() => this.pending.timedOut(id, timeoutMs, this.problemText()), timeoutMs)
      })
      if (this.state === "open") this.transmit(id)
    })
  }

  /** The events of a plan from `fromSeq` (validated as a `watch` command's fields). */
  watch(masterplanId: string, fromSeq: number | undefined): EventQueue<Event> {
    if (this.closedBy !== undefined) return failedQueue(forCommand(this.closedBy, "watch"))
    return Either.match(watchFieldsOf(masterplanId, fromSeq), {
      onLeft: failedQueue,
      onRight: (watch) => this.watches.add(watch.masterplanId, watch.fromSeq)
    })
  }

  /** Who the token is, once a connection has it acknowledged (within `commandTimeoutMs`). */
  ready(): Promise<Principal> {
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy)
    if (this.state === "open" && this.principal !== undefined) return Promise.resolve(this.principal)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter)
        reject(
          clientError(
            "timeout",
            `no connection to the host within ${this.settings.commandTimeoutMs} ms${this.problemText()}`
          )
        )
      }, this.settings.commandTimeoutMs)
      const waiter = {
        resolve: (principal: Principal) => {
          clearTimeout(timer)
          resolve(principal)
        },
        reject: (error: DevMatrixError) => {
          clearTimeout(timer)
          reject(error)
        }
      }
      this.readyWaiters.push(waiter)
    })
  }

  /** Ends everything: commands waiting reject, watches end; settles once the socket has closed. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      const socket = this.socket
      if (socket !== undefined) socket.onclose = () => resolve()
      this.shutDown(clientError("closed", "the client was closed"), "end")
      if (socket === undefined) resolve()
    })
    return this.closing
  }

  private nextId(): string {
    this.lastId++
    return String(this.lastId)
  }

  private connect(): void {
    const attempt = ++this.attempt
    void this.webSocketClass.then(
      (webSocketClass) => {
        if (this.attempt === attempt && this.closedBy === undefined) this.open(webSocketClass)
      },
      (error: unknown) => this.shutDown(clientError("closed", messageOf(error)), "fail")
    )
  }

  private open(webSocketClass: WebSocketClass): void {
    this.problem = undefined
    let socket: WebSocketLike
    try {
      socket = new webSocketClass(this.settings.url) as WebSocketLike
    } catch (error) {
      this.lastFailure = messageOf(error)
      return this.reconnect()
    }
    socket.binaryType = "arraybuffer"
    this.socket = socket
    this.connectTimer = setTimeout(
      () => this.drop(socket, `no connection within connectTimeoutMs (${this.settings.connectTimeoutMs} ms)`),
      this.settings.connectTimeoutMs
    )
    socket.onopen = () => {
      if (this.socket === socket) this.hello()
    }
    socket.onmessage = ({ data }) => {
      if (this.socket !== socket) return
      const bytes = bytesOf(data)
      if (bytes !== undefined) this.receive(bytes)
      else this.problem = "the host sent a text message (frames are binary)"
    }
    // Always set, never removed: `ws` throws an "error" event that has no listener.
    socket.onerror = ({ message }) => {
      if (this.socket === socket && typeof message === "string") this.problem = message
    }
    socket.onclose = ({ code, reason }) => {
      if (this.socket === socket) this.closedByHost(code, reason)
    }
  }

  /** Authenticates the connection: browsers cannot set an `Authorization` header. */
  private hello(): void {
    const id = this.nextId()
    this.pending.add(id, {
      type: "hello",
      bytes: encodeFrame({ type: "hello", id, token: this.settings.token }),
      sent: false,
      retryable: false,
      ofConnection: true,
      onAck: (result) => this.opened(result),
      onError: (error) => {
        if (error.reason === "rejected" && refusesTheToken.has(error.code))
          this.shutDown(
            clientError("rejected", `the host refused the token: ${error.message}`, { code: error.code }),
            "fail"
          )
        else if (this.socket !== undefined) this.drop(this.socket, `hello: ${error.message}`)
      }
    })
    this.transmit(id)
  }

  private opened(result: unknown): void {
    const principal = Either.getOrUndefined(resultDecoder("hello")(result)) as Principal | undefined
    if (principal === undefined) {
      if (this.socket !== undefined) this.drop(this.socket, "the host's hello ack is not a principal")
      return
    }
    clearTimeout(this.connectTimer)
    this.lastFailure = undefined
    this.state = "open"
    this.failedAttempts = 0
    this.principal = principal
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve(principal)
    for (const id of this.pending.unsent()) this.transmit(id)
    this.watches.onOpen()
  }

  private transmit(id: string): void {
    const pending = this.pending.get(id)
    if (pending === undefined || this.socket === undefined) return
    pending.sent = true
    try {
      this.socket.send(pending.bytes)
    } catch (error) {
      // The socket is going: the close that follows decides what becomes of the command.
      this.problem = messageOf(error)
    }
  }

  /** A `watch` or `unwatch` for the watches, on the open connection only. */
  private sendOnConnection(
    command: Parameters<WatchLink["send"]>[0],
    replies: Parameters<WatchLink["send"]>[1]
  ): string | undefined {
    if (this.state !== "open") return undefined
    const id = this.nextId()
    this.pending.add(id, {
      type: command.type,
      bytes: encodeFrame({ ...command, id }),
      sent: false,
      retryable: false,
      ofConnection: true,
      onAck: (result) => replies?.onAck(result),
      onError: (error) => replies?.onError(error)
    })
    this.transmit(id)
    return id
  }

  private receive(bytes: Uint8Array): void {
    const decoded = decodeFrame(bytes, { maxBytes: this.settings.maxFrameBytes })
    if (Either.isLeft(decoded)) return this.unreadable(decoded.left)
    const frame = decoded.right
    switch (frame.type) {
      case "ack":
        return this.pending.take(frame.id)?.onAck(frame.result)
      case "error": {
        if (frame.id === undefined) {
          // Said of the connection (slow_consumer before a close), or of a frame it could not read.
          this.problem = `${frame.code}: ${frame.message}`
          return
        }
        const pending = this.pending.take(frame.id)
        return pending?.onError(hostError(frame, pending.type))
      }
      case "event":
        return this.watches.deliver(frame.masterplanId, frame.event)
      default:
        this.problem = `the host sent a ${frame.type} command, which only a client sends`
    }
  }

  /**
   * A frame that is not a reply of the protocol. With an id, its command fails; without, it may
   * have been an event (of a host newer than this client), and no watch can promise a whole
   * stream any more: they all fail, saying so.
   */
  private unreadable(error: ProtocolError): void {
    const message = `the host sent a frame this client cannot read (a host of another version?): ${error.message}`
    const pending = error.id !== undefined ? this.pending.take(error.id) : undefined
    if (pending !== undefined) return pending.onError(badReply(pending.type, message))
    this.watches.failAll(badReply("watch", message))
  }

  /** The client gives up on this socket (no hello ack in time, a hello refused for now). */
  private drop(socket: WebSocketLike, problem: string): void {
    if (this.socket !== socket) return
    this.lastFailure = problem
    this.socket = undefined
    closeQuietly(socket)
    this.disconnected()
  }

  private closedByHost(code: number, reason: string): void {
    this.socket = undefined
    if (code === CloseCode.unauthenticated)
      return this.shutDown(
        clientError(
          "rejected",
          `the host refused the token (it closed the connection with ${code}${reason === "" ? "" : `: ${reason}`})`,
          { code: "unauthenticated" }
        ),
        "fail"
      )
    const closed = `the connection closed with ${code}${reason === "" ? "" : ` (${reason})`}`
    this.lastFailure = this.problem === undefined ? closed : `${closed}: ${this.problem}`
    this.disconnected()
  }

  /** The connection is gone: its commands are settled (or wait for the next), its watches lapse. */
  private disconnected(): void {
    clearTimeout(this.connectTimer)
    this.problem = undefined // told by lastFailure now
    this.pending.dropped(this.problemText())
    this.watches.onDisconnect()
    this.reconnect()
  }

  private reconnect(): void {
    if (this.closedBy !== undefined) return
    const { reconnect } = this.settings
    if (this.failedAttempts >= reconnect.maxAttempts)
      return this.shutDown(
        clientError(
          "closed",
          `no connection to the host after ${this.failedAttempts} attempts to reconnect${this.problemText()}`
        ),
        "fail"
      )
    this.state = "reconnecting"
    const delayMs = reconnectDelayMs(reconnect, this.failedAttempts, Math.random())
    this.failedAttempts++
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs)
  }

  /** Closes for good: every command waiting rejects, and every watch ends (`end`) or fails. */
  private shutDown(error: DevMatrixError, watches: "end" | "fail"): void {
    if (this.closedBy !== undefined) return
    this.closedBy = error
    this.state = "closed"
    clearTimeout(this.connectTimer)
    clearTimeout(this.reconnectTimer)
    const socket = this.socket
    this.socket = undefined
    if (socket !== undefined) closeQuietly(socket)
    this.pending.failAll((type) => forCommand(error, type))
    if (watches === "end") this.watches.stopAll()
    else this.watches.failAll(error)
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error)
  }

  private problemText(): string {
    const problem = this.problem ?? this.lastFailure
    return problem === undefined ? "" : ` (${problem})`
  }
}

const closeQuietly = (socket: WebSocketLike): void => {
  try {
    socket.close(1000, "client closed")
  } catch {
    // Already closing: nothing more to do.
  }
}
