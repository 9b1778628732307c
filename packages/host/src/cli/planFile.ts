import {
  compilePlan,
  decodeInput,
  decodePlanInput,
  jsonTextTooDeepAt,
  maxInputDepth,
  maxPlanFileBytes,
  maxProblemLength,
  RunOptions
} from "@devmatrix/core"
import type { CompiledPlan, PlanInput } from "@devmatrix/core"
import { Effect, Schema } from "effect"
import { constants } from "node:fs"
import type { Stats } from "node:fs"
import { open } from "node:fs/promises"
import { UsageError } from "./exitCodes.js"
import { modelProblem } from "./runArgs.js"
import type { PriceTable } from "@devmatrix/core"

/** A plan file, read and checked as the engine checks it at submit. */
export interface PlanFile {
  /** The plan compiled (decoded and its graph built): what is submitted, so it is compiled once. */
  readonly compiled: CompiledPlan
  readonly plan: PlanInput
  /** The plan's `options`, with the defaults of those it does not set. */
  readonly options: RunOptions
}

/** The plan's `options` with their limits: the plan schema checks only their types. */
const decodePlanOptions = (file: string) =>
  decodeInput(
    Schema.Struct({ options: Schema.optionalWith(RunOptions, { default: () => RunOptions.make({}) }) }),
    file
  )

const mib = (bytes: number) =>
  `${(bytes / 1024 / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} MiB`

const kindOf = (info: Stats): string =>
  info.isDirectory()
    ? "a directory"
    : info.isFIFO()
      ? "a named pipe"
      : info.isCharacterDevice() || info.isBlockDevice()
        ? "a device"
        : info.isSocket()
          ? "a socket"
          : "not a regular file"

/**
 * The bytes of a plan file: a regular file of at most `maxPlanFileBytes`. It is opened without
 * blocking (a named pipe with no writer would wait forever) and its kind is checked on the open
 * file, so `/dev/zero`, a pipe or a directory is refused before anything is read; what is read
 * stops past the limit, should the file grow meanwhile.
 */
const readBytes = async (file: string): Promise<Buffer> => {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new UsageError(`${file} is ${kindOf(info)}, not a plan file: give a plan.json`)
    const tooBig = (size: number) =>
      new UsageError(`${file} is ${mib(size)}: a plan file may have at most ${mib(maxPlanFileBytes)}`)
    if (info.size > maxPlanFileBytes) throw tooBig(info.size)
    const chunks: Array<Buffer> = []
    let total = 0
    for (;;) {
      const chunk = Buffer.alloc(Math.min(Math.max(info.size - total, 0) + 1, 1024 * 1024))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      chunks.push(chunk.subarray(0, bytesRead))
      total += bytesRead
      if (total > maxPlanFileBytes) throw tooBig(total)
    }
    return Buffer.concat(chunks, total)
  } finally {
    await handle.close()
  }
}

// `fatal`: bytes that are not UTF-8 are refused rather than read as U+FFFD, which would change
// ids silently. A UTF-8 byte order mark is dropped (TextDecoder's default).
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The text of a plan file: UTF-8, its byte order mark dropped. */
const textOf = (file: string, bytes: Buffer): string => {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    throw new UsageError(`${file} is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8`)
  try {
    return utf8.decode(bytes)
  } catch {
    throw new UsageError(`${file} is not valid UTF-8: save it as UTF-8`)
  }
}

/** JSON.parse's message quotes the text around the error: control characters are shown escaped. */
const printable = (text: string): string =>
  text
    .replace(/[\p{Cc}\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .slice(0, maxProblemLength)

/**
 * Who checks that the plan's model can be run: this process (with the environment's keys and the
 * price table in force, unless `--model`, `flag`, overrides it), or the host it is submitted to,
 * which has keys and prices of its own.
 */
export type ModelCheck =
  | { readonly flag: string | undefined; readonly env: NodeJS.ProcessEnv; readonly prices?: PriceTable }
  | "by the host"

/**
 * Reads and checks a plan file (kind, size, encoding, JSON, schema, options, references,
 * dependency graph) before any store is opened or anything is sent, so that bad input writes
 * nothing. Unless the host checks it, the plan's `options.model` must be one this build runs, or
 * `--model` overrides it. Markdown specs need the planning pipeline, which is not in this build.
 */
export const readPlanFile = (file: string, models: ModelCheck) =>
  Effect.gen(function* () {
    if (/\.(md|markdown|txt)$/i.test(file))
      return yield* Effect.fail(
        new UsageError(
          `${file}: markdown specs need the code-generation pipeline, which is not in this build; give a plan.json`
        )
      )
    const text = yield* Effect.tryPromise({
      try: async () => textOf(file, await readBytes(file)),
      catch: (error) =>
        error instanceof UsageError
          ? error
          : new UsageError(`cannot read ${file}: ${(error as Error).message}`)
    })
    // Bounded before parsing: parsing alone builds the whole value (gigabytes for a deep one).
    const tooDeep = jsonTextTooDeepAt(text, maxInputDepth)
    if (tooDeep !== undefined) {
      const before = text.slice(0, tooDeep)
      const line = before.split("\n").length
      const column = tooDeep - before.lastIndexOf("\n")
      return yield* Effect.fail(
        new UsageError(
          `${file} is invalid:\n  - is nested too deep (more than ${maxInputDepth} levels of arrays and objects), at line ${line} column ${column}`
        )
      )
    }
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new UsageError(`${file} is not valid JSON: ${printable((error as Error).message)}`)
    })
    const compiled = yield* compilePlan(json, (input) => decodePlanInput(input, file))
    const { options } = yield* decodePlanOptions(file)(json)
    const model =
      models !== "by the host" && models.flag === undefined
        ? modelProblem(options.model, models.env, models.prices)
        : undefined
    if (model !== undefined)
      return yield* Effect.fail(new UsageError(`${file} is invalid:\n  - options.model: ${model}`))
    return { compiled, plan: compiled.plan, options } satisfies PlanFile
  })
