import { ReadyQueue } from "@devmatrix/core"

const idle = 0
const queued = 1
const backingOff = 2
const held = 3

/**
 * A plan's side of its bounded admission queue. It counts the atoms waiting for admission (queued,
 * or backing off before they queue again: both are live actors), and holds the atoms that become
 * ready while `bound()` of them wait: those stay ready as indices, by the plan's priority, with no
 * actor, and are made ready one by one as room appears (`next`). None is lost or dropped.
 *
 * A plan with nothing queued always takes its next ready atom, even when backoffs fill its bound:
 * atoms backing off hold no permit, and a free permit must not sit idle while an atom could use it.
 * So at most `bound()` atoms are queued at once when one is made ready; those backing off are
 * bounded by the calls that fail meanwhile (each was a call).
 */
export class ReadyBacklog {
  private readonly state: Uint8Array
  private queuedCount = 0
  private backingOffCount = 0
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

  /** Ready atoms held back, not queued yet. */
  get held(): number {
    return this.backlog.size
  }

  /** A ready atom: true when it may be queued now; else it is held (once, however often it is offered). */
  offer(index: number): boolean {
    const state = this.state[index]!
    if (state === held) return false
    if (state !== idle || this.hasRoom()) return true
    this.state[index] = held
    this.backlog.push(index)
    return false
  }

  /** The atom is queued for admission. */
  queues(index: number): void {
    this.move(index, queued)
  }

  /** The atom backs off before it queues again (a retry's wait, a push back's `retry-after`). */
  backsOff(index: number): void {
    this.move(index, backingOff)
  }

  /** The atom no longer waits (it started, or settled). */
  leaves(index: number): void {
    this.move(index, idle)
  }

  /** The best held atom, taken out, when there is room for it now; else undefined. */
  next(): number | undefined {
    if (this.backlog.size === 0 || !this.hasRoom()) return undefined
    const index = this.backlog.pop()!
    this.state[index] = idle
    return index
  }

  private hasRoom(): boolean {
    return this.queuedCount === 0 || this.queuedCount + this.backingOffCount < this.bound()
  }

  private move(index: number, to: typeof idle | typeof queued | typeof backingOff): void {
    const from = this.state[index]!
    if (from === to || from === held) return
    if (from === queued) this.queuedCount--
    else if (from === backingOff) this.backingOffCount--
    if (to === queued) this.queuedCount++
    else if (to === backingOff) this.backingOffCount++
    this.state[index] = to
  }
}
