import type { HotFunction } from "../overhead/profile.js"
import type { Delay } from "./delivery.js"
import { engineParts, fanoutParts } from "./fanoutParts.js"
import type { RawConfig } from "./rawChild.js"
import type { HostRun, Run } from "./runs.js"

/** The baselines every client count is measured against, in the order of the table. */
export const baselines: ReadonlyArray<{
  readonly key: string
  readonly name: string
  readonly config: Omit<RawConfig, "streamFile">
}> = [
  {
    key: "raw",
    name: "raw ws, msgpackr, the host's timeline, a batch in one write",
    config: { format: "msgpack", pacing: "recorded", writes: "coalesced" }
  },
  {
    key: "rawPerFrame",
    name: "raw ws, msgpackr, the host's timeline, a write per frame (ws README)",
    config: { format: "msgpack", pacing: "recorded", writes: "perFrame" }
  },
  {
    key: "rawJson",
    name: "raw ws, JSON, the host's timeline, a batch in one write",
    config: { format: "json", pacing: "recorded", writes: "coalesced" }
  },
  {
    key: "flatOut",
    name: "raw ws, msgpackr, flat out",
    config: { format: "msgpack", pacing: "flat-out", writes: "coalesced" }
  },
  {
    key: "flatOutJson",
    name: "raw ws, JSON, flat out",
    config: { format: "json", pacing: "flat-out", writes: "coalesced" }
  }
]

export interface ClientCountResults {
  readonly clients: number
  readonly host: HostRun
  readonly raw: Readonly<Record<string, Run>>
}

export interface Results {
  readonly date: string
  readonly cores: number
  readonly load: { readonly start: number; readonly end: number }
  readonly plan: { readonly atoms: number; readonly concurrency: number; readonly latencyMs: number }
  readonly repetitions: number
  readonly unwatched: HostRun
  readonly byClients: ReadonlyArray<ClientCountResults>
  readonly profile:
    | {
        readonly clients: number
        readonly parts: ReadonlyArray<readonly [string, number]>
        readonly hot: ReadonlyArray<HotFunction>
      }
    | undefined
}

const int = (n: number) => Math.round(n).toLocaleString("en-US")
const ms = (n: number) => (n < 10 ? n.toFixed(1) : int(n))
const pct = (n: number) => `${(n * 100).toFixed(1)}%`
const delayCells = (d: Delay) => `${ms(d.p50)} | ${ms(d.p99)} | ${ms(d.max)}`
/** Server CPU per 1,000 deliveries, ms. */
const cpuPerThousand = (run: Run) => (run.server.cpuMs / run.throughput.deliveries) * 1_000

const runRow = (name: string, run: Run, raw: Run) =>
  `| ${name} | ${int(run.throughput.eventsPerClient)} | ${int(run.throughput.deliveriesPerSecond)} | ${int(run.throughput.perClientPerSecond)} | ${pct(run.throughput.deliveriesPerSecond / raw.throughput.deliveriesPerSecond)} | ${delayCells(run.delay)} | ${ms(cpuPerThousand(run))} | ${(run.server.cpuMs / 1_000).toFixed(1)} | ${int(run.server.peakRssMb)} | ${ms(run.server.eventLoopP99Ms)} | ${(run.clientsCpuMs / 1_000).toFixed(1)} | ${int(run.bytesPerEvent)} |`

const clientsTable = ({ clients, host, raw }: ClientCountResults) => {
  const base = raw["raw"]!
  const rows = [
    runRow("**host** (`startHost`, msgpackr)", host, base),
    ...baselines.map((b) => runRow(b.name, raw[b.key]!, base))
  ]
  return `### ${clients} clients

| server | events per client | deliveries/s (all clients) | events/s per client | of raw ws | delay p50 ms | p99 ms | max ms | server CPU ms per 1,000 deliveries | server CPU s | server peak RSS MB | server event loop p99 ms | clients' CPU s | bytes per event |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

The host from each event's \`at\` (journaled, before its commit) instead: p50 ${ms(host.journalDelay.p50)} ms, p99 ${ms(host.journalDelay.p99)} ms, max ${ms(host.journalDelay.max)} ms.`
}

