import { buildPlanGraph, decodeInput, decodePlanInput, RunOptions } from "@devmatrix/core"
import type { PlanInput } from "@devmatrix/core"
import { Effect, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { UsageError } from "./exitCodes.js"

/** A plan file, read and checked as the engine checks it at submit. */
export interface PlanFile {
  /** The file's JSON: what is submitted. */
  readonly json: unknown
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

/**
 * Reads and checks a plan file (JSON, schema, options, dependency graph) before any store is
 * opened, so that bad input writes nothing. Markdown specs need the planning pipeline, which is
 * not in this build.
 */
export const readPlanFile = (file: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) => new UsageError(`cannot read ${file}: ${(error as Error).message}`)
    })
    if (/\.(md|markdown|txt)$/i.test(file))
      return yield* Effect.fail(
        new UsageError(
          `${file}: markdown specs need the code-generation pipeline, which is not in this build; give a plan.json`
        )
      )
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new UsageError(`${file} is not valid JSON: ${(error as Error).message}`)
    })
    const plan = yield* decodePlanInput(json, file)
    const { options } = yield* decodePlanOptions(file)(json)
    yield* buildPlanGraph(plan.atoms)
    return { json, plan, options } satisfies PlanFile
  })
