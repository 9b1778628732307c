/** What the L2 contract check needs to know about an atom. */
export interface AtomContract {
  /** Longest accepted output, in non-blank lines. */
  readonly maxLines: number
  /** Symbols the code must define. */
  readonly defines: ReadonlyArray<string>
}

// Markers are upper case on purpose: `Todo` is a fine type name, `TODO` is a promise of code.
const placeholder = /\b(TODO|FIXME|XXX)\b|^\s*(\.\.\.|pass)\s*$|not implemented/m

/**
 * The atom contract (validation level 2): the output is code of bounded size, defines what it must,
 * and is not a placeholder. Returns the problems found, each a sentence; none means it passed.
 */
export const checkAtomContract = (code: string, contract: AtomContract): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const lines = code.split("\n").filter((line) => line.trim() !== "").length
  if (lines === 0) problems.push("the output is empty")
  if (lines > contract.maxLines)
    problems.push(`the output has ${lines} lines, more than the ${contract.maxLines} allowed`)
  if (placeholder.test(code)) problems.push("the output contains a placeholder instead of code")
  for (const symbol of contract.defines) {
    if (!new RegExp(`\\b${symbol.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(code))
      problems.push(`the output does not define "${symbol}"`)
  }
  return problems
}
