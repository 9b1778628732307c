import { HashMap, Option } from "effect"
import { nanosOfUsd, usdOfNanos } from "./money.js"

/**
 * The money of one masterplan, as a pure value: limits, what is committed (paid), what is reserved
 * (held for calls in flight) and by whom. Every operation returns a new ledger and the signals it
 * raised; nothing here performs IO, so the runtime's `CostLedger` makes each step atomic by taking
 * it in one synchronous section. Amounts are whole nano-dollars inside (see `money.ts`), so the
 * checks `committed + reserved + usd <= hard` are exact; USD goes in and comes out.
 *
 * @example
 * let ledger = BudgetLedger.open({ hardUsd: 1 })
 * const step = BudgetLedger.reserve(ledger, "plan/a/1", { usd: 0.4, wave: 0, atomId: "a" })
 * if (step._tag === "Reserved") ledger = BudgetLedger.commit(step.ledger, "plan/a/1", 0.25).ledger
 * BudgetLedger.totals(ledger) // { hardUsd: 1, softUsd: 0.8, committedUsd: 0.25, reservedUsd: 0 }
 */
export interface BudgetLedger {
  readonly hardNanos: number
  readonly softNanos: number
  /** The cap of one wave's spend (committed and reserved), if any. */
  readonly perWaveNanos: number | undefined
  /** The cap of one atom's spend over all its attempts, if any. */
  readonly perAtomNanos: number | undefined
  readonly committedNanos: number
  readonly reservedNanos: number
  readonly reservations: HashMap.HashMap<string, LedgerReservation>
  /** Ids already committed (the first `committedCount` of the log): a second commit of one changes nothing. */
  readonly committed: CommittedLog
  readonly committedCount: number
  /** Committed plus reserved, per wave and per atom, for their caps (kept only for a level with a cap). */
  readonly heldByWave: HashMap.HashMap<number, number>
  readonly heldByAtom: HashMap.HashMap<string, number>
  /** Committed spend is at or above the soft limit (and `soft_limit` was signalled). */
  readonly softCrossed: boolean
}

/**
 * The ids committed, in commit order, shared by a ledger and every ledger stepped from it: a
 * ledger sees the first `committedCount`. Commits only ever add ids, so a step appends in place
 * instead of copying a persistent set that grows with the plan (a plan of 100,000 atoms makes
 * 100,000 commits); a step from a ledger that is not the newest copies what it sees first, so every
 * ledger value still answers as it did when it was made.
 */
interface CommittedLog {
  /** Each id's position in the log. */
  readonly positions: Map<string, number>
}

const isCommitted = (ledger: BudgetLedger, id: string): boolean =>
  (ledger.committed.positions.get(id) ?? Infinity) < ledger.committedCount

const withCommitted = (
  ledger: BudgetLedger,
  id: string
): Pick<BudgetLedger, "committed" | "committedCount"> => {
  let log = ledger.committed
  if (log.positions.size !== ledger.committedCount) {
    const seen = new Map<string, number>()
    for (const [logged, position] of log.positions)
      if (position < ledger.committedCount) seen.set(logged, position)
    log = { positions: seen }
  }
  log.positions.set(id, ledger.committedCount)
  return { committed: log, committedCount: ledger.committedCount + 1 }
}

/** The limits a ledger enforces, in USD; `softUsd` defaults to 80% of `hardUsd`. */
export interface LedgerBudget {
  readonly hardUsd: number
  readonly softUsd?: number | undefined
  readonly perWaveUsd?: number | undefined
  readonly perAtomUsd?: number | undefined
}

/** Who a reservation is for. */
export interface ReservationScope {
  readonly wave: number
  readonly atomId: string
}

/** An amount held for one call in flight. */
export interface LedgerReservation extends ReservationScope {
  readonly nanos: number
}

/** The level whose cap refused a reservation. */
export type BudgetLevel = "plan" | "wave" | "atom"

/**
 * What a step reports. `soft_limit`: committed spend reached the soft limit (once per crossing; a
 * raise that puts spend back below re-arms it). `hard_limit`: a reservation did not fit under the
 * plan's hard limit. `overrun`: a call cost more than its reservation (committed all the same).
 */
export type LedgerSignal =
  | { readonly type: "soft_limit"; readonly totalUsd: number; readonly limitUsd: number }
  | { readonly type: "hard_limit"; readonly limitUsd: number; readonly wouldBeUsd: number }
  | {
      readonly type: "overrun"
      readonly reservationId: string
      readonly reservedUsd: number
      readonly actualUsd: number
    }

/** A new ledger and the signals its step raised. */
export interface LedgerStep {
  readonly ledger: BudgetLedger
  readonly signals: ReadonlyArray<LedgerSignal>
}

