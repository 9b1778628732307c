import { ReadyQueue } from "@devmatrix/core"

const notWaiting = 0
const waiting = 1
const held = 2

/**
 * A plan's side of its bounded admission queue. It counts the atoms waiting for admission (queued,
 * or backing off before they queue again: both are live actors), and holds the atoms that became
 * ready while `bound()` of them were waiting: those stay ready as indices, by the plan's priority,
 * with no actor, and are made ready one by one as room appears (`next`). None is lost or dropped.
 *
 * An atom that fails or is pushed back comes back to the queue even when it is full (its actor
 * exists already): the waiting atoms are at most `bound()` plus the calls that were in flight.
 */
export class ReadyBacklog {
  private readonly state: Uint8Array
  private waitingCount = 0
  private readonly backlog: ReadyQueue

  constructor(
    size: number,
    before: (a: number, b: number) => boolean,
    /** How many atoms may wait before new ready ones are held back (the plan's queue claim). */
    private readonly bound: () => number
  ) {
    this.state = new Uint8Array(size)
    this.backlog = new ReadyQueue(before)
  }

  /** Atoms waiting for admission now. */
  get waiting(): number {
    return this.waitingCount
  }

  /** Ready atoms held back, not queued yet. */
  get held(): number {
    return this.backlog.size
  }

  /** A ready atom: true when it may be queued now; else it is held (once, however often it is offered). */
  offer(index: number): boolean {
    const state = this.state[index]!
    if (state === held) return false
    if (state === waiting || this.waitingCount < this.bound()) return true
    this.state[index] = held
    this.backlog.push(index)
    return false
  }

  /** The atom waits for admission (it was queued, or backs off before it queues again). */
  waits(index: number): void {
    if (this.state[index] === waiting) return
    this.state[index] = waiting
    this.waitingCount++
  }

  /** The atom no longer waits (it started, or settled). */
  leaves(index: number): void {
    if (this.state[index] !== waiting) return
    this.state[index] = notWaiting
    this.waitingCount--
  }

  /** The best held atom, taken out, when there is room for it now; else undefined. */
  next(): number | undefined {
    if (this.backlog.size === 0 || this.waitingCount >= this.bound()) return undefined
    const index = this.backlog.pop()!
    this.state[index] = notWaiting
    return index
  }
}
