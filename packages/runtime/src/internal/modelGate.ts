import { seededRandom } from "@devmatrix/core"
import type { CallObservation, LimitChange, LimiterPolicy, LimiterStep, TokenDemand } from "@devmatrix/core"
import { Duration, Effect, FiberId, Runtime } from "effect"
import type { Fiber, Scope } from "effect"

/** No tokens: what a lane without a demand reserves, and the demand judged before any was seen. */
export const noDemand: TokenDemand = { inputTokens: 0, outputTokens: 0 }

/**
 * How a burst of starts is spread (DESIGN.md section 9): calls in flight grow by at most
 * `batchSize` per window of `batchSpacingMs` plus a jitter of up to `jitterMs`. A start that
 * replaces a call that ended (in flight does not grow) is never held.
 */
export interface HerdGuardOptions {
  /** @default 20 */
  readonly batchSize: number
  /** @default 500 */
  readonly batchSpacingMs: number
  /** @default 2000 */
  readonly jitterMs: number
  /** Seeds the jitter: the same run spreads its starts the same way. @default 1 */
  readonly seed: number
}

export const herdGuardDefaults: HerdGuardOptions = {
  batchSize: 20,
  batchSpacingMs: 500,
  jitterMs: 2_000,
  seed: 1
}

/** The herd guard's window: how far in-flight calls may grow before it ends. */
export class HerdGuard {
  private windowEndsMs = Number.NEGATIVE_INFINITY
  private baseline = 0
  private readonly random: () => number

  constructor(private readonly options: HerdGuardOptions) {
    // Seeded, so the jitter is the same under `TestClock` every run.
    this.random = seededRandom(options.seed)
  }

  /** Milliseconds until one more call may start, with `calling` calls in flight now. */
  waitMs(nowMs: number, calling: number): number {
    if (nowMs >= this.windowEndsMs) {
      this.baseline = calling
      this.windowEndsMs = nowMs + this.options.batchSpacingMs + this.random() * this.options.jitterMs
      return 0
    }
    return calling < this.baseline + this.options.batchSize ? 0 : this.windowEndsMs - nowMs
  }
}

/**
 * A tenant's permits on one model: the calls in flight (and ends not committed) of its plans there,
 * under its cap (`SchedulerOptions.tenantLimits`; Infinity when it has none).
 */
export interface TenantShare {
  readonly name: string
  readonly limit: number
  held: number
}

/** A plan's lane as its model's gate sees it. */
export interface GateLane {
  /** Its share of the gate while it waits with others (the plan's priority). */
  readonly weight: number
  /** The tenant whose cap it counts against. */
  readonly tenant: TenantShare
  /** Fair share: the virtual time at which its last admission's share ends. */
  finishTag: number
  /** It has an atom that may go now (queued, lane open, under its own cap and its waves'); no side effect. */
  readonly admissible: () => boolean
  /** The gate gave it a permit: it admits its best atom. */
  readonly admitNext: () => void
  /** The model's limit changed (every lane registered is told, waiting or not). */
  readonly limitChanged: (change: LimitChange) => void
  /** Ready atoms waiting in it. */
  readonly waiting: () => number
}

/** A gate as a lane uses it: nothing here depends on the policy's state. */
export interface Gate {
  readonly limit: () => number
  /** The tenant's share of this model (made on first use). */
  readonly tenantOf: (name: string) => TenantShare
  readonly register: (lane: GateLane) => void
  readonly unregister: (lane: GateLane) => void
  readonly pump: () => void
  /** `count` permits of `tenant` return. */
  readonly release: (count: number, tenant: TenantShare) => void
  readonly callEnded: () => void
  readonly reserve: (demand: TokenDemand) => void
  readonly refund: (reserved: TokenDemand, used: TokenDemand) => void
  readonly observe: (observation: Omit<CallObservation, "inFlight">) => void
}

/** What a gate needs from the runtime: its clock, and a fiber for its one timer. */
export interface GateRuntime {
  readonly nowMs: () => number
  readonly runtime: Runtime.Runtime<never>
  /** Its timer is interrupted when this closes. */
  readonly scope?: Scope.Scope | undefined
}

/**
 * The admission of one model, shared by the engine's plans that call it: the limiter's state, the
 * permits held across plans and tenants, and the lanes of the plans. `acquire` and `release` are
 * plain synchronous code: a permit costs no Effect. A permit is taken at every level of the
 * hierarchy in one step (the model's limit, the tenant's cap, the plan's cap, the wave's cap): the
 * gate picks a lane whose tenant and plan are under their caps and which has an atom of a wave
 * under its own, and counts the permit at each; it returns to all of them when the plan's journal
 * has committed the call's end. When the policy (or the herd guard) says to wait, one timer per
 * gate wakes it.
 */
export class ModelGate<S> implements Gate {
  private state: S
  /** Permits held across lanes: admissions, calls, and ends not committed yet. */
  private held = 0
  /** Calls in flight across lanes (admissions included): what the provider sees. */
  private calling = 0
  private readonly lanes: Array<GateLane> = []
  private readonly tenants = new Map<string, TenantShare>()
  /** Start-time fair queuing: the start tag of the last admission. */
  private virtualTime = 0
  /** The last demand reserved: what the next call is judged by before its prompt is built. */
  private lastDemand: TokenDemand = noDemand
  private pinnedLimit: number | undefined
  private pumping = false
  private timer: { readonly dueMs: number; readonly fiber: Fiber.RuntimeFiber<void> } | undefined
  private readonly runFork: ReturnType<typeof Runtime.runFork<never>>