/** A reservation taken (or already held under that id), or refused by the cap of `exceeded`. */
export type ReserveOutcome =
  | (LedgerStep & { readonly _tag: "Reserved" })
  | (LedgerStep & {
      readonly _tag: "Refused"
      readonly exceeded: BudgetLevel
      readonly limitUsd: number
      readonly wouldBeUsd: number
    })
  | (LedgerStep & { readonly _tag: "AlreadyCommitted" })

/** A cost already committed, as recovery reads it from the journal. */
export interface CommittedCost {
  readonly id: string
  readonly usd: number
  readonly wave?: number | undefined
  readonly atomId?: string | undefined
}

/** The ledger's amounts in USD. */
export interface LedgerTotals {
  readonly hardUsd: number
  readonly softUsd: number
  readonly committedUsd: number
  readonly reservedUsd: number
}

const optionalNanos = (usd: number | undefined) => (usd === undefined ? undefined : nanosOfUsd(usd))

const limitsOf = (budget: LedgerBudget) => {
  const hardNanos = nanosOfUsd(budget.hardUsd)
  return { hardNanos, softNanos: Math.min(hardNanos, nanosOfUsd(budget.softUsd ?? budget.hardUsd * 0.8)) }
}

const open = (budget: LedgerBudget): BudgetLedger => ({
  ...limitsOf(budget),
  perWaveNanos: optionalNanos(budget.perWaveUsd),
  perAtomNanos: optionalNanos(budget.perAtomUsd),
  committedNanos: 0,
  reservedNanos: 0,
  reservations: HashMap.empty(),
  committed: { positions: new Map() },
  committedCount: 0,
  heldByWave: HashMap.empty(),
  heldByAtom: HashMap.empty(),
  softCrossed: false
})

const add = <K>(map: HashMap.HashMap<K, number>, key: K, nanos: number) =>
  HashMap.set(map, key, Option.getOrElse(HashMap.get(map, key), () => 0) + nanos)

const held = <K>(map: HashMap.HashMap<K, number>, key: K) => Option.getOrElse(HashMap.get(map, key), () => 0)

/**
 * `nanos` more held by a wave and an atom. Kept only for a level that has a cap: without caps
 * (the common case) each step saves four map updates.
 */
const hold = (
  ledger: BudgetLedger,
  scope: { readonly wave?: number | undefined; readonly atomId?: string | undefined },
  nanos: number
) => ({
  heldByWave:
    ledger.perWaveNanos === undefined || scope.wave === undefined
      ? ledger.heldByWave
      : add(ledger.heldByWave, scope.wave, nanos),
  heldByAtom:
    ledger.perAtomNanos === undefined || scope.atomId === undefined
      ? ledger.heldByAtom
      : add(ledger.heldByAtom, scope.atomId, nanos)
})

/**
 * A ledger rebuilt after a restart from the costs the journal committed. The reservations of the
 * dead process are simply gone: their calls either committed (and are in `committed`) or never
 * will. No signal is raised: a soft crossing was journaled when it happened.
 */
const fromCommitted = (budget: LedgerBudget, committed: ReadonlyArray<CommittedCost>): BudgetLedger => {
  let ledger = open(budget)
  for (const cost of committed) {
    if (isCommitted(ledger, cost.id)) continue
    const nanos = nanosOfUsd(cost.usd)
    ledger = {
      ...ledger,
      committedNanos: ledger.committedNanos + nanos,
      ...withCommitted(ledger, cost.id),
      ...hold(ledger, cost, nanos)
    }
  }
  return { ...ledger, softCrossed: ledger.committedNanos >= ledger.softNanos }
}

/**
 * Holds `usd` for the call `id` if committed + reserved + `usd` fits under the hard limit, and
 * under the caps of its wave and atom when they are set. The plan's cap is checked first; its
 * refusal raises `hard_limit`. An id already reserved is not reserved twice (`Reserved`,
 * unchanged); an id already committed is `AlreadyCommitted`: its call was made and paid.
 */
