import { Data, Either, Predicate, Schema } from "effect"
import { measureInput } from "./inputDepth.js"
import { maxInputDepth, maxReportedProblems, maxValuesSearched } from "./inputLimits.js"
import { PlanInput } from "./PlanInput.js"
import { RunOptions, type RunOptionsInput } from "./RunOptions.js"
import { referenceProblems } from "./planReferences.js"
import { pathOf, problemsOf } from "./problemsOf.js"
import type { InputProblem } from "./problemsOf.js"

export { problemsOf, type InputProblem } from "./problemsOf.js"

/**
 * An input (plan file, options, frame) that does not match its schema; `problems` names every
 * field at fault (or, for an input too big to search whole, the first: `onlyFirst`), the message
 * the first `maxReportedProblems` of them and how many more there are.
 */
export class PlanInputError extends Data.TaggedError("PlanInputError")<{
  readonly source: string
  readonly problems: ReadonlyArray<InputProblem>
  /** Only the first problem was looked for: the input has more than `maxValuesSearched` values. */
  readonly onlyFirst?: boolean
}> {
  override get message(): string {
    const shown = this.problems.slice(0, maxReportedProblems)
    const more = this.problems.length - shown.length
    return [
      `${this.source} is invalid:`,
      ...shown.map((p) => `  - ${p.path || "(root)"}: ${p.message}`),
      ...(more > 0 ? [`  … and ${more.toLocaleString("en-US")} more problem${more === 1 ? "" : "s"}`] : []),
      ...(this.onlyFirst === true
        ? [
            `  (only the first problem is looked for in an input of more than ${maxValuesSearched.toLocaleString("en-US")} values; there may be more)`
          ]
        : [])
    ].join("\n")
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

/**
 * Decodes with a schema, reporting every problem (not only the first) under the given source
 * name. A value nested deeper than `maxInputDepth` is refused before the schema sees it; in an
 * input of more than `maxValuesSearched` values only the first problem is looked for.
 */
export const decodeInput = <A, I>(
  schema: Schema.Schema<A, I>,
  source: string,
  options: DecodeInputOptions = {}
) => {
  const onExcessProperty = options.onExcessProperty ?? "ignore"
  // A valid input decodes alike either way; the first problem is found without the cost of all.
  const decodeFirst = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty })
  const decodeAll = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty })
  return (input: unknown): Either.Either<A, PlanInputError> => {
    const { tooDeepAt: deep, values } = measureInput(input, maxInputDepth)
    if (deep !== undefined)
      return Either.left(
        new PlanInputError({
          source,
          problems: [
            {
              path: pathOf(deep),
              message: `is nested too deep (more than ${maxInputDepth} levels of arrays and objects)`
            }
          ]
        })
      )
    const first = decodeFirst(input)
    if (Either.isRight(first)) return Either.right(first.right)
    if (values > maxValuesSearched)
      return Either.left(new PlanInputError({ source, problems: problemsOf(first.left), onlyFirst: true }))
    return decodeAll(input).pipe(
      Either.mapLeft((error) => new PlanInputError({ source, problems: problemsOf(error) }))
    )
  }
}

const decodeStrictPlan = (source: string) => decodeInput(PlanInput, source, { onExcessProperty: "error" })

const firstProblemStrict = { errors: "first", onExcessProperty: "error" } as const
const decodePlanWithoutAtoms = Schema.decodeUnknownEither(
  PlanInput.pipe(Schema.omit("atoms")),
  firstProblemStrict
)
const decodeAtoms = Schema.decodeUnknownEither(PlanInput.fields.atoms, firstProblemStrict)

/**
 * A plan of bounded depth decoded in two parts, its atoms apart from the rest, as the whole
 * schema decodes it; undefined if either part has a problem (the whole schema then says which).
 * The plan's defaults make its schema a transformation, whose decoded side would check every
 * atom a second time: a third of the cost of a plan of many atoms.
 */
const decodeValidPlanInParts = (input: unknown): PlanInput | undefined => {
  if (!Predicate.isRecord(input) || !Object.hasOwn(input, "atoms")) return undefined
  const { atoms, ...rest } = input
  const plan = decodePlanWithoutAtoms(rest)
  if (Either.isLeft(plan)) return undefined
  const decodedAtoms = decodeAtoms(atoms)
  if (Either.isLeft(decodedAtoms)) return undefined
  return { ...plan.right, atoms: decodedAtoms.right }
}

/**
 * Decodes a structured plan (`plan.json`). A field the plan schema does not know is a problem: in
 * an atom `{ "id": "b", "dependOn": ["a"] }` the misspelt `dependsOn` must not drop b's dependency.
 * So is an id that a part of the plan names and the plan does not have (`referenceProblems`).
 */
export const decodePlanInput = (
  input: unknown,
  source = "plan"
): Either.Either<PlanInput, PlanInputError> => {
  const valid =
    measureInput(input, maxInputDepth).tooDeepAt === undefined ? decodeValidPlanInParts(input) : undefined
  const decoded = valid !== undefined ? Either.right(valid) : decodeStrictPlan(source)(input)
  return Either.flatMap(decoded, (plan) => {
    const problems = planProblems(plan)
    return problems.length === 0 ? Either.right(plan) : Either.left(new PlanInputError({ source, problems }))
  })
}

const decodeOptions = decodeInput(RunOptions, "options")

/**
 * Run options as given (the schema of a plan or a submission checks their types only, keeping
 * them as given: defaults are filled in when they are resolved) out of their ranges, at paths
 * under `at`: options whose values cannot run (`callTimeoutMs: 1e309`) are not accepted.
 */
export const runOptionProblems = (
  options: RunOptionsInput | undefined,
  at: string
): ReadonlyArray<InputProblem> =>
  options === undefined
    ? []
    : Either.match(decodeOptions(options), {
        onLeft: (error) =>
          error.problems.map((p) => ({
            path: p.path === "" ? at : `${at}.${p.path}`,
            message: p.message
          })),
        onRight: () => []
      })

/**
 * What a plan that matches its schema can still have wrong: its `options` out of their ranges, and
 * ids that a part of the plan names and the plan does not have (`referenceProblems`).
 */
export const planProblems = (plan: PlanInput): ReadonlyArray<InputProblem> => [
  ...runOptionProblems(plan.options, "options"),
  ...referenceProblems(plan)
]
