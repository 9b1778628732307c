/** The process exit codes of `devmatrix` (DESIGN.md §10); scripts rely on them. */
export const ExitCode = {
  completed: 0,
  failed: 1,
  usage: 2,
  budgetPaused: 3,
  gateFailed: 4,
  /** The store could not be written: the run stopped with its state as stored; resume continues it. */
  storeFailed: 5,
  /**
   * Nothing of the plan can run until a reviewer decides: the state is saved; `devmatrix review`
   * decides, then resume continues it.
   */
  awaitingReview: 6,
  /** Ctrl-C, SIGTERM or SIGHUP (or a closed stdout): the state is saved; resume continues it. */
  interrupted: 130
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A command line that cannot be run as given: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}