const verdict = (results: Results) => {
  const lines = results.byClients.map(({ clients, host, raw }) => {
    const ratio = host.throughput.deliveriesPerSecond / raw["raw"]!.throughput.deliveriesPerSecond
    const ratioPerFrame =
      host.throughput.deliveriesPerSecond / raw["rawPerFrame"]!.throughput.deliveriesPerSecond
    const delayTarget =
      clients <= 10
        ? `; p99 from commit to client ${ms(host.delay.p99)} ms (target < 20 ms: ${host.delay.p99 < 20 ? "met" : "**missed**"}; raw ws ${ms(raw["raw"]!.delay.p99)} ms)`
        : `; p99 ${ms(host.delay.p99)} ms (raw ws ${ms(raw["raw"]!.delay.p99)} ms)`
    return `- **${clients} clients**: the host delivered ${pct(ratio)} of raw ws's throughput on the same stream (target ≥ 90%: ${ratio >= 0.9 ? "met" : "**missed**"}; ${pct(ratioPerFrame)} of raw ws writing each frame on its own)${delayTarget}; the engine took ${host.planSeconds.toFixed(1)} s for the plan against ${results.unwatched.planSeconds.toFixed(1)} s unwatched (${pct(host.planSeconds / results.unwatched.planSeconds - 1)} longer).`
  })
  return lines.join("\n")
}

const engineTable = (results: Results) => {
  const rows = [
    { clients: 0, run: results.unwatched },
    ...results.byClients.map(({ clients, host }) => ({ clients, run: host }))
  ].map(
    ({ clients, run }) =>
      `| ${clients} | ${run.planSeconds.toFixed(1)} | ${int(run.liveEvents / run.planSeconds)} | ${(run.server.cpuMs / 1_000).toFixed(1)} | ${int(run.server.rssAtStartMb)} | ${int(run.server.peakRssMb)} | ${ms(run.server.eventLoopP99Ms)} |`
  )
  return `| watchers | plan after resume, s | events committed/s | host CPU s | host RSS at resume MB | host peak RSS MB | host event loop p99 ms |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}`
}

const framesTable = (results: Results) => {
  const rows = results.byClients.map(({ clients, raw }) => {
    const m = raw["flatOut"]!
    const j = raw["flatOutJson"]!
    const clientCpu = (run: Run) => (run.clientsCpuMs / run.throughput.deliveries) * 1_000
    return `| ${clients} | ${int(m.bytesPerEvent)} / ${int(j.bytesPerEvent)} | ${int(m.throughput.deliveriesPerSecond)} / ${int(j.throughput.deliveriesPerSecond)} | ${ms(cpuPerThousand(m))} / ${ms(cpuPerThousand(j))} | ${ms(clientCpu(m))} / ${ms(clientCpu(j))} |`
  })
  return `| clients | bytes per event, msgpackr / JSON | flat-out deliveries/s, msgpackr / JSON | server CPU ms per 1,000, msgpackr / JSON | clients' CPU ms per 1,000, msgpackr / JSON |
| ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}`
}

const shareOf = (parts: ReadonlyArray<readonly [string, number]>, names: ReadonlyArray<string>) =>
  parts.filter(([part]) => names.includes(part)).reduce((sum, [, share]) => sum + share, 0)

const profileSection = (
  profile: NonNullable<Results["profile"]>
) => `## Where the host's time goes (${profile.clients} watchers, CPU profile of the window)

A separate run of the host under ${profile.clients} watchers, profiled from the resume to the end
(\`node:inspector\`; that run is not one of those measured above). Self time by part: the fan-out
(${pct(shareOf(profile.parts, fanoutParts))} of the samples: socket writes, ws, the host's server code) against the engine
(${pct(shareOf(profile.parts, engineParts))}: Effect, XState, the runtime and core), on the same event loop.

| part | share of samples |
| --- | ---: |
${profile.parts.map(([part, share]) => `| ${part} | ${pct(share)} |`).join("\n")}

| function | where | self |
| --- | --- | ---: |
${profile.hot.map((f) => `| \`${f.name}\` | ${f.location} | ${pct(f.share)} |`).join("\n")}`

/** What the figures say, and what would move them: the numbers from this run. */
const readingSection = (results: Results) => {
  const fewest = results.byClients[0]!
  const most = results.byClients[results.byClients.length - 1]!
  const unwatched = results.unwatched
  const profile = results.profile
  const writev = profile?.parts.find(([part]) => part === fanoutParts[0])?.[1]
  const rssPerWatcherKb =
    ((most.host.server.rssAtStartMb - unwatched.server.rssAtStartMb) * 1024) / Math.max(1, most.clients)
  const flatOut = most.raw["flatOut"]!
  const json = most.raw["flatOutJson"]!
  return `## Reading the figures

