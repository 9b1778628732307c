import {
  cut,
  defaultPriceTable,
  findModelPrice,
  idProblem,
  loadPriceTable,
  mergePriceTables,
  maxConcurrency,
  maxDurationMs,
  maxEchoLength,
  maxUsd,
  unknownModelMessage
} from "@devmatrix/core"
import type { PriceTable, RunOptionsInput } from "@devmatrix/core"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { anthropicOptionsFromEnv, defaultStoreUrl, redactUrl, scriptedModel } from "@devmatrix/runtime"
import type { AnthropicModelOptions, PromptCacheChoice, ScriptedModelOptions } from "@devmatrix/runtime"
import { parseArgs } from "node:util"
import { invocationOf } from "./commandLine.js"
import { UsageError } from "./exitCodes.js"

/** Flags every command that runs plans shares: where the store is, and the offline model's behaviour. */
export interface EngineArgs {
  readonly store: string
  readonly json: boolean
  readonly scripted: ScriptedModelOptions
  /** How to reach the Messages API (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`); absent: Claude models cannot be called. */
  readonly anthropic?: AnthropicModelOptions
  /** The prices calls are billed and budgeted at: the default table, with `--prices FILE` over it. */
  readonly prices: PriceTable
  /** Where model answers are cached (`--redis`, `DEVMATRIX_REDIS`, `--no-cache`). */
  readonly promptCache: PromptCacheChoice
  /** Said once on stderr at the start of the run (also with `--json`), e.g. which model is used and why. */
  readonly notice?: string
  /** How the user runs devmatrix (see `invocationOf`): printed commands start with it. */
  readonly invocation: string
}

/** `devmatrix run` as parsed from its command line. */
export interface RunArgs extends EngineArgs {
  readonly file: string
  readonly masterplanId?: string
  readonly overrides: Partial<RunOptionsInput>
  /**
   * `--concurrency N`: besides the plan's own cap (in `overrides`), the model's limit is pinned at
   * N for the run, so it does not adapt.
   */
  readonly pinnedConcurrency?: number
}

/** A flag's value as the user gave it, quoted and cut short (it is printed back). */
const given = (text: string) => JSON.stringify(cut(text, maxEchoLength))

/**
 * The longest store URL or file path taken (Linux's PATH_MAX): a longer one cannot name a file,
 * and would only be echoed back, at length, by every message that names it.
 */
export const maxPathLength = 4_096

/** A path or URL given for `what`, refused (cut short in the message) when it is too long to be one. */
export const pathArg = (what: string, text: string): string => {
  if (text.length > maxPathLength)
    throw new UsageError(`${what} is longer than ${maxPathLength} characters: ${given(text)}`)
  return text
}

/** A masterplan id given on the command line: an id as plans have them (`idProblem`), else a `UsageError`. */
export const masterplanIdArg = (text: string): string => {
  const problem = idProblem(text)
  if (problem !== undefined) throw new UsageError(`the masterplan id ${given(text)} ${problem}`)
  return text
}

/** A flag's number: finite (`1e309` reads as Infinity) and as `check` wants it, else a `UsageError`. */
export const number = (
  flag: string,
  text: string | undefined,
  check: (n: number) => boolean,
  what: string
) => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (text.trim() === "" || !Number.isFinite(value) || !check(value))
    throw new UsageError(`--${flag} must be ${what}, got ${given(text)}`)
  return value + 0 // -0 is 0
}

const latencyWhat = `a number of milliseconds up to ${maxDurationMs} or a range such as 5-30`
const isLatency = (n: number) => n >= 0 && n <= maxDurationMs

/** `20` (fixed) or `5-30` (uniform range), in milliseconds, each at most `maxDurationMs`. */
const latency = (text: string | undefined): ScriptedModelOptions["latencyMs"] => {
  if (text === undefined) return undefined
  const range = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(text)
  if (range) {
    const min = number("latency-ms", range[1], isLatency, latencyWhat)!
    const max = number("latency-ms", range[2], isLatency, latencyWhat)!
    if (min > max) throw new UsageError(`--latency-ms range ${given(text)} has its minimum above its maximum`)
    return { min, max }
  }
  return number("latency-ms", text, isLatency, latencyWhat)
}

/** The model a run uses with a key and no model named: the current Sonnet of the price table. */
export const defaultClaudeModel = "claude-sonnet-5-5"

/**
 * Why this process cannot run a model (a `--model` flag, a plan's `options.model`), or undefined if
 * it can: a model the price table does not know is never billed at a guessed price, and a Claude
 * model needs a key (or a local Messages API).
 */
