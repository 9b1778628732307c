import { monitorEventLoopDelay } from "node:perf_hooks"

/**
 * The event loop's delay over a run, sampled every 1 ms: what a timer, a socket or Ctrl-C waits
 * at worst while the run keeps the loop busy. Node records each sample's whole interval, so an idle
 * loop reads about 1 ms.
 */
export const watchEventLoop = () => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  return {
    /** Stops sampling; the 99th percentile in milliseconds. */
    p99Ms: () => {
      histogram.disable()
      return histogram.percentile(99) / 1e6
    }
  }
}
