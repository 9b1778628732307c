import { createClient, isDevMatrixError } from "@devmatrix/sdk"
import type { DevMatrixClient, DevMatrixError } from "@devmatrix/sdk"
import { cut, maxEchoLength } from "@devmatrix/core"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { shellWord } from "./commandLine.js"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./showPlan.js"

/**
 * A host that a command's plans are on (`--host URL --token T`, or `DEVMATRIX_HOST` and
 * `DEVMATRIX_TOKEN`): the command goes through the SDK to it instead of opening a store.
 */
export interface HostTarget {
  readonly url: string
  readonly token: string
  /**
   * The flags printed commands name the host with: `--host URL`, and `--token TOKEN` (a
   * placeholder: the token is never printed) when the token came from the flag rather than from
   * `DEVMATRIX_TOKEN`, where the printed command finds it again.
   */
  readonly flags: string
}

export const hostFlags = { host: { type: "string" }, token: { type: "string" } } as const

const given = (text: string) => JSON.stringify(cut(text, maxEchoLength))

const hostUrl = /^(wss?|https?):\/\/[^/?#\s]+[^#\s]*$/i

/**
 * The host a command line names, if it names one: `--host` (or `DEVMATRIX_HOST`) with `--token`
 * (or `DEVMATRIX_TOKEN`). Only these two flags are read here, leniently: the command's own parser
 * checks the rest, for the host or for a store.
 */
export const hostTargetOf = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): HostTarget | undefined => {
  const { values } = parseArgs({ args: [...argv], strict: false, allowPositionals: true, options: hostFlags })
  const flag = (name: "host" | "token") => {
    const value = values[name]
    if (typeof value === "boolean") throw new UsageError(`--${name} needs a value`)
    return value
  }
  const urlFlag = flag("host")
  const tokenFlag = flag("token")
  const url = urlFlag ?? (env["DEVMATRIX_HOST"] || undefined)
  if (url === undefined) {
    if (tokenFlag !== undefined) throw new UsageError("--token needs --host URL (or DEVMATRIX_HOST)")
    return undefined
  }
  const what = urlFlag !== undefined ? "--host" : "DEVMATRIX_HOST"
  if (!hostUrl.test(url))
    throw new UsageError(`${what} must be a ws://, wss://, http:// or https:// URL, got ${given(url)}`)
  const token = tokenFlag ?? (env["DEVMATRIX_TOKEN"] || undefined)
  if (token === undefined) throw new UsageError(`${what} needs a token: --token T (or DEVMATRIX_TOKEN)`)
  return { url, token, flags: `--host ${shellWord(url)}${tokenFlag !== undefined ? " --token TOKEN" : ""}` }
}

/** Why a flag of a store's (or of the offline model's) is refused with `--host`: the host has its own. */
const embeddedOnlyReasons: Record<string, string> = {
  store: "the host keeps its plans in its own store",
  redis: "the host chooses its own prompt cache",
  "no-cache": "the host chooses its own prompt cache",
  prices: "the host bills at its own prices",
  seed: "the scripted model's behaviour is the host's (a plan's options.scripted sets it)",
  "latency-ms": "the scripted model's behaviour is the host's (a plan's options.scripted sets it)",
  "fault-rate": "the scripted model's behaviour is the host's (a plan's options.scripted sets it)",
  model: "a resumed plan keeps the model it was submitted with",
  out: "writing generated files to a workspace is not available in this build"
}

/** The flags of a store's (or of the offline model's) that a command knows: parsed with `--host`, so as to be refused by name. */
export const embeddedOnlyFlags = (names: ReadonlyArray<string>) =>
  Object.fromEntries(
    names.map((name) => [name, { type: name === "no-cache" ? "boolean" : "string" }] as const)
  ) as Record<string, { readonly type: "string" | "boolean" }>

