import { priorityOf, ReadyQueue } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

describe("ReadyQueue", () => {
  it("pops in the comparator's order, and loses nothing", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (weights, removals) => {
          const before = (a: number, b: number) =>
            weights[a]! > weights[b]! || (weights[a] === weights[b] && a < b)
          const queue = new ReadyQueue(before)
          weights.forEach((_, index) => queue.push(index))
          const removed = new Set<number>()
          for (const r of removals) {
            if (weights.length === 0) break
            const index = r % weights.length
            expect(queue.remove(index)).toBe(!removed.has(index))
            removed.add(index)
          }
          const popped: Array<number> = []
          for (let next = queue.pop(); next !== undefined; next = queue.pop()) popped.push(next)
          const expected = weights
            .map((_, i) => i)
            .filter((i) => !removed.has(i))
            .sort((a, b) => (before(a, b) ? -1 : 1))
          expect(popped).toEqual(expected)
          expect(queue.size).toBe(0)
        }
      )
    )
  })

  it("gives priority 0 to the head of the critical path and 10 to its tail", () => {
    expect(priorityOf(20, 20)).toBe(0)
    expect(priorityOf(1, 20)).toBe(10)
    expect(priorityOf(1, 1)).toBe(0)
  })
})
