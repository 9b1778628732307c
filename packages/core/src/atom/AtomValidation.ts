import { Schema } from "effect"

/**
 * A level of validation of a generated atom, each run only once the one before it passed:
 * `L1` syntax (the atom's code parses with no `ERROR` or `MISSING` node), `L2` its contract (line
 * budget, the symbols it must define, no placeholders), `L3` the module (every symbol it uses
 * resolves, and the file assembled from its context, its dependencies and itself parses).
 *
 * `L4` (system: acceptance tests generated from the requirements, and Gate S) is a later issue: it
 * judges a file or a plan rather than one atom, so it will be run by the Acceptance service after
 * an atom's L3 has passed, and added to this union as `"L4"` then.
 */
export const ValidationLevel = Schema.Literal("L1", "L2", "L3")
export type ValidationLevel = typeof ValidationLevel.Type

const Position = Schema.Number.pipe(Schema.int(), Schema.positive())

/**
 * One problem a level found, worded for both the model's retry prompt and the user
 * (`L1 syntax: missing "}" at 3:11`, `L3 module: uses formatDate, which nothing defines or imports`).
 */
export const ValidationProblem = Schema.Struct({
  level: ValidationLevel,
  /** The whole sentence, level and position included. */
  message: Schema.String,
  /** Where it is in the atom's code (1-based), when it has a place. */
  line: Schema.optional(Position),
  /** Its column (1-based, in UTF-16 code units). */
  column: Schema.optional(Position)
})
export type ValidationProblem = typeof ValidationProblem.Type

/**
 * What validating an atom found: the first level that failed with its problems, or `L3` with none
 * when every level passed.
 */
export const AtomValidation = Schema.Struct({
  level: ValidationLevel,
  problems: Schema.Array(ValidationProblem)
})
export type AtomValidation = typeof AtomValidation.Type

/** Whether every level passed. */
export const validationPassed = (validation: AtomValidation): boolean => validation.problems.length === 0
