import { parseRateLimitSignal, ReadyQueue } from "@devmatrix/core"
import type { CallClass, LimiterPolicy, RateLimitSignal, TokenDemand } from "@devmatrix/core"
import { epochMs, SimProvider } from "./simProvider.js"
import type { ProviderCall, ProviderProfile } from "./simProvider.js"

/** One atom of a simulated run: what it asks the provider, and what admission reserves for it. */
export interface SimAtom extends ProviderCall {
  readonly demand: TokenDemand
  readonly used: TokenDemand
}

/** How ready atoms are ordered, and when they become ready. */
export type Dispatch = "priority" | "fifo" | "waves"

export interface SimSpec<S> {
  readonly policy: LimiterPolicy<S>
  readonly provider: ProviderProfile
  readonly atoms: ReadonlyArray<SimAtom>
  /** Each atom's dependencies (empty: independent atoms). */
  readonly deps?: ReadonlyArray<ReadonlyArray<number>>
  readonly dependents?: ReadonlyArray<ReadonlyArray<number>>
  /** Critical-path priority (atoms to a sink, larger first) and waves, for `priority` and `waves`. */
  readonly remaining?: ReadonlyArray<number>
  readonly waveOf?: ReadonlyArray<number>
  readonly dispatch: Dispatch
  /** The provider's capacity changes at these times. */
  readonly capacityChanges?: ReadonlyArray<{ readonly atMs: number; readonly capacity: number }>
  /** An oracle: re-pinned to the provider's capacity at each change. */
  readonly followsCapacity?: boolean
}

export interface SimResult {
  readonly makespanMs: number
  readonly completed: number
  readonly attempts: number
  readonly rateLimited: ReadonlyArray<number>
  /** The limit after every change, from time 0. */
  readonly limits: ReadonlyArray<{ readonly atMs: number; readonly limit: number }>
  readonly reasons: ReadonlyArray<string>
  /** Start time of the last call admitted. */
  readonly lastStartMs: number
  readonly counted: SimProvider["counted"]
  readonly maxInFlight: number
}

type SimEvent =
  | {
      readonly kind: "end"
      readonly atMs: number
      readonly atom: number
      readonly startedAtMs: number
      readonly admitted: boolean
      readonly headers?: Record<string, string>
    }
  | { readonly kind: "wake"; readonly atMs: number }
  | { readonly kind: "capacity"; readonly atMs: number; readonly capacity: number }

/** A min-heap of events by time, ties in insertion order: the run is deterministic. */
class Agenda {
  private readonly events: Array<SimEvent> = []
  private readonly order: Array<number> = []
  private seq = 0
  private readonly queue = new ReadyQueue((a, b) => {
    const x = this.events[a]!
    const y = this.events[b]!
    return x.atMs < y.atMs || (x.atMs === y.atMs && this.order[a]! < this.order[b]!)
  })
  get size(): number {
    return this.queue.size
  }
  push(event: SimEvent): void {
    this.events.push(event)
    this.order.push(this.seq++)
    this.queue.push(this.events.length - 1)
  }
  pop(): SimEvent | undefined {
    const index = this.queue.pop()
    return index === undefined ? undefined : this.events[index]
  }
}

const none: TokenDemand = { inputTokens: 0, outputTokens: 0 }

/**
 * Runs the atoms through the same admission loop for any policy: at most `limitOf` calls in
 * flight, a call starts only when `waitMs` is 0, `reserve` on start, `refund` then `observe` on each
 * end (the headers then describe the buckets after the call's usage is settled), and a 429 puts
 * the atom back in the ready queue. Virtual time, no sleeps; deterministic.
 */
