/**
 * The baseline, in a process of its own: a bare `ws` server that broadcasts the events a host run
 * recorded, each frame encoded once and sent to every client (`for (const c of wss.clients)
 * c.send(frame)`, the broadcast of ws's README), with no engine, no store and no protocol.
 *
 * - `msgpack` frames are the host's own bytes (`encodeFrame` of the `event` reply, as its watch
 *   hub encodes them); `json` frames are the same replies `JSON.stringify`'d, sent as text.
 * - `perFrame` writes each frame to each socket as it is sent (a system call each), as ws's README
 *   broadcast does; `coalesced` corks every socket while a batch (or chunk) is sent, so that each
 *   socket writes a batch at once, as the host's connections do (frames of one tick, one write).
 * - `recorded` pacing sends each commit's batch of events at the moment the host run committed it
 *   (relative to its first); `flat-out` sends them as fast as the sockets take them, a chunk at a
 *   time, the next chunk once every client has written out the one before.
 *
 * Started by `bench/host-fanout.ts`.
 */
import { encodeFrame, Event } from "@devmatrix/core"
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import type { Duplex } from "node:stream"
import { setTimeout as sleep } from "node:timers/promises"
import { WebSocketServer } from "ws"
import type { WebSocket } from "ws"
import { childConfig, nowMs, serveParent } from "./childProcess.js"
import { openCostWindow } from "./processStats.js"
import type { ProcessCost } from "./processStats.js"

export type FrameFormat = "msgpack" | "json"
export type Pacing = "recorded" | "flat-out"
export type Writes = "perFrame" | "coalesced"

/** The stream to broadcast: events as the host journaled them, and when each was committed. */
export interface RecordedStream {
  readonly events: ReadonlyArray<typeof Event.Encoded>
  /** Each event's commit, in ms after the first event's. */
  readonly offsetsMs: ReadonlyArray<number>
}

export interface RawConfig {
  readonly format: FrameFormat
  readonly pacing: Pacing
  readonly writes: Writes
  /** A JSON file of a `RecordedStream`. */
  readonly streamFile: string
}

/** What the baseline reports once it has sent everything. */
export interface RawReport {
  /** When each event was handed to the broadcast (its batch's or chunk's start), by index. */
  readonly sentAtMs: ReadonlyArray<number>
  readonly frameBytes: number
  readonly cost: ProcessCost
}

/** Events per chunk of a `flat-out` broadcast. */
const chunkSize = 64

const config = childConfig<RawConfig>()
const stream = JSON.parse(readFileSync(config.streamFile, "utf8")) as RecordedStream
const decodeEvent = Schema.decodeUnknownSync(Event)
const frames: ReadonlyArray<Uint8Array | string> = stream.events.map((encoded) =>
  config.format === "msgpack"
    ? encodeFrame({ type: "event", masterplanId: encoded.masterplanId, event: decodeEvent(encoded) })
    : JSON.stringify({ type: "event", masterplanId: encoded.masterplanId, event: encoded })
)
const frameBytes = frames.reduce(
  (sum, frame) => sum + (typeof frame === "string" ? Buffer.byteLength(frame) : frame.byteLength),
  0
)

const server = new WebSocketServer({ port: 0, host: "127.0.0.1" })
await new Promise<void>((listening) => server.once("listening", listening))

const broadcast = (frame: Uint8Array | string, written?: Array<Promise<void>>): void => {
  for (const client of server.clients)
    if (written === undefined) client.send(frame)
    else written.push(new Promise((done) => client.send(frame, () => done())))
}

/** The socket under a client (`ws` keeps it as `_socket`): what a cork holds. */
const rawSocketOf = (client: WebSocket) => (client as unknown as { readonly _socket: Duplex })._socket

/** Runs `send` with every socket corked when the writes are `coalesced`: each writes once after it. */
const inOneWrite = (send: () => void): void => {
  if (config.writes === "perFrame") return send()
  for (const client of server.clients) rawSocketOf(client).cork()
  send()
  for (const client of server.clients) rawSocketOf(client).uncork()
}

const sendRecorded = async (sentAtMs: Array<number>) => {
  const startedAt = nowMs()
  for (let i = 0; i < frames.length;) {
    const offset = stream.offsetsMs[i]!
    const wait = startedAt + offset - nowMs()
    if (wait > 0) await sleep(wait)
    const batchAt = nowMs()
    inOneWrite(() => {
      for (; i < frames.length && stream.offsetsMs[i] === offset; i++) {
        sentAtMs[i] = batchAt
        broadcast(frames[i]!)
      }
    })
  }
}

const sendFlatOut = async (sentAtMs: Array<number>) => {
  let previous: Array<Promise<void>> = []
  for (let start = 0; start < frames.length; start += chunkSize) {
    const chunkAt = nowMs()
    const end = Math.min(frames.length, start + chunkSize)
    const written: Array<Promise<void>> = []
    inOneWrite(() => {
      for (let i = start; i < end; i++) {
        sentAtMs[i] = chunkAt
        broadcast(frames[i]!, i === end - 1 ? written : undefined)
      }
    })
    // Two chunks in flight at most: the sockets always have the next one while this one drains.
    await Promise.all(previous)
    previous = written
  }
  await Promise.all(previous)
}

let sending: { readonly done: Promise<void>; readonly window: ReturnType<typeof openCostWindow> } | undefined
const sentAtMs: Array<number> = []

serveParent((server.address() as { port: number }).port, async (request) => {
  switch (request.type) {
    case "go": {
      const clients = request["clients"] as number
      while (server.clients.size < clients) await sleep(1)
      const window = openCostWindow()
      const done = config.pacing === "recorded" ? sendRecorded(sentAtMs) : sendFlatOut(sentAtMs)
      sending = { done, window }
      return {}
    }
    case "report": {
      // Asked once the clients have everything: the window closes on the whole broadcast.
      await sending!.done
      return { sentAtMs, frameBytes, cost: sending!.window.close() } satisfies RawReport
    }
    default:
      return {}
  }
})

process.once("SIGTERM", () => {
  for (const client of server.clients) client.terminate()
  server.close(() => process.exit(0))
})
