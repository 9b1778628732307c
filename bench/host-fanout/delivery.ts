import type { BenchClient } from "./benchClient.js"

/** How the events of a run reached its clients. */
export interface Throughput {
  readonly clients: number
  /** Events each client received of the measured ones (the fewest any client got). */
  readonly eventsPerClient: number
  /** Events received by all clients together. */
  readonly deliveries: number
  /** From the first measured event's commit (or send) to the last client's last event. */
  readonly seconds: number
  readonly deliveriesPerSecond: number
  readonly perClientPerSecond: number
}

/** Delays from an event's origin (its commit, its send) to its arrival at a client, over every client and event, in ms. */
export interface Delay {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly samples: number
}

/**
 * The throughput of the measured events (`originMs` by seq, NaN for one not measured): every
 * client's arrivals of them, over the time from the earliest origin to the latest arrival.
 */
export const throughputOf = (clients: ReadonlyArray<BenchClient>, originMs: Float64Array): Throughput => {
  let first = Number.POSITIVE_INFINITY
  for (const origin of originMs) if (origin < first) first = origin
  let last = first
  let deliveries = 0
  let fewest = Number.POSITIVE_INFINITY
  for (const client of clients) {
    let received = 0
    for (let seq = 0; seq < originMs.length; seq++) {
      const at = client.receivedAtMs[seq]
      if (Number.isNaN(originMs[seq]!) || at === undefined || Number.isNaN(at)) continue
      received++
      if (at > last) last = at
    }
    deliveries += received
    fewest = Math.min(fewest, received)
  }
  const seconds = (last - first) / 1_000
  return {
    clients: clients.length,
    eventsPerClient: clients.length === 0 ? 0 : fewest,
    deliveries,
    seconds,
    deliveriesPerSecond: deliveries / seconds,
    perClientPerSecond: deliveries / clients.length / seconds
  }
}

/** The delay of each measured event to each client (`originMs` by seq, on this process's clock). */
export const delayOf = (clients: ReadonlyArray<BenchClient>, originMs: Float64Array): Delay => {
  const delays: Array<number> = []
  for (const client of clients)
    for (let seq = 0; seq < originMs.length; seq++) {
      const origin = originMs[seq]!
      const at = client.receivedAtMs[seq]
      if (!Number.isNaN(origin) && at !== undefined && !Number.isNaN(at)) delays.push(at - origin)
    }
  const sorted = Float64Array.from(delays).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN, samples: sorted.length }
}

/** Origins by seq: `entries` of `[seq, ms]` moved onto this process's clock (`offsetMs`: how far ahead theirs is). */
export const originsBySeq = (
  entries: Iterable<readonly [number, number]>,
  offsetMs: number
): Float64Array => {
  const list = [...entries]
  const origins = new Float64Array(Math.max(0, ...list.map(([seq]) => seq)) + 1).fill(Number.NaN)
  for (const [seq, ms] of list) origins[seq] = ms - offsetMs
  return origins
}
