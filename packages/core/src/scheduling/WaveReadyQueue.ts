import { ReadyQueue } from "./ReadyQueue.js"

/**
 * A plan's ready atoms when each wave has a cap on the permits it holds (`waveConcurrency`): one
 * heap per wave with atoms waiting, and the permits each wave holds. `pop` takes the best atom
 * (by the plan's comparator) among the waves under their cap, so an atom of a wave at its cap
 * never holds back one of another wave: no permit sits idle while an atom could use it.
 *
 * The scan is over the waves that have atoms waiting (in eager mode, a few at a time); a plan
 * without a wave cap uses one `ReadyQueue` and pays nothing for this.
 */
export class WaveReadyQueue {
  private readonly waiting = new Map<number, ReadyQueue>()
  private readonly held = new Map<number, number>()
  private count = 0

  constructor(
    private readonly before: (a: number, b: number) => boolean,
    private readonly waveOf: (index: number) => number,
    /** Permits one wave may hold at once. */
    private readonly cap: number
  ) {}

  /** Atoms waiting, in every wave. */
  get size(): number {
    return this.count
  }

  push(index: number): void {
    const wave = this.waveOf(index)
    let queue = this.waiting.get(wave)
    if (queue === undefined) {
      queue = new ReadyQueue(this.before)
      this.waiting.set(wave, queue)
    }
    queue.push(index)
    this.count++
  }

  /** Whether an atom may take a permit now: one waits in a wave under its cap. */
  hasEligible(): boolean {
    for (const wave of this.waiting.keys()) if (this.heldBy(wave) < this.cap) return true
    return false
  }

  /** Removes the best atom of the waves under their cap and counts its permit; undefined if none. */
  pop(): number | undefined {
    let best: number | undefined
    let bestWave = 0
    for (const [wave, queue] of this.waiting) {
      if (this.heldBy(wave) >= this.cap) continue
      const head = queue.peek()!
      if (best === undefined || this.before(head, best)) {
        best = head
        bestWave = wave
      }
    }
    if (best === undefined) return undefined
    const queue = this.waiting.get(bestWave)!
    queue.pop()
    if (queue.size === 0) this.waiting.delete(bestWave)
    this.count--
    this.held.set(bestWave, this.heldBy(bestWave) + 1)
    return best
  }

  /** The permit `pop` counted for this atom has returned: its wave has room for one more. */
  returned(index: number): void {
    const wave = this.waveOf(index)
    const held = this.heldBy(wave) - 1
    if (held > 0) this.held.set(wave, held)
    else this.held.delete(wave)
  }

  /** Permits the wave holds now. */
  heldBy(wave: number): number {
    return this.held.get(wave) ?? 0
  }
}
