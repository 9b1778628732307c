import { staticLimiter, withOverloadHold } from "@devmatrix/core"
import type { CallObservation, LimitChange, LimiterPolicy, TokenDemand } from "@devmatrix/core"
import {
  CostLedgerLocal,
  embeddedLayer,
  Engine,
  EngineBase,
  makeLocalScheduler,
  makeScriptedModel,
  ModelProvider,
  PricesDefault,
  PromptCacheNone,
  SchedulerLocalWith,
  scriptedRetryAfterMs,
  StoreMemory
} from "@devmatrix/runtime"
import type { AdmissionLane, PermitReclaim, SchedulerOptions, SchedulerService } from "@devmatrix/runtime"
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream, TestClock } from "effect"
import fc from "fast-check"

const runs = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 60)

/** Lets the event loop turn: a lane that admitted its cap in one turn goes on in the next. */
const tick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * A plan as the scheduler sees it, with calls as data: `start` records the atom as calling, and the
 * test ends calls and commits their ends when it chooses.
 */
interface TestPlan {
  readonly name: string
  readonly lane: AdmissionLane
  /** Atom priorities: a higher one goes first. */
  readonly priority: ReadonlyArray<number>
  readonly queued: Set<number>
  readonly calling: Set<number>
  readonly changes: Array<LimitChange>
  readonly starts: Array<number>
  /** Permits the lane reclaimed after their lease, in order. */
  readonly reclaims: Array<{ readonly atom: number } & PermitReclaim>
  readonly spec: OpenOptions
  seq: number
}

interface Harness {
  readonly scheduler: SchedulerService
  readonly plans: Array<TestPlan>
  /** Every start in order: which plan, which atom. */
  readonly log: Array<{ readonly plan: string; readonly atom: number }>
  /** Problems seen at a start (checked synchronously, reported at the end). */
  readonly violations: Array<string>
  readonly open: (name: string, options: OpenOptions) => TestPlan
}

interface OpenOptions {
  readonly model?: string
  readonly concurrency: number
  readonly weight?: number
  readonly priority: ReadonlyArray<number>
  readonly tenant?: string
  /** Each atom's wave, and the cap on each wave's permits. */
  readonly waves?: ReadonlyArray<number>
  readonly waveConcurrency?: number | undefined
  readonly leaseMs?: number
  /** The atom's call (default: it runs until the test ends it). */
  readonly call?: (index: number) => Effect.Effect<void>
  /** The atom's admission (default: none, admitted at once). */
  readonly admit?: (index: number) => Effect.Effect<undefined>
}

/** How often a start filled a tenant's or a wave's cap: the properties' caps are not vacuous. */
const capsReached = { tenant: 0, wave: 0 }

/** Atoms of `plan` of wave `wave` calling now. */
const callingInWave = (plan: TestPlan, wave: number) =>
  [...plan.calling].filter((atom) => plan.spec.waves?.[atom] === wave).length

/** The atom may take a permit as far as its own plan goes: its wave (if capped) is under its cap. */
const waveHasRoom = (plan: TestPlan, atom: number) =>
  plan.spec.waveConcurrency === undefined ||
  callingInWave(plan, plan.spec.waves![atom]!) < plan.spec.waveConcurrency

