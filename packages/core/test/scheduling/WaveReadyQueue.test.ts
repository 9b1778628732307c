import { WaveReadyQueue } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 200)

describe("WaveReadyQueue", () => {
  it("pops the best atom of the waves under their cap, never one over it, and loses nothing (property)", () => {
    fc.assert(
      fc.property(
        // Each atom: its wave and its priority.
        fc.array(fc.record({ wave: fc.nat(4), priority: fc.nat(5) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.oneof(fc.constant("pop" as const), fc.nat()), { maxLength: 200 }),
        (atoms, cap, ops) => {
          const before = (a: number, b: number) =>
            atoms[a]!.priority > atoms[b]!.priority || (atoms[a]!.priority === atoms[b]!.priority && a < b)
          const queue = new WaveReadyQueue(before, (index) => atoms[index]!.wave, cap)
          const waiting = new Set<number>()
          const holding: Array<number> = []
          const heldBy = (wave: number) => holding.filter((i) => atoms[i]!.wave === wave).length
          let pushed = 0
          const step = (op: "pop" | number) => {
            if (op === "pop") {
              const eligible = [...waiting].filter((i) => heldBy(atoms[i]!.wave) < cap)
              expect(queue.hasEligible()).toBe(eligible.length > 0)
              const best = eligible.sort((a, b) => (before(a, b) ? -1 : 1))[0]
              expect(queue.pop()).toBe(best)
              if (best === undefined) return
              waiting.delete(best)
              holding.push(best)
              expect(queue.heldBy(atoms[best]!.wave)).toBeLessThanOrEqual(cap)
            } else if (op % 2 === 0 && pushed < atoms.length) {
              queue.push(pushed)
              waiting.add(pushed++)
            } else if (holding.length > 0) {
              const [returned] = holding.splice(op % holding.length, 1)
              queue.returned(returned!)
            }
            expect(queue.size).toBe(waiting.size)
          }
          ops.forEach(step)
          // Drain: with every permit returned as it is taken, every atom comes out.
          while (pushed < atoms.length) step(0)
          while (waiting.size > 0) {
            while (holding.length > 0) queue.returned(holding.pop()!)
            step("pop")
          }
          expect(queue.pop()).toBeUndefined()
        }
      ),
      { numRuns: runs }
    )
  })
})
