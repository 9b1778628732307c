/**
 * Money is counted in whole nano-dollars (1e-9 USD). A price of `p` USD per million tokens is
 * `p * 1000` nano-dollars per token, a whole number for every price given to a tenth of a cent per
 * million tokens (the price table refuses finer ones), so the cost of a call is an exact integer and
 * a sum of costs has no float drift: integer sums are exact up to 2^53 nano-dollars (about
 * $9,007,199), far above any run. USD values are derived at the edge (`usdOfNanos`).
 */

/** Nano-dollars in one USD. */
export const nanosPerUsd = 1_000_000_000

/** A USD amount as whole nano-dollars (rounded to the nearest). */
export const nanosOfUsd = (usd: number): number => Math.round(usd * nanosPerUsd)

/** Whole nano-dollars as USD. */
export const usdOfNanos = (nanos: number): number => nanos / nanosPerUsd

/** A price in USD per million tokens as whole nano-dollars per token. */
export const nanosPerToken = (usdPerMTok: number): number => Math.round(usdPerMTok * 1000)

/** Whether a price in USD per million tokens is a whole number of nano-dollars per token. */
export const isWholeNanosPerToken = (usdPerMTok: number): boolean =>
  Math.abs(usdPerMTok * 1000 - Math.round(usdPerMTok * 1000)) < 1e-6
