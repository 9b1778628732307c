/**
 * Calls in flight, integrated over time: the average from the first call's start to the last call's
 * end is what a limit of N actually keeps busy (N when admission never lags).
 */
export interface InFlightMeter {
  readonly started: () => void
  readonly ended: () => void
  readonly calls: () => number
  /** Time-weighted average of calls in flight between the first start and the last end. */
  readonly average: () => number
}

export const makeInFlightMeter = (now: () => number = () => performance.now()): InFlightMeter => {
  let inFlight = 0
  let calls = 0
  let first: number | undefined
  let last = 0
  let area = 0
  const step = (delta: number) => {
    const t = now()
    first ??= t
    area += inFlight * (t - last)
    last = t
    inFlight += delta
  }
  return {
    started: () => {
      calls++
      step(1)
    },
    ended: () => step(-1),
    calls: () => calls,
    average: () => (first === undefined || last === first ? 0 : area / (last - first))
  }
}
