import { createConnection, createServer } from "node:net"
import type { AddressInfo, Socket } from "node:net"

/**
 * What the proxy does to traffic: pass it, stall it (connections stay open, nothing moves: a
 * network partition), or refuse it (new connections are closed at once, as a server that is down).
 */
export type ProxyMode = "pass" | "stall" | "refuse"

export interface FaultProxy {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  readonly setMode: (mode: ProxyMode) => void
  /** Adds this much latency to every chunk, both ways (0: none). */
  readonly setDelayMs: (ms: number) => void
  /** Closes every open connection abruptly (a dropped link); new ones go on being accepted. */
  readonly dropAll: () => void
  readonly close: () => Promise<void>
}

/**
 * A TCP proxy between a client and a real server (PostgreSQL in the tests) that injects the
 * faults a real network has: stalls that never close, drops, refusals and delay. A stall pauses
 * both sockets, so bytes wait in the kernel's buffers and flow again, in order, when it lifts.
 */
export const startFaultProxy = (upstream: { readonly host: string; readonly port: number }) =>
  new Promise<FaultProxy>((resolve, reject) => {
    let mode: ProxyMode = "pass"
    let delayMs = 0
    let accepted = 0
    const pairs = new Set<readonly [Socket, Socket]>()

    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (delayMs === 0) return void to.write(chunk)
        // Paused while the delayed chunk waits, so chunks keep their order.
        from.pause()
        setTimeout(() => {
          to.write(chunk)
          if (mode !== "stall") from.resume()
        }, delayMs)
      })

    const server = createServer((client) => {
      accepted++
      if (mode === "refuse") return void client.destroy()
      const server = createConnection(upstream)
      const pair = [client, server] as const
      pairs.add(pair)
      const end = () => {
        pairs.delete(pair)
        client.destroy()
        server.destroy()
      }
      client.on("error", end).on("close", end)
      server.on("error", end).on("close", end)
      forward(client, server)
      forward(server, client)
      if (mode === "stall") {
        client.pause()
        server.pause()
      }
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        accepted: () => accepted,
        setMode: (next) => {
          mode = next
          for (const [client, server] of pairs)
            for (const socket of [client, server]) {
              if (next === "stall") socket.pause()
              else socket.resume()
            }
        },
        setDelayMs: (ms) => (delayMs = ms),
        dropAll: () => {
          for (const [client, server] of pairs) {
            client.resetAndDestroy()
            server.resetAndDestroy()
          }
          pairs.clear()
        },
        close: () =>
          new Promise<void>((done) => {
            for (const [client, server] of pairs) {
              client.destroy()
              server.destroy()
            }
            server.close(() => done())
          })
      })
    )
  })