export const simulate = <S>(spec: SimSpec<S>): SimResult => {
  const { policy, atoms } = spec
  const provider = new SimProvider(spec.provider, 0)
  const agenda = new Agenda()
  let state = policy.initial(0)
  let now = 0
  const limits = [{ atMs: 0, limit: policy.limitOf(state) }]
  const reasons: Array<string> = []
  const record = (change: { readonly to: number; readonly reason: string } | undefined) => {
    if (change === undefined) return
    limits.push({ atMs: now, limit: change.to })
    reasons.push(change.reason)
  }
  if (spec.followsCapacity) {
    const step = policy.pin(state, spec.provider.capacity, now)
    state = step.state
    record(step.change)
  }
  for (const change of spec.capacityChanges ?? []) agenda.push({ kind: "capacity", ...change })

  const readySeq = new Array<number>(atoms.length).fill(0)
  let seq = 0
  const remaining = spec.remaining
  const ready = new ReadyQueue(
    spec.dispatch === "priority" && remaining !== undefined
      ? (a, b) =>
          remaining[a]! > remaining[b]! || (remaining[a] === remaining[b] && readySeq[a]! < readySeq[b]!)
      : (a, b) => readySeq[a]! < readySeq[b]!
  )
  const makeReady = (atom: number) => {
    readySeq[atom] = seq++
    ready.push(atom)
  }
  const waiting = atoms.map((_, i) => spec.deps?.[i]?.length ?? 0)
  const waveOf = spec.waveOf
  const waveLeft = new Map<number, number>()
  if (spec.dispatch === "waves" && waveOf !== undefined)
    for (const w of waveOf) waveLeft.set(w, (waveLeft.get(w) ?? 0) + 1)
  const releaseWave = (w: number) => atoms.forEach((_, i) => waveOf?.[i] === w && makeReady(i))
  if (spec.dispatch === "waves" && waveOf !== undefined) releaseWave(0)
  else atoms.forEach((_, i) => waiting[i] === 0 && makeReady(i))

  let inFlight = 0
  let maxInFlight = 0
  let completed = 0
  let attempts = 0
  let lastStartMs = 0
  let wakeAtMs = Number.POSITIVE_INFINITY
  const rateLimited: Array<number> = []

  const dispatch = () => {
    while (inFlight < policy.limitOf(state) && ready.size > 0) {
      const atom = ready.pop()!
      const call = atoms[atom]!
      const waitMs = policy.waitMs(state, call.demand, now)
      if (!(waitMs >= 0) || !Number.isFinite(waitMs)) throw new Error(`waitMs ${waitMs}`)
      if (waitMs > 0) {
        ready.push(atom)
        if (now + waitMs < wakeAtMs) {
          wakeAtMs = now + waitMs
          agenda.push({ kind: "wake", atMs: wakeAtMs })
        }
        return
      }
      state = policy.reserve(state, call.demand, now)
      attempts++
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      lastStartMs = now
      const answer = provider.start(call, now)
      agenda.push(
        answer.admitted
          ? { kind: "end", atMs: answer.endAtMs, atom, startedAtMs: now, admitted: true }
          : {
              kind: "end",
              atMs: answer.endAtMs,
              atom,
              startedAtMs: now,
              admitted: false,
              headers: answer.headers
            }
      )
    }
  }

  const finish = (atom: number) => {
    completed++
    if (spec.dispatch === "waves" && waveOf !== undefined) {
      const w = waveOf[atom]!
      const left = waveLeft.get(w)! - 1
      waveLeft.set(w, left)
      if (left === 0 && waveLeft.has(w + 1)) releaseWave(w + 1)
      return
    }
    for (const dependent of spec.dependents?.[atom] ?? [])
      if (--waiting[dependent]! === 0) makeReady(dependent)
  }

  dispatch()
  while (agenda.size > 0) {
    const event = agenda.pop()!
    now = event.atMs
    if (event.kind === "wake") {
      if (event.atMs === wakeAtMs) wakeAtMs = Number.POSITIVE_INFINITY
    } else if (event.kind === "capacity") {
      provider.setCapacity(event.capacity, now)
      if (spec.followsCapacity) {
        const step = policy.pin(state, event.capacity, now)
        state = step.state
        record(step.change)
      }
    } else {
      inFlight--
      const call = atoms[event.atom]!
      const headers = event.admitted ? provider.end(call, now) : event.headers!
      const callClass: CallClass = event.admitted ? "success" : "rate_limited"
      state = policy.refund(state, call.demand, event.admitted ? call.used : none, now)
      const signal = parseRateLimitSignal(headers, epochMs + now)
      const step = policy.observe(state, {
        atMs: now,
        latencyMs: now - event.startedAtMs,
        class: callClass,
        inFlight: inFlight + 1,
        rateLimits: signal === undefined ? undefined : shift(signal)
      })
      state = step.state
      record(step.change)
      if (event.admitted) finish(event.atom)
      else {
        rateLimited.push(now)
        makeReady(event.atom)
      }
    }
    dispatch()
    if (completed === atoms.length) break
  }
  return {
    makespanMs: now,
    completed,
    attempts,
    rateLimited,
    limits,
    reasons,
    lastStartMs,
    counted: provider.counted,
    maxInFlight
  }
}

/** Headers carry wall-clock times; the run's clock starts at `epochMs`. */
const shift = (signal: RateLimitSignal): RateLimitSignal => {
  const back = (bucket: { readonly resetAtMs?: number } | undefined) =>
    bucket?.resetAtMs === undefined ? bucket : { ...bucket, resetAtMs: bucket.resetAtMs - epochMs }
  return {
    ...signal,
    at: signal.at - epochMs,
    ...(signal.requests ? { requests: back(signal.requests)! } : {}),
    ...(signal.tokens ? { tokens: back(signal.tokens)! } : {}),
    ...(signal.inputTokens ? { inputTokens: back(signal.inputTokens)! } : {}),
    ...(signal.outputTokens ? { outputTokens: back(signal.outputTokens)! } : {})
  }
}
