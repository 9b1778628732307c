/**
 * A binary min-heap of atom indices ordered by a comparator: the ready atoms waiting for a
 * permit, kept as data (not as parked fibers) so that waiting costs a few bytes per atom.
 */
export class ReadyQueue {
  private readonly heap: Array<number> = []

  /** `before(a, b)` is true when atom `a` must be admitted before atom `b`. */
  constructor(private readonly before: (a: number, b: number) => boolean) {}

  get size(): number {
    return this.heap.length
  }

  push(index: number): void {
    const heap = this.heap
    heap.push(index)
    let child = heap.length - 1
    while (child > 0) {
      const parent = (child - 1) >> 1
      if (!this.before(heap[child]!, heap[parent]!)) break
      ;[heap[child], heap[parent]] = [heap[parent]!, heap[child]!]
      child = parent
    }
  }

  /** The first atom, left in place; undefined when empty. */
  peek(): number | undefined {
    return this.heap[0]
  }

  /** Removes and returns the first atom, or undefined when empty. */
  pop(): number | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length === 0 || last === undefined) return top
    heap[0] = last
    let parent = 0
    for (;;) {
      const left = 2 * parent + 1
      const right = left + 1
      let first = parent
      if (left < heap.length && this.before(heap[left]!, heap[first]!)) first = left
      if (right < heap.length && this.before(heap[right]!, heap[first]!)) first = right
      if (first === parent) return top
      ;[heap[first], heap[parent]] = [heap[parent]!, heap[first]!]
      parent = first
    }
  }

  /** Removes one atom wherever it is (a cancelled or blocked atom); false when absent. */
  remove(index: number): boolean {
    const at = this.heap.indexOf(index)
    if (at < 0) return false
    const rest = this.heap.splice(at)
    rest.shift()
    for (const item of rest) this.push(item)
    return true
  }
}

/** Priority 0 (first) to 10 (last) from the atom's remaining critical path, as events report it. */
export const priorityOf = (remaining: number, longest: number): number =>
  longest <= 1 ? 0 : Math.round(10 * (1 - (remaining - 1) / (longest - 1)))
