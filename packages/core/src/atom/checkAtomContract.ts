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
  const words = wordsOf(code)
  for (const symbol of contract.defines) {
    if (!defines(code, words, symbol)) problems.push(`the output does not define "${symbol}"`)
  }
  return problems
}

// A word as `\b` delimits one: a run of ASCII letters, digits and `_`.
const word = /\w+/g
const oneWord = /^\w+$/

/** Every word of the code, found in one pass. */
const wordsOf = (code: string): ReadonlySet<string> => new Set(code.match(word))

/**
 * Whether the code has `symbol` as a whole word (`\bsymbol\b`). A symbol that is one word is
 * looked up among the code's words, so that checking many symbols stays linear in the code and
 * their number (100,000 defines, each searched for with a regex over code naming all of them,
 * took hours). Any other symbol (`a.b`, `$x`) is searched for with a regex, as before.
 */
const defines = (code: string, words: ReadonlySet<string>, symbol: string): boolean =>
  oneWord.test(symbol)
    ? words.has(symbol)
    : new RegExp(`\\b${symbol.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(code)
