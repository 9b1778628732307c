import type { Language } from "../schema/Atom.js"
import type { JsonObject } from "../schema/AtomInput.js"

/** How long the provider keeps a cached prompt prefix: 5 minutes (the default) or 1 hour. */
export type CacheTtl = "5m" | "1h"

/** A text block of the Messages API, with the cache breakpoint the provider reads. */
export interface PromptTextBlock {
  readonly type: "text"
  readonly text: string
  readonly cache_control?: { readonly type: "ephemeral"; readonly ttl?: CacheTtl }
}

/** The system blocks and messages of one atom's request, in the Messages API's shape. */
export interface AtomPrompt {
  /** Stable across the atoms of a plan; its last block carries the cache breakpoint. */
  readonly system: Array<PromptTextBlock>
  readonly messages: Array<{ readonly role: "user"; readonly content: Array<PromptTextBlock> }>
}

/** What the prompt is built from: one attempt at one atom. */
export interface AtomPromptRequest {
  readonly atomId: string
  readonly language: Language
  readonly instruction: string
  /** Symbols the code must define, exactly these. */
  readonly defines: ReadonlyArray<string>
  /** The atom's payload (its `input`), shown to the model as compact JSON. */
  readonly input?: JsonObject | undefined
  /** The accepted code of the atoms this one depends on. */
  readonly dependencies: ReadonlyArray<{ readonly atomId: string; readonly code: string }>
  /** Why earlier attempts' outputs were refused, one problem per entry. */
  readonly feedback: ReadonlyArray<string>
}

/** How the prompt is shaped; the same for every atom of a plan, so the system prompt is too. */
export interface AtomPromptOptions {
  /** Longest answer asked for, in non-blank lines (the atom contract's limit). @default 10 */
  readonly maxLines?: number
  /** The cache breakpoint's lifetime; `1h` costs twice the input price to write, `5m` 1.25x. @default "5m" */
  readonly cacheTtl?: CacheTtl
}

/** The system prompt by line limit: one plan asks the same one for every atom, so it is built once. */
const systemTexts = new Map<number, string>()

const systemText = (maxLines: number): string => {
  let text = systemTexts.get(maxLines)
  if (text === undefined) systemTexts.set(maxLines, (text = systemTextFor(maxLines)))
  return text
}

const systemTextFor = (maxLines: number): string =>
  [
    "You write one small unit of code (an atom) of a larger program, for an automated build.",
    "",
    "Rules:",
    "- Write only the code: no explanation before or after it.",
    `- At most ${maxLines} non-blank lines.`,
    "- Define exactly the symbols named on the Define line, with those names, and export them where the language has exports.",
    "- No placeholders, no TODO or FIXME, no elided parts: the code must be complete as written.",
    "- Code given as already accepted is part of the program: use it, do not repeat or change it.",
    "",
    "Output format: a single fenced code block in the atom's language, or the raw code alone."
  ].join("\n")

const byAtomId = (a: { readonly atomId: string }, b: { readonly atomId: string }): number =>
  a.atomId < b.atomId ? -1 : a.atomId > b.atomId ? 1 : 0

const dependencyText = (dependencies: AtomPromptRequest["dependencies"]): string =>
  [
    "Code already accepted for the atoms this one depends on:",
    ...[...dependencies]
      .sort(byAtomId)
      .map(({ atomId, code }) => `\n// atom ${atomId}\n\`\`\`\n${code.trimEnd()}\n\`\`\``)
  ].join("\n")

const taskText = (request: AtomPromptRequest): string =>
  [
    request.instruction,
    "",
    `Atom: ${request.atomId}`,
    `Language: ${request.language}`,
    ...(request.defines.length > 0 ? [`Define: ${request.defines.join(", ")}`] : []),
    // Compact JSON is one line: a string's line breaks are escaped in it.
    ...(request.input !== undefined ? [`Input (JSON): ${JSON.stringify(request.input)}`] : []),
    ...(request.feedback.length > 0
      ? ["", ...request.feedback.map((problem) => `Your previous answer was refused: ${problem}`)]
      : [])
  ].join("\n")

/**
 * Builds one atom's Messages API prompt. The system prompt (role, rules, output format) depends
 * only on the options, so it is the same for every atom of a plan and its last block carries
 * `cache_control`: the provider caches it once (when it is longer than the model's minimum
 * cacheable length) and later atoms read it at the cache price. The user message holds the
 * dependencies' accepted code (ordered by atom id, so a re-run sends the same bytes), then the
 * instruction, the `Atom:` / `Language:` / `Define:` lines, the atom's `input` as compact JSON on
 * an `Input (JSON):` line, and one line per refused problem.
 *
 * @example
 * const prompt = buildAtomPrompt({
 *   atomId: "add", language: "typescript", instruction: "Add two numbers.",
 *   defines: ["add"], dependencies: [], feedback: []
 * })
 * // prompt.messages[0].content[0].text ends with "Atom: add\nLanguage: typescript\nDefine: add"
 */
export const buildAtomPrompt = (request: AtomPromptRequest, options: AtomPromptOptions = {}): AtomPrompt => {
  const cacheControl =
    options.cacheTtl === "1h"
      ? { type: "ephemeral" as const, ttl: "1h" as const }
      : { type: "ephemeral" as const }
  const content: Array<PromptTextBlock> = [
    ...(request.dependencies.length > 0
      ? [{ type: "text" as const, text: dependencyText(request.dependencies) }]
      : []),
    { type: "text", text: taskText(request) }
  ]
  return {
    system: [{ type: "text", text: systemText(options.maxLines ?? 10), cache_control: cacheControl }],
    messages: [{ role: "user", content }]
  }
}

const fenceLine = /^[ \t]*```/

/**
 * The code of a model's answer: the inside of its fenced code block when it has exactly one (text
 * around the block is dropped), else the answer as it is (raw code, or several blocks the
 * validator will judge).
 */
export const extractCode = (text: string): string => {
  const lines = text.split("\n")
  const fences = lines.flatMap((line, index) => (fenceLine.test(line) ? [index] : []))
  if (fences.length !== 2) return text
  const [open, close] = fences as [number, number]
  return `${lines.slice(open + 1, close).join("\n")}\n`
}