const reserve = (
  ledger: BudgetLedger,
  id: string,
  request: ReservationScope & { readonly usd: number }
): ReserveOutcome => {
  if (isCommitted(ledger, id)) return { _tag: "AlreadyCommitted", ledger, signals: [] }
  if (HashMap.has(ledger.reservations, id)) return { _tag: "Reserved", ledger, signals: [] }
  const nanos = nanosOfUsd(request.usd)
  const refuse = (exceeded: BudgetLevel, limitNanos: number, wouldBeNanos: number): ReserveOutcome => {
    const [limitUsd, wouldBeUsd] = [usdOfNanos(limitNanos), usdOfNanos(wouldBeNanos)]
    return {
      _tag: "Refused",
      ledger,
      exceeded,
      limitUsd,
      wouldBeUsd,
      signals: exceeded === "plan" ? [{ type: "hard_limit", limitUsd, wouldBeUsd }] : []
    }
  }
  const planWouldBe = ledger.committedNanos + ledger.reservedNanos + nanos
  if (planWouldBe > ledger.hardNanos) return refuse("plan", ledger.hardNanos, planWouldBe)
  if (ledger.perWaveNanos !== undefined) {
    const waveWouldBe = held(ledger.heldByWave, request.wave) + nanos
    if (waveWouldBe > ledger.perWaveNanos) return refuse("wave", ledger.perWaveNanos, waveWouldBe)
  }
  if (ledger.perAtomNanos !== undefined) {
    const atomWouldBe = held(ledger.heldByAtom, request.atomId) + nanos
    if (atomWouldBe > ledger.perAtomNanos) return refuse("atom", ledger.perAtomNanos, atomWouldBe)
  }
  return {
    _tag: "Reserved",
    signals: [],
    ledger: {
      ...ledger,
      reservedNanos: ledger.reservedNanos + nanos,
      reservations: HashMap.set(ledger.reservations, id, {
        wave: request.wave,
        atomId: request.atomId,
        nanos
      }),
      ...hold(ledger, request, nanos)
    }
  }
}

/** `ledger` with `id`'s reservation (if any) taken off what is reserved and held. */
const withoutReservation = (
  ledger: BudgetLedger,
  id: string
): [BudgetLedger, LedgerReservation | undefined] => {
  const reservation = Option.getOrUndefined(HashMap.get(ledger.reservations, id))
  if (reservation === undefined) return [ledger, undefined]
  return [
    {
      ...ledger,
      reservedNanos: ledger.reservedNanos - reservation.nanos,
      reservations: HashMap.remove(ledger.reservations, id),
      ...hold(ledger, reservation, -reservation.nanos)
    },
    reservation
  ]
}

const softCrossing = (ledger: BudgetLedger): LedgerStep =>
  !ledger.softCrossed && ledger.committedNanos >= ledger.softNanos
    ? {
        ledger: { ...ledger, softCrossed: true },
        signals: [
          {
            type: "soft_limit",
            totalUsd: usdOfNanos(ledger.committedNanos),
            limitUsd: usdOfNanos(ledger.softNanos)
          }
        ]
      }
    : { ledger, signals: [] }

/**
 * Records what the call `id` actually cost and releases its reservation. Idempotent: a second
 * commit of the same id changes nothing. A cost above the reservation is committed all the same
 * (a paid call is never lost) and reported as `overrun`; a commit without a reservation counts
 * toward the plan only (its wave and atom are not known).
 */
const commit = (ledger: BudgetLedger, id: string, actualUsd: number): LedgerStep => {
  if (isCommitted(ledger, id)) return { ledger, signals: [] }
  const nanos = nanosOfUsd(actualUsd)
  const [released, reservation] = withoutReservation(ledger, id)
  const committed: BudgetLedger = {
    ...released,
    committedNanos: released.committedNanos + nanos,
    ...withCommitted(released, id),
    ...(reservation === undefined ? {} : hold(released, reservation, nanos))
  }
  const step = softCrossing(committed)
  const overrun: ReadonlyArray<LedgerSignal> =
    reservation !== undefined && nanos > reservation.nanos
      ? [
          {
            type: "overrun",
            reservationId: id,
            reservedUsd: usdOfNanos(reservation.nanos),
            actualUsd: usdOfNanos(nanos)
          }
        ]
      : []
  return { ledger: step.ledger, signals: [...overrun, ...step.signals] }
}

/** Gives back the reservation of a call that failed, was cancelled or was served from a cache. */
const release = (ledger: BudgetLedger, id: string): LedgerStep => ({
  ledger: withoutReservation(ledger, id)[0],
  signals: []
})

/**
 * New plan limits (`softUsd` defaulting to 80% of the new `hardUsd`). Spend back below the soft
 * limit re-arms `soft_limit`; a lower soft limit that committed spend is already past is a
 * crossing. A hard limit lowered under what is reserved lets the calls in flight finish.
 */
const raise = (ledger: BudgetLedger, budget: Pick<LedgerBudget, "hardUsd" | "softUsd">): LedgerStep => {
  const limits = limitsOf(budget)
  return softCrossing({
    ...ledger,
    ...limits,
    softCrossed: ledger.softCrossed && ledger.committedNanos >= limits.softNanos
  })
}

const totals = (ledger: BudgetLedger): LedgerTotals => ({
  hardUsd: usdOfNanos(ledger.hardNanos),
  softUsd: usdOfNanos(ledger.softNanos),
  committedUsd: usdOfNanos(ledger.committedNanos),
  reservedUsd: usdOfNanos(ledger.reservedNanos)
})

/** The operations on a `BudgetLedger`, each pure: `open`, `fromCommitted`, `reserve`, `commit`, `release`, `raise`, `totals`. */
export const BudgetLedger = { open, fromCommitted, reserve, commit, release, raise, totals } as const
