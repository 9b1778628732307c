import { Cause, Option } from "effect"
import { ExitCode, UsageError } from "./exitCodes.js"
import type { Terminal } from "./followPlan.js"
import { oneLine, storeErrorIn } from "./storeFailure.js"

const inputErrors = new Set([
  "UsageError",
  "PlanInputError",
  "PlanGraphError",
  "MasterplanNotFound",
  "MasterplanNotResumable",
  "AtomNotInReview"
])

/**
 * Errors a user can act on are one clear line (exit 2 for bad input, 1 otherwise); a bug prints its
 * trace. A store's error is never a bug of ours to trace, even where it arrives as a defect.
 */
export const report = (cause: Cause.Cause<unknown>, terminal: Terminal): ExitCode => {
  const storeError = storeErrorIn(cause)
  if (Option.isSome(storeError)) {
    terminal.stderr.write(`devmatrix: ${oneLine(storeError.value.message)}\n`)
    return ExitCode.failed
  }
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    const tag =
      error instanceof UsageError
        ? "UsageError"
        : typeof error === "object" && error !== null && "_tag" in error
          ? String(error._tag)
          : ""
    terminal.stderr.write(`devmatrix: ${error instanceof Error ? error.message : String(error)}\n`)
    return inputErrors.has(tag) ? ExitCode.usage : ExitCode.failed
  }
  terminal.stderr.write(`devmatrix: internal error\n${Cause.pretty(cause)}\n`)
  return ExitCode.failed
}
