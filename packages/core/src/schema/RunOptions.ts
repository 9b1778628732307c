import { Arbitrary, Schema } from "effect"
import { Budget } from "./Budget.js"
import { maxConcurrency } from "./inputLimits.js"
import { numberIn, PositiveDurationMs } from "./PlanNumber.js"
import { Id } from "./PlanText.js"
import { RetryPolicy } from "./RetryPolicy.js"

/** `eager` starts an atom as soon as its own dependencies completed; `waves` runs one wave at a time. */
export const ScheduleMode = Schema.Literal("eager", "waves")
export type ScheduleMode = typeof ScheduleMode.Type

/**
 * How the offline scripted model behaves for a plan (the CLI's `--seed`, `--latency-ms`,
 * `--fault-rate`): stored with the plan, so a resume in another process answers as the run began.
 */
export const ScriptedBehaviour = Schema.Struct({
  seed: Schema.optional(Schema.Int),
  latencyMs: Schema.optional(
    Schema.Union(
      PositiveDurationMs,
      Schema.Literal(0),
      Schema.Struct({ min: Schema.NonNegative, max: Schema.NonNegative })
    )
  ),
  faultRate: Schema.optional(numberIn(0, 1))
})
export type ScriptedBehaviour = typeof ScriptedBehaviour.Type

/** How a masterplan runs. Every field has a default (DESIGN.md §9), so `{}` is a valid value. */
export const RunOptions = Schema.Struct({
  /** @default "eager" */
  mode: Schema.optionalWith(ScheduleMode, { default: () => "eager" as const }),
  /**
   * The plan's own cap on its model calls in flight; the model's limit, shared by every plan of
   * the engine that uses it, may hold it lower. @default 100
   */
  concurrency: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, maxConcurrency)), {
    default: () => 100
  }),
  /**
   * A cap on the calls in flight of each wave of the plan, under the plan's `concurrency` (in eager
   * mode atoms of several waves run at once; this keeps one wave from taking them all). Absent: no
   * cap per wave.
   */
  waveConcurrency: Schema.optional(Schema.Int.pipe(Schema.between(1, maxConcurrency))),
  /**
   * The plan's weight in its model's shared limit: while plans of one engine wait for the same
   * model, each gets calls in proportion to its priority (2 gets twice what 1 gets). @default 1
   */
  priority: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 1 }),
  /** `scripted` (offline) or a provider model name. @default "scripted" */
  model: Schema.optionalWith(Id, { default: () => "scripted" }),
  /** A single model call is abandoned (and retried) after this long, at most a day. @default 120000 */
  callTimeoutMs: Schema.optionalWith(PositiveDurationMs, { default: () => 120_000 }),
  /**
   * How long an atom may hold a concurrency permit before it is reclaimed (its call abandoned, as a
   * timeout, through the atom's retries): a provider that never answers, or ignores its timeout,
   * cannot keep a permit forever. Absent: `callTimeoutMs` plus `permitLeaseMarginMs`.
   */
  permitLeaseMs: Schema.optional(PositiveDurationMs),
  /**
   * How long the provider may keep pushing an atom back (429s, 529s in a row) before a push back
   * counts against its retries; until then it waits in admission, behind the limiter, and loses
   * no attempt. @default 900000 (15 minutes)
   */
  maxThrottledMs: Schema.optionalWith(PositiveDurationMs, { default: () => 900_000 }),
  /** Atoms whose confidence is below this wait for a human review. @default 0.85 */
  reviewThreshold: Schema.optionalWith(numberIn(0, 1), { default: () => 0.85 }),
  /** Longest generated atom accepted, in lines of code. @default 40 */
  maxAtomLines: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 40 }),
  /**
   * Serve a call whose prompt was answered before from the prompt cache, at no cost (a re-run pays
   * only for what changed). @default true
   */
  promptCache: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** The scripted model's behaviour when it is the plan's model; what a process is told wins over it. */
  scripted: Schema.optional(ScriptedBehaviour),
  retry: Schema.optionalWith(RetryPolicy, { default: () => RetryPolicy.make({}) }),
  budget: Schema.optionalWith(Budget, { default: () => ({ hardUsd: 100 }) })
})
export type RunOptions = typeof RunOptions.Type
export type RunOptionsInput = typeof RunOptions.Encoded

/**
 * What a permit's lease adds to the call's timeout by default: the admission before the call (the
 * cost reservation, the prompt-cache lookup) and the commit of its cost after it run under the
 * same permit, and a store or a ledger may be slow.
 */
export const permitLeaseMarginMs = 30_000

/** How long an atom of a plan run with `options` may hold a permit: `permitLeaseMs`, else its default. */
export const permitLeaseMsOf = (options: Pick<RunOptions, "callTimeoutMs" | "permitLeaseMs">): number =>
  options.permitLeaseMs ?? options.callTimeoutMs + permitLeaseMarginMs

/**
 * Run options as a plan or a submission gives them: the types of `RunOptions` checked, the
 * defaults not filled in (they are resolved with those of the plan and of the process), the ranges
 * checked apart (`runOptionProblems`). Its property-test values (`Arbitrary.make`) are in range.
 */
export const RunOptionsAsGiven = Schema.encodedSchema(RunOptions).annotations({
  arbitrary: () => () => Arbitrary.make(RunOptions).map(Schema.encodeSync(RunOptions))
})
