import { encodeEventFrame } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Engine } from "@devmatrix/runtime"
import type { CommitFollowing } from "@devmatrix/runtime"
import { Effect, Either, Runtime } from "effect"
import type { HostMetrics } from "./hostMetrics.js"

/** A watcher of a plan's live events, as the plan's one follower hands them out. */
export interface FeedSubscriber {
  /**
   * The next events committed (a commit's batch, gap-free after the last), with their `event`
   * frames already encoded (once, for every watcher): `frames[i]` is `events[i]`'s.
   */
  readonly events: (events: ReadonlyArray<Event>, frames: ReadonlyArray<Uint8Array>) => void
  /** The follower stopped (the plan ended, or its journal could not be read): nothing more comes this way. */
  readonly ended: () => void
}

/** The live events of one plan this host runs: followed once, handed to every watcher. */
export interface PlanFeed {
  /** The highest seq handed out so far: everything up to it is committed (and readable from the store). */
  lastSeq: number
  ended: boolean
  readonly subscribers: Set<FeedSubscriber>
}

/** Reads committed events `from..to` of a plan's journal. */
export type JournalReader = (masterplanId: string, from: number, to: number) => Promise<ReadonlyArray<Event>>

/** An `event` frame, as every watcher of the plan is sent it. */
export const eventFrame = (event: Event): Uint8Array => encodeEventFrame(event)

/** Events the hub reads from the store at a time, catching up with a plan's commits. */
const catchUpPageSize = 500

/** A plan's follower: its feed, and what it does until it has caught up with the commits. */
interface Follower {
  readonly feed: PlanFeed
  following: CommitFollowing | undefined
  /** Batches committed while the journal before them is read from the store: handed out after it. */
  held: Array<ReadonlyArray<Event>> | undefined
  /** The writer ended while the follower was catching up. */
  endedWhileHeld: boolean
}

/**
 * One follower per plan the host runs, however many watch it: the engine hands it each commit as
 * the commit returns (`followCommits`, in the journal writer: no stream, no store read, no fiber
 * in between), and it fans the batch out to the plan's watchers (and to the metrics) in the same
 * turn, each event encoded once. Hundreds of watchers cost the store nothing more than one.
 */
export class WatchHub {
  private readonly followers = new Map<string, Follower>()
  private readonly runSync: ReturnType<typeof Runtime.runSync<Engine>>

  constructor(
    runtime: Runtime.Runtime<Engine>,
    private readonly metrics: HostMetrics,
    private readonly read: JournalReader
  ) {
    this.runSync = Runtime.runSync(runtime)
  }

  /**
   * Follows a plan this host has just submitted or recovered, from `fromSeq` (what its journal
   * held before): every event from there on is seen, counted and handed out once. What was
   * committed before the engine could hand it over is read from the store first; what is
   * committed meanwhile is held and handed out after it, in order.
   */
  follow(masterplanId: string, fromSeq: number): void {
    if (this.followers.has(masterplanId)) return
    const feed: PlanFeed = { lastSeq: fromSeq - 1, ended: false, subscribers: new Set() }
    const follower: Follower = { feed, following: undefined, held: [], endedWhileHeld: false }
    this.followers.set(masterplanId, follower)
    const following = this.runSync(
      Effect.either(
        Effect.flatMap(Engine, (engine) =>
          engine.followCommits(masterplanId, {
            committed: (events) => {
              if (follower.held !== undefined) follower.held.push(events)
              else this.deliver(feed, events)
            },
            ended: () => {
              if (follower.held !== undefined) follower.endedWhileHeld = true
              else this.end(masterplanId)
            }
          })
        )
      )
    )
    // Not running here any more (ended, or stopped already): its journal is all there is.
    if (Either.isLeft(following)) return void this.catchUp(follower, masterplanId, fromSeq, undefined)
    follower.following = following.right
    if (following.right.committedSeq < fromSeq) {
      follower.held = undefined
      return
    }
    void this.catchUp(follower, masterplanId, fromSeq, following.right.committedSeq)
  }

  /** The live feed of a plan this host runs now; undefined for one it does not (ended, or run elsewhere). */
  feedOf(masterplanId: string): PlanFeed | undefined {
    return this.followers.get(masterplanId)?.feed
  }

  /** Reads the journal `from..upTo` (to its end if `upTo` is undefined), then hands out what was held. */
  private async catchUp(
    follower: Follower,
    masterplanId: string,
    from: number,
    upTo: number | undefined
  ): Promise<void> {
    try {
      for (let next = from; upTo === undefined || next <= upTo;) {
        const last =
          upTo === undefined ? next + catchUpPageSize - 1 : Math.min(upTo, next + catchUpPageSize - 1)
        const page = await this.read(masterplanId, next, last)
        if (this.followers.get(masterplanId) !== follower) return
        this.deliver(follower.feed, page)
        if (page.length < last - next + 1) break
        next = last + 1
      }
    } catch (error) {
      this.runSync(Effect.logWarning(`the follower of masterplan ${masterplanId} stopped`, error))
      follower.following?.stop()
      return this.end(masterplanId)
    }
    const held = follower.held ?? []
    follower.held = undefined
    for (const events of held) this.deliver(follower.feed, events)
    if (follower.following === undefined || follower.endedWhileHeld) this.end(masterplanId)
  }

  private deliver(feed: PlanFeed, batch: ReadonlyArray<Event>): void {
    // Seqs are gap-free and commits come in order: an event at or below `lastSeq` was read from
    // the store already.
    const events = batch.filter((event) => event.seq > feed.lastSeq)
    if (events.length === 0) return
    feed.lastSeq = events[events.length - 1]!.seq
    for (const event of events) this.metrics.observe(event)
    if (feed.subscribers.size === 0) return
    const frames = events.map(eventFrame)
    for (const subscriber of feed.subscribers) subscriber.events(events, frames)
  }

  /** The plan's follower is done: its watchers are told (they read the rest from the store). */
  private end(masterplanId: string): void {
    const follower = this.followers.get(masterplanId)
    if (follower === undefined) return
    this.followers.delete(masterplanId)
    follower.feed.ended = true
    for (const subscriber of follower.feed.subscribers) subscriber.ended()
    follower.feed.subscribers.clear()
  }

  /** Stops every follower (the host is shutting down); their watchers are told. */
  stop(): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const [masterplanId, follower] of [...this.followers]) {
        follower.following?.stop()
        this.end(masterplanId)
      }
    })
  }
}