- **The delay is the commit's own turn.** The engine hands the host each commit as it returns
  (\`followCommits\`, in the journal writer), and the host writes the frames to every watcher in
  that same turn, before the engine runs anything else: no stream, no store read, no fiber in
  between. Unwatched, the engine used ${pct(unwatched.server.cpuMs / 1_000 / unwatched.planSeconds)} of a core and held its event loop at a p99
  of ${ms(unwatched.server.eventLoopP99Ms)} ms; at ${fewest.clients} watchers the host's p99 from commit to client was ${ms(fewest.host.delay.p99)} ms (raw ws on the
  same timeline, a loop that does nothing else: ${ms(fewest.raw["raw"]!.delay.p99)} ms; its figures move with the machine's other
  work, load average above), and the host's CPU ${(fewest.host.server.cpuMs / 1_000).toFixed(1)} s against ${(unwatched.server.cpuMs / 1_000).toFixed(1)} s unwatched.
- **At ${most.clients} watchers the sockets and the engine compete for one loop.** The fan-out costs the host
  about ${ms(((most.host.server.cpuMs - unwatched.server.cpuMs) / most.host.throughput.deliveries) * 1_000)} ms of CPU per 1,000 deliveries over the engine's own (raw ws: ${ms(cpuPerThousand(most.raw["raw"]!))}), ${writev !== undefined ? `${pct(writev)} of its samples in socket writes alone, ` : ""}and every
  millisecond spent writing is one the engine waits: the plan took ${most.host.planSeconds.toFixed(1)} s instead of ${unwatched.planSeconds.toFixed(1)} s. ${
    most.host.throughput.eventsPerClient === most.host.liveEvents
      ? "The host dropped no watcher (every client got every event), but it is late, and the engine with it."
      : `Some watcher got only ${int(most.host.throughput.eventsPerClient)} of the ${int(most.host.liveEvents)} events.`
  } Raw ws at ${most.clients} clients is bound by the same two cores (its clients'
  process used ${(most.raw["raw"]!.clientsCpuMs / 1_000).toFixed(1)} s of CPU): the ratio at ${most.clients} is the host's cost on this machine, not a
  ceiling of either.
- **What was fixed, what would meet the targets.** Against the figures of 2026-12-02 (10
  watchers p99 28 ms, 200 watchers 66.5% of raw ws and p99 399 ms, the engine 3.1 times slower):
  the hub is fed from the commit directly (it read each commit back from the store through a
  stream, a hop of several fibers during which the engine ran); each event is encoded once
  without the \`Frame\` schema (\`encodeEventFrame\`, 3 µs against 16); a watcher's batch (a
  commit, a replay page) leaves corked in one write per connection, its own bytes not counted
  against the send buffer (what the kernel refuses is), flushed every 64 KiB. What is left at ${most.clients}
  watchers is structural: the sockets live on the engine's event loop, and a commit of one or
  two events still costs a write per watcher, which the engine waits for. Handing the
  connections to a worker thread (the hub posting each batch once, the worker writing it to every
  watcher) would let the fan-out use the other core and keep the engine's pace; a cheaper engine
  per atom would lower the delay floor.
- **Memory.** The host's RSS at the resume with ${most.clients} watchers connected was ${int(most.host.server.rssAtStartMb)} MB against ${int(unwatched.server.rssAtStartMb)} MB with
  none (${rssPerWatcherKb > 0 ? `about ${int(rssPerWatcherKb)} KB` : "no measurable amount"} per watcher); its peak over the plan ${int(most.host.server.peakRssMb)} MB (unwatched ${int(unwatched.server.peakRssMb)} MB). The
  figures include the tsx loader the bench's child runs under.
- **msgpackr against JSON.** The host speaks msgpackr only; JSON is measured on raw ws. An event
  frame is ${int(flatOut.bytesPerEvent)} bytes in msgpackr and ${int(json.bytesPerEvent)} in JSON (${pct(1 - flatOut.bytesPerEvent / json.bytesPerEvent)} smaller); flat out to ${most.clients}
  clients, ${int(flatOut.throughput.deliveriesPerSecond)} against ${int(json.throughput.deliveriesPerSecond)} deliveries/s. Either way the encoding is once per event, not per
  watcher, so it is a small share of a fan-out (msgpackr ${pct(profile?.parts.find(([part]) => part.startsWith("msgpackr"))?.[1] ?? 0)} of the host's samples).
- **Noise.** The runs follow one another on 2 cores shared with other work; a run's neighbours
  change between runs, which moves figures by tens of percent (compare the two "batch in one write"
  baselines, msgpackr and JSON, that do the same work). \`DEVMATRIX_FANOUT_RUNS=3\` reports medians.`
}