/** Refuses, by name (exit 2), any of `names` given with `--host`, rather than ignore it. */
export const refuseEmbeddedOnly = (
  values: Readonly<Record<string, unknown>>,
  names: ReadonlyArray<string>
) => {
  for (const name of names)
    if (values[name] !== undefined)
      throw new UsageError(
        `--${name} cannot be used with --host: ${embeddedOnlyReasons[name] ?? "it is for a store"}`
      )
}

/**
 * How a command that follows a plan reconnects when the host drops: for about 15 to 35 s (each
 * wait doubles from 0.1 s to at most 2 s, 20 attempts), long enough for a host that restarts,
 * short enough that a host gone for good is said so. A watch resumes from the last seq it showed.
 */
const followReconnect = { initialDelayMs: 100, maxDelayMs: 2_000, factor: 2, maxAttempts: 20 } as const

/**
 * Connects to the host and has the token acknowledged, or fails at once: a probe that does not
 * reconnect says that the host cannot be reached or refuses the token, as `psql` or `curl` do,
 * instead of trying for half a minute. The client then used reconnects (`followReconnect`).
 */
const connect = (target: HostTarget) =>
  Effect.tryPromise({
    try: async () => {
      const probe = createClient({ url: target.url, token: target.token, reconnect: { maxAttempts: 0 } })
      try {
        await probe.ready()
      } finally {
        await probe.close()
      }
      return createClient({ url: target.url, token: target.token, reconnect: followReconnect })
    },
    catch: (error) => error
  })

/** A call of the SDK as an Effect; its `DevMatrixError` (or anything else it throws) is the failure. */
export const sdkCall = <A>(call: () => Promise<A>): Effect.Effect<A, unknown> =>
  Effect.tryPromise({ try: call, catch: (error) => error })

/** The codes of refusals that come from what the user asked for: exit 2, as bad input does embedded. */
const refusedInput: ReadonlySet<string> = new Set([
  "unauthenticated",
  "forbidden",
  "not_found",
  "conflict",
  "invalid_command",
  "unknown_command"
])

/**
 * The exit code of a failure of the SDK, by the embedded contract: what the user asked for was
 * refused (a bad token, a viewer's submit, a missing plan, a plan that has ended): `2`, as bad
 * input; the host could not be reached, or was lost for good: `5`, as a store that cannot be
 * written (the plan, if there is one, is as the host keeps it: try again later); anything else
 * the host answered (`queue_full`, `rate_limited`, `internal`): `1`.
 */
export const exitCodeOfHostError = (error: DevMatrixError): ExitCode =>
  error.reason === "rejected" && refusedInput.has(error.code)
    ? ExitCode.usage
    : error.reason === "closed" || error.reason === "timeout" || error.reason === "disconnected"
      ? ExitCode.storeFailed
      : ExitCode.failed

/** The one line a failure of the SDK is: what the host refused and why, or that it cannot be reached. */
export const hostErrorLine = (error: DevMatrixError, target: HostTarget): string => {
  if (error.code === "unauthenticated")
    return `the host at ${target.url} refused the token: check --token or DEVMATRIX_TOKEN`
  if (exitCodeOfHostError(error) === ExitCode.storeFailed)
    return `cannot reach the host at ${target.url}: ${error.message}`
  return `the host at ${target.url} refused it (${error.code}): ${error.message}`
}

/**
 * Runs `use` with a client of the host, closed when it ends. A failure of the SDK (a refusal, a
 * host that cannot be reached) is one line on stderr, `devmatrix <command>: ...`, and the exit
 * code `exitCodeOfHostError` gives it; never a stack trace.
 */
export const onHost = <E>(
  target: HostTarget,
  command: string,
  terminal: Terminal,
  use: (client: DevMatrixClient) => Effect.Effect<number, E>
): Effect.Effect<number, E | unknown> =>
  Effect.acquireUseRelease(connect(target), use, (client) => Effect.promise(() => client.close())).pipe(
    Effect.catchIf(isDevMatrixError, (error) =>
      Effect.sync(() => {
        terminal.stderr.write(`devmatrix ${command}: ${hostErrorLine(error, target)}\n`)
        return exitCodeOfHostError(error)
      })
    )
  )
