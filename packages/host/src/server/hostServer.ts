import { CloseCode, webSocketPath } from "@devmatrix/core"
import { Engine, Store } from "@devmatrix/runtime"
import { Duration, Effect, Runtime } from "effect"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocketServer } from "ws"
import { Connection, defaultConnectionLimits } from "./connection.js"
import type { ConnectionLimits } from "./connection.js"
import { HostMetrics } from "./hostMetrics.js"
import type { TokenTable } from "./tokens.js"
import { WatchHub } from "./watchHub.js"

/** How a host listens, and its limits. */
export interface HostOptions {
  /** @default 7420 */
  readonly port?: number
  /** The address to listen on. @default "127.0.0.1" */
  readonly hostname?: string
  readonly tokens: TokenTable
  readonly limits?: Partial<ConnectionLimits>
  /** How long calls in flight may take to end on shutdown before they are interrupted (and paid again on resume). @default 10 s */
  readonly shutdownGraceMs?: number
  /** How long `/readyz` waits for the store. @default 2 s */
  readonly readyTimeoutMs?: number
}

/** A running host. */
export interface HostHandle {
  /** `http://hostname:port`; the WebSocket is at `webSocketPath` under it. */
  readonly url: string
  readonly port: number
  /** The plans the host picked up from its store as it started. */
  readonly recovered: ReadonlyArray<string>
}

/** The reason a host gives the clients it closes as it stops. */
const shutdownReason = "the host is shutting down: reconnect and watch from your last seq + 1"

/**
 * The standalone host: one port for the WebSocket API (`/ws`) and HTTP (`/healthz`, `/readyz`,
 * `/metrics`), on the engine and store provided. It picks up the unfinished plans of its store as
 * it starts; when its scope closes (SIGTERM) it stops accepting, lets calls in flight end within
 * `shutdownGraceMs`, saves every plan (another start resumes them), and closes sockets with 1001.
 */
export const startHost = (options: HostOptions) =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const store = yield* Store
    const runtime = yield* Effect.runtime<Engine | Store>()
    const runPromise = Runtime.runPromise(runtime)
    const limits: ConnectionLimits = { ...defaultConnectionLimits, ...options.limits }
    const metrics = new HostMetrics(() => Runtime.runSync(runtime)(engine.limits()))
    const read = (masterplanId: string, from: number, to: number) =>
      runPromise(store.readEvents(masterplanId, from, to))
    const hub = new WatchHub(runtime, metrics, read)
    const connections = new Set<Connection>()
    let stopping = false

    // The unfinished plans of the store, each with its one reader from where its journal was.
    const unfinished = yield* store.listMasterplans()
    const lastSeqs = new Map(unfinished.map((plan) => [plan.id, plan.lastSeq]))
    const recovered = yield* engine.recoverAll()
    for (const id of recovered) hub.follow(id, (lastSeqs.get(id) ?? 0) + 1)

    const ready = () =>
      runPromise(
        store.getMasterplan("__readyz__").pipe(
          Effect.timeout(Duration.millis(options.readyTimeoutMs ?? 2_000)),
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        )
      )

    const respond = (
      response: ServerResponse,
      status: number,
      body: string,
      contentType = "text/plain; charset=utf-8"
    ) => {
      response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" })
      response.end(body)
    }

    const onRequest = (request: IncomingMessage, response: ServerResponse) => {
      const path = new URL(request.url ?? "/", "http://host").pathname
      if (request.method !== "GET" && request.method !== "HEAD") return respond(response, 405, "GET only\n")
      if (path === "/healthz")
        return respond(response, stopping ? 503 : 200, stopping ? "stopping\n" : "ok\n")
      if (path === "/readyz")
        return void ready().then((ok) =>
          respond(
            response,
            ok && !stopping ? 200 : 503,
            ok ? (stopping ? "stopping\n" : "ready\n") : "store unreachable\n"
          )
        )
      if (path === "/metrics")
        return void metrics.exposition().then(
          ({ body, contentType }) => respond(response, 200, body, contentType),
          (error: unknown) => respond(response, 500, `metrics failed: ${String(error)}\n`)
        )
      respond(response, 404, `no such path: ${path} (the WebSocket is at ${webSocketPath})\n`)
    }

    const server = createServer(onRequest)
    // Frames up to the limit are read and refused by the schema with `frame_too_large`; twice
    // the limit, `ws` closes the connection (1009) without holding more.
    const sockets = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes * 2 })
    server.on("upgrade", (request, socket, head) => {
      const path = new URL(request.url ?? "/", "http://host").pathname
      const refuse = (status: string) => {
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
      }
      if (path !== webSocketPath) return refuse("404 Not Found")
      if (stopping) return refuse("503 Service Unavailable")
      const header = request.headers.authorization
      const bearer = header?.startsWith("Bearer ") === true ? header.slice("Bearer ".length) : undefined
      const principal = bearer !== undefined ? options.tokens.authenticate(bearer) : undefined
      if (header !== undefined && principal === undefined) return refuse("401 Unauthorized")
      sockets.handleUpgrade(request, socket, head, (ws) => {
        const connection = new Connection(ws, principal, {
          runtime,
          tokens: options.tokens,
          hub,
          metrics,
          read,
          limits
        })
        connections.add(connection)
        ws.on("close", () => connections.delete(connection))
      })
    })

    yield* Effect.async<void, Error>((resume) => {
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(options.port ?? 7420, options.hostname ?? "127.0.0.1", () => resume(Effect.void))
    })
    const port = (server.address() as AddressInfo).port

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        stopping = true
        // No new connection; those open keep their streams while the plans save.
        server.close()
        const graceMs = options.shutdownGraceMs ?? 10_000
        const running = (yield* Effect.orElseSucceed(store.listMasterplans(), () => [])).filter(
          (plan) => hub.feedOf(plan.id) !== undefined
        )
        yield* Effect.forEach(running, (plan) => Effect.ignore(engine.detach(plan.id, { graceMs })), {
          concurrency: "unbounded",
          discard: true
        })
        yield* hub.stop()
        for (const connection of connections) connection.close(CloseCode.goingAway, shutdownReason)
        sockets.close()
        server.closeAllConnections()
      })
    )
    return { url: `http://${options.hostname ?? "127.0.0.1"}:${port}`, port, recovered } satisfies HostHandle
  })