export const renderReport = (
  results: Results
): string => `# Fan-out of a host's events to its watchers (bench/host-fanout.ts)

Measured ${results.date.slice(0, 10)} on ${results.cores} cores shared with other work (load average ${results.load.start.toFixed(2)} at the start, ${results.load.end.toFixed(2)} at the end)${results.repetitions > 1 ? `; each figure the median of ${results.repetitions} runs` : "; one run of each"}.

## Method

- **The host**: \`startHost\` (what \`devmatrix host\` runs) on the embedded engine, memory store,
  scripted model, in a child process of its own so that its CPU, RSS and event loop are its own and
  not the clients'. It is started in the bench's own child rather than as \`devmatrix host\` for one
  reason: its store is wrapped to note when each commit returned, the moment a delay counts from.
- **The plan**: ${int(results.plan.atoms)} atoms in layers of 50, static limit ${results.plan.concurrency}, the scripted model
  answering in ${results.plan.latencyMs} ms: about ${int(results.unwatched.liveEvents)} events after the resume, paced by the model rather than by the host's
  CPU (unwatched, the engine used ${pct(results.unwatched.server.cpuMs / 1_000 / results.unwatched.planSeconds)} of a core). It is submitted and paused at once; the clients connect
  (bearer token at upgrade), \`watch\` it from seq 1 and catch up; then it is resumed and every
  event committed after the resume is measured, to \`masterplan.completed\`.
- **The clients**: real \`ws\` sockets in the bench's process (not the server's), reading each frame
  with msgpackr (or \`JSON.parse\`) for its \`seq\`, noting its arrival on the wall clock
  (\`performance.timeOrigin + performance.now()\`); the two processes' clocks are matched by IPC
  round trips, to within ${ms(Math.max(...results.byClients.map((r) => r.host.clockUncertaintyMs)))} ms.
- **Delay** = arrival at a client − the commit's return in the host (the store call the engine's
  journal writer made): what the watch hub, the encoding, the sockets and the clients' event loop
  add after the event is durable, over every client and event. For raw ws it counts from the moment
  its batch was handed to the broadcast.
- **The baseline** (raw ws): a bare \`ws\` server, its own process, sending the events the
  unwatched host run committed, each frame encoded once (the host's own msgpackr bytes, or the same
  replies \`JSON.stringify\`'d), each batch at the moment the host committed it (so the same stream at
  the same rate: the host's throughput against it says whether the host keeps up as well as bare
  ws does, including any slowing of the engine by the watchers); flat out, as fast as the sockets
  take it (two chunks of 64 events in flight), for the machine's ceiling. "A batch in one write"
  corks each socket while a batch is sent, as the host's connections do; "a write per frame" is
  ws's README broadcast, a system call per frame per client.
- **Throughput** = events received by all clients / (last arrival − first measured commit or send).

## Targets

${verdict(results)}

## Throughput and delay, against raw ws in the same run

${results.byClients.map(clientsTable).join("\n\n")}

## The engine under watchers, and the host's memory

${engineTable(results)}

## msgpackr against JSON frames (raw ws, flat out)

${framesTable(results)}

${readingSection(results)}

${results.profile !== undefined ? profileSection(results.profile) : ""}
`
