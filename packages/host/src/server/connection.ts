import { CloseCode, decodeCommand, encodeFrame, errorReplyOf, maxErrorMessageLength } from "@devmatrix/core"
import type { Command, CommandResult, ErrorCode, Principal } from "@devmatrix/core"
import { finishedStatuses } from "@devmatrix/runtime"
import type { Engine, Store } from "@devmatrix/runtime"
import { Effect, Either, Exit, Runtime } from "effect"
import type { Duplex } from "node:stream"
import type { WebSocket } from "ws"
import type { HostMetrics } from "./hostMetrics.js"
import { CommandRefused, mayDo, notFound, planOfTenant, runPlanCommand } from "./planCommands.js"
import type { JournalReader } from "./planWatch.js"
import { PlanWatch } from "./planWatch.js"
import type { TokenTable } from "./tokens.js"
import type { WatchHub } from "./watchHub.js"

/** What one connection may do; each limit has its own error code or close code. */
export interface ConnectionLimits {
  /** The largest frame read; a larger one gets `frame_too_large` (twice as large closes with 1009). @default 32 MiB */
  readonly maxFrameBytes: number
  /** Commands a second, on average; more get `rate_limited`. @default 100 */
  readonly commandsPerSecond: number
  /** Commands at once above the average. @default 200 */
  readonly commandBurst: number
  /** Frames refused in a row for rate, after which the connection is closed as flooding (4429). @default 1,000 */
  readonly floodAfter: number
  /** Watches held at once; more get `too_many_watches`. @default 100 */
  readonly maxWatches: number
  /** Bytes queued to send; a connection over it is closed as a slow consumer (4408). @default 8 MiB */
  readonly maxSendBufferBytes: number
  /** How long a connection without a bearer token has to send `hello`; then it is closed (4401). @default 10 s */
  readonly helloTimeoutMs: number
  /** Commands received and not yet answered; more get `rate_limited`. @default 64 */
  readonly maxPendingCommands: number
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxFrameBytes: 32 * 1024 * 1024,
  commandsPerSecond: 100,
  commandBurst: 200,
  floodAfter: 1_000,
  maxWatches: 100,
  maxSendBufferBytes: 8 * 1024 * 1024,
  helloTimeoutMs: 10_000,
  maxPendingCommands: 64
}

/** What every connection of a host shares. */
export interface ConnectionContext {
  readonly runtime: Runtime.Runtime<Engine | Store>
  readonly tokens: TokenTable
  readonly hub: WatchHub
  readonly metrics: HostMetrics
  readonly read: JournalReader
  readonly limits: ConnectionLimits
}

/** The most bytes a batch of frames holds corked before they are written: 64 KiB. */
const batchFlushBytes = 64 * 1024

/** A close reason: WebSocket limits it to 123 bytes. */
const reasonOf = (text: string) => (Buffer.byteLength(text) <= 123 ? text : `${text.slice(0, 100)}…`)

/**
 * One client's WebSocket: authenticates it, reads its frames through the protocol's schemas, runs
 * its commands one at a time in the order they came (a `watch` after a `submit` sees the plan),
 * answers each with `ack` or `error`, and streams its watches. A frame that is not a command gets
 * an `error` and the connection stays up; only the limits close it, each with its code and reason.
 */