export const modelProblem = (
  model: string,
  env: NodeJS.ProcessEnv,
  prices: PriceTable = defaultPriceTable
): string | undefined => {
  if (findModelPrice(prices, model) === undefined)
    return unknownModelMessage(prices, cut(model, maxEchoLength))
  if (model === scriptedModel || anthropicOf(env) !== undefined) return undefined
  return `${given(model)} is a Claude model: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a local Messages API such as \`devmatrix fake-provider\`), or use --model scripted`
}

/**
 * The price table in force: the default one, with the models of `--prices FILE` (or
 * `DEVMATRIX_PRICES`) over it (a changed price, a model added). A file that is not a price table
 * is a `UsageError` naming the field.
 */
export const pricesOf = (flag: string | undefined, env: NodeJS.ProcessEnv): PriceTable => {
  const what = flag !== undefined ? "--prices" : "DEVMATRIX_PRICES"
  const file = flag ?? env["DEVMATRIX_PRICES"]
  if (file === undefined || file === "") return defaultPriceTable
  let text: string
  try {
    text = readFileSync(pathArg(what, file), "utf8")
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`${what}: cannot read ${given(file)}: ${(error as Error).message}`)
  }
  return Either.match(loadPriceTable(text), {
    onLeft: (error) => {
      throw new UsageError(`${what} ${given(file)}: ${error.message}`)
    },
    onRight: (table) => mergePriceTables(defaultPriceTable, table)
  })
}

/** The Messages API as the environment gives it, if it gives a key or a base URL. */
const anthropicOf = (env: NodeJS.ProcessEnv): AnthropicModelOptions | undefined => {
  const options = anthropicOptionsFromEnv(env)
  return options.apiKey === undefined && options.baseURL === undefined ? undefined : options
}

/** The flags of commands that run plans (`run`, `resume`). */
export const engineFlags = {
  json: { type: "boolean", default: false },
  store: { type: "string" },
  model: { type: "string" },
  seed: { type: "string" },
  "latency-ms": { type: "string" },
  "fault-rate": { type: "string" },
  redis: { type: "string" },
  "no-cache": { type: "boolean", default: false },
  prices: { type: "string" }
} as const

/** What is wrong with a store URL, judged by the forms `storeFromUrl` opens; undefined if nothing is. */
const storeUrlProblem = (url: string): string | undefined => {
  if (url === "memory:") return undefined
  if (/^postgres(ql)?:\/\/./.test(url))
    // The driver would only find out when connecting, and call it the store's failure (exit 1).
    return URL.canParse(url) ? undefined : "is not a valid URL (its host, port or escapes cannot be read)"
  if (url.startsWith("sqlite:"))
    return url.slice("sqlite:".length).trim() === ""
      ? `names no file: give its path, as in ${defaultStoreUrl}`
      : undefined
  return "is not a store URL: use memory:, sqlite:<path> or postgres://user@host:port/database"
}

/** The store to use: `--store`, else `DEVMATRIX_STORE`, else the embedded SQLite file; a bad URL is a `UsageError`. */
export const storeOf = (flag: string | undefined, env: NodeJS.ProcessEnv): string => {
  const url = pathArg(
    flag !== undefined ? "--store" : "DEVMATRIX_STORE",
    flag ?? env["DEVMATRIX_STORE"] ?? defaultStoreUrl
  )
  const problem = storeUrlProblem(url)
  if (problem !== undefined)
    throw new UsageError(
      `${flag !== undefined ? "--store" : "DEVMATRIX_STORE"} "${redactUrl(url)}" ${problem}`
    )
  return url
}

type EngineFlagValues = {
  json?: boolean | undefined
  store?: string | undefined
  model?: string | undefined
  seed?: string | undefined
  "latency-ms"?: string | undefined
  "fault-rate"?: string | undefined
  redis?: string | undefined
  "no-cache"?: boolean | undefined
  prices?: string | undefined
}

