import { Schema } from "effect"
import { PositiveUsd } from "./PlanNumber.js"

/**
 * Spend limits of a masterplan in USD. Crossing `softUsd` warns once; a call whose estimate does not
 * fit under `hardUsd` is not made. `softUsd` defaults to 80% of `hardUsd`. Each is above 0 and at
 * most `maxUsd`.
 */
export const Budget = Schema.Struct({
  /** @default 100 */
  hardUsd: Schema.optionalWith(PositiveUsd, { default: () => 100 }),
  /** @default 80% of hardUsd */
  softUsd: Schema.optional(PositiveUsd),
  /** Optional ceiling for a single atom. */
  perAtomUsd: Schema.optional(PositiveUsd)
}).pipe(
  Schema.filter((b) => b.softUsd === undefined || b.softUsd <= b.hardUsd || "softUsd must not exceed hardUsd")
)
export type Budget = typeof Budget.Type

/** The soft limit in force: the given one, or 80% of the hard limit. */
export const softLimitUsd = (budget: Budget): number => budget.softUsd ?? budget.hardUsd * 0.8
