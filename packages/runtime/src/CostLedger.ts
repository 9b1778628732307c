import { BudgetLedger } from "@devmatrix/core"
import type {
  CommittedCost,
  LedgerBudget,
  LedgerSignal,
  LedgerTotals,
  ReservationScope
} from "@devmatrix/core"
import { Context, Data, Effect, Layer, Schema } from "effect"

/**
 * A call that does not fit its budget: reserving `requestedUsd` would take the spend (committed
 * and reserved) of `level` to `wouldBeUsd`, over its limit. A Schema error: it is journaled and
 * sent to clients (`BUDGET_EXCEEDED`).
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  masterplanId: Schema.String,
  reservationId: Schema.String,
  level: Schema.Literal("plan", "wave", "atom"),
  limitUsd: Schema.Number,
  requestedUsd: Schema.Number,
  wouldBeUsd: Schema.Number
}) {
  override get message(): string {
    return `${this.level} budget of $${this.limitUsd} exceeded: reserving $${this.requestedUsd} for ${this.reservationId} would bring it to $${this.wouldBeUsd}`
  }
}

/**
 * A ledger used wrongly. `NotOpen`: the masterplan has no ledger open (never opened, or closed).
 * `AlreadyCommitted`: the reservation id was committed already: its call was made and paid, and a
 * new call needs a new id (the next attempt's).
 */
export class CostLedgerError extends Data.TaggedError("CostLedgerError")<{
  readonly reason: "NotOpen" | "AlreadyCommitted"
  readonly masterplanId: string
  readonly reservationId?: string | undefined
}> {
  override get message(): string {
    return this.reason === "NotOpen"
      ? `no cost ledger is open for masterplan "${this.masterplanId}"`
      : `reservation "${this.reservationId ?? ""}" of masterplan "${this.masterplanId}" is already committed`
  }
}

/** Money held for one call. */
export interface Reservation extends ReservationScope {
  readonly masterplanId: string
  readonly reservationId: string
  readonly usd: number
}

/** The signals a step raised (`soft_limit` once per crossing, `overrun`). */
export interface LedgerSignals {
  readonly signals: ReadonlyArray<LedgerSignal>
}

/**
 * The money of running masterplans: before each call its worst case is reserved, and admitted
 * only if it fits under the hard limit (and the wave and atom caps); after it the actual cost is
 * committed, once per reservation id, and the rest released. Reserving is atomic: of concurrent
 * reservations of which only one fits, exactly one is admitted. Implementations: `CostLedgerLocal`
 * (one process); a cluster-wide ledger (Redis) is another Layer of this Tag.
 */
export interface CostLedgerService {
  /**
   * Opens the ledger of a masterplan with its budget and what the journal already committed (a
   * resumed or recovered plan; the reservations of a dead process are gone). A plan already open
   * keeps its ledger as it is (`raise` changes its limits).
   */
  readonly open: (
    masterplanId: string,
    budget: LedgerBudget,
    committed: ReadonlyArray<CommittedCost>
  ) => Effect.Effect<LedgerTotals>
  /**
   * Holds `usd` for the call `reservationId` of `scope`'s atom, or fails with `BudgetExceeded`
   * naming the level it does not fit. An id already held is not held twice.
   *
   * @example
   * const held = yield* ledger.reserve(planId, `${planId}/${atomId}/${attempt}`, worstCaseUsd(price, tokens, maxTokens), { wave, atomId })
   */
  readonly reserve: (
    masterplanId: string,
    reservationId: string,
    usd: number,
    scope: ReservationScope
  ) => Effect.Effect<Reservation, BudgetExceeded | CostLedgerError>
  /**
   * Records what the call cost and releases the rest of its reservation; a second commit of the
   * same id changes nothing. A cost above the reservation is committed all the same (`overrun`).
   */
  readonly commit: (
    masterplanId: string,
    reservationId: string,
    actualUsd: number
  ) => Effect.Effect<LedgerSignals, CostLedgerError>
  /** Gives back the reservation of a call that failed, was cancelled or was not made. */
  readonly release: (masterplanId: string, reservationId: string) => Effect.Effect<void, CostLedgerError>
  /** New plan limits; `softUsd` defaults to 80% of `hardUsd`. Spend back below the soft limit re-arms it. */
  readonly raise: (
    masterplanId: string,
    budget: Pick<LedgerBudget, "hardUsd" | "softUsd">
  ) => Effect.Effect<LedgerSignals, CostLedgerError>
  /** The plan's limits, committed and reserved spend, in USD. */
  readonly snapshot: (masterplanId: string) => Effect.Effect<LedgerTotals, CostLedgerError>
  /** Forgets the masterplan's ledger (it ended, or this process stopped running it). */
  readonly close: (masterplanId: string) => Effect.Effect<void>
}

