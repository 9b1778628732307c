import {
  adaptiveLimiter,
  DurationMs,
  erasePolicyState,
  maxConcurrency,
  QueueSlots,
  staticLimiter,
  withOverloadHold
} from "@devmatrix/core"
import type { LimiterPolicy, QueueClaim } from "@devmatrix/core"
import { Context, Duration, Effect, Layer, Schema } from "effect"
import type { Runtime, Scope } from "effect"
import type { AdmissionLane, LaneConfig } from "./AdmissionLane.js"
import { LocalLane } from "./internal/localLane.js"
import { HerdGuard, herdGuardDefaults, ModelGate } from "./internal/modelGate.js"
import type { HerdGuardOptions } from "./internal/modelGate.js"
import { scriptedModel } from "./ModelProviderLive.js"

export type { AdmissionLane, CallReport, LaneConfig, PermitReclaim } from "./AdmissionLane.js"
export type { HerdGuardOptions } from "./internal/modelGate.js"
export type { QueueClaim } from "@devmatrix/core"

/** A model's limit as the scheduler holds it now. */
export interface ModelLimit {
  readonly model: string
  /** Calls in flight at most. */
  readonly limit: number
  /** The operator's limit, while one is pinned (`setConcurrency`). */
  readonly pinned?: number | undefined
  /** Calls in flight now, across plans. */
  readonly inFlight: number
  /** Permits held: calls in flight and ends not committed yet. */
  readonly permits: number
  /** Ready atoms waiting for the model, across plans. */
  readonly waiting: number
  /** The tenants whose plans called the model: their cap (Infinity: none) and the permits they hold. */
  readonly tenants: ReadonlyArray<{
    readonly tenant: string
    readonly limit: number
    readonly permits: number
  }>
}

/** The engine's admission queue: the slots plans hold (`claimQueue`), its bound, the claims waiting. */
export interface AdmissionQueueState {
  readonly claimed: number
  readonly maxQueuedPerEngine: number
  readonly maxQueuedPerPlan: number
  /** Submissions (and resumes) waiting for room. */
  readonly waiting: number
}

/**
 * A plan was refused because the engine's admission queue stayed full: its `requested` slots did
 * not fit next to the `claimed` ones of the plans running, under `maxQueuedPerEngine`, within
 * `waitedMs`. Nothing of the plan was stored: submitting it again later is safe. A Schema error: it
 * is sent to clients.
 */
export class AdmissionQueueFull extends Schema.TaggedError<AdmissionQueueFull>()("AdmissionQueueFull", {
  masterplanId: Schema.String,
  requested: Schema.Number,
  claimed: Schema.Number,
  maxQueuedPerEngine: Schema.Number,
  waitedMs: Schema.Number
}) {
  override get message(): string {
    return `the engine is busy: masterplan "${this.masterplanId}" needs ${this.requested} slots of the admission queue, and the plans running hold ${this.claimed} of its ${this.maxQueuedPerEngine}; no room came within ${this.waitedMs} ms (submit it again later)`
  }
}

/**
 * Admission for the plans of one engine: one gate per model, shared by every plan that calls it,
 * holding the model's limiter, its permits and the plans' lanes; and the engine's bounded admission
 * queue, shared out between plans as claims.
 */
export interface SchedulerService {
  /**
   * Room in the engine's admission queue for a plan of `atoms` atoms still to run: it claims
   * `min(atoms, maxQueuedPerPlan)` slots (the most it may have queued at once) and holds them until
   * it gives them back. Waits, first come first served, up to `maxQueueWaitMs` while the claims of
   * the plans running leave no room, then fails with `AdmissionQueueFull`.
   */
  readonly claimQueue: (masterplanId: string, atoms: number) => Effect.Effect<QueueClaim, AdmissionQueueFull>
  /** The engine's admission queue now. */
  readonly admissionQueue: () => AdmissionQueueState
  /** Opens a plan's admission lane under its model's gate; `runtime` runs its admission effects. */
  readonly lane: <A, D>(config: LaneConfig<A, D>, runtime: Runtime.Runtime<never>) => AdmissionLane
  /**
   * Pins a model's limit at `limit` calls in flight (the limiter stops adapting), or lets it adapt
   * again (undefined); plans running on it see the change at once, and journal it.
   */
  readonly setConcurrency: (model: string, limit: number | undefined) => void
  /** The limits of the models plans have used (or that were pinned). */
  readonly limits: () => ReadonlyArray<ModelLimit>
}