const makeHarness = <S>(options: SchedulerOptions<S>) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const clock = yield* Effect.clock
    const scheduler = makeLocalScheduler(runtime, () => clock.unsafeCurrentTimeMillis(), options)
    const plans: Array<TestPlan> = []
    const log: Harness["log"] = []
    const violations: Array<string> = []
    const open = (name: string, open: OpenOptions): TestPlan => {
      const model = open.model ?? "claude-test"
      const plan: TestPlan = {
        name,
        priority: open.priority,
        queued: new Set(),
        calling: new Set(),
        changes: [],
        starts: [],
        reclaims: [],
        spec: open,
        seq: 0,
        lane: undefined as unknown as AdmissionLane
      }
      const lane = scheduler.lane<undefined, never>(
        {
          masterplanId: name,
          model,
          tenant: open.tenant,
          concurrency: open.concurrency,
          waveConcurrency: open.waveConcurrency,
          waveOf: open.waves === undefined ? undefined : (index) => open.waves![index]!,
          leaseMs: open.leaseMs,
          reclaimed: (atom, lease) => {
            plan.calling.delete(atom)
            if (!lease.calling) plan.queued.add(atom)
            plan.reclaims.push({ atom, ...lease })
          },
          admit: open.admit,
          weight: open.weight,
          before: (a, b) =>
            open.priority[a]! > open.priority[b]! || (open.priority[a] === open.priority[b] && a < b),
          start: (index) =>
            Effect.sync(() => {
              const gate = scheduler.limits().find((limit) => limit.model === model)!
              if (gate.permits > gate.limit)
                violations.push(
                  `${name}/${index} started with ${gate.permits} permits over a limit of ${gate.limit}`
                )
              if (plan.calling.size + 1 > open.concurrency)
                violations.push(`${name}/${index} started over its plan's cap ${open.concurrency}`)
              if (!waveHasRoom(plan, index))
                violations.push(`${name}/${index} started over its wave's cap ${open.waveConcurrency}`)
              const tenant = gate.tenants.find((share) => share.tenant === (open.tenant ?? "default"))!
              if (tenant.permits > tenant.limit)
                violations.push(`${name}/${index} started with its tenant over its cap ${tenant.limit}`)
              if (tenant.permits === tenant.limit) capsReached.tenant++
              if (
                open.waveConcurrency !== undefined &&
                callingInWave(plan, open.waves![index]!) + 1 === open.waveConcurrency
              )
                capsReached.wave++
              // Higher priority first, among the atoms that could have gone (their wave had room).
              for (const other of plan.queued)
                if (
                  other !== index &&
                  open.priority[other]! > open.priority[index]! &&
                  waveHasRoom(plan, other)
                )
                  violations.push(`${name}/${index} started before ${other}, of a higher priority`)
              plan.queued.delete(index)
              plan.calling.add(index)
              plan.starts.push(index)
              log.push({ plan: name, atom: index })
            }).pipe(Effect.zipRight(open.call?.(index) ?? Effect.void)),
          denied: () => undefined,
          revoked: () => undefined,
          journalLagging: () => false,
          limitChanged: (change) => plan.changes.push(change)
        },
        runtime
      )
      ;(plan as { lane: AdmissionLane }).lane = lane
      plans.push(plan)
      return plan
    }
    return { scheduler, plans, log, violations, open } satisfies Harness
  })

const enqueue = (plan: TestPlan, index: number) => {
  plan.queued.add(index)
  plan.lane.enqueue(index)
}

/** Ends one of the plan's calls and commits its end: its permit returns. */
const endCall = (plan: TestPlan, index: number, callClass: "success" | "overloaded" = "success") => {
  plan.calling.delete(index)
  plan.lane.callEnded(index, {
    class: callClass,
    used: { inputTokens: 0, outputTokens: 0 },
    reachedProvider: true
  })
  plan.lane.ended(index, ++plan.seq)
  plan.lane.committed(plan.seq)
}

/**
 * No permit is free while an atom could go: every plan is empty, at its cap, its tenant at its cap,
 * every atom it has queued in a wave at its cap; or the model is full.
 */
const expectNoIdlePermit = (harness: Harness, model = "claude-test") => {
  const gate = harness.scheduler.limits().find((limit) => limit.model === model)!
  if (gate.permits >= gate.limit) return
  for (const plan of harness.plans) {
    const tenant = gate.tenants.find((share) => share.tenant === (plan.spec.tenant ?? "default"))
    const eligible = [...plan.queued].filter((atom) => waveHasRoom(plan, atom))
    expect(
      eligible.length === 0 ||
        plan.calling.size >= plan.spec.concurrency ||
        (tenant !== undefined && tenant.permits >= tenant.limit),
      `${plan.name} waits with ${eligible.length} atoms that could go while ${gate.limit - gate.permits} permits are free`
    ).toBe(true)
  }
}

/** Every call in flight, as (plan, atom). */
const callingNow = (plans: ReadonlyArray<TestPlan>) =>
  plans.flatMap((plan) => [...plan.calling].map((atom) => [plan, atom] as const))