export class CostLedger extends Context.Tag("@devmatrix/runtime/CostLedger")<
  CostLedger,
  CostLedgerService
>() {}

/**
 * The ledger of one process. Each operation is one synchronous section (read the plan's ledger,
 * step it, store the result) with no yield between the check and the take, so no other fiber can
 * interleave: concurrent `reserve`s are admitted one at a time against what the others took.
 */
export const makeCostLedgerLocal: Effect.Effect<CostLedgerService> = Effect.sync(() => {
  const ledgers = new Map<string, BudgetLedger>()
  const notOpen = (masterplanId: string) => new CostLedgerError({ reason: "NotOpen", masterplanId })
  /** Steps the plan's ledger in one synchronous section. */
  const step = <A, E>(
    masterplanId: string,
    f: (ledger: BudgetLedger) => readonly [BudgetLedger, Effect.Effect<A, E>]
  ): Effect.Effect<A, E | CostLedgerError> =>
    Effect.suspend((): Effect.Effect<A, E | CostLedgerError> => {
      const ledger = ledgers.get(masterplanId)
      if (ledger === undefined) return Effect.fail(notOpen(masterplanId))
      const [next, result] = f(ledger)
      ledgers.set(masterplanId, next)
      return result
    })

  return {
    open: (masterplanId, budget, committed) =>
      Effect.sync(() => {
        const ledger = ledgers.get(masterplanId) ?? BudgetLedger.fromCommitted(budget, committed)
        ledgers.set(masterplanId, ledger)
        return BudgetLedger.totals(ledger)
      }),
    reserve: (masterplanId, reservationId, usd, scope) =>
      step<Reservation, BudgetExceeded | CostLedgerError>(masterplanId, (ledger) => {
        const outcome = BudgetLedger.reserve(ledger, reservationId, { usd, ...scope })
        switch (outcome._tag) {
          case "Reserved":
            return [outcome.ledger, Effect.succeed({ masterplanId, reservationId, usd, ...scope })]
          case "AlreadyCommitted":
            return [
              outcome.ledger,
              Effect.fail(new CostLedgerError({ reason: "AlreadyCommitted", masterplanId, reservationId }))
            ]
          case "Refused":
            return [
              outcome.ledger,
              Effect.fail(
                new BudgetExceeded({
                  masterplanId,
                  reservationId,
                  level: outcome.exceeded,
                  limitUsd: outcome.limitUsd,
                  requestedUsd: usd,
                  wouldBeUsd: outcome.wouldBeUsd
                })
              )
            ]
        }
      }),
    commit: (masterplanId, reservationId, actualUsd) =>
      step(masterplanId, (ledger) => {
        const { ledger: next, signals } = BudgetLedger.commit(ledger, reservationId, actualUsd)
        return [next, Effect.succeed({ signals })]
      }),
    release: (masterplanId, reservationId) =>
      step(masterplanId, (ledger) => [BudgetLedger.release(ledger, reservationId).ledger, Effect.void]),
    raise: (masterplanId, budget) =>
      step(masterplanId, (ledger) => {
        const { ledger: next, signals } = BudgetLedger.raise(ledger, budget)
        return [next, Effect.succeed({ signals })]
      }),
    snapshot: (masterplanId) =>
      step(masterplanId, (ledger) => [ledger, Effect.succeed(BudgetLedger.totals(ledger))]),
    close: (masterplanId) =>
      Effect.sync(() => {
        ledgers.delete(masterplanId)
      })
  }
})

/** The in-process `CostLedger`: atomic within this process, held in memory (rebuilt from the journal on start). */
export const CostLedgerLocal: Layer.Layer<CostLedger> = Layer.effect(CostLedger, makeCostLedgerLocal)