export class Scheduler extends Context.Tag("@devmatrix/runtime/Scheduler")<Scheduler, SchedulerService>() {}

/** How the local scheduler limits each model. */
export interface SchedulerOptions<S> {
  /** The policy of a model's gate, made once per model when a plan first uses it (or it is pinned). */
  readonly limiter: (model: string) => LimiterPolicy<S>
  /**
   * How a burst of starts is spread, or false for never (for a policy that does not adapt). It
   * applies while the limit is not pinned and the model is a real provider (`spreadsStarts`): a
   * pinned limit is the operator's word, and the offline scripted model has no provider to protect
   * (its zero-latency runs and benches would only wait).
   * @default herdGuardDefaults (DESIGN.md section 9)
   */
  readonly herdGuard?: HerdGuardOptions | false
  /** Which models' bursts are spread. @default every model but the scripted one */
  readonly spreadsStarts?: (model: string) => boolean
  /**
   * Each tenant's cap on its plans' calls in flight to each model (permits, as the plans' caps
   * count them), under the model's limit; a tenant not named has none. @default {}
   */
  readonly tenantLimits?: Readonly<Record<string, number>>
  /**
   * The most atoms one plan has queued for admission (or backing off before they queue again) at
   * once: ready atoms beyond it stay ready in the plan, as indices, and are queued as room appears.
   * @default 1000 (DESIGN.md section 9: at most 1,000 waiting)
   */
  readonly maxQueuedPerPlan?: number
  /**
   * The engine's bound on the atoms its plans have queued: each running plan claims
   * `min(its atoms left, maxQueuedPerPlan)` of it (`claimQueue`). @default 10000 (ten plans at
   * their full queue)
   */
  readonly maxQueuedPerEngine?: number
  /**
   * How long a submission (or a resume) waits for room in the engine's queue before it fails with
   * `AdmissionQueueFull`. @default 300000 (DESIGN.md section 9: a 300 s wait deadline)
   */
  readonly maxQueueWaitMs?: number
}

/** The numbers of `SchedulerOptions`, checked when a scheduler is made: a bad one is named. */
const SchedulerBounds = Schema.Struct({
  tenantLimits: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.Int.pipe(Schema.between(1, maxConcurrency)) })
  ),
  maxQueuedPerPlan: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  maxQueuedPerEngine: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  maxQueueWaitMs: Schema.optional(DurationMs)
})

/** The admission queue's bounds by default (DESIGN.md section 9: 1,000 waiting, a 300 s deadline). */
export const admissionQueueDefaults = {
  maxQueuedPerPlan: 1_000,
  maxQueuedPerEngine: 10_000,
  maxQueueWaitMs: 300_000
} as const

/**
 * What the engine uses: a real provider's model adapts (`adaptiveLimiter`, DESIGN.md section 9:
 * its rate-limit headers when it sends them, loss and latency when it does not; 429 shrinks it, a
 * 529 holds every start) with the herd guard spreading bursts. The offline scripted model is no
 * provider to find the capacity of: it keeps a static limit (the plans' caps, up to
 * `maxConcurrency`), a 529 still holding every start back for its `retry-after` (or
 * `overloadHoldMs`), so its runs and benches measure the engine, not a limiter's ramp.
 */
export const defaultSchedulerOptions: SchedulerOptions<unknown> = {
  limiter: (model) =>
    model === scriptedModel
      ? erasePolicyState(withOverloadHold(staticLimiter(maxConcurrency)))
      : erasePolicyState(adaptiveLimiter())
}

/**
 * The scheduler of one process, on the runtime's clock (its gates' timers too: `TestClock` drives
 * them). Options out of range throw a `ParseError` naming them (a layer made with them dies of it).
 */
