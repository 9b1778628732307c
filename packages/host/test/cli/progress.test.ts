import type { Event, EventBody } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { applyEvent, initialProgress } from "../../src/cli/progressState.js"
import { renderProgress } from "../../src/cli/renderProgress.js"

let seq = 0
const stamp = (body: EventBody): Event => ({ ...body, masterplanId: "mp", seq: ++seq, at: 1_000 + seq })

/** One atom's events, from start to end, as the engine journals them. */
const lifecycle = (
  atomId: string,
  wave: number,
  retries: number,
  end: "completed" | "failed" | "cancelled"
): Array<EventBody> => {
  const events: Array<EventBody> = []
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    events.push({ type: "atom.started", atomId, wave, attempt })
    if (attempt <= retries)
      events.push({
        type: "atom.retrying",
        atomId,
        wave,
        attempt,
        reason: "overloaded",
        error: "529",
        delayMs: 5
      })
  }
  if (end === "completed")
    events.push({
      type: "atom.completed",
      atomId,
      wave,
      attempts: retries + 1,
      model: "scripted",
      confidence: 1,
      inputTokens: 1,
      outputTokens: 1,
      costUsd: 0.01,
      acceptedBy: "validation"
    })
  else if (end === "failed")
    events.push({
      type: "atom.failed",
      atomId,
      wave,
      reason: "invalid_request",
      error: "400",
      attempts: retries + 1
    })
  else events.push({ type: "atom.cancelled", atomId, wave })
  return events
}

describe("progress state", () => {
  it("never counts a negative number running, and ends with every atom counted once", () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.nat(3), fc.constantFrom("completed" as const, "failed" as const, "cancelled" as const)),
          {
            minLength: 1,
            maxLength: 30
          }
        ),
        fc.integer({ min: 0, max: 1_000_000 }),
        (atoms, shuffleSeed) => {
          const lives = atoms.map(([retries, end], i) => lifecycle(`a${i}`, i % 3, retries, end))
          // Interleave the atoms' lifecycles, each staying in order.
          const state = initialProgress()
          applyEvent(
            state,
            stamp({
              type: "masterplan.submitted",
              name: "p",
              atoms: atoms.length,
              waves: 3,
              mode: "eager",
              concurrency: 4,
              model: "scripted",
              criticalPath: 1
            })
          )
          const cursors = lives.map(() => 0)
          let random = shuffleSeed
          for (let left = lives.flat().length; left > 0; left--) {
            random = (random * 1103515245 + 12345) % 2 ** 31
            const open = lives.flatMap((life, i) => (cursors[i]! < life.length ? [i] : []))
            const pick = open[random % open.length]!
            applyEvent(state, stamp(lives[pick]![cursors[pick]!++]!))
            expect(state.running).toBeGreaterThanOrEqual(0)
            expect(state.retrying).toBeGreaterThanOrEqual(0)
          }
          expect(state.running).toBe(0)
          expect(state.retrying).toBe(0)
          expect(state.completed + state.failed + state.cancelled).toBe(atoms.length)
          expect(state.waves.reduce((n, w) => n + w.running, 0)).toBe(0)
        }
      )
    ))
})

describe("renderProgress", () => {
  const state = initialProgress(5)
  applyEvent(
    state,
    stamp({
      type: "masterplan.submitted",
      name: "todo-api",
      atoms: 3,
      waves: 30,
      mode: "eager",
      concurrency: 100,
      model: "scripted",
      criticalPath: 3
    })
  )
  applyEvent(state, stamp({ type: "wave.started", wave: 0, atoms: 3 }))
  for (const event of lifecycle("a", 0, 1, "completed")) applyEvent(state, stamp(event))
  for (const event of lifecycle("b", 0, 0, "failed")) applyEvent(state, stamp(event))

  it("shows counts, spend against budget and a bar per wave, within the width", () => {
    const lines = renderProgress(state, { width: 60, color: false, nowMs: 10_000 })
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60)
    const wide = renderProgress(state, { width: 200, color: true, nowMs: 10_000 }).join("\n")
    expect(wide).toMatch(/atoms 2\/3/)
    expect(wide).toMatch(/failed 1/)
    expect(wide).toMatch(/of \$5\.00/)
    expect(wide).toMatch(/wave {3}0 \[/)
  })

  it("shows a wave that has not started as waiting, not as 0/0", () => {
    const few = initialProgress(5)
    applyEvent(
      few,
      stamp({
        type: "masterplan.submitted",
        name: "two waves",
        atoms: 2,
        waves: 2,
        mode: "eager",
        concurrency: 100,
        model: "scripted",
        criticalPath: 2
      })
    )
    applyEvent(few, stamp({ type: "wave.started", wave: 0, atoms: 1 }))
    const lines = renderProgress(few, { width: 120, color: false, nowMs: 10_000 })
    expect(lines.find((line) => line.startsWith("wave   0"))).toMatch(/0\/1/)
    expect(lines.find((line) => line.startsWith("wave   1"))).toMatch(/waiting$/)
  })

  it("sums up waves when there are too many to list", () => {
    const text = renderProgress(state, { width: 200, color: false, nowMs: 10_000 }).join("\n")
    expect(text).toMatch(/0 waves completed, 1 running, 29 pending/)
  })

  it("shows the model's limit with the reason of its last change, and the atoms queued with the longest wait", () => {
    const queued = initialProgress()
    applyEvent(queued, { ...stamp({ type: "atom.queued", atomId: "x", wave: 0, priority: 0 }), at: 1_000 })
    applyEvent(queued, { ...stamp({ type: "atom.queued", atomId: "y", wave: 0, priority: 0 }), at: 4_000 })
    applyEvent(
      queued,
      stamp({ type: "concurrency.limit_changed", from: 100, to: 40, reason: "429 from the provider" })
    )
    const header = () => renderProgress(queued, { width: 200, color: false, nowMs: 6_000 })[1]!
    expect(header()).toMatch(/limit 40 \(429 from the provider\)  queued 2 \(longest 5\.0 s\)$/)
    applyEvent(queued, stamp({ type: "atom.started", atomId: "x", wave: 0, attempt: 1 }))
    expect(header()).toMatch(/queued 1 \(longest 2\.0 s\)$/)
    applyEvent(queued, stamp({ type: "atom.started", atomId: "y", wave: 0, attempt: 1 }))
    expect(header()).not.toMatch(/queued/)
    // The model's limit above the plan's own cap: the cap is what holds the plan.
    const capped = initialProgress()
    applyEvent(
      capped,
      stamp({
        type: "masterplan.submitted",
        name: "capped",
        atoms: 1,
        waves: 1,
        mode: "eager",
        concurrency: 8,
        model: "scripted",
        criticalPath: 1
      })
    )
    applyEvent(capped, stamp({ type: "concurrency.limit_changed", from: 2, to: 50, reason: "unpinned" }))
    expect(capped.concurrencyLimit).toBe(8)
    applyEvent(capped, stamp({ type: "concurrency.limit_changed", from: 50, to: 3, reason: "429" }))
    expect(capped.concurrencyLimit).toBe(3)
  })
})