/** Reads the shared flags; a bad value is a `UsageError` naming the flag. */
export const engineArgs = (values: EngineFlagValues, env: NodeJS.ProcessEnv): EngineArgs => {
  const prices = pricesOf(values.prices, env)
  const model = values.model === undefined ? undefined : modelProblem(values.model, env, prices)
  if (model !== undefined) throw new UsageError(`--model ${model}`)
  const anthropic = anthropicOf(env)
  const redis = values.redis ?? env["DEVMATRIX_REDIS"]
  if (redis !== undefined && !/^rediss?:\/\/./.test(redis))
    throw new UsageError(
      `${values.redis !== undefined ? "--redis" : "DEVMATRIX_REDIS"} must be a redis:// URL, got ${given(redactUrl(redis))}`
    )
  const seed = number("seed", values.seed, Number.isSafeInteger, "a whole number")
  const faultRate = number("fault-rate", values["fault-rate"], (n) => n >= 0 && n <= 1, "between 0 and 1")
  const latencyMs = latency(values["latency-ms"])
  const callLog = env["DEVMATRIX_SCRIPTED_CALL_LOG"]
  const notice =
    values.model !== undefined
      ? undefined
      : anthropic !== undefined
        ? `${anthropic.apiKey !== undefined ? "ANTHROPIC_API_KEY" : `ANTHROPIC_BASE_URL (${anthropic.baseURL})`} is set: a plan that names no model uses ${defaultClaudeModel}`
        : "no ANTHROPIC_API_KEY: using the offline scripted model"
  return {
    store: storeOf(values.store, env),
    ...(anthropic !== undefined ? { anthropic } : {}),
    prices,
    promptCache: {
      ...(redis !== undefined ? { redis } : {}),
      ...(values["no-cache"] === true ? { disabled: true } : {})
    },
    json: values.json ?? false,
    invocation: invocationOf(env),
    ...(notice !== undefined ? { notice } : {}),
    scripted: {
      ...(seed !== undefined ? { seed } : {}),
      ...(faultRate !== undefined ? { faultRate } : {}),
      ...(latencyMs !== undefined ? { latencyMs } : {}),
      ...(callLog ? { callLog } : {})
    }
  }
}

/** The scripted model's behaviour the flags set (not its call log, a process's own), if they set any. */
const scriptedBehaviour = (options: ScriptedModelOptions) => {
  const { seed, latencyMs, faultRate } = options
  if (seed === undefined && latencyMs === undefined && faultRate === undefined) return undefined
  return {
    ...(seed !== undefined ? { seed } : {}),
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(faultRate !== undefined ? { faultRate } : {})
  }
}

/** Services this build does not have yet: refused by name rather than ignored. */
const unavailable: Record<string, string> = {
  out: "writing generated files to a workspace is not available in this build"
}

/** The flags of `run` that set the plan's options and id, for a store or a host alike. */
export const runOptionFlags = {
  budget: { type: "string" },
  concurrency: { type: "string" },
  mode: { type: "string" },
  id: { type: "string" }
} as const

/** The plan's options and id as `run`'s flags set them; a bad value is a `UsageError` naming its flag. */
export const runOptionsOf = (values: {
  readonly model?: string | undefined
  readonly budget?: string | undefined
  readonly concurrency?: string | undefined
  readonly mode?: string | undefined
  readonly id?: string | undefined
}): { readonly masterplanId?: string; readonly overrides: Partial<RunOptionsInput> } => {
  const mode = values.mode
  if (mode !== undefined && mode !== "eager" && mode !== "waves")
    throw new UsageError(`--mode must be "eager" or "waves", got "${mode}"`)
  const concurrency = number(
    "concurrency",
    values.concurrency,
    (n) => Number.isInteger(n) && n >= 1 && n <= maxConcurrency,
    `a whole number from 1 to ${maxConcurrency}`
  )
  const budget = number(
    "budget",
    values.budget,
    (n) => n > 0 && n <= maxUsd,
    `a positive amount of USD up to ${maxUsd}`
  )
  const idIssue = values.id === undefined ? undefined : idProblem(values.id)
  if (idIssue !== undefined)
    throw new UsageError(`--id must name the masterplan, got ${given(values.id!)}: it ${idIssue}`)
  return {
    ...(values.id !== undefined ? { masterplanId: values.id } : {}),
    overrides: {
      // Only a model the user names overrides the plan's (which `readPlanFile` checks).
      ...(values.model !== undefined ? { model: values.model } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(budget !== undefined ? { budget: { hardUsd: budget } } : {})
    }
  }
}

/** The usage line `run` refuses a command line without exactly one plan file with. */
export const runUsage = "usage: devmatrix run <plan.json> [flags] (devmatrix run --help lists them)"

/** Parses `devmatrix run <plan.json> [flags]`; a bad flag or value is a `UsageError` naming it. */
export const parseRunArgs = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): RunArgs => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { ...engineFlags, ...runOptionFlags, out: { type: "string" } }
  })
  if (positionals.length !== 1) throw new UsageError(runUsage)
  for (const flag of Object.keys(unavailable))
    if (values[flag as keyof typeof values] !== undefined)
      throw new UsageError(`--${flag}: ${unavailable[flag]}`)
  const { masterplanId, overrides } = runOptionsOf(values)
  const engine = engineArgs(values, env)
  const behaviour = scriptedBehaviour(engine.scripted)
  return {
    ...engine,
    file: pathArg("the plan file", positionals[0]!),
    ...(masterplanId !== undefined ? { masterplanId } : {}),
    ...(overrides.concurrency !== undefined ? { pinnedConcurrency: overrides.concurrency } : {}),
    overrides: {
      ...overrides,
      // Stored with the plan: a resume answers as this run began, unless it is told otherwise.
      ...(behaviour !== undefined ? { scripted: behaviour } : {})
    }
  }
}
