import { Either } from "effect"
import type { PlanInput } from "../schema/PlanInput.js"
import { decodePlanInput } from "../schema/PlanInputError.js"
import type { PlanInputError } from "../schema/PlanInputError.js"
import { buildPlanGraph } from "./buildPlanGraph.js"
import type { PlanGraph } from "./buildPlanGraph.js"
import type { PlanGraphError } from "./PlanGraphError.js"

/**
 * A plan decoded through its schema and its graph built: what the engine runs. Only `compilePlan`
 * makes one (`isCompiledPlan` tells), so a value of this type has crossed the schema; compiling a
 * plan once (the CLI, to check a plan file before any store is opened) and submitting the result
 * spares the engine a second compilation.
 */
export interface CompiledPlan {
  /** What was given, as given: what a store keeps, to compile again on resume. */
  readonly input: unknown
  readonly plan: PlanInput
  readonly graph: PlanGraph
}

// Membership, not a field: no object literal or JSON value can pass for a compiled plan.
const compiled = new WeakSet<CompiledPlan>()

/** Whether a value is a plan `compilePlan` compiled. */
export const isCompiledPlan = (value: unknown): value is CompiledPlan =>
  typeof value === "object" && value !== null && compiled.has(value as CompiledPlan)

/**
 * Decodes a plan (by default `decodePlanInput`, strict) and builds its graph (`buildPlanGraph`):
 * the first problem of either names what is wrong.
 */
export const compilePlan = (
  input: unknown,
  decode: (input: unknown) => Either.Either<PlanInput, PlanInputError> = decodePlanInput
): Either.Either<CompiledPlan, PlanInputError | PlanGraphError> =>
  Either.flatMap(decode(input), (plan) =>
    Either.map(buildPlanGraph(plan.atoms), (graph) => {
      const result: CompiledPlan = Object.freeze({ input, plan, graph })
      compiled.add(result)
      return result
    })
  )
