import { BudgetLedger } from "@devmatrix/core"
import type { LedgerSignal } from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)
const scope = (atomId: string, wave = 0) => ({ wave, atomId })
const softSignals = (signals: ReadonlyArray<LedgerSignal>) => signals.filter((s) => s.type === "soft_limit")

describe("BudgetLedger", () => {
  it("admits a reservation only if committed + reserved + it fits under the hard limit", () => {
    let ledger = BudgetLedger.open({ hardUsd: 1 })
    const first = BudgetLedger.reserve(ledger, "a", { usd: 0.6, ...scope("a") })
    expect(first._tag).toBe("Reserved")
    ledger = first.ledger
    expect(BudgetLedger.reserve(ledger, "b", { usd: 0.4, ...scope("b") })._tag).toBe("Reserved")
    expect(BudgetLedger.reserve(ledger, "b", { usd: 0.400000001, ...scope("b") })).toMatchObject({
      _tag: "Refused",
      exceeded: "plan",
      limitUsd: 1,
      wouldBeUsd: 1.000000001,
      signals: [{ type: "hard_limit", limitUsd: 1, wouldBeUsd: 1.000000001 }]
    })
  })

  it("adds 0.1 ten times to exactly 1: money does not drift", () => {
    let ledger = BudgetLedger.open({ hardUsd: 1 })
    for (let i = 0; i < 10; i++) {
      const step = BudgetLedger.reserve(ledger, `c${i}`, { usd: 0.1, ...scope("a") })
      expect(step._tag).toBe("Reserved")
      ledger = BudgetLedger.commit(step.ledger, `c${i}`, 0.1).ledger
    }
    expect(BudgetLedger.totals(ledger)).toEqual({ hardUsd: 1, softUsd: 0.8, committedUsd: 1, reservedUsd: 0 })
  })

  it("caps a wave's and an atom's spend over all its attempts", () => {
    let ledger = BudgetLedger.open({ hardUsd: 10, perWaveUsd: 1, perAtomUsd: 0.5 })
    ledger = BudgetLedger.commit(
      BudgetLedger.reserve(ledger, "a#1", { usd: 0.4, ...scope("a") }).ledger,
      "a#1",
      0.3
    ).ledger
    expect(BudgetLedger.reserve(ledger, "a#2", { usd: 0.3, ...scope("a") })).toMatchObject({
      _tag: "Refused",
      exceeded: "atom",
      limitUsd: 0.5,
      wouldBeUsd: 0.6,
      signals: []
    })
    ledger = BudgetLedger.reserve(ledger, "b#1", { usd: 0.5, ...scope("b") }).ledger
    expect(BudgetLedger.reserve(ledger, "c#1", { usd: 0.3, ...scope("c") })).toMatchObject({
      _tag: "Refused",
      exceeded: "wave",
      limitUsd: 1,
      wouldBeUsd: 1.1
    })
    expect(BudgetLedger.reserve(ledger, "c#1", { usd: 0.3, ...scope("c", 1) })._tag).toBe("Reserved")
  })

  it("commits once per id: a second commit changes nothing", () => {
    const reserved = BudgetLedger.reserve(BudgetLedger.open({ hardUsd: 1 }), "a", {
      usd: 0.9,
      ...scope("a")
    }).ledger
    const once = BudgetLedger.commit(reserved, "a", 0.85)
    expect(softSignals(once.signals)).toEqual([{ type: "soft_limit", totalUsd: 0.85, limitUsd: 0.8 }])
    const twice = BudgetLedger.commit(once.ledger, "a", 0.85)
    expect(twice).toEqual({ ledger: once.ledger, signals: [] })
    expect(BudgetLedger.reserve(once.ledger, "a", { usd: 0.01, ...scope("a") })._tag).toBe("AlreadyCommitted")
  })

  it("commits a cost above its reservation (never lost) and reports it as an overrun", () => {
    const open = BudgetLedger.open({ hardUsd: 1, perAtomUsd: 0.3 })
    const reserved = BudgetLedger.reserve(open, "a", { usd: 0.2, ...scope("a") }).ledger
    const step = BudgetLedger.commit(reserved, "a", 0.25)
    expect(step.signals).toEqual([{ type: "overrun", reservationId: "a", reservedUsd: 0.2, actualUsd: 0.25 }])
    expect(BudgetLedger.totals(step.ledger)).toMatchObject({ committedUsd: 0.25, reservedUsd: 0 })
    // The atom's cap counts what it actually cost.
    expect(BudgetLedger.reserve(step.ledger, "a2", { usd: 0.06, ...scope("a") })).toMatchObject({
      exceeded: "atom",
      wouldBeUsd: 0.31
    })
  })

  it("releases a reservation, and an unknown id is no change", () => {
    const reserved = BudgetLedger.reserve(BudgetLedger.open({ hardUsd: 1 }), "a", {
      usd: 0.7,
      ...scope("a")
    }).ledger
    const released = BudgetLedger.release(reserved, "a").ledger
    expect(BudgetLedger.totals(released).reservedUsd).toBe(0)
    expect(BudgetLedger.reserve(released, "b", { usd: 1, ...scope("a") })._tag).toBe("Reserved")
    expect(BudgetLedger.release(released, "zz").ledger).toBe(released)
  })

  it("re-arms the soft limit when a raise puts spend back below it", () => {
    let ledger = BudgetLedger.open({ hardUsd: 1 })
    const spend = (id: string, usd: number) => {
      const step = BudgetLedger.commit(
        BudgetLedger.reserve(ledger, id, { usd, ...scope(id) }).ledger,
        id,
        usd
      )
      ledger = step.ledger
      return softSignals(step.signals).length
    }
    expect(spend("a", 0.8)).toBe(1)
    expect(spend("b", 0.1)).toBe(0)
    const raised = BudgetLedger.raise(ledger, { hardUsd: 2 })
    expect([raised.signals, raised.ledger.softCrossed]).toEqual([[], false])
    ledger = raised.ledger
    expect(BudgetLedger.totals(ledger)).toMatchObject({ hardUsd: 2, softUsd: 1.6 })
    expect(spend("c", 0.7)).toBe(1)
    expect(softSignals(BudgetLedger.raise(ledger, { hardUsd: 3, softUsd: 1.5 }).signals)).toEqual([])
  })

  it("recovers from the committed costs alone: the dead process's reservations are gone", () => {
    const ledger = BudgetLedger.fromCommitted({ hardUsd: 1, perAtomUsd: 0.5 }, [
      { id: "a#1", usd: 0.45, wave: 0, atomId: "a" },
      { id: "a#1", usd: 0.45, wave: 0, atomId: "a" },
      { id: "b#1", usd: 0.4 }
    ])
    expect(BudgetLedger.totals(ledger)).toEqual({
      hardUsd: 1,
      softUsd: 0.8,
      committedUsd: 0.85,
      reservedUsd: 0
    })
    expect(ledger.softCrossed).toBe(true)
    expect(BudgetLedger.reserve(ledger, "a#2", { usd: 0.1, ...scope("a") })).toMatchObject({
      exceeded: "atom"
    })
    expect(BudgetLedger.commit(ledger, "a#1", 0.45).ledger).toBe(ledger)
  })
})