export class Connection {
  private principal: Principal | undefined
  private readonly watches = new Map<string, PlanWatch>()
  private readonly runPromiseExit: ReturnType<typeof Runtime.runPromiseExit<Engine | Store>>
  private tokensLeft: number
  private refilledAtMs = Date.now()
  private refusedInARow = 0
  private pending = 0
  private queue: Promise<void> = Promise.resolve()
  private closed = false
  /** Frames are being sent as one batch (`batched`); `batchBytes` of them are corked, not yet written. */
  private batching = false
  private batchBytes = 0
  private readonly helloTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly socket: WebSocket,
    principal: Principal | undefined,
    private readonly context: ConnectionContext
  ) {
    this.principal = principal
    this.tokensLeft = context.limits.commandBurst
    this.runPromiseExit = Runtime.runPromiseExit(context.runtime)
    context.metrics.connected()
    socket.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary))
    socket.on("close", () => this.onClose())
    // A protocol error (a frame over ws's payload limit): ws itself closes with its code (1009);
    // terminating here would cut the socket before that close frame leaves (the peer sees 1006).
    socket.on("error", () => undefined)
    if (principal === undefined)
      this.helloTimer = setTimeout(
        () => this.close(CloseCode.unauthenticated, "no hello with a known token in time"),
        context.limits.helloTimeoutMs
      )
  }

  /** Closes the connection with a code and a reason (idempotent). */
  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.stopWatches()
    this.socket.close(code, reasonOf(reason))
    // A peer that never answers the close handshake does not hold the socket open.
    setTimeout(() => this.socket.terminate(), 5_000).unref()
  }

  private onClose(): void {
    if (this.helloTimer !== undefined) clearTimeout(this.helloTimer)
    this.closed = true
    this.stopWatches()
    this.context.metrics.disconnected()
  }

  private stopWatches(): void {
    for (const watch of this.watches.values()) watch.stop()
    this.watches.clear()
  }

  /**
   * Sends a frame unless the connection is closed or over its send buffer (then it closes it as
   * slow). What counts is what the peer has not taken: the bytes written that the kernel did not
   * accept, not the frames of the batch under way, which are this process's and leave with it
   * (see `batched`).
   */
  private send(frame: Uint8Array): boolean {
    if (this.closed) return false
    const untaken = this.socket.bufferedAmount - this.batchBytes
    if (untaken + frame.byteLength > this.context.limits.maxSendBufferBytes) {
      this.context.metrics.droppedSlowConsumer()
      const message = `the send buffer passed ${this.context.limits.maxSendBufferBytes.toLocaleString("en-US")} bytes: read faster, reconnect and watch from your last seq + 1`
      this.socket.send(encodeFrame({ type: "error", code: "slow_consumer", message }))
      this.close(CloseCode.slowConsumer, "slow consumer: reconnect and watch from your last seq + 1")
      return false
    }
    if (!this.batching) {
      this.socket.send(frame)
      return true
    }
    const before = this.socket.bufferedAmount
    this.socket.send(frame)
    this.batchBytes += this.socket.bufferedAmount - before
    if (this.batchBytes >= batchFlushBytes) this.flushBatch()
    return true
  }

  /** The TCP socket under `ws` (which has no cork of its own); gone once the connection is. */
  private tcpSocket(): Duplex | undefined {
    return (this.socket as unknown as { readonly _socket?: Duplex | null })._socket ?? undefined
  }

  /**
   * Runs `write` with the TCP socket corked, so that its frames (a commit's batch for every
   * watcher, a replay's page) leave in one write instead of a system call each: measured
   * (bench/results/host-fanout.md), a write per frame was a third of the host's CPU at 200
   * watchers, on the event loop the engine shares. The batch is sent when `write` returns, not at
   * the end of the tick: nothing waits for the engine's next turn. Its own bytes do not count
   * against the send buffer (a page of 500 events would fill a small one by itself, and close a
   * reader that keeps up as slow); what the kernel does not take when it is sent does. A batch
   * is sent every `batchFlushBytes` at most, so the bytes held uncounted stay bounded.
   */
  private batched<A>(write: () => A): A {
    const tcp = this.batching || this.closed ? undefined : this.tcpSocket()
    if (tcp === undefined) return write()
    this.batching = true
    tcp.cork()
    try {
      return write()
    } finally {
      this.batching = false
      this.batchBytes = 0
      tcp.uncork()
    }
  }

  private flushBatch(): void {
    const tcp = this.tcpSocket()
    this.batchBytes = 0
    if (tcp === undefined) return
    tcp.uncork()
    tcp.cork()
  }

  private flushed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.bufferedAmount === 0) return resolve()
      // An empty frame is not sent: a ping's callback comes once everything before it is written.
      this.socket.ping(undefined, undefined, () => resolve())
    })
  }

  private refuse(code: ErrorCode, message: string, id?: string): void {
    this.context.metrics.refused(code)
    this.send(
      encodeFrame({
        type: "error",
        ...(id !== undefined ? { id } : {}),
        code,
        message:
          message.length <= maxErrorMessageLength
            ? message
            : `${message.slice(0, maxErrorMessageLength - 1)}…`
      })
    )
  }

  /** Takes a token from the connection's bucket; false when it has none left. */
  private admitted(): boolean {
    const now = Date.now()
    const { commandsPerSecond, commandBurst } = this.context.limits
    this.tokensLeft = Math.min(
      commandBurst,
      this.tokensLeft + ((now - this.refilledAtMs) / 1000) * commandsPerSecond
    )
    this.refilledAtMs = now
    if (this.tokensLeft < 1) return false
    this.tokensLeft -= 1
    return true
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    if (!this.admitted() || this.pending >= this.context.limits.maxPendingCommands) {
      this.refusedInARow += 1
      if (this.refusedInARow >= this.context.limits.floodAfter)
        return this.close(
          CloseCode.flooding,
          `flooding: ${this.refusedInARow} frames over the rate limit in a row`
        )
      return this.refuse(
        "rate_limited",
        `more than ${this.context.limits.commandsPerSecond} commands a second (or ${this.context.limits.maxPendingCommands} unanswered): slow down`
      )
    }
    this.refusedInARow = 0
    if (!isBinary) return this.refuse("bad_frame", "frames are binary msgpack, this one is text")
    const decoded = decodeCommand(data, { maxBytes: this.context.limits.maxFrameBytes })
    if (Either.isLeft(decoded)) {
      this.context.metrics.refused(decoded.left.code)
      this.send(encodeFrame(errorReplyOf(decoded.left)))
      return
    }
    const command = decoded.right
    this.pending += 1
    this.queue = this.queue.then(() => this.run(command)).finally(() => (this.pending -= 1))
  }

  private async run(command: Command): Promise<void> {
    if (this.closed) return
    const exit = await this.runPromiseExit(this.execute(command))
    if (Exit.isSuccess(exit)) {
      this.send(encodeFrame({ type: "ack", id: command.id, result: exit.value.result }))
      exit.value.after?.()
      return
    }
    const failure = Exit.causeOption(exit)
    const refused = failure._tag === "Some" && failure.value._tag === "Fail" ? failure.value.error : undefined
    if (refused instanceof CommandRefused) return this.refuse(refused.code, refused.message, command.id)
    this.refuse(
      "internal",
      "the host failed on this command; it may or may not have taken effect",
      command.id
    )
  }

  /** A command's ack result, and what to do once the ack is sent (a watch starts streaming then). */
  private execute(
    command: Command
  ): Effect.Effect<
    { readonly result: unknown; readonly after?: () => void },
    CommandRefused,
    Engine | Store
  > {
    if (command.type === "hello") return Effect.suspend(() => this.hello(command.token))
    const principal = this.principal
    if (principal === undefined)
      return Effect.fail(
        new CommandRefused({ code: "unauthenticated", message: "send hello with your token first" })
      )
    if (!mayDo(principal.role, command.type))
      return Effect.fail(
        new CommandRefused({ code: "forbidden", message: `a ${principal.role} may not ${command.type}` })
      )
    switch (command.type) {
      case "watch":
        return this.watch(command.masterplanId, command.fromSeq, principal)
      case "unwatch": {
        const watch = this.watches.get(command.masterplanId)
        if (watch === undefined) return Effect.fail(notFound(command.masterplanId))
        watch.stop()
        this.watches.delete(command.masterplanId)
        return Effect.succeed({ result: {} })
      }
      default:
        return Effect.map(runPlanCommand(command, principal, this.context.hub), (result) => ({ result }))
    }
  }

  private hello(token: string): Effect.Effect<{ readonly result: CommandResult<"hello"> }, CommandRefused> {
    if (this.principal !== undefined)
      return Effect.fail(
        new CommandRefused({ code: "conflict", message: "this connection is authenticated already" })
      )
    const principal = this.context.tokens.authenticate(token)
    if (principal === undefined) {
      // Answered first, then closed: the client learns why, and does not reconnect for it.
      setImmediate(() => this.close(CloseCode.unauthenticated, "unknown token"))
      return Effect.fail(new CommandRefused({ code: "unauthenticated", message: "unknown token" }))
    }
    this.principal = principal
    if (this.helloTimer !== undefined) clearTimeout(this.helloTimer)
    return Effect.succeed({ result: principal })
  }

  private watch(masterplanId: string, fromSeq: number, principal: Principal) {
    return Effect.gen(this, function* () {
      if (this.watches.has(masterplanId))
        return yield* new CommandRefused({
          code: "conflict",
          message: `masterplan ${JSON.stringify(masterplanId)} is watched already on this connection`
        })
      if (this.watches.size >= this.context.limits.maxWatches)
        return yield* new CommandRefused({
          code: "too_many_watches",
          message: `at most ${this.context.limits.maxWatches} watches per connection`
        })
      const record = yield* planOfTenant(masterplanId, principal).pipe(
        Effect.catchTag("StoreError", (error) =>
          Effect.fail(new CommandRefused({ code: "internal", message: error.message }))
        )
      )
      const ended = finishedStatuses.has(record.status)
      const result: CommandResult<"watch"> = { masterplanId, fromSeq, lastSeq: record.lastSeq, ended }
      // Past the end of a plan that has ended: nothing will come.
      if (ended && fromSeq > record.lastSeq) return { result }
      const watch = new PlanWatch(
        masterplanId,
        fromSeq,
        {
          send: (frame) => this.send(frame),
          batched: (write) => this.batched(write),
          flushed: () => this.flushed()
        },
        this.context.hub,
        this.context.read,
        (done, error) => {
          if (this.watches.get(masterplanId) === done) this.watches.delete(masterplanId)
          if (error !== undefined)
            this.refuse(
              "internal",
              `the watch of ${JSON.stringify(masterplanId)} failed: its journal could not be read`
            )
        }
      )
      this.watches.set(masterplanId, watch)
      return { result, after: () => watch.start() }
    })
  }
}
