import { watchEventLoop } from "../overhead/eventLoopDelay.js"

/** A server's own cost over the measured window, as its process saw it. */
export interface ProcessCost {
  /** Resident set when the window opened (the server up, its clients connected), in MB. */
  readonly rssAtStartMb: number
  /** The highest resident set sampled (every 50 ms) during the window, in MB. */
  readonly peakRssMb: number
  /** CPU time (user + system) the process spent during the window, in ms. */
  readonly cpuMs: number
  /** The event loop's 99th-percentile delay over the window (sampled every 1 ms, so idle reads about 1). */
  readonly eventLoopP99Ms: number
}

const mb = (bytes: number) => bytes / (1024 * 1024)

/** Opens a window on this process's RSS and CPU time; `close` reads them. */
export const openCostWindow = () => {
  const loop = watchEventLoop()
  const cpuAtStart = process.cpuUsage()
  const rssAtStart = process.memoryUsage.rss()
  let peakRss = rssAtStart
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50)
  return {
    close: (): ProcessCost => {
      clearInterval(sampler)
      const cpu = process.cpuUsage(cpuAtStart)
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
      return {
        rssAtStartMb: mb(rssAtStart),
        peakRssMb: mb(peakRss),
        cpuMs: (cpu.user + cpu.system) / 1000,
        eventLoopP99Ms: loop.p99Ms()
      }
    }
  }
}