type Op =
  | {
      readonly op: "reserve"
      readonly id: number
      readonly nanos: number
      readonly wave: number
      readonly atom: number
    }
  | { readonly op: "commit"; readonly id: number; readonly share: number }
  | { readonly op: "release"; readonly id: number }
  | { readonly op: "crash" }
  | { readonly op: "raise"; readonly byNanos: number; readonly softShare: number | undefined }

const nanos = fc.integer({ min: 1, max: 400_000_000 })
const anOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("reserve" as const),
      id: fc.nat(40),
      nanos,
      wave: fc.nat(3),
      atom: fc.nat(8)
    })
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("commit" as const),
      id: fc.nat(40),
      share: fc.double({ min: 0, max: 1, noNaN: true })
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("release" as const), id: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.constant({ op: "crash" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("raise" as const),
      byNanos: fc.integer({ min: 0, max: 1_000_000_000 }),
      softShare: fc.option(fc.double({ min: 0.1, max: 1, noNaN: true }), { nil: undefined })
    })
  }
)

describe("BudgetLedger under random interleavings (property)", () => {
  it("never commits over the hard limit, holds what it admits, fires soft_limit once per crossing, commits once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3_000_000_000 }),
        fc.option(fc.integer({ min: 100_000_000, max: 2_000_000_000 }), { nil: undefined }),
        fc.array(anOp, { maxLength: 120 }),
        (hardNanos, perWaveNanos, ops) => {
          let hard = hardNanos
          let soft: number | undefined = undefined
          const budget = () => ({
            hardUsd: hard / 1e9,
            softUsd: soft === undefined ? undefined : soft / 1e9,
            perWaveUsd: perWaveNanos === undefined ? undefined : perWaveNanos / 1e9
          })
          let ledger = BudgetLedger.open(budget())
          // The model: what is committed (journaled) and what is held for calls in flight.
          const committed = new Map<string, { nanos: number; wave: number; atomId: string }>()
          const reserved = new Map<string, { nanos: number; wave: number; atomId: string }>()
          let above = false
          for (const op of ops) {
            let signals: ReadonlyArray<LedgerSignal> = []
            switch (op.op) {
              case "reserve": {
                const id = `r${op.id}`
                const request = { usd: op.nanos / 1e9, wave: op.wave, atomId: `a${op.atom}` }
                const step = BudgetLedger.reserve(ledger, id, request)
                const inFlight = [...reserved.values()].reduce((s, r) => s + r.nanos, 0)
                const spent = [...committed.values()].reduce((s, c) => s + c.nanos, 0)
                if (committed.has(id)) expect(step._tag).toBe("AlreadyCommitted")
                else if (reserved.has(id)) expect(step).toMatchObject({ _tag: "Reserved", ledger })
                else if (spent + inFlight + op.nanos > hard)
                  expect(step).toMatchObject({ _tag: "Refused", exceeded: "plan" })
                else if (step._tag === "Reserved") {
                  reserved.set(id, { nanos: op.nanos, wave: op.wave, atomId: request.atomId })
                  expect(step.ledger.committedNanos + step.ledger.reservedNanos).toBeLessThanOrEqual(
                    step.ledger.hardNanos
                  )
                } else {
                  // Only the wave cap may refuse a call that fits the plan.
                  const wave = [...committed.values(), ...reserved.values()].filter((r) => r.wave === op.wave)
                  expect(step).toMatchObject({ _tag: "Refused", exceeded: "wave" })
                  expect(wave.reduce((s, r) => s + r.nanos, 0) + op.nanos).toBeGreaterThan(perWaveNanos!)
                }
                ledger = step.ledger
                signals = step.signals
                break
              }
              case "commit": {
                const id = `r${op.id}`
                const reservation = reserved.get(id)
                if (reservation === undefined && !committed.has(id)) break
                const before = ledger
                // Actual usage within its reservation; an id already committed is a replay.
                const actual = reservation === undefined ? 1 : Math.floor(reservation.nanos * op.share)
                const step = BudgetLedger.commit(ledger, id, actual / 1e9)
                if (reservation === undefined) expect(step).toEqual({ ledger: before, signals: [] })
                else {
                  committed.set(id, { ...reservation, nanos: actual })
                  reserved.delete(id)
                }
                ledger = step.ledger
                signals = step.signals
                break
              }
              case "release":
                reserved.delete(`r${op.id}`)
                ledger = BudgetLedger.release(ledger, `r${op.id}`).ledger
                break
              case "crash":
                reserved.clear()
                ledger = BudgetLedger.fromCommitted(
                  budget(),
                  [...committed].map(([id, c]) => ({
                    id,
                    usd: c.nanos / 1e9,
                    wave: c.wave,
                    atomId: c.atomId
                  }))
                )
                break
              case "raise": {
                hard += op.byNanos
                soft = op.softShare === undefined ? undefined : Math.floor(hard * op.softShare)
                const step = BudgetLedger.raise(ledger, budget())
                ledger = step.ledger
                signals = step.signals
                break
              }
            }
            const spent = [...committed.values()].reduce((s, c) => s + c.nanos, 0)
            const inFlight = [...reserved.values()].reduce((s, r) => s + r.nanos, 0)
            expect(ledger.committedNanos).toBe(spent)
            expect(ledger.reservedNanos).toBe(inFlight)
            expect(ledger.hardNanos).toBe(hard)
            expect(spent).toBeLessThanOrEqual(hard)
            // soft_limit fires exactly when committed spend goes from below the soft limit to at or above it.
            const nowAbove = spent >= ledger.softNanos
            expect(softSignals(signals).length).toBe(!above && nowAbove && op.op !== "crash" ? 1 : 0)
            expect(ledger.softCrossed).toBe(nowAbove)
            above = nowAbove
          }
        }
      ),
      { numRuns }
    )
  })
})