/** Ends every call in flight, round after round, until none is left; no permit idles meanwhile. */
const drain = (harness: Harness) =>
  Effect.gen(function* () {
    for (let guard = 0; guard < 1_000; guard++) {
      const calling = callingNow(harness.plans)
      if (calling.length === 0) return
      for (const [plan, atom] of calling) endCall(plan, atom)
      yield* tick
      expectNoIdlePermit(harness)
    }
  })

interface SawtoothState {
  readonly limit: number
  readonly pinned: number | undefined
  readonly seen: number
}

/** A limit that moves on every call's end (base - 2 to base + 2, at least 1), unless pinned. */
const sawtoothLimiter = (base: number): LimiterPolicy<SawtoothState> => {
  const step = (state: SawtoothState, next: SawtoothState, reason: string) => ({
    state: next,
    change: next.limit === state.limit ? undefined : { from: state.limit, to: next.limit, reason }
  })
  const moved = (seen: number) => Math.max(1, base + (seen % 5) - 2)
  return {
    initial: () => ({ limit: base, pinned: undefined, seen: 0 }),
    limitOf: (state) => state.limit,
    observe: (state) =>
      step(
        state,
        { ...state, seen: state.seen + 1, limit: state.pinned ?? moved(state.seen + 1) },
        "sawtooth"
      ),
    pin: (state, pinned) => step(state, { ...state, pinned, limit: pinned ?? moved(state.seen) }, "pin"),
    waitMs: () => 0,
    reserve: (state) => state,
    refund: (state) => state
  }
}

const noHerdGuard = <S>(limiter: (model: string) => LimiterPolicy<S>): SchedulerOptions<S> => ({
  limiter,
  herdGuard: false
})

