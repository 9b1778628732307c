import { isTerminalEvent, type Event } from "@devmatrix/core"
import { DevMatrixError } from "../DevMatrixError.js"
import { EventQueue } from "./eventQueue.js"

/** How the watches reach the host: a `watch` or `unwatch` on the open connection. */
export interface WatchLink {
  /**
   * Sends the command if a connection is open (its id), else nothing (undefined: the watches are
   * re-established by `onOpen`). `replies` hears its ack or error.
   */
  readonly send: (
    command:
      | { readonly type: "watch"; readonly masterplanId: string; readonly fromSeq: number }
      | { readonly type: "unwatch"; readonly masterplanId: string },
    replies?: {
      readonly onAck: (result: unknown) => void
      readonly onError: (error: DevMatrixError) => void
    }
  ) => string | undefined
}

/** One `for await` over a plan's events. */
interface Consumer {
  /** The seq it reads next: what it has seen, + 1. */
  nextSeq: number
  readonly queue: EventQueue<Event>
}

/**
 * The host's `watch` of one plan on the current connection, shared by the plan's consumers (the
 * protocol names a watch by its plan, so a connection has at most one per plan).
 */
interface PlanWatch {
  readonly masterplanId: string
  readonly consumers: Set<Consumer>
  /** The `watch` command of the current subscription; undefined when there is none. */
  watchId: string | undefined
  /** Its ack came: every event from here on is from it, in order from `streamNext`. */
  live: boolean
  /** The seq the current subscription sends next. */
  streamNext: number
}

/**
 * The client's watches: every consumer sees its plan's events from its `fromSeq`, in order, each
 * once, across reconnects and however consumers of the same plan come and go. Each keeps its own
 * `nextSeq` and takes only the event of that seq, so a replay after a reconnect, or one started
 * for a newer consumer from an earlier seq, gives no one a duplicate; the subscription starts at
 * the lowest `nextSeq` of its consumers, so no one misses an event.
 */
export class PlanWatches {
  private readonly watches = new Map<string, PlanWatch>()

  constructor(private readonly link: WatchLink) {}

  /** A new consumer of the plan's events from `fromSeq`. */
  add(masterplanId: string, fromSeq: number): EventQueue<Event> {
    let watch = this.watches.get(masterplanId)
    if (watch === undefined) {
      watch = { masterplanId, consumers: new Set(), watchId: undefined, live: false, streamNext: fromSeq }
      this.watches.set(masterplanId, watch)
    }
    const plan = watch
    const consumer: Consumer = { nextSeq: fromSeq, queue: new EventQueue(() => this.remove(plan, consumer)) }
    plan.consumers.add(consumer)
    // A subscription under way that is already past `fromSeq` would never send what this one needs.
    if (plan.watchId === undefined || fromSeq < plan.streamNext) this.subscribe(plan)
    return consumer.queue
  }

  /** An `event` frame. */
  deliver(masterplanId: string, event: Event): void {
    const watch = this.watches.get(masterplanId)
    if (watch === undefined) return // a watch given up on: what the host sent before it heard
    if (watch.live) {
      // Before the ack, events are those of a subscription given up on, and may be anything.
      if (event.seq < watch.streamNext) return
      if (event.seq > watch.streamNext)
        return this.failWatch(
          watch,
          new DevMatrixError({
            code: "internal",
            reason: "bad_reply",
            message: `the host sent event ${event.seq} of masterplan ${JSON.stringify(watch.masterplanId)} after ${watch.streamNext - 1}: a gap`,
            command: "watch",
            outcomeUnknown: false
          })
        )
      watch.streamNext = event.seq + 1
    }
    for (const consumer of watch.consumers)
      if (event.seq === consumer.nextSeq) {
        consumer.queue.push(event)
        consumer.nextSeq++
      }
    if (!isTerminalEvent(event)) return
    // The plan has ended: there is nothing after this event for a consumer past it.
    for (const consumer of watch.consumers)
      if (consumer.nextSeq > event.seq) {
        consumer.queue.end()
        watch.consumers.delete(consumer)
      }
    if (watch.live) {
      // The host's watch ends with the terminal event.
      watch.watchId = undefined
      watch.live = false
    }
    if (watch.consumers.size === 0) this.watches.delete(watch.masterplanId)
    else if (watch.watchId === undefined) this.subscribe(watch)
  }

  /** A connection is open and authenticated: every watch is sent again, from where its consumers are. */
  onOpen(): void {
    for (const watch of this.watches.values()) this.subscribe(watch)
  }

  /** The connection dropped: its subscriptions went with it. */
  onDisconnect(): void {
    for (const watch of this.watches.values()) {
      watch.watchId = undefined
      watch.live = false
    }
  }

  /** Every watch fails with `error` (after what its consumers have buffered). */
  failAll(error: DevMatrixError): void {
    for (const watch of [...this.watches.values()]) this.failWatch(watch, error)
  }

  /** Every watch ends now (the client is closing): nothing is sent. */
  stopAll(): void {
    for (const watch of this.watches.values()) for (const consumer of watch.consumers) consumer.queue.stop()
    this.watches.clear()
  }

  private subscribe(watch: PlanWatch): void {
    if (watch.watchId !== undefined) this.link.send({ type: "unwatch", masterplanId: watch.masterplanId })
    const fromSeq = Math.min(...Array.from(watch.consumers, (c) => c.nextSeq))
    const id = this.link.send(
      { type: "watch", masterplanId: watch.masterplanId, fromSeq },
      {
        onAck: (result) => {
          if (watch.watchId !== id) return
          watch.live = true
          // A plan that had ended, watched from past its last event: nothing will come.
          const { ended, lastSeq } = result as { readonly ended?: boolean; readonly lastSeq?: number }
          if (ended === true && lastSeq !== undefined && fromSeq > lastSeq) {
            for (const consumer of watch.consumers) consumer.queue.end()
            watch.consumers.clear()
            watch.watchId = undefined
            watch.live = false
            if (this.watches.get(watch.masterplanId) === watch) this.watches.delete(watch.masterplanId)
          }
        },
        onError: (error) => {
          if (watch.watchId !== id) return
          watch.watchId = undefined // refused: there is nothing to unwatch
          this.failWatch(watch, error)
        }
      }
    )
    watch.watchId = id
    watch.live = false
    watch.streamNext = fromSeq
  }

  private failWatch(watch: PlanWatch, error: DevMatrixError): void {
    for (const consumer of watch.consumers) consumer.queue.fail(error)
    this.forget(watch)
  }

  private remove(watch: PlanWatch, consumer: Consumer): void {
    if (!watch.consumers.delete(consumer) || watch.consumers.size > 0) return
    this.forget(watch)
  }

  /** The watch has no consumer left: the host is told, if it is watching. */
  private forget(watch: PlanWatch): void {
    watch.consumers.clear()
    if (this.watches.get(watch.masterplanId) === watch) this.watches.delete(watch.masterplanId)
    if (watch.watchId !== undefined) this.link.send({ type: "unwatch", masterplanId: watch.masterplanId })
    watch.watchId = undefined
    watch.live = false
  }
}
