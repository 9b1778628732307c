/** What one run of one case reports to the parent, as a JSON line on stdout. */
export interface Measurement {
  readonly atoms: number
  readonly seconds: number
  readonly peakRssMb: number
  /** Real-latency cases: model calls made, and their time-weighted average in flight. */
  readonly calls?: number | undefined
  readonly inFlight?: number | undefined
  /** Real-latency cases: the event loop's 99th-percentile delay over the run. */
  readonly eventLoopP99Ms?: number | undefined
}

export const atomsPerSecond = (m: Measurement): number => m.atoms / m.seconds

/** The run of median throughput (the middle one of an odd number). */
export const median = (runs: ReadonlyArray<Measurement>): Measurement =>
  [...runs].sort((a, b) => atomsPerSecond(a) - atomsPerSecond(b))[Math.floor(runs.length / 2)]!