describe("Scheduler", () => {
  it.effect(
    "across plans sharing a model: never over the limit while it moves, no idle permit, priority order, limit changes seen by every plan (property)",
    () =>
      Effect.gen(function* () {
        const plansArb = fc.array(
          fc.record({
            concurrency: fc.integer({ min: 1, max: 8 }),
            weight: fc.integer({ min: 1, max: 3 }),
            priority: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 })
          }),
          { minLength: 1, maxLength: 4 }
        )
        const op = fc.oneof(
          fc.record({ _tag: fc.constant("end" as const), pick: fc.nat() }),
          fc.record({ _tag: fc.constant("end" as const), pick: fc.nat() }),
          fc.record({ _tag: fc.constant("pin" as const), limit: fc.option(fc.integer({ min: 1, max: 12 })) })
        )
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              plansArb,
              fc.integer({ min: 1, max: 12 }),
              fc.array(op, { maxLength: 80 }),
              fc.boolean(),
              (specs, limit, ops, moving) =>
                Effect.runPromise(
                  Effect.gen(function* () {
                    const harness = yield* moving
                      ? makeHarness(noHerdGuard(() => sawtoothLimiter(limit)))
                      : makeHarness(noHerdGuard(() => staticLimiter(limit)))
                    const plans = specs.map((spec, i) => harness.open(`p${i}`, spec))
                    for (const plan of plans) plan.priority.forEach((_, index) => enqueue(plan, index))
                    yield* tick
                    let expectedChanges = 0
                    let current = limit
                    for (const step of ops) {
                      if (step._tag === "pin") {
                        const to = step.limit ?? limit
                        harness.scheduler.setConcurrency("claude-test", step.limit ?? undefined)
                        if (to !== current) expectedChanges++
                        current = to
                      } else {
                        const calling = callingNow(plans)
                        if (calling.length === 0) continue
                        const [plan, atom] = calling[step.pick % calling.length]!
                        endCall(plan, atom)
                      }
                      yield* tick
                      expectNoIdlePermit(harness)
                    }
                    yield* drain(harness)
                    expect(harness.violations).toEqual([])
                    const limitNow = harness.scheduler.limits()[0]!.limit
                    for (const plan of plans) {
                      expect(plan.starts.length).toBe(plan.priority.length)
                      // Every plan on the model was told every change, in order.
                      expect(plan.changes).toEqual(plans[0]!.changes)
                      if (!moving) expect(plan.changes.length).toBe(expectedChanges)
                      expect(plan.changes.at(-1)?.to ?? limit).toBe(limitNow)
                    }
                  })
                )
            ),
            { numRuns: runs }
          )
        )
      })
  )

  it.effect("a small plan next to a large one progresses from the start (no starvation)", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(4)))
      const large = harness.open("large", {
        concurrency: 100,
        priority: Array.from({ length: 2_000 }, () => 1)
      })
      large.priority.forEach((_, index) => enqueue(large, index))
      const small = harness.open("small", { concurrency: 100, priority: Array.from({ length: 20 }, () => 1) })
      small.priority.forEach((_, index) => enqueue(small, index))
      const planOf = (name: string) => (name === "large" ? large : small)
      // Calls end one at a time, the oldest first, as a provider at its limit answers them.
      while (small.starts.length < small.priority.length) {
        const oldest = harness.log.find(({ plan, atom }) => planOf(plan).calling.has(atom))!
        endCall(planOf(oldest.plan), oldest.atom)
        yield* tick
      }
      // Equal weights: the small plan got every other permit once it was waiting.
      const startsBeforeSmallEnded = harness.log.length
      expect(startsBeforeSmallEnded).toBeLessThanOrEqual(4 + 2 * small.priority.length)
      expect(large.starts.length).toBeGreaterThan(0)
    })
  )

  it.effect("weights share the limit in proportion while both plans wait", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(1)))
      const heavy = harness.open("heavy", {
        concurrency: 10,
        weight: 3,
        priority: Array.from({ length: 600 }, () => 0)
      })
      const light = harness.open("light", {
        concurrency: 10,
        weight: 1,
        priority: Array.from({ length: 600 }, () => 0)
      })
      heavy.priority.forEach((_, index) => enqueue(heavy, index))
      light.priority.forEach((_, index) => enqueue(light, index))
      for (let i = 0; i < 400; i++) {
        const plan = heavy.calling.size > 0 ? heavy : light
        endCall(plan, [...plan.calling][0]!)
        yield* tick
      }
      // 401 calls at 3:1, give or take the first ones.
      expect(heavy.starts.length + light.starts.length).toBe(401)
      expect(Math.abs(heavy.starts.length - 3 * light.starts.length)).toBeLessThanOrEqual(4)
    })
  )

  it.effect(
    "a 529 holds every plan of the model for overloadHoldMs on the runtime's clock, and only that model",
    () =>
      Effect.gen(function* () {
        const harness = yield* makeHarness(noHerdGuard(() => withOverloadHold(staticLimiter(2))))
        const a = harness.open("a", { concurrency: 2, priority: [0, 0, 0] })
        const b = harness.open("b", { concurrency: 2, priority: [0, 0, 0] })
        const other = harness.open("other", { model: "scripted", concurrency: 2, priority: [0, 0, 0] })
        for (const plan of [a, b, other]) plan.priority.forEach((_, index) => enqueue(plan, index))
        assert.deepStrictEqual([a.starts, b.starts, other.starts], [[0, 1], [], [0, 1]])
        endCall(a, 0, "overloaded")
        endCall(other, 0)
        yield* tick
        // The overloaded model admits nothing for 2 s, though a permit is free; the other model goes on.
        assert.deepStrictEqual([a.starts, b.starts, other.starts], [[0, 1], [], [0, 1, 2]])
        yield* TestClock.adjust("1999 millis")
        assert.deepStrictEqual(b.starts, [])
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(b.starts, [0])
      })
  )

  it.effect(
    "the herd guard spreads a burst at a real provider in batches, deterministically; a pin skips it",
    () =>
      Effect.gen(function* () {
        const options: SchedulerOptions<{ readonly limit: number }> = {
          limiter: () => staticLimiter(100),
          herdGuard: { batchSize: 20, batchSpacingMs: 500, jitterMs: 0, seed: 1 }
        }
        const harness = yield* makeHarness(options)
        const plan = harness.open("burst", {
          concurrency: 100,
          priority: Array.from({ length: 70 }, () => 0)
        })
        plan.priority.forEach((_, index) => enqueue(plan, index))
        yield* tick
        expect(plan.starts.length).toBe(20)
        yield* TestClock.adjust("499 millis")
        expect(plan.starts.length).toBe(20)
        yield* TestClock.adjust("1 millis")
        expect(plan.starts.length).toBe(40)
        // A call that ends is replaced at once: in flight does not grow.
        endCall(plan, 0)
        expect(plan.starts.length).toBe(41)
        harness.scheduler.setConcurrency("claude-test", 100)
        yield* tick
        expect(plan.starts.length).toBe(70)
      })
  )

  it.effect("the scripted model's bursts are not spread", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness({ limiter: () => staticLimiter(100) })
      const plan = harness.open("burst", {
        model: "scripted",
        concurrency: 100,
        priority: Array.from({ length: 70 }, () => 0)
      })
      plan.priority.forEach((_, index) => enqueue(plan, index))
      yield* tick
      expect(plan.starts.length).toBe(70)
    })
  )

  it.effect("a closed lane returns its permits to the other plans", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(2)))
      const gone = harness.open("gone", { concurrency: 2, priority: [0, 0] })
      const next = harness.open("next", { concurrency: 2, priority: [0, 0] })
      gone.priority.forEach((_, index) => enqueue(gone, index))
      next.priority.forEach((_, index) => enqueue(next, index))
      assert.deepStrictEqual(next.starts, [])
      // One call ended, its end not committed: its permit is still held.
      gone.lane.ended(0, 1)
      assert.deepStrictEqual(next.starts, [])
      gone.lane.close()
      assert.deepStrictEqual(next.starts, [0, 1])
    })
  )
  it.effect(
    "model, tenant, plan and wave caps taken in one acquire: no level over its cap, no permit idle while an atom could go, priority among those that may (property)",
    () =>
      Effect.gen(function* () {
        const planArb = fc.record({
          tenant: fc.constantFrom("default", "t1", "t2"),
          concurrency: fc.integer({ min: 1, max: 6 }),
          weight: fc.integer({ min: 1, max: 3 }),
          waveConcurrency: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          atoms: fc.array(fc.record({ priority: fc.nat(5), wave: fc.nat(3) }), {
            minLength: 1,
            maxLength: 25
          })
        })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(planArb, { minLength: 1, maxLength: 4 }),
              fc.integer({ min: 1, max: 10 }),
              fc.record({ t1: fc.integer({ min: 1, max: 4 }), t2: fc.integer({ min: 1, max: 6 }) }),
              fc.array(fc.nat(), { maxLength: 60 }),
              (specs, limit, tenantLimits, ends) =>
                Effect.runPromise(
                  Effect.gen(function* () {
                    const harness = yield* makeHarness({
                      limiter: () => staticLimiter(limit),
                      herdGuard: false,
                      tenantLimits
                    })
                    const plans = specs.map((spec, i) =>
                      harness.open(`p${i}`, {
                        tenant: spec.tenant,
                        concurrency: spec.concurrency,
                        weight: spec.weight,
                        waveConcurrency: spec.waveConcurrency,
                        priority: spec.atoms.map((atom) => atom.priority),
                        waves: spec.atoms.map((atom) => atom.wave)
                      })
                    )
                    for (const plan of plans) plan.priority.forEach((_, index) => enqueue(plan, index))
                    yield* tick
                    expectNoIdlePermit(harness)
                    for (const pick of ends) {
                      const calling = callingNow(plans)
                      if (calling.length === 0) break
                      const [plan, atom] = calling[pick % calling.length]!
                      endCall(plan, atom)
                      yield* tick
                      expectNoIdlePermit(harness)
                    }
                    yield* drain(harness)
                    expect(harness.violations).toEqual([])
                    for (const plan of plans) expect(plan.starts.length).toBe(plan.priority.length)
                    const gate = harness.scheduler.limits()[0]!
                    expect(gate.permits).toBe(0)
                    expect(gate.tenants.every((tenant) => tenant.permits === 0)).toBe(true)
                  })
                )
            ),
            { numRuns: runs }
          )
        )
        // Not vacuous: starts filled tenants' and waves' caps (and the checks above held then).
        expect(capsReached.tenant).toBeGreaterThan(runs)
        expect(capsReached.wave).toBeGreaterThan(runs)
      })
  )

  it.effect(
    "a tenant's cap holds its plans together under it, and the other tenants use what it leaves",
    () =>
      Effect.gen(function* () {
        const harness = yield* makeHarness({
          limiter: () => staticLimiter(10),
          herdGuard: false,
          tenantLimits: { small: 2 }
        })
        const a = harness.open("a", { tenant: "small", concurrency: 10, priority: [0, 0, 0, 0] })
        const b = harness.open("b", { tenant: "small", concurrency: 10, priority: [0, 0, 0, 0] })
        const other = harness.open("other", {
          concurrency: 10,
          priority: Array.from({ length: 20 }, () => 0)
        })
        for (const plan of [a, b, other]) plan.priority.forEach((_, index) => enqueue(plan, index))
        yield* tick
        expect(a.calling.size + b.calling.size).toBe(2)
        expect(other.calling.size).toBe(8)
        // A permit of the small tenant returns to the small tenant's plans, not to the other one.
        endCall(a.calling.size > 0 ? a : b, [...(a.calling.size > 0 ? a : b).calling][0]!)
        yield* tick
        expect([a.calling.size + b.calling.size, other.calling.size]).toEqual([2, 8])
        expect(harness.scheduler.limits()[0]!.tenants).toEqual([
          { tenant: "small", limit: 2, permits: 2 },
          { tenant: "default", limit: Number.POSITIVE_INFINITY, permits: 8 }
        ])
      })
  )

  it.effect("a wave at its cap does not hold back an atom of another wave, even a lower one", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(10)))
      // Wave 0 has the higher priorities; its cap is 2.
      const plan = harness.open("waves", {
        concurrency: 10,
        waveConcurrency: 2,
        priority: [9, 8, 7, 1, 0],
        waves: [0, 0, 0, 1, 1]
      })
      plan.priority.forEach((_, index) => enqueue(plan, index))
      yield* tick
      expect(plan.starts).toEqual([0, 1, 3, 4])
      endCall(plan, 0)
      yield* tick
      expect(plan.starts).toEqual([0, 1, 3, 4, 2])
    })
  )

  it.effect(
    "permits are leases: a call that never ends, one whose fiber ended without a report, and an admission that never comes back are reclaimed after leaseMs",
    () =>
      Effect.gen(function* () {
        const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(2)))
        const interrupted: Array<number> = []
        let admissions = 0
        const plan = harness.open("leased", {
          concurrency: 2,
          priority: [3, 2, 1, 0],
          leaseMs: 1_000,
          // Atom 0 hangs in its call; atom 1 ends its fiber without reporting the end (a leak).
          call: (index) =>
            index === 0
              ? Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted.push(index)))
              : Effect.void,
          // Atom 2's first admission never comes back.
          admit: (index) => (index === 2 && admissions++ === 0 ? Effect.never : Effect.succeed(undefined))
        })
        plan.priority.forEach((_, index) => enqueue(plan, index))
        yield* tick
        expect(plan.starts).toEqual([0, 1])
        yield* TestClock.adjust("999 millis")
        expect(plan.reclaims).toEqual([])
        yield* TestClock.adjust("1 millis")
        yield* tick
        expect(plan.reclaims).toEqual([
          { atom: 0, heldMs: 1_000, leaseMs: 1_000, calling: true },
          { atom: 1, heldMs: 1_000, leaseMs: 1_000, calling: true }
        ])
        expect(interrupted).toEqual([0])
        // Both permits came back: atom 2's admission (which hangs) and atom 3 took them.
        expect(plan.starts).toEqual([0, 1, 3])
        yield* TestClock.adjust("1 second")
        yield* tick
        expect(plan.reclaims.slice(2).map(({ atom, calling }) => [atom, calling])).toEqual([
          [2, false],
          [3, true]
        ])
        // Atom 2 waited again and went through admission a second time.
        expect(plan.starts).toEqual([0, 1, 3, 2])
        expect(harness.scheduler.limits()[0]!.permits).toBe(1)
      })
  )

  it.effect("an admission reclaimed after its lease goes through admission again at once", () =>
    Effect.gen(function* () {
      const harness = yield* makeHarness(noHerdGuard(() => staticLimiter(1)))
      let admissions = 0
      const plan = harness.open("lone", {
        concurrency: 1,
        priority: [0],
        leaseMs: 500,
        admit: () => (admissions++ === 0 ? Effect.never : Effect.succeed(undefined))
      })
      enqueue(plan, 0)
      yield* tick
      expect(plan.starts).toEqual([])
      yield* TestClock.adjust("500 millis")
      yield* tick
      expect(plan.reclaims).toEqual([{ atom: 0, heldMs: 500, leaseMs: 500, calling: false }])
      expect([admissions, plan.starts]).toEqual([2, [0]])
    })
  )
})

