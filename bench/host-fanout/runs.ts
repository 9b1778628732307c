import { webSocketPath } from "@devmatrix/core"
import type { MasterplanView } from "@devmatrix/core"
import { writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { BenchClient, openClients } from "./benchClient.js"
import { startBenchChild } from "./childProcess.js"
import type { BenchChild } from "./childProcess.js"
import { delayOf, originsBySeq, throughputOf } from "./delivery.js"
import type { Delay, Throughput } from "./delivery.js"
import { fanoutPlan, fanoutPlanId, fanoutPlanName, fanoutToken } from "./fanoutPlan.js"
import type { HostConfig, HostReport } from "./hostChild.js"
import type { ProcessCost } from "./processStats.js"
import type { RawConfig, RawReport, RecordedStream } from "./rawChild.js"

const here = dirname(fileURLToPath(import.meta.url))

/** What one run measured, host or baseline. */
export interface Run {
  readonly throughput: Throughput
  /** From each event's commit (host) or its batch's send (baseline) to its arrival. */
  readonly delay: Delay
  /** The server's process over the window. */
  readonly server: ProcessCost
  /** The clients' process (this one) over the window, CPU ms. */
  readonly clientsCpuMs: number
  /** Bytes per event frame, as the clients received them. */
  readonly bytesPerEvent: number
  /** How well the two clocks were matched: half the best round trip, ms. */
  readonly clockUncertaintyMs: number
}

/** A host run, with what only a host run has. */
export interface HostRun extends Run {
  /** From each event's `at` (when the engine journaled it, before the commit) to its arrival. */
  readonly journalDelay: Delay
  /** The engine's time for the plan after its resume: first commit to the terminal event's commit. */
  readonly planSeconds: number
  readonly liveEvents: number
  /** The live events and when each was committed, for the baseline to send on the same timeline. */
  readonly stream: RecordedStream
}

/** The view `get` gives of the plan. */
const viewOf = async (control: BenchClient) =>
  (await control.request({ type: "get", masterplanId: fanoutPlanId })) as MasterplanView

/** Waits until the paused plan has committed everything its calls in flight had to say. */
const settledWhilePaused = async (control: BenchClient): Promise<number> => {
  let last = -1
  for (;;) {
    const view = await viewOf(control)
    if (view.status === "paused" && view.lastSeq === last) return last
    last = view.lastSeq
    await sleep(200)
  }
}

const untilEnded = async (control: BenchClient) => {
  while (!["completed", "failed", "cancelled"].includes((await viewOf(control)).status)) await sleep(250)
}

/** The window's clients' CPU (this process), and the arrivals' origins on this clock. */
const timed = async <T>(
  child: BenchChild,
  run: () => Promise<T>
): Promise<{ result: T; clientsCpuMs: number; offsetMs: number; uncertaintyMs: number }> => {
  const { offsetMs, uncertaintyMs } = await child.clockOffset()
  const cpuAtStart = process.cpuUsage()
  const result = await run()
  const cpu = process.cpuUsage(cpuAtStart)
  return { result, clientsCpuMs: (cpu.user + cpu.system) / 1000, offsetMs, uncertaintyMs }
}

const bytesPerEvent = (clients: ReadonlyArray<BenchClient>) =>
  clients.reduce((sum, c) => sum + c.bytes, 0) /
  Math.max(
    1,
    clients.reduce((sum, c) => sum + c.events, 0)
  )

/**
 * A host run: the plan submitted and paused at once; `watchers` clients connect, watch it from
 * seq 1 and catch up with what it journaled so far; then it is resumed, and every event
 * committed after the resume is measured, to its terminal event.
 */
export const hostRun = async (watchers: number, config: HostConfig = {}): Promise<HostRun> => {
  const { child, port } = await startBenchChild(join(here, "hostChild.ts"), { ...config })
  const url = `ws://127.0.0.1:${port}${webSocketPath}`
  const open = () => BenchClient.open(url, "msgpack", fanoutToken.token)
  const control = await open()
  await control.request({ type: "submit", plan: fanoutPlan(), masterplanId: fanoutPlanName })
  await control.request({ type: "pause", masterplanId: fanoutPlanId, reason: "the watchers join" })
  const pausedAt = await settledWhilePaused(control)
  const clients = await openClients(watchers, open)
  await Promise.all(clients.map((c) => c.request({ type: "watch", masterplanId: fanoutPlanId, fromSeq: 1 })))
  while (clients.some((c) => c.lastSeq < pausedAt)) await sleep(10)
  await child.request("mark")
  const { clientsCpuMs, offsetMs, uncertaintyMs } = await timed(child, async () => {
    await control.request({ type: "resume", masterplanId: fanoutPlanId })
    // With watchers their terminal events say it; without, the plan is polled (gently: the
    // host answers every `get` on the same loop).
    await (clients.length > 0 ? Promise.all(clients.map((c) => c.ended)) : untilEnded(control))
  })
  const report = await child.request<HostReport>("report")
  for (const client of [control, ...clients]) client.close()
  await child.stop()
  const live = report.events.filter((event) => event.seq > pausedAt)
  const committedAt = new Map(report.commits)
  const firstCommit = committedAt.get(live[0]!.seq)!
  const origins = originsBySeq(
    live.map((event) => [event.seq, committedAt.get(event.seq)!] as const),
    offsetMs
  )
  return {
    throughput: throughputOf(clients, origins),
    delay: delayOf(clients, origins),
    journalDelay: delayOf(
      clients,
      originsBySeq(
        live.map((event) => [event.seq, event.at] as const),
        offsetMs
      )
    ),
    server: report.cost,
    clientsCpuMs,
    bytesPerEvent: bytesPerEvent(clients),
    clockUncertaintyMs: uncertaintyMs,
    planSeconds: (committedAt.get(live.at(-1)!.seq)! - firstCommit) / 1_000,
    liveEvents: live.length,
    stream: {
      events: live,
      offsetsMs: live.map((event) => committedAt.get(event.seq)! - firstCommit)
    }
  }
}

/** A baseline run: the bare `ws` server broadcasting `stream` to `clients` clients. */
export const rawRun = async (clientCount: number, config: RawConfig): Promise<Run> => {
  const { format, streamFile } = config
  const { child, port } = await startBenchChild(join(here, "rawChild.ts"), { ...config })
  const clients = await openClients(clientCount, () => BenchClient.open(`ws://127.0.0.1:${port}`, format))
  const { clientsCpuMs, offsetMs, uncertaintyMs } = await timed(child, async () => {
    await child.request("go", { clients: clientCount })
    await Promise.all(clients.map((c) => c.ended))
  })
  const report = await child.request<RawReport>("report")
  for (const client of clients) client.close()
  await child.stop()
  const stream = recordedStreams.get(streamFile)!
  const origins = originsBySeq(
    stream.events.map((event, i) => [event.seq, report.sentAtMs[i]!] as const),
    offsetMs
  )
  return {
    throughput: throughputOf(clients, origins),
    delay: delayOf(clients, origins),
    server: report.cost,
    clientsCpuMs,
    bytesPerEvent: bytesPerEvent(clients),
    clockUncertaintyMs: uncertaintyMs
  }
}

const recordedStreams = new Map<string, RecordedStream>()

/** Writes a host run's stream where a baseline's process reads it. */
export const saveStream = (stream: RecordedStream, file: string): string => {
  writeFileSync(file, JSON.stringify(stream))
  recordedStreams.set(file, stream)
  return file
}
