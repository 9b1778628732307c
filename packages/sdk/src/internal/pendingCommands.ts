import type { CommandType } from "@devmatrix/core"
import type { DevMatrixError } from "../DevMatrixError.js"
import { clientError } from "./commandFrames.js"

/** A command on its way: waiting for a connection, or sent and waiting for its reply. */
export interface Pending {
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

/** The commands a client has sent or will send, by id, in the order they were made. */
export class PendingCommands {
  private readonly byId = new Map<string, Pending>()

  add(id: string, pending: Pending): void {
    this.byId.set(id, pending)
  }

  get(id: string): Pending | undefined {
    return this.byId.get(id)
  }

  /** The command, no longer pending (its reply came, it timed out, it failed). */
  take(id: string): Pending | undefined {
    const pending = this.byId.get(id)
    if (pending === undefined) return undefined
    this.byId.delete(id)
    clearTimeout(pending.timer)
    return pending
  }

  /** The ids of the commands that wait for a connection, oldest first. */
  unsent(): Array<string> {
    return [...this.byId].flatMap(([id, pending]) => (pending.sent ? [] : [id]))
  }

  /** No reply within `timeoutMs`; `why` says what is known of the connection. */
  timedOut(id: string, timeoutMs: number, why: string): void {
    const pending = this.take(id)
    if (pending === undefined) return
    const { type, sent } = pending
    pending.onError(
      clientError(
        "timeout",
        sent
          ? `no reply to ${type} within ${timeoutMs} ms${why}: it may or may not have taken effect`
          : `${type} was not sent: no connection to the host within ${timeoutMs} ms${why}`,
        { command: type, outcomeUnknown: sent }
      )
    )
  }

  /**
   * The connection is gone: what was sent and not answered fails (it may or may not have taken
   * effect), except the read-only commands, which wait for the next connection as the unsent do.
   */
  dropped(why: string): void {
    for (const [id, pending] of this.byId) {
      if (pending.ofConnection) this.take(id)
      else if (pending.sent && pending.retryable) pending.sent = false
      else if (pending.sent) {
        this.take(id)
        pending.onError(
          clientError(
            "disconnected",
            `the connection dropped before the reply to ${pending.type}${why}: it may or may not have taken effect`,
            { command: pending.type, outcomeUnknown: true }
          )
        )
      }
    }
  }

  /** Every command fails with `errorOf` its type (the client is closing). */
  failAll(errorOf: (type: CommandType) => DevMatrixError): void {
    for (const [id, pending] of this.byId) {
      this.take(id)
      if (!pending.ofConnection) pending.onError(errorOf(pending.type))
    }
  }
}
