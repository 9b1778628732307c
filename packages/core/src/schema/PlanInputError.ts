import { Data, Either, ParseResult, Schema } from "effect"
import { PlanInput } from "./PlanInput.js"

/** One problem of an input, at a path such as `atoms[3].dependsOn`. */
export interface InputProblem {
  readonly path: string
  readonly message: string
}

/** An input (plan file, options, frame) that does not match its schema; names every field at fault. */
export class PlanInputError extends Data.TaggedError("PlanInputError")<{
  readonly source: string
  readonly problems: ReadonlyArray<InputProblem>
}> {
  override get message(): string {
    return `${this.source} is invalid:\n${this.problems.map((p) => `  - ${p.path || "(root)"}: ${p.message}`).join("\n")}`
  }
}

const pathOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, key) =>
      typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`,
    ""
  )

/** Turns a schema's parse error into the problems it names. */
export const problemsOf = (error: ParseResult.ParseError): ReadonlyArray<InputProblem> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: pathOf(issue.path),
    message: issue.message
  }))

/** Decodes with a schema, reporting every problem (not only the first) under the given source name. */
export const decodeInput =
  <A, I>(schema: Schema.Schema<A, I>, source: string) =>
  (input: unknown): Either.Either<A, PlanInputError> =>
    Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(input).pipe(
      Either.mapLeft((error) => new PlanInputError({ source, problems: problemsOf(error) }))
    )

/** Decodes a structured plan (`plan.json`). */
export const decodePlanInput = (input: unknown, source = "plan"): Either.Either<PlanInput, PlanInputError> =>
  decodeInput(PlanInput, source)(input)
