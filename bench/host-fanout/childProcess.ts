import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"

/** What a child sends back when asked: a reply carrying its request's `id`. */
interface Reply {
  readonly id: number
  readonly [key: string]: unknown
}

/** The wall clock in milliseconds, to a fraction of one: what both sides of a delay read. */
export const nowMs = (): number => performance.timeOrigin + performance.now()

/** A bench child process (a server under test), spoken to over Node's IPC channel. */
export interface BenchChild {
  readonly pid: number
  /** Sends a request and resolves with the child's reply to it. */
  readonly request: <TReply>(type: string, payload?: Record<string, unknown>) => Promise<TReply>
  /**
   * How far the child's clock is ahead of this one's, in ms, from the round trip that came back
   * soonest of a few: accurate to half that round trip, which is reported with it.
   */
  readonly clockOffset: () => Promise<{ readonly offsetMs: number; readonly uncertaintyMs: number }>
  /** Ends the child (SIGTERM) and resolves once it has exited. */
  readonly stop: () => Promise<void>
}

/**
 * Starts `node --import tsx <file>` with `config` as its one argument (JSON), and resolves once it
 * reports `{ type: "listening", port }`: its server is up on that port.
 */
export const startBenchChild = (
  file: string,
  config: Record<string, unknown>,
  nodeArgs: ReadonlyArray<string> = []
): Promise<{ readonly child: BenchChild; readonly port: number }> =>
  new Promise((resolve, reject) => {
    const process_: ChildProcess = spawn(
      process.execPath,
      [...nodeArgs, "--import", "tsx", file, JSON.stringify(config)],
      { stdio: ["ignore", "inherit", "inherit", "ipc"] }
    )
    const waiting = new Map<number, (reply: Reply) => void>()
    let nextId = 0
    const exited = new Promise<void>((done) => process_.once("exit", () => done()))
    process_.once("exit", (code) => reject(new Error(`${file} exited (${code}) before listening`)))
    process_.on("message", (message: Reply & { readonly type?: string; readonly port?: number }) => {
      if (message.type === "listening") return resolve({ child, port: message.port! })
      waiting.get(message.id)?.(message)
      waiting.delete(message.id)
    })
    const request = <TReply>(type: string, payload: Record<string, unknown> = {}) =>
      new Promise<TReply>((done) => {
        const id = ++nextId
        waiting.set(id, done as (reply: Reply) => void)
        process_.send({ ...payload, type, id })
      })
    const child: BenchChild = {
      pid: process_.pid!,
      request,
      clockOffset: async () => {
        let best = { offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY }
        for (let i = 0; i < 7; i++) {
          const sentAt = nowMs()
          const { now } = await request<{ now: number }>("clock")
          const backAt = nowMs()
          const uncertaintyMs = (backAt - sentAt) / 2
          if (uncertaintyMs < best.uncertaintyMs)
            best = { offsetMs: now - (sentAt + backAt) / 2, uncertaintyMs }
        }
        return best
      },
      stop: () => {
        process_.kill("SIGTERM")
        return exited
      }
    }
  })

/** A request as a child receives it. */
export interface ChildRequest {
  readonly id: number
  readonly type: string
  readonly [key: string]: unknown
}

/**
 * The child's side: answers `clock` itself, every other request with `handle`, and tells the
 * parent it listens on `port`.
 */
export const serveParent = (port: number, handle: (request: ChildRequest) => Promise<object>): void => {
  process.on("message", (request: ChildRequest) => {
    if (request.type === "clock") return void process.send!({ id: request.id, now: nowMs() })
    void handle(request).then((reply) => process.send!({ ...reply, id: request.id }))
  })
  process.send!({ type: "listening", port })
}

/** The one argument a child is started with. */
export const childConfig = <TConfig>(): TConfig => JSON.parse(process.argv[2]!) as TConfig
