import { Data, Either, Schema } from "effect"
import { PlanInput } from "./PlanInput.js"
import { problemsOf } from "./problemsOf.js"
import type { InputProblem } from "./problemsOf.js"

export { problemsOf, type InputProblem } from "./problemsOf.js"

/** An input (plan file, options, frame) that does not match its schema; names every field at fault. */
export class PlanInputError extends Data.TaggedError("PlanInputError")<{
  readonly source: string
  readonly problems: ReadonlyArray<InputProblem>
}> {
  override get message(): string {
    return `${this.source} is invalid:\n${this.problems.map((p) => `  - ${p.path || "(root)"}: ${p.message}`).join("\n")}`
  }
}

/** How `decodeInput` decodes. */
export interface DecodeInputOptions {
  /**
   * What a field the schema does not know is: a problem (`"error"`, for a whole input, where a
   * misspelt field would otherwise silently change it) or nothing (`"ignore"`, for a schema of a
   * part of the input, which the rest of the input is not a problem of).
   * @default "ignore"
   */
  readonly onExcessProperty?: "error" | "ignore"
}

/** Decodes with a schema, reporting every problem (not only the first) under the given source name. */
export const decodeInput =
  <A, I>(schema: Schema.Schema<A, I>, source: string, options: DecodeInputOptions = {}) =>
  (input: unknown): Either.Either<A, PlanInputError> =>
    Schema.decodeUnknownEither(schema, {
      errors: "all",
      onExcessProperty: options.onExcessProperty ?? "ignore"
    })(input).pipe(Either.mapLeft((error) => new PlanInputError({ source, problems: problemsOf(error) })))

/**
 * Decodes a structured plan (`plan.json`). A field the plan schema does not know is a problem: in
 * an atom `{ "id": "b", "dependOn": ["a"] }` the misspelt `dependsOn` must not drop b's dependency.
 */
export const decodePlanInput = (input: unknown, source = "plan"): Either.Either<PlanInput, PlanInputError> =>
  decodeInput(PlanInput, source, { onExcessProperty: "error" })(input)
