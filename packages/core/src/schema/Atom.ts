import { Schema } from "effect"
import { AtomInput } from "./AtomInput.js"
import { maxListLength } from "./inputLimits.js"
import { DurationMs, numberIn } from "./PlanNumber.js"
import { FilePath, FreeText, Id, NonEmptyFreeText } from "./PlanText.js"

/** Languages the atomizer and validator understand. */
export const Language = Schema.Literal("typescript", "javascript", "python")
export type Language = typeof Language.Type

/** Every state of the atom machine; the last seven are terminal or waiting on someone. */
export const AtomStatus = Schema.Literal(
  "pending",
  "ready",
  "queued",
  "running",
  "retrying",
  "validating",
  "review",
  "completed",
  "failed",
  "skipped",
  "blocked",
  "cancelled"
)
export type AtomStatus = typeof AtomStatus.Type

/** Statuses an atom never leaves. */
export const terminalAtomStatuses: ReadonlySet<AtomStatus> = new Set([
  "completed",
  "failed",
  "skipped",
  "cancelled"
])

/**
 * `must have at most 10,000 entries, got 12,000`. (A refinement's message is also asked for
 * when what it refines fails, with a value that may be no array; it is not used then.)
 */
export const tooManyEntries =
  (max: number, what = "entries") =>
  (issue: { readonly actual: unknown }) =>
    `must have at most ${max.toLocaleString("en-US")} ${what}${Array.isArray(issue.actual) ? `, got ${issue.actual.length.toLocaleString("en-US")}` : ""}`

/** An array of at most `max` entries (`maxListLength` unless said). */
export const listOf = <A, I, R>(item: Schema.Schema<A, I, R>, max: number = maxListLength) =>
  Schema.Array(item).pipe(Schema.maxItems(max, { message: tooManyEntries(max) }))

/** The kinds of model failure the scripted model can be told to produce, in order, per attempt. */
export const SimulatedFault = Schema.Literal(
  "transient",
  "rate_limited",
  "overloaded",
  "server_error",
  "timeout",
  "non_retryable"
)
export type SimulatedFault = typeof SimulatedFault.Type

/** Behaviour the offline `scripted` model gives this atom; real providers ignore it. */
export const AtomSimulation = Schema.Struct({
  /** Faults returned by the first attempts, one per attempt, before a success. */
  faults: Schema.optionalWith(listOf(SimulatedFault), { default: () => [] }),
  /** Confidence reported for the generated code. */
  confidence: Schema.optional(numberIn(0, 1)),
  /** Exact output to return instead of generated code. */
  output: Schema.optional(FreeText),
  latencyMs: Schema.optional(DurationMs)
})
export type AtomSimulation = typeof AtomSimulation.Type

/** One atom as a plan gives it: what to generate and what it depends on. */
export const AtomSpec = Schema.Struct({
  id: Id,
  dependsOn: Schema.optionalWith(listOf(Id), { default: () => [] }),
  instruction: NonEmptyFreeText,
  language: Schema.optionalWith(Language, { default: () => "typescript" as const }),
  file: Schema.optional(FilePath),
  /** The task it implements: one of the plan's `tasks`. */
  taskId: Schema.optional(Id),
  /** Symbols the generated code must define (checked by validation). */
  defines: Schema.optionalWith(listOf(Id), { default: () => [] }),
  /** A JSON object the model provider receives with the atom's request (`ModelRequest.input`). */
  input: Schema.optional(AtomInput),
  simulate: Schema.optional(AtomSimulation)
})
export type AtomSpec = typeof AtomSpec.Type

/** What a finished model call produced for an atom. */
export const AtomResult = Schema.Struct({
  code: Schema.String,
  confidence: Schema.Number,
  model: Schema.String,
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  costUsd: Schema.NonNegative
})
export type AtomResult = typeof AtomResult.Type

/** The stored state of an atom within a masterplan. */
export const Atom = Schema.Struct({
  ...AtomSpec.fields,
  masterplanId: Schema.String,
  wave: Schema.NonNegativeInt,
  status: AtomStatus,
  attempts: Schema.NonNegativeInt,
  costUsd: Schema.NonNegative,
  result: Schema.optional(AtomResult),
  error: Schema.optional(Schema.String)
})
export type Atom = typeof Atom.Type
