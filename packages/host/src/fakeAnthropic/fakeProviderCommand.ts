import { cut, maxEchoLength } from "@devmatrix/core"
import { Deferred, Effect } from "effect"
import { parseArgs } from "node:util"
import { ExitCode, UsageError } from "../cli/exitCodes.js"
import type { Terminal } from "../cli/followPlan.js"
import { pathArg } from "../cli/runArgs.js"
import { listenForStop } from "../cli/stopSignals.js"
import { synopsis } from "../cli/usage.js"
import { startFakeAnthropic } from "./fakeAnthropic.js"
import type { FakeAnthropicOptions } from "./fakeAnthropic.js"
import { faultKinds } from "./faults.js"
import type { Fault, FaultKind } from "./faults.js"

/** `devmatrix fake-provider` as parsed from its command line: the server's options. */
export type FakeProviderArgs = FakeAnthropicOptions

/** A flag's value as the user gave it, quoted and cut short (it is printed back). */
const given = (text: string) => JSON.stringify(cut(text, maxEchoLength))

const number = (flag: string, text: string | undefined, check: (n: number) => boolean, what: string) => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (text.trim() === "" || !Number.isFinite(value) || !check(value))
    throw new UsageError(`--${flag} must be ${what}, got ${given(text)}`)
  return value + 0
}

const wholeAtLeast = (min: number) => (n: number) => Number.isSafeInteger(n) && n >= min

const latencyOf = (text: string | undefined): FakeAnthropicOptions["latencyMs"] => {
  if (text === undefined) return undefined
  const what = "a number of milliseconds or a range such as 5-30"
  const range = /^\s*([^-]+)-([^-]+)$/.exec(text)
  if (range === null) return number("latency-ms", text, (n) => n >= 0, what)
  const min = number("latency-ms", range[1], (n) => n >= 0, what)!
  const max = number("latency-ms", range[2], (n) => n >= 0, what)!
  if (min > max) throw new UsageError(`--latency-ms range ${given(text)} has its minimum above its maximum`)
  return { min, max }
}

const isFaultKind = (name: string): name is FaultKind => (faultKinds as ReadonlyArray<string>).includes(name)

/** `rate_limit`, `rate_limit:5` (retry-after in seconds), `server_error:503`, `max_tokens:20`, ... */
const faultOf = (text: string): Fault => {
  const [name = "", parameter] = text.trim().split(":")
  if (!isFaultKind(name))
    throw new UsageError(`--faults: unknown fault ${given(name)}; the faults are ${faultKinds.join(", ")}`)
  if (parameter === undefined) return name
  const value = number("faults", parameter, (n) => n >= 0, `a number after "${name}:"`)!
  if (name === "rate_limit") return { kind: name, retryAfterS: value }
  if (name === "max_tokens") return { kind: name, outputTokens: value }
  if (name === "server_error" && (value === 500 || value === 502 || value === 503 || value === 504))
    return { kind: name, status: value }
  throw new UsageError(
    `--faults: ${given(text)} takes no such parameter (rate_limit:S, server_error:500|502|503|504, max_tokens:N)`
  )
}

/** Parses `devmatrix fake-provider [flags]`; a bad flag or value is a `UsageError` naming it. */
export const parseFakeProviderArgs = (argv: ReadonlyArray<string>): FakeProviderArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: "string" },
      "api-key": { type: "string" },
      "latency-ms": { type: "string" },
      "fault-rate": { type: "string" },
      faults: { type: "string" },
      seed: { type: "string" },
      rpm: { type: "string" },
      itpm: { type: "string" },
      otpm: { type: "string" },
      "billing-log": { type: "string" }
    }
  })
  if (positionals.length > 0) throw new UsageError(`usage: ${synopsis["fake-provider"]}`)
  const port = number(
    "port",
    values.port,
    (n) => Number.isInteger(n) && n >= 0 && n <= 65_535,
    "a port from 0 to 65535"
  )
  const faultRate = number("fault-rate", values["fault-rate"], (n) => n >= 0 && n <= 1, "between 0 and 1")
  const seed = number("seed", values.seed, Number.isSafeInteger, "a whole number")
  const perMinute = "a whole number of at least 1"
  const requestsPerMinute = number("rpm", values.rpm, wholeAtLeast(1), perMinute)
  const inputTokensPerMinute = number("itpm", values.itpm, wholeAtLeast(1), perMinute)
  const outputTokensPerMinute = number("otpm", values.otpm, wholeAtLeast(1), perMinute)
  const latencyMs = latencyOf(values["latency-ms"])
  if (values["api-key"] === "") throw new UsageError("--api-key must not be empty")
  return {
    ...(port !== undefined ? { port } : {}),
    ...(values["api-key"] !== undefined ? { apiKey: values["api-key"] } : {}),
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(faultRate !== undefined ? { faultRate } : {}),
    ...(values.faults !== undefined ? { faultKinds: values.faults.split(",").map(faultOf) } : {}),
    ...(seed !== undefined ? { seed } : {}),
    limits: {
      ...(requestsPerMinute !== undefined ? { requestsPerMinute } : {}),
      ...(inputTokensPerMinute !== undefined ? { inputTokensPerMinute } : {}),
      ...(outputTokensPerMinute !== undefined ? { outputTokensPerMinute } : {})
    },
    ...(values["billing-log"] !== undefined
      ? { billingLog: pathArg("--billing-log", values["billing-log"]) }
      : {})
  }
}

/**
 * `devmatrix fake-provider`: serves the local Messages API until SIGINT, SIGTERM or SIGHUP, after
 * printing `ANTHROPIC_BASE_URL=http://127.0.0.1:PORT` on stdout (for `eval`, or a test reading it).
 * Stopping it is its normal end: exit 0.
 */
export const fakeProviderCommand = (args: FakeProviderArgs, terminal: Terminal) =>
  Effect.gen(function* () {
    const stop = yield* listenForStop
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise(() => startFakeAnthropic(args)),
      (running) => Effect.promise(() => running.close())
    )
    terminal.stdout.write(`ANTHROPIC_BASE_URL=${server.url}\n`)
    terminal.stderr.write(`fake Anthropic Messages API listening on ${server.url} (Ctrl-C stops it)\n`)
    yield* Deferred.await(stop.first)
    return ExitCode.completed
  })