export const makeLocalScheduler = <S>(
  runtime: Runtime.Runtime<never>,
  nowMs: () => number,
  options: SchedulerOptions<S>,
  /** Where the gates' timers live: closing it interrupts them (a hold does not keep a process up). */
  scope?: Scope.Scope
): SchedulerService => {
  Schema.decodeUnknownSync(SchedulerBounds, { errors: "all" })({
    tenantLimits: options.tenantLimits,
    maxQueuedPerPlan: options.maxQueuedPerPlan,
    maxQueuedPerEngine: options.maxQueuedPerEngine,
    maxQueueWaitMs: options.maxQueueWaitMs
  })
  const gates = new Map<string, ModelGate<S>>()
  const herdGuard = options.herdGuard === false ? undefined : (options.herdGuard ?? herdGuardDefaults)
  const spreadsStarts = options.spreadsStarts ?? ((model: string) => model !== scriptedModel)
  const gateOf = (model: string): ModelGate<S> => {
    let gate = gates.get(model)
    if (gate === undefined) {
      const guard = herdGuard !== undefined && spreadsStarts(model) ? new HerdGuard(herdGuard) : undefined
      gate = new ModelGate(
        model,
        options.limiter(model),
        { nowMs, runtime, scope },
        guard,
        options.tenantLimits
      )
      gates.set(model, gate)
    }
    return gate
  }
  const maxQueuedPerPlan = options.maxQueuedPerPlan ?? admissionQueueDefaults.maxQueuedPerPlan
  const maxQueueWaitMs = options.maxQueueWaitMs ?? admissionQueueDefaults.maxQueueWaitMs
  const slots = new QueueSlots(options.maxQueuedPerEngine ?? admissionQueueDefaults.maxQueuedPerEngine)

  const claimQueue: SchedulerService["claimQueue"] = (masterplanId, atoms) =>
    Effect.suspend(() => {
      const requested = Math.max(0, Math.min(atoms, maxQueuedPerPlan, slots.capacity))
      const now = slots.tryClaim(requested)
      if (now !== undefined) return Effect.succeed(now)
      const full = () =>
        new AdmissionQueueFull({
          masterplanId,
          requested,
          claimed: slots.inUse,
          maxQueuedPerEngine: slots.capacity,
          waitedMs: maxQueueWaitMs
        })
      return Effect.async<QueueClaim>((resume) => {
        let granted: QueueClaim | undefined
        const leave = slots.wait(requested, (claim) => {
          granted = claim
          resume(Effect.succeed(claim))
        })
        // Given up (the deadline, an interruption): out of the line; a claim granted meanwhile goes back.
        return Effect.sync(() => {
          if (!leave()) granted?.release()
        })
      }).pipe(Effect.timeoutFail({ duration: Duration.millis(maxQueueWaitMs), onTimeout: full }))
    })

  return {
    claimQueue,
    admissionQueue: () => ({
      claimed: slots.inUse,
      maxQueuedPerEngine: slots.capacity,
      maxQueuedPerPlan,
      waiting: slots.waiting
    }),
    lane: (config, laneRuntime) => new LocalLane(config, laneRuntime, gateOf(config.model), nowMs),
    setConcurrency: (model, limit) => gateOf(model).pin(limit),
    limits: () =>
      [...gates.values()].map((gate) => ({
        model: gate.model,
        limit: gate.limit(),
        pinned: gate.pinned(),
        inFlight: gate.callsInFlight(),
        permits: gate.permitsHeld(),
        waiting: gate.waiting(),
        tenants: gate.tenantShares().map((share) => ({
          tenant: share.name,
          limit: share.limit,
          permits: share.held
        }))
      }))
  }
}

/** The local scheduler with `options` (`SchedulerLocal` has the defaults). */
export const SchedulerLocalWith = <S>(options: SchedulerOptions<S>): Layer.Layer<Scheduler> =>
  Layer.scoped(
    Scheduler,
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const clock = yield* Effect.clock
      const scope = yield* Effect.scope
      return makeLocalScheduler(runtime, () => clock.unsafeCurrentTimeMillis(), options, scope)
    })
  )

export const SchedulerLocal: Layer.Layer<Scheduler> = SchedulerLocalWith(defaultSchedulerOptions)