/** `staticLimiter`, recording what the scheduler tells it. */
const recordingLimiter = (limit: number) => {
  const inner = staticLimiter(limit)
  const seen = {
    observations: [] as Array<CallObservation>,
    reserved: [] as Array<TokenDemand>,
    refunded: [] as Array<TokenDemand>
  }
  const policy: LimiterPolicy<{ readonly limit: number }> = {
    ...inner,
    observe: (state, observation) => {
      seen.observations.push(observation)
      return inner.observe(state, observation)
    },
    reserve: (state, demand, nowMs) => {
      seen.reserved.push(demand)
      return inner.reserve(state, demand, nowMs)
    },
    refund: (state, reserved, used, nowMs) => {
      seen.refunded.push(used)
      return inner.refund(state, reserved, used, nowMs)
    }
  }
  return { policy, seen }
}

const atoms = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `a${i}`, instruction: `atom ${i}` }))

describe("the engine's plans on one model", () => {
  it.live(
    "share its limit: in flight across plans never over it while an operator pins and unpins it, every plan journals each change, calls report tokens and ends",
    () =>
      Effect.gen(function* () {
        const { policy, seen } = recordingLimiter(3)
        const scripted = makeScriptedModel({ latencyMs: { min: 1, max: 3 }, seed: 9 })
        let limitNow = 3
        let calling = 0
        let calls = 0
        const overs: Array<string> = []
        let pin: (limit: number | undefined) => void = () => undefined
        const provider = Layer.succeed(ModelProvider, {
          name: "counting",
          acceptsSimulation: true,
          generate: (request) =>
            Effect.suspend(() => {
              calls++
              if (++calling > limitNow) overs.push(`${calling} in flight over ${limitNow} at call ${calls}`)
              // Pinned while calls run: this one was admitted under the limit before.
              if (calls === 5) pin(2)
              if (calls === 25) pin(undefined)
              return Effect.ensuring(
                scripted.generate(request),
                Effect.sync(() => calling--)
              )
            })
        })
        const engineLayer = EngineBase.pipe(
          Layer.provide(
            Layer.mergeAll(
              provider,
              SchedulerLocalWith({ limiter: () => policy }),
              CostLedgerLocal,
              PricesDefault,
              PromptCacheNone
            )
          ),
          Layer.provideMerge(StoreMemory)
        )
        const journals = yield* Effect.gen(function* () {
          const engine = yield* Engine
          pin = (limit) => {
            limitNow = limit ?? 3
            Effect.runSync(engine.setConcurrency("scripted", limit))
          }
          const big = yield* engine.submit({ name: "big", options: { concurrency: 10 }, atoms: atoms(60) })
          const small = yield* engine.submit({
            name: "small",
            options: { concurrency: 10 },
            atoms: atoms(30)
          })
          return yield* Effect.all(
            [big, small].map((id) => Effect.map(Stream.runCollect(engine.events(id)), Chunk.toArray)),
            { concurrency: "unbounded" }
          )
        }).pipe(Effect.provide(engineLayer), Effect.scoped)
        expect(overs).toEqual([])
        for (const events of journals) {
          expect(events.at(-1)?.type).toBe("masterplan.completed")
          const changes = events.flatMap((event) =>
            event.type === "concurrency.limit_changed" ? [[event.from, event.to, event.reason]] : []
          )
          expect(changes).toEqual([
            [10, 3, "the limit of scripted, shared by the engine's plans"],
            [3, 2, "pinned by an operator"],
            [2, 3, "unpinned"]
          ])
        }
        expect(seen.observations).toHaveLength(90)
        expect(
          seen.observations.every((o) => o.class === "success" && o.inFlight >= 1 && o.inFlight <= 3)
        ).toBe(true)
        expect(seen.reserved).toHaveLength(90)
        expect(seen.reserved.every((d) => d.inputTokens > 0 && d.outputTokens === 2_048)).toBe(true)
        expect(seen.refunded.every((d) => d.outputTokens > 0 && d.outputTokens <= 2_048)).toBe(true)
      })
  )

  it.effect(
    "setConcurrency refuses a limit that is not a whole number from 1 to 10,000, and reports what it pinned",
    () =>
      Effect.gen(function* () {
        const engine = yield* Engine
        for (const limit of [0, 1.5, 10_001, Number.NaN]) {
          const error = yield* Effect.flip(engine.setConcurrency("scripted", limit))
          expect(error.message).toMatch(/must be an integer from 1 to 10000/)
        }
        yield* engine.setConcurrency("scripted", 7)
        expect(yield* engine.limits()).toMatchObject([
          { model: "scripted", limit: 7, pinned: 7, inFlight: 0, waiting: 0 }
        ])
        yield* engine.setConcurrency("scripted", undefined)
        expect(yield* engine.limits()).toMatchObject([
          { model: "scripted", limit: 10_000, pinned: undefined }
        ])
      }).pipe(Effect.provide(embeddedLayer({ store: "memory:" })))
  )

  it.live(
    "a plan that starts under a pinned model limit below its own cap journals the limit it runs under",
    () =>
      Effect.gen(function* () {
        const engine = yield* Engine
        yield* engine.setConcurrency("scripted", 2)
        const id = yield* engine.submit({ name: "capped", options: { concurrency: 10 }, atoms: atoms(4) })
        const events = Chunk.toArray(yield* Stream.runCollect(engine.events(id)))
        const changes = events.filter((event) => event.type === "concurrency.limit_changed")
        expect(changes).toMatchObject([
          { from: 10, to: 2, reason: "the limit of scripted, shared by the engine's plans" }
        ])
        expect(events.findIndex((event) => event.type === "concurrency.limit_changed")).toBeLessThan(
          events.findIndex((event) => event.type === "atom.started")
        )
      }).pipe(Effect.provide(embeddedLayer({ store: "memory:" })))
  )

  it.live("a 529 in one plan holds the starts of every plan on the model for its retry-after", () =>
    Effect.gen(function* () {
      const engine = yield* Engine
      const chain = Array.from({ length: 10 }, (_, i) => ({
        id: `b${i}`,
        instruction: `atom ${i}`,
        dependsOn: i === 0 ? [] : [`b${i - 1}`]
      }))
      const steady = yield* engine.submit({ name: "steady", atoms: chain })
      const overloaded = yield* engine.submit({
        name: "overloaded",
        options: { retry: { initialMs: 0, jitter: 0 } },
        atoms: [{ id: "a", instruction: "x", simulate: { faults: ["overloaded"] } }]
      })
      const [steadyEvents, overloadedEvents] = yield* Effect.all(
        [steady, overloaded].map((id) => Effect.map(Stream.runCollect(engine.events(id)), Chunk.toArray)),
        { concurrency: "unbounded" }
      )
      expect([steadyEvents!.at(-1)?.type, overloadedEvents!.at(-1)?.type]).toEqual([
        "masterplan.completed",
        "masterplan.completed"
      ])
      const pushedBack = overloadedEvents!.find((event) => event.type === "atom.throttled")
      const refusedAt = pushedBack!.at
      const holdMs = pushedBack?.type === "atom.throttled" ? pushedBack.retryAfterMs! : 0
      expect(holdMs).toBe(scriptedRetryAfterMs)
      const starts = [...steadyEvents!, ...overloadedEvents!].filter((event) => event.type === "atom.started")
      // The hold runs from the 529's end, stamped in the same turn as its retry (a few ms at most).
      expect(starts.filter((event) => event.at > refusedAt && event.at < refusedAt + holdMs - 10)).toEqual([])
      // Not vacuous: the steady plan was mid-chain when the 529 came, and went on after the hold.
      expect(starts.some((event) => event.at < refusedAt)).toBe(true)
      expect(starts.filter((event) => event.at >= refusedAt + holdMs - 10).length).toBeGreaterThan(1)
    }).pipe(Effect.provide(embeddedLayer({ store: "memory:", scripted: { latencyMs: 50 } })))
  )
})
