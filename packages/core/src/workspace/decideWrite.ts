/**
 * What writing a file does, given what is there:
 * - `create`: nothing is there; the file is written.
 * - `unchanged`: the same text is there; nothing is written (a write repeated after a resume).
 * - `replace`: other text is there and the caller said `overwrite`; the file is replaced.
 * - `refuse`: other text is there and the caller did not say `overwrite`.
 */
export type WriteDecision = "create" | "unchanged" | "replace" | "refuse"

/**
 * The one rule every workspace applies before writing: an existing file is never silently
 * replaced, and writing what is already there is a no-op, so writes are idempotent.
 *
 * @example
 * decideWrite(undefined, "a", false) // "create"
 * decideWrite("a", "a", false) // "unchanged"
 * decideWrite("b", "a", false) // "refuse"
 */
export const decideWrite = (existing: string | undefined, text: string, overwrite: boolean): WriteDecision =>
  existing === undefined ? "create" : existing === text ? "unchanged" : overwrite ? "replace" : "refuse"
