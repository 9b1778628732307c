/** The process exit codes of `devmatrix` (DESIGN.md §10); scripts rely on them. */
export const ExitCode = {
  completed: 0,
  failed: 1,
  usage: 2,
  budgetPaused: 3,
  gateFailed: 4,
  interrupted: 130
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A command line that cannot be run as given: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}
