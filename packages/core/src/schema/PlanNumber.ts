import { Schema } from "effect"
import { maxDurationMs, maxUsd } from "./inputLimits.js"

const formatted = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 20 })

// -0 is read as 0: JSON writes it as `0`, so a stored -0 would come back as another number.
const withoutNegativeZero = Schema.transform(Schema.Number, Schema.Number, {
  strict: true,
  decode: (n) => n + 0,
  encode: (n) => n
})

/**
 * A number in `[min, max]` (above `min` when `exclusiveMin`): finite by construction, so that
 * `1e309`, which JSON reads as Infinity (and stores as `null`), is refused at input.
 */
export const numberIn = (
  min: number,
  max: number,
  options: { readonly exclusiveMin?: boolean; readonly int?: boolean; readonly identifier?: string } = {}
) =>
  withoutNegativeZero.pipe(
    Schema.filter(
      (n) =>
        (Number.isFinite(n) &&
          (options.exclusiveMin === true ? n > min : n >= min) &&
          n <= max &&
          (options.int !== true || Number.isInteger(n))) ||
        `expected ${options.int === true ? "a whole number" : "a number"} ${options.exclusiveMin === true ? "above" : "from"} ${formatted(min)} ${options.exclusiveMin === true ? "and at most" : "to"} ${formatted(max)}, got ${String(n)}`,
      { ...(options.identifier !== undefined ? { identifier: options.identifier } : {}) }
    )
  )

/** A duration in milliseconds, from 0 to a day (`maxDurationMs`). */
export const DurationMs = numberIn(0, maxDurationMs, { identifier: "DurationMs" })

/** A duration in milliseconds above 0, up to a day. */
export const PositiveDurationMs = numberIn(0, maxDurationMs, {
  exclusiveMin: true,
  identifier: "PositiveDurationMs"
})

/** An amount of USD above 0, up to `maxUsd`. */
export const PositiveUsd = numberIn(0, maxUsd, { exclusiveMin: true, identifier: "PositiveUsd" })
