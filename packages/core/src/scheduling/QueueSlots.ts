/**
 * Slots of the engine's admission queue that one plan holds: the most atoms it may have waiting for
 * admission at once. It gives them back as its atoms settle (`shrinkTo`) and all of them when it
 * ends (`release`); both are idempotent.
 */
export interface QueueClaim {
  readonly slots: number
  /** Keeps at most `slots` (a plan with fewer atoms left needs no more); never grows. */
  readonly shrinkTo: (slots: number) => void
  readonly release: () => void
}

interface Waiter {
  readonly slots: number
  readonly granted: (claim: QueueClaim) => void
}

/**
 * The engine's bound on atoms waiting for admission, shared out as claims: a plan claims its slots
 * when it is submitted (or resumed) and holds them while it runs, so the claims never add up to more
 * than `capacity` and every running plan has room for its own queue (none starves another of it).
 * A claim that does not fit waits in line, first come first served: a large claim is not overtaken
 * forever by small ones. Pure bookkeeping; waiting with a deadline is the caller's.
 */
export class QueueSlots {
  private claimed = 0
  private readonly line: Array<Waiter> = []

  constructor(readonly capacity: number) {}

  /** Slots held by claims now. */
  get inUse(): number {
    return this.claimed
  }

  /** Claims waiting in line. */
  get waiting(): number {
    return this.line.length
  }

  /** A claim of `slots` now, if it fits and none waits before it; else undefined. */
  tryClaim(slots: number): QueueClaim | undefined {
    if (this.line.length > 0 || !this.fits(slots)) return undefined
    return this.grant(slots)
  }

  /**
   * Waits in line for `slots`: `granted` is called (synchronously, from the release that made room)
   * once they fit and every claim before this one is granted. The returned function leaves the
   * line; it returns false when the claim was granted already (the caller then owns it).
   */
  wait(slots: number, granted: (claim: QueueClaim) => void): () => boolean {
    const waiter: Waiter = { slots, granted }
    this.line.push(waiter)
    this.admitWaiting()
    return () => {
      const at = this.line.indexOf(waiter)
      if (at < 0) return false
      this.line.splice(at, 1)
      // The head left: the claims behind it may fit now.
      if (at === 0) this.admitWaiting()
      return true
    }
  }

  private fits(slots: number): boolean {
    return this.claimed + slots <= this.capacity
  }

  private grant(slots: number): QueueClaim {
    this.claimed += slots
    let held = slots
    const give = (to: number) => {
      const back = held - Math.max(0, Math.min(held, to))
      if (back <= 0) return
      held -= back
      this.claimed -= back
      this.admitWaiting()
    }
    return {
      get slots() {
        return held
      },
      shrinkTo: give,
      release: () => give(0)
    }
  }

  private admitWaiting(): void {
    while (this.line.length > 0 && this.fits(this.line[0]!.slots)) {
      const waiter = this.line.shift()!
      waiter.granted(this.grant(waiter.slots))
    }
  }
}