  constructor(
    readonly model: string,
    private readonly policy: LimiterPolicy<S>,
    private readonly clock: GateRuntime,
    /** Spreads bursts; only while the limit adapts (a pinned limit is the operator's word). */
    private readonly herdGuard: HerdGuard | undefined,
    /** Each tenant's cap on its calls in flight to this model; a tenant not named has none. */
    private readonly tenantLimits: Readonly<Record<string, number>> = {}
  ) {
    this.state = policy.initial(clock.nowMs())
    this.runFork = Runtime.runFork(clock.runtime)
  }

  /** Calls in flight at most, now. */
  limit(): number {
    return this.policy.limitOf(this.state)
  }

  /** The operator's limit, while one is pinned. */
  pinned(): number | undefined {
    return this.pinnedLimit
  }

  /** Permits held now (calls in flight plus ends not committed yet). */
  permitsHeld(): number {
    return this.held
  }

  callsInFlight(): number {
    return this.calling
  }

  /** Ready atoms waiting in the lanes of the gate. */
  waiting(): number {
    let waiting = 0
    for (const lane of this.lanes) waiting += lane.waiting()
    return waiting
  }

  tenantOf(name: string): TenantShare {
    let tenant = this.tenants.get(name)
    if (tenant === undefined) {
      tenant = { name, limit: this.tenantLimits[name] ?? Number.POSITIVE_INFINITY, held: 0 }
      this.tenants.set(name, tenant)
    }
    return tenant
  }

  /** The tenants whose plans have used this model, with their permits held now. */
  tenantShares(): ReadonlyArray<TenantShare> {
    return [...this.tenants.values()]
  }

  register(lane: GateLane): void {
    // A lane that joins competes from now on, with no credit for the time it was not there.
    lane.finishTag = this.virtualTime
    this.lanes.push(lane)
  }

  unregister(lane: GateLane): void {
    const at = this.lanes.indexOf(lane)
    if (at >= 0) this.lanes.splice(at, 1)
  }

  /** A call the gate admitted has ended (or its admission was given back). */
  callEnded(): void {
    this.calling--
  }

  /** `count` permits return (their ends are committed, or admissions were given back); admits what fits. */
  release(count: number, tenant: TenantShare): void {
    this.held -= count
    tenant.held -= count
    this.pump()
  }

  reserve(demand: TokenDemand): void {
    this.lastDemand = demand
    this.state = this.policy.reserve(this.state, demand, this.clock.nowMs())
  }

  refund(reserved: TokenDemand, used: TokenDemand): void {
    this.state = this.policy.refund(this.state, reserved, used, this.clock.nowMs())
  }

  /** A call's end, for the policy; `inFlight` is counted here (the call itself included). */
  observe(observation: Omit<CallObservation, "inFlight">): void {
    this.apply(this.policy.observe(this.state, { ...observation, inFlight: this.calling }))
  }

  /** Pins the limit (`limit`) or lets it adapt again (undefined). */
  pin(limit: number | undefined): void {
    this.pinnedLimit = limit
    this.apply(this.policy.pin(this.state, limit, this.clock.nowMs()))
  }

  private apply(step: LimiterStep<S>): void {
    this.state = step.state
    if (step.change !== undefined && step.change.from !== step.change.to)
      for (const lane of this.lanes.slice()) lane.limitChanged(step.change)
    this.pump()
  }

  /**
   * Admits while permits are free: each time from the waiting lane whose fair share is due first
   * (start-time fair queuing, weighted by priority), that lane's best atom.
   */
  pump(): void {
    // An admission can end inline and free a permit (a cache hit): the loop sees it, no recursion.
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.held < this.limit()) {
        const lane = this.nextLane()
        if (lane === undefined) return
        const nowMs = this.clock.nowMs()
        const waitMs = Math.max(
          this.policy.waitMs(this.state, this.lastDemand, nowMs),
          this.herdGuard !== undefined && this.pinnedLimit === undefined
            ? this.herdGuard.waitMs(nowMs, this.calling)
            : 0
        )
        if (waitMs > 0) return this.wakeIn(waitMs, nowMs)
        const startTag = Math.max(lane.finishTag, this.virtualTime)
        this.virtualTime = startTag
        lane.finishTag = startTag + 1 / lane.weight
        this.held++
        this.calling++
        lane.tenant.held++
        lane.admitNext()
      }
    } finally {
      this.pumping = false
    }
  }

  /** The admissible lane (its tenant under its cap) with the earliest start tag; the first registered wins a tie. */
  private nextLane(): GateLane | undefined {
    let best: GateLane | undefined
    let bestTag = Number.POSITIVE_INFINITY
    for (const lane of this.lanes) {
      const tag = Math.max(lane.finishTag, this.virtualTime)
      if (tag < bestTag && lane.tenant.held < lane.tenant.limit && lane.admissible()) {
        best = lane
        bestTag = tag
      }
    }
    return best
  }

  /** One timer per gate, on the runtime's clock: the earliest wake-up asked for wins. */
  private wakeIn(waitMs: number, nowMs: number): void {
    const dueMs = nowMs + waitMs
    if (this.timer !== undefined) {
      if (this.timer.dueMs <= dueMs) return
      this.timer.fiber.unsafeInterruptAsFork(FiberId.none)
    }
    const sleep = Effect.sleep(Duration.millis(Math.ceil(waitMs)))
    const scope = this.clock.scope
    const fiber = scope === undefined ? this.runFork(sleep) : this.runFork(sleep, { scope })
    const timer = { dueMs, fiber }
    this.timer = timer
    fiber.addObserver(() => {
      if (this.timer !== timer) return
      this.timer = undefined
      this.pump()
    })
  }
}
