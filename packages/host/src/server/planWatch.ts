import { isTerminalEvent } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import type { FeedSubscriber, JournalReader, WatchHub } from "./watchHub.js"
import { eventFrame } from "./watchHub.js"

export type { JournalReader } from "./watchHub.js"

/** Where a watch sends its frames: a connection. */
export interface WatchSink {
  /** Sends a frame; false when the connection is gone (or was closed for reading too slowly). */
  readonly send: (frame: Uint8Array) => boolean
  /**
   * Runs `write`, whose frames (a commit's batch, a replay's page) leave together, in as few
   * writes as the connection's batching allows, rather than a system call each.
   */
  readonly batched: <A>(write: () => A) => A
  /** Resolves once what was sent so far has been written out: the pace of a replay. */
  readonly flushed: () => Promise<void>
}

/** Events a replay reads from the store at a time. */
export const replayPageSize = 500

/** How often a watch of a plan no reader follows here (paused with no process, run elsewhere) looks for more. */
export const stalePlanPollMs = 500

/**
 * One `watch` of one connection: the plan's journal from `fromSeq`, then its live events, in order,
 * with no gap and no duplicate, to its terminal event.
 *
 * It replays from the store, a page at a time at the pace the socket takes them, until a page
 * comes back short while the plan's live feed has handed out nothing past it; then, in the same
 * tick (nothing can be handed out in between), it joins the feed. Whatever the feed hands out is
 * committed, so a replay never misses what the feed saw before the watch joined it; anything the
 * feed hands out that the watch has seen already is dropped by its seq.
 */
export class PlanWatch implements FeedSubscriber {
  /** The next seq to send. */
  private next: number
  private live = false
  private stopped = false

  constructor(
    readonly masterplanId: string,
    fromSeq: number,
    private readonly sink: WatchSink,
    private readonly hub: WatchHub,
    private readonly read: JournalReader,
    /** The watch has sent its plan's terminal event, or failed: the connection forgets it. */
    private readonly onDone: (watch: PlanWatch, error?: unknown) => void
  ) {
    this.next = fromSeq
  }

  /** Starts the replay (the `watch` ack is sent first). */
  start(): void {
    void this.replay()
  }

  /** Stops sending (`unwatch`, or the connection closed). */
  stop(): void {
    this.stopped = true
    this.hub.feedOf(this.masterplanId)?.subscribers.delete(this)
  }

  events(events: ReadonlyArray<Event>, frames: ReadonlyArray<Uint8Array>): void {
    if (!this.live || this.stopped) return
    this.sink.batched(() => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!
        if (event.seq < this.next) continue
        if (event.seq > this.next) {
          // Not expected (the feed is gap-free); the journal fills the gap.
          this.leaveFeed()
          void this.replay()
          return
        }
        if (!this.sendEvent(event, frames[i]!)) return
      }
    })
  }

  ended(): void {
    if (!this.live || this.stopped) return
    // The reader stopped before the plan's end (the host is stopping it, its store failed): the
    // store has what was committed; the replay goes on from it.
    this.live = false
    void this.replay()
  }

  private leaveFeed(): void {
    this.live = false
    this.hub.feedOf(this.masterplanId)?.subscribers.delete(this)
  }

  /** Sends one event; false once the watch is over (terminal event sent, or the connection gone). */
  private sendEvent(event: Event, frame: Uint8Array): boolean {
    if (!this.sink.send(frame)) {
      this.stop()
      return false
    }
    this.next = event.seq + 1
    if (isTerminalEvent(event)) {
      this.stop()
      this.onDone(this)
      return false
    }
    return true
  }

  private async replay(): Promise<void> {
    try {
      while (!this.stopped && !this.live) {
        const page = await this.read(this.masterplanId, this.next, this.next + replayPageSize - 1)
        if (this.stopped || this.live) return
        const sentAll = this.sink.batched(() =>
          page.every((event) => event.seq < this.next || this.sendEvent(event, eventFrame(event)))
        )
        if (!sentAll) return
        await this.sink.flushed()
        if (this.stopped || page.length === replayPageSize) continue
        const feed = this.hub.feedOf(this.masterplanId)
        if (feed !== undefined && !feed.ended) {
          if (feed.lastSeq < this.next) {
            this.live = true
            feed.subscribers.add(this)
            return
          }
          continue
        }
        await new Promise((resolve) => setTimeout(resolve, stalePlanPollMs))
      }
    } catch (error) {
      this.stop()
      this.onDone(this, error)
    }
  }
}
