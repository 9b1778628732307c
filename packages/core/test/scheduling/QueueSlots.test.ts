import { QueueSlots } from "@devmatrix/core"
import type { QueueClaim } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 200)

describe("QueueSlots", () => {
  it("never grants more than its capacity, grants in arrival order, and leaves no room idle while the first in line fits (property)", () => {
    const op = fc.oneof(
      fc.record({ _tag: fc.constant("claim" as const), slots: fc.nat(12) }),
      fc.record({ _tag: fc.constant("shrink" as const), pick: fc.nat(), to: fc.nat(12) }),
      fc.record({ _tag: fc.constant("release" as const), pick: fc.nat() }),
      fc.record({ _tag: fc.constant("leave" as const), pick: fc.nat() })
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 120 }), (capacity, ops) => {
        const slots = new QueueSlots(capacity)
        const held: Array<QueueClaim> = []
        const line: Array<{ readonly id: number; readonly slots: number; readonly leave: () => boolean }> = []
        const grantedOrder: Array<number> = []
        let next = 0
        const check = () => {
          const sum = held.reduce((total, claim) => total + claim.slots, 0)
          expect(slots.inUse).toBe(sum)
          expect(sum).toBeLessThanOrEqual(capacity)
          // The first in line does not fit, or nobody waits.
          if (line.length > 0) expect(sum + line[0]!.slots).toBeGreaterThan(capacity)
          expect(slots.waiting).toBe(line.length)
        }
        for (const step of ops) {
          if (step._tag === "claim") {
            const now = slots.tryClaim(step.slots)
            if (now !== undefined) held.push(now)
            else {
              const id = next++
              const waiter = {
                id,
                slots: step.slots,
                leave: slots.wait(step.slots, (claim) => {
                  grantedOrder.push(id)
                  line.splice(line.indexOf(waiter), 1)
                  held.push(claim)
                })
              }
              line.push(waiter)
            }
          } else if (step._tag === "shrink" && held.length > 0) {
            const claim = held[step.pick % held.length]!
            const before = claim.slots
            claim.shrinkTo(step.to)
            expect(claim.slots).toBe(Math.min(before, step.to))
          } else if (step._tag === "release" && held.length > 0) {
            const [claim] = held.splice(step.pick % held.length, 1)
            claim!.release()
            claim!.release()
            expect(claim!.slots).toBe(0)
          } else if (step._tag === "leave" && line.length > 0) {
            const waiter = line[step.pick % line.length]!
            expect(waiter.leave()).toBe(true)
            line.splice(line.indexOf(waiter), 1)
          }
          check()
        }
        // First come, first served.
        expect(grantedOrder).toEqual([...grantedOrder].sort((a, b) => a - b))
      }),
      { numRuns: runs }
    )
  })

  it("a waiter granted already cannot leave: its claim is the caller's", () => {
    const slots = new QueueSlots(2)
    const first = slots.tryClaim(2)!
    let granted: QueueClaim | undefined
    const leave = slots.wait(1, (claim) => (granted = claim))
    expect(granted).toBeUndefined()
    first.shrinkTo(1)
    expect(granted?.slots).toBe(1)
    expect(leave()).toBe(false)
    expect(slots.inUse).toBe(2)
  })
})
