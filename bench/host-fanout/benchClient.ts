import { encodeWireFrame, isTerminalEvent } from "@devmatrix/core"
import type { Event, FrameEncoded } from "@devmatrix/core"
import { Unpackr } from "msgpackr"
import WebSocket from "ws"
import { nowMs } from "./childProcess.js"
import type { FrameFormat } from "./rawChild.js"

/** A reply as a client reads it: only the fields the bench looks at. */
interface ReadReply {
  readonly type: string
  readonly id?: string
  readonly event?: Event
  readonly result?: unknown
}

// Plain msgpack maps read as objects: the client only reads a few fields, so it stays cheap and
// the clients' process is not what a run measures (its CPU is reported all the same).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

/**
 * One WebSocket client of a run, in this process: notes when each event arrived (by its seq, on
 * this process's clock, before it is decoded further), and matches replies to requests.
 */
export class BenchClient {
  /** When each seq arrived (ms), NaN for one that did not. */
  receivedAtMs = new Float64Array(16_384).fill(Number.NaN)
  events = 0
  bytes = 0
  /** The highest seq received. */
  lastSeq = 0
  readonly ended: Promise<void>
  private endedNow: () => void = () => {}
  private readonly waiting = new Map<string, (reply: ReadReply) => void>()
  private nextId = 0

  private constructor(
    readonly socket: WebSocket,
    private readonly format: FrameFormat
  ) {
    this.ended = new Promise((done) => (this.endedNow = done))
    socket.on("message", (data: Buffer) => this.onMessage(data))
  }

  /** Opens a client; with `bearer`, the token goes in the upgrade's `Authorization` header. */
  static open(url: string, format: FrameFormat, bearer?: string): Promise<BenchClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        perMessageDeflate: false,
        ...(bearer !== undefined ? { headers: { authorization: `Bearer ${bearer}` } } : {})
      })
      const client = new BenchClient(socket, format)
      socket.once("open", () => resolve(client))
      socket.once("error", reject)
    })
  }

  /** Sends a command (msgpack, as the host reads them) and resolves with its `ack` result, or fails with its `error`. */
  async request(frame: Record<string, unknown> & { readonly type: string }): Promise<unknown> {
    const id = `r${++this.nextId}`
    const reply = await new Promise<ReadReply>((done) => {
      this.waiting.set(id, done)
      this.socket.send(encodeWireFrame({ ...frame, id } as FrameEncoded))
    })
    if (reply.type !== "ack") throw new Error(`${frame.type} refused: ${JSON.stringify(reply)}`)
    return reply.result
  }

  close(): void {
    this.socket.terminate()
  }

  private onMessage(data: Buffer): void {
    const at = nowMs()
    this.bytes += data.byteLength
    const reply = (
      this.format === "json" ? JSON.parse(data.toString("utf8")) : unpackr.unpack(data)
    ) as ReadReply
    if (reply.type === "event" && reply.event !== undefined) return this.onEvent(reply.event, at)
    if (reply.id !== undefined) this.waiting.get(reply.id)?.(reply)
  }

  private onEvent(event: Event, at: number): void {
    const seq = event.seq
    if (seq >= this.receivedAtMs.length) {
      const grown = new Float64Array(this.receivedAtMs.length * 2).fill(Number.NaN)
      grown.set(this.receivedAtMs)
      this.receivedAtMs = grown
    }
    this.receivedAtMs[seq] = at
    this.events++
    this.lastSeq = Math.max(this.lastSeq, seq)
    if (isTerminalEvent(event)) this.endedNow()
  }
}

/** Opens `count` clients, a few at a time (the server accepts them without a storm of handshakes). */
export const openClients = async (
  count: number,
  open: () => Promise<BenchClient>
): Promise<Array<BenchClient>> => {
  const clients: Array<BenchClient> = []
  for (let i = 0; i < count; i += 20)
    clients.push(...(await Promise.all(Array.from({ length: Math.min(20, count - i) }, open))))
  return clients
}
