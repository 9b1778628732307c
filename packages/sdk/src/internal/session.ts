import {
  CloseCode,
  commandResults,
  commandSchemas,
  decodeFrame,
  decodeInput,
  encodeFrame,
  type Command,
  type CommandType,
  type ErrorReply,
  type Event,
  type Principal,
  type ProtocolError
} from "@devmatrix/core"
import { Either, Schema } from "effect"
import type { ClientSettings, WebSocketClass } from "../ClientOptions.js"
import { DevMatrixError } from "../DevMatrixError.js"
import { EventQueue } from "./eventQueue.js"
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

/** A command on its way: waiting for a connection, or sent and waiting for its reply. */
interface Pending {
  readonly type: CommandType
  readonly bytes: Uint8Array
  sent: boolean
  /** Sent again on the next connection if its own drops before the reply: the read-only ones. */
  readonly retryable: boolean
  /** Means something on its connection only (`hello`, `watch`, `unwatch`): dropped with it. */
  readonly ofConnection: boolean
  readonly onAck: (result: unknown) => void
  readonly onError: (error: DevMatrixError) => void
  readonly timer?: ReturnType<typeof setTimeout>
}

const readOnly: ReadonlySet<CommandType> = new Set(["get", "list", "reviewList"])

/** The refusals of a `hello` that another connection would get too. */
const refusesTheToken: ReadonlySet<string> = new Set(["unauthenticated", "forbidden", "invalid_command"])

const commandDecoders = new Map<
  CommandType,
  (input: unknown) => Either.Either<Command, { message: string }>
>()
const commandDecoder = (type: CommandType) => {
  let decode = commandDecoders.get(type)
  if (decode === undefined) {
    decode = decodeInput(commandSchemas[type] as Schema.Schema<Command, unknown>, type, {
      onExcessProperty: "error"
    })
    commandDecoders.set(type, decode)
  }
  return decode
}

const resultDecoder = (type: CommandType) =>
  Schema.decodeUnknownEither(commandResults[type] as Schema.Schema<unknown, unknown>, { errors: "all" })

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** The same error, for one command. */
const forCommand = (error: DevMatrixError, command: CommandType): DevMatrixError =>
  new DevMatrixError({
    code: error.code,
    reason: error.reason,
    message: error.message,
    command,
    outcomeUnknown: error.outcomeUnknown
  })

/**
 * One client's connection to a host, made again whenever it drops: the commands that wait for
 * it or for their replies, and the watches it carries.
 */
