import { webSocketPath } from "@devmatrix/core"
import { Deferred, Effect } from "effect"
import { parseArgs } from "node:util"
import { startHost } from "../server/hostServer.js"
import { loadTokens } from "../server/tokens.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { engineArgs, engineFlags, number, pathArg } from "./runArgs.js"
import type { EngineArgs } from "./runArgs.js"
import { listenForStop } from "./stopSignals.js"
import { synopsis } from "./usage.js"

/** `devmatrix host` as parsed. */
export interface HostArgs extends EngineArgs {
  readonly port: number
  readonly hostname: string
  readonly tokensFile?: string
}

/** The port a host listens on unless told otherwise. */
export const defaultHostPort = 7420

export const parseHostArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): HostArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      ...engineFlags,
      port: { type: "string" },
      listen: { type: "string" },
      tokens: { type: "string" }
    }
  })
  if (positionals.length > 0) throw new UsageError(`usage: ${synopsis.host}`)
  const port = number(
    "port",
    values.port,
    (n) => Number.isInteger(n) && n >= 0 && n <= 65_535,
    "a port from 0 to 65535"
  )
  return {
    ...engineArgs(values, env),
    port: port ?? defaultHostPort,
    hostname: values.listen ?? "127.0.0.1",
    ...(values.tokens !== undefined ? { tokensFile: pathArg("--tokens", values.tokens) } : {})
  }
}

/**
 * `devmatrix host`: serves the WebSocket API and HTTP endpoints on one port until SIGTERM or
 * Ctrl-C; then stops accepting, lets calls in flight end, saves every plan (the next start
 * resumes them) and closes its clients with 1001.
 */
export const hostCommand = (args: HostArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const tokens = yield* loadTokens(args.tokensFile, process.env).pipe(
      Effect.catchTag("TokensError", (error) =>
        Effect.sync(() => {
          terminal.stderr.write(`devmatrix host: ${error.message}\n`)
          return undefined
        })
      )
    )
    if (tokens === undefined) return ExitCode.usage
    const stop = yield* listenForStop
    const host = yield* startHost({ port: args.port, hostname: args.hostname, tokens })
    const ws = host.url.replace(/^http/, "ws")
    terminal.stderr.write(
      `devmatrix host listening on ${host.url} (WebSocket ${ws}${webSocketPath}; /healthz /readyz /metrics)` +
        (host.recovered.length > 0 ? `; resumed ${host.recovered.length} unfinished plan(s)` : "") +
        "\n"
    )
    const signal = yield* Deferred.await(stop.first)
    terminal.stderr.write(
      `devmatrix host: ${signal}, stopping: calls in flight may end, then every plan is saved\n`
    )
    return ExitCode.completed
  })
