import { encodeFrame } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import { Effect, Fiber, Runtime, Stream } from "effect"
import type { HostMetrics } from "./hostMetrics.js"

/** A watcher of a plan's live events, as the plan's one reader hands them out. */
export interface FeedSubscriber {
  /** The next committed event, with its `event` frame already encoded (once, for every watcher). */
  readonly event: (event: Event, frame: Uint8Array) => void
  /** The reader stopped (the plan ended, or its journal could not be read): nothing more comes this way. */
  readonly ended: () => void
}

/** The live events of one plan this host runs: read once, handed to every watcher. */
export interface PlanFeed {
  /** The highest seq handed out so far: everything up to it is committed (and readable from the store). */
  lastSeq: number
  ended: boolean
  readonly subscribers: Set<FeedSubscriber>
}

/** An `event` frame, as every watcher of the plan is sent it. */
export const eventFrame = (event: Event): Uint8Array =>
  encodeFrame({ type: "event", masterplanId: event.masterplanId, event })

/**
 * One reader per plan the host runs, however many watch it: the reader follows the engine's
 * committed journal and fans each event out to the plan's watchers (and to the metrics), encoded
 * once. Hundreds of watchers cost the store nothing more than one.
 */
export class WatchHub {
  private readonly feeds = new Map<string, PlanFeed>()
  private readonly readers = new Map<string, Fiber.RuntimeFiber<void, unknown>>()
  private readonly runFork: ReturnType<typeof Runtime.runFork<Engine>>

  constructor(
    runtime: Runtime.Runtime<Engine>,
    private readonly metrics: HostMetrics
  ) {
    this.runFork = Runtime.runFork(runtime)
  }

  /**
   * Starts the reader of a plan this host has just submitted or recovered, from `fromSeq` (what its
   * journal held before): every event from there on is seen, counted and handed out once.
   */
  follow(masterplanId: string, fromSeq: number): void {
    if (this.feeds.has(masterplanId)) return
    const feed: PlanFeed = { lastSeq: fromSeq - 1, ended: false, subscribers: new Set() }
    this.feeds.set(masterplanId, feed)
    const reader = Effect.flatMap(Engine, (engine) =>
      Stream.runForEach(engine.events(masterplanId, { fromSeq }), (event) =>
        Effect.sync(() => this.deliver(feed, event))
      )
    ).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logWarning(`the reader of masterplan ${masterplanId} stopped`, cause)
      ),
      Effect.ensuring(
        Effect.sync(() => {
          feed.ended = true
          this.feeds.delete(masterplanId)
          this.readers.delete(masterplanId)
          for (const subscriber of feed.subscribers) subscriber.ended()
          feed.subscribers.clear()
        })
      )
    )
    this.readers.set(masterplanId, this.runFork(reader))
  }

  /** The live feed of a plan this host runs now; undefined for one it does not (ended, or run elsewhere). */
  feedOf(masterplanId: string): PlanFeed | undefined {
    return this.feeds.get(masterplanId)
  }

  private deliver(feed: PlanFeed, event: Event): void {
    // Seqs are gap-free and the engine's stream is in order: anything else is a reader restarted.
    if (event.seq <= feed.lastSeq) return
    feed.lastSeq = event.seq
    this.metrics.observe(event)
    if (feed.subscribers.size === 0) return
    const frame = eventFrame(event)
    for (const subscriber of feed.subscribers) subscriber.event(event, frame)
  }

  /** Stops every reader (the host is shutting down); their watchers are told. */
  stop(): Effect.Effect<void> {
    return Effect.forEach([...this.readers.values()], Fiber.interrupt, { discard: true })
  }
}