export class Session {
  state: ClientState = "connecting"
  principal: Principal | undefined
  private readonly watches: PlanWatches
  private readonly pending = new Map<string, Pending>()
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
      const command = commandDecoder(type)({ ...fields, type, id })
      if (Either.isLeft(command)) return reject(this.invalid(type, "invalid_command", command.left.message))
      const bytes = encodeFrame(command.right)
      if (bytes.byteLength > this.settings.maxFrameBytes)
        return reject(
          this.invalid(
            type,
            "frame_too_large",
            `the ${type} frame is ${bytes.byteLength.toLocaleString("en-US")} bytes, over maxFrameBytes (${this.settings.maxFrameBytes.toLocaleString("en-US")})`
          )
        )
      const decodeResult = resultDecoder(type)
      this.pending.set(id, {
        type,
        bytes,
        sent: false,
        retryable: readOnly.has(type),
        ofConnection: false,
        // A command of no result may have its `result` left out.
        onAck: (result) =>
          Either.match(decodeResult(result ?? {}), {
            onLeft: (error) =>
              reject(this.badReply(type, `its ack's result does not match: ${error.message}`)),
            onRight: resolve
          }),
        onError: reject,
        timer: setTimeout(() => this.timedOut(id), this.settings.commandTimeoutMs)
      })
      if (this.state === "open") this.transmit(id)
    })
  }

  /** The events of a plan from `fromSeq` (validated as a `watch` command's fields). */
  watch(masterplanId: string, fromSeq: number | undefined): EventQueue<Event> {
    const failed = (error: DevMatrixError) => {
      const queue = new EventQueue<Event>(() => {})
      queue.fail(error)
      return queue
    }
    if (this.closedBy !== undefined) return failed(forCommand(this.closedBy, "watch"))
    const fields = { type: "watch", id: "watch", masterplanId, ...(fromSeq !== undefined ? { fromSeq } : {}) }
    const command = commandDecoder("watch")(fields)
    if (Either.isLeft(command)) return failed(this.invalid("watch", "invalid_command", command.left.message))
    const watch = command.right as Extract<Command, { type: "watch" }>
    return this.watches.add(watch.masterplanId, watch.fromSeq)
  }

  /** Who the token is, once a connection has it acknowledged (within `commandTimeoutMs`). */
  ready(): Promise<Principal> {
    if (this.closedBy !== undefined) return Promise.reject(this.closedBy)
    if (this.state === "open" && this.principal !== undefined) return Promise.resolve(this.principal)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter)
        reject(
          new DevMatrixError({
            code: "internal",
            reason: "timeout",
            message: `no connection to the host within ${this.settings.commandTimeoutMs} ms${this.problemText()}`,
            outcomeUnknown: false
          })
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
      this.shutDown(
        new DevMatrixError({
          code: "internal",
          reason: "closed",
          message: "the client was closed",
          outcomeUnknown: false
        }),
        "end"
      )
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
      (error: unknown) =>
        this.shutDown(
          new DevMatrixError({
            code: "internal",
            reason: "closed",
            message: messageOf(error),
            outcomeUnknown: false
          }),
          "fail"
        )
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
    this.pending.set(id, {
      type: "hello",
      bytes: encodeFrame({ type: "hello", id, token: this.settings.token }),
      sent: false,
      retryable: false,
      ofConnection: true,
      onAck: (result) => this.opened(result),
      onError: (error) => {
        if (error.reason === "rejected" && refusesTheToken.has(error.code))
          this.shutDown(
            new DevMatrixError({
              code: error.code,
              reason: "rejected",
              message: `the host refused the token: ${error.message}`,
              outcomeUnknown: false
            }),
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
    for (const [id, pending] of this.pending) if (!pending.sent) this.transmit(id)
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
    this.pending.set(id, {
      type: command.type,
      bytes: encodeFrame({ ...command, id }),
      sent: false,
      retryable: false,
      ofConnection: true,
      onAck: () => replies?.onAck(),
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
        return this.take(frame.id)?.onAck(frame.result)
      case "error": {
        if (frame.id === undefined) {
          // Said of the connection (slow_consumer before a close), or of a frame it could not read.
          this.problem = `${frame.code}: ${frame.message}`
          return
        }
        const pending = this.take(frame.id)
        return pending?.onError(this.hostError(frame, pending.type))
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
    const pending = error.id !== undefined ? this.take(error.id) : undefined
    if (pending !== undefined) return pending.onError(this.badReply(pending.type, message))
    this.watches.failAll(this.badReply("watch", message))
  }

  private take(id: string): Pending | undefined {
    const pending = this.pending.get(id)
    if (pending === undefined) return undefined
    this.pending.delete(id)
    clearTimeout(pending.timer)
    return pending
  }

  private timedOut(id: string): void {
    const pending = this.take(id)
    if (pending === undefined) return
    const ms = this.settings.commandTimeoutMs
    pending.onError(
      new DevMatrixError({
        code: "internal",
        reason: "timeout",
        command: pending.type,
        outcomeUnknown: pending.sent,
        message: pending.sent
          ? `no reply to ${pending.type} within ${ms} ms${this.problemText()}: it may or may not have taken effect`
          : `${pending.type} was not sent: no connection to the host within ${ms} ms${this.problemText()}`
      })
    )
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
        new DevMatrixError({
          code: "unauthenticated",
          reason: "rejected",
          message: `the host refused the token (it closed the connection with ${code}${reason === "" ? "" : `: ${reason}`})`,
          outcomeUnknown: false
        }),
        "fail"
      )
    const closed = `the connection closed with ${code}${reason === "" ? "" : ` (${reason})`}`
    this.lastFailure = this.problem === undefined ? closed : `${closed}: ${this.problem}`
    this.disconnected()
  }

  /**
   * The connection is gone: what was sent and not answered fails (it may or may not have taken
   * effect), except the read-only commands, which wait for the next connection as the unsent do.
   */
  private disconnected(): void {
    clearTimeout(this.connectTimer)
    this.problem = undefined // told by lastFailure now
    for (const [id, pending] of this.pending) {
      if (pending.ofConnection) this.take(id)
      else if (pending.sent && pending.retryable) pending.sent = false
      else if (pending.sent) {
        this.take(id)
        pending.onError(
          new DevMatrixError({
            code: "internal",
            reason: "disconnected",
            command: pending.type,
            outcomeUnknown: true,
            message: `the connection dropped before the reply to ${pending.type}${this.problemText()}: it may or may not have taken effect`
          })
        )
      }
    }
    this.watches.onDisconnect()
    this.reconnect()
  }

  private reconnect(): void {
    if (this.closedBy !== undefined) return
    const { reconnect } = this.settings
    if (this.failedAttempts >= reconnect.maxAttempts)
      return this.shutDown(
        new DevMatrixError({
          code: "internal",
          reason: "closed",
          message: `no connection to the host after ${this.failedAttempts} attempts to reconnect${this.problemText()}`,
          outcomeUnknown: false
        }),
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
    for (const [id, pending] of this.pending) {
      this.take(id)
      if (!pending.ofConnection) pending.onError(forCommand(error, pending.type))
    }
    if (watches === "end") this.watches.stopAll()
    else this.watches.failAll(error)
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error)
  }

  private problemText(): string {
    const problem = this.problem ?? this.lastFailure
    return problem === undefined ? "" : ` (${problem})`
  }

  private invalid(type: CommandType, code: "invalid_command" | "frame_too_large", message: string) {
    return new DevMatrixError({ code, reason: "invalid", message, command: type, outcomeUnknown: false })
  }

  private badReply(type: CommandType, message: string) {
    return new DevMatrixError({
      code: "internal",
      reason: "bad_reply",
      message,
      command: type,
      outcomeUnknown: true
    })
  }

  private hostError(frame: typeof ErrorReply.Type, type: CommandType) {
    return new DevMatrixError({
      code: frame.code,
      reason: "rejected",
      message: frame.message,
      command: type,
      outcomeUnknown: frame.code === "internal"
    })
  }
}

const closeQuietly = (socket: WebSocketLike): void => {
  try {
    socket.close(1000, "client closed")
  } catch {
    // Already closing: nothing more to do.
  }
}
