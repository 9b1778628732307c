import { and, assign, emit, fromCallback, setup } from "xstate"
import type { ActorRefFrom } from "xstate"
import { checkAtomContract } from "../atom/checkAtomContract.js"
import type { ModelFailure } from "../retry/ModelFailure.js"
import { retryDelayMs } from "../retry/retryDelayMs.js"
import type { RetryPolicy } from "../schema/RetryPolicy.js"
import type { EventBody } from "../schema/Event.js"
import { notProvided } from "./notProvided.js"

/** What an atom actor is created with. */
export interface AtomMachineInput {
  readonly atomId: string
  readonly wave: number
  /** When to retry: `maxRetries` bounds the retries, the rest shapes their delays (`retryDelayMs`). */
  readonly retry: RetryPolicy
  /** Draws the atom's jitter (with its id): the plan's id, so atoms of two plans do not retry in step. @default "" */
  readonly jitterSeed?: string
  /** Confidence below which the result waits for a review. */
  readonly reviewThreshold: number
  readonly maxLines: number
  readonly defines: ReadonlyArray<string>
  /** Attempts made by earlier processes (resume); numbering goes on from there. @default 0 */
  readonly attempts?: number
  /** Of those, attempts cut short by a crash or stop: they do not count against `maxRetries`. @default 0 */
  readonly interrupted?: number
}

/** What the `callModel` actor is asked: one attempt at one atom. */
export interface ModelCallInput {
  readonly atomId: string
  readonly attempt: number
  /** Why the previous attempt's output was refused, for the model to fix. */
  readonly feedback: ReadonlyArray<string>
}

/** What a successful model call hands back. */
export interface ModelCallOutput {
  readonly code: string
  readonly confidence: number
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
}

/** How an attempt failed, as `callModel` reports it: the classified failure, nothing decided. */
export type AttemptFailure = ModelFailure

/** What the `callModel` actor reports back to its atom. */
export type CallModelReport =
  | { readonly type: "CALL_SUCCEEDED"; readonly output: ModelCallOutput }
  | { readonly type: "CALL_FAILED"; readonly failure: AttemptFailure }

/** What the `backoff` actor reports back when the wait is over. */
export type BackoffReport = { readonly type: "BACKOFF_DONE" }

/** What the `backoff` actor is asked: wait this long before the next attempt. */
export interface BackoffInput {
  readonly atomId: string
  readonly delayMs: number
}

/** Commands the engine (and reviewers) send to an atom. */
export type AtomCommand =
  | { readonly type: "READY" }
  /** A restarted process puts back an atom that was waiting for its reviewer, with the output to review. */
  | { readonly type: "RESTORE_REVIEW"; readonly output: ModelCallOutput }
  /**
   * A restarted process puts back an atom whose backoff an earlier one began (and journaled), with
   * what is left of it; then it is queued with `priority`, as after any backoff.
   */
  | { readonly type: "RESTORE_BACKOFF"; readonly remainingMs: number; readonly priority: number }
  | { readonly type: "ENQUEUE"; readonly priority: number }
  | { readonly type: "START" }
  | { readonly type: "SKIP"; readonly becauseOf: string }
  | { readonly type: "BLOCK"; readonly reason: string }
  | { readonly type: "UNBLOCK" }
  | { readonly type: "APPROVE" }
  | { readonly type: "EDIT"; readonly code: string }
  | { readonly type: "REJECT"; readonly reason: string }
  | { readonly type: "CANCEL" }

/** How an atom actor ended; its `output`. */
export type AtomOutcome = "completed" | "failed" | "skipped" | "cancelled"

export interface AtomMachineOutput {
  readonly atomId: string
  readonly outcome: AtomOutcome
}

interface AtomContext extends AtomMachineInput {
  jitterSeed: string
  attempts: number
  interrupted: number
  /** Paid for all attempts so far, refused outputs included. */
  spentUsd: number
  priority: number
  result: ModelCallOutput | undefined
  problems: ReadonlyArray<string>
  failure: AttemptFailure | undefined
  /** The wait of the backoff under way (or the one before the attempt that runs). */
  backoffMs: number
  outcome: AtomOutcome | undefined
  acceptedBy: "validation" | "review"
}

/** Refused output goes back to the model with the problems (the schedule gives it no wait). */
const validationFailure = (problems: ReadonlyArray<string>): AttemptFailure => ({
  reason: "validation",
  retryable: true,
  message: problems.join("; ")
})

/** Failed attempts so far: the journal's attempts less those a crash or stop cut short. */
const failedAttempts = (context: AtomContext): number => context.attempts - context.interrupted

const ref = (context: AtomContext) => ({ atomId: context.atomId, wave: context.wave })

/**
 * One atom: `pending -> ready -> queued -> running -> validating -> completed`, with `retrying`
 * (backoff, then back to `queued`), `review`, `failed`, `skipped`, `blocked` and `cancelled`.
 *
 * The engine decides admission (`ENQUEUE`, `START`); the machine decides everything else and says
 * so by emitting events, which the engine journals. Whether a failed attempt is retried is decided
 * here alone, from what the journal holds (the failure, attempts less interrupted ones against
 * `maxRetries`); how long it waits first is the schedule's answer (`retryDelayMs`). The two side
 * effects are named actors the runtime provides: `callModel` (one attempt, reporting its outcome)
 * and `backoff` (the wait, on the runtime's clock).
 */
export const atomMachine = setup({
  types: {
    input: {} as AtomMachineInput,
    context: {} as AtomContext,
    events: {} as AtomCommand | CallModelReport | BackoffReport,
    emitted: {} as EventBody,
    output: {} as AtomMachineOutput
  },
  actors: {
    // Callback actors, not promise actors: a model call is an Effect fiber that reports its exit
    // (often synchronously, from a cache or the scripted model) without a promise per attempt.
    callModel: fromCallback<AtomCommand, ModelCallInput, CallModelReport>(notProvided("callModel")),
    backoff: fromCallback<AtomCommand, BackoffInput, BackoffReport>(notProvided("backoff"))
  },
  guards: {
    retriesLeft: ({ context }) => failedAttempts(context) <= context.retry.maxRetries,
    hasProblems: ({ context }) => context.problems.length > 0,
    retryable: ({ context }) => context.failure?.retryable === true,
    lowConfidence: ({ context }) => (context.result?.confidence ?? 0) < context.reviewThreshold
  },
  actions: {
    settle: assign((_, outcome: AtomOutcome) => ({ outcome })),
    /** The decision to retry: the schedule's delay for this failure, journaled with it. */
    scheduleRetry: assign({
      backoffMs: ({ context }) =>
        retryDelayMs(context.retry, {
          retry: failedAttempts(context),
          // Only after the `retryable` guard, which found a failure.
          failure: context.failure!,
          jitterKey: `${context.jitterSeed}/${context.atomId}`
        })
    }),
    emitRetrying: emit(({ context }) => ({
      type: "atom.retrying" as const,
      ...ref(context),
      attempt: context.attempts,
      reason: context.failure?.reason ?? "unknown",
      error: context.failure?.message ?? "unknown failure",
      delayMs: context.backoffMs
    })),
    emitFailed: emit(({ context }) => ({
      type: "atom.failed" as const,
      ...ref(context),
      reason: context.failure?.reason ?? "unknown",
      error: context.failure?.message ?? "unknown failure",
      attempts: context.attempts
    }))
  }
}).createMachine({
  id: "atom",
  // Fields listed, not spread from input: this runs once per atom and spreading is measurably slower.
  context: ({ input }) => ({
    atomId: input.atomId,
    wave: input.wave,
    retry: input.retry,
    jitterSeed: input.jitterSeed ?? "",
    reviewThreshold: input.reviewThreshold,
    maxLines: input.maxLines,
    defines: input.defines,
    attempts: input.attempts ?? 0,
    interrupted: input.interrupted ?? 0,
    spentUsd: 0,
    priority: 0,
    result: undefined,
    problems: [],
    failure: undefined,
    backoffMs: 0,
    outcome: undefined,
    acceptedBy: "validation"
  }),
  output: ({ context }) => ({ atomId: context.atomId, outcome: context.outcome ?? "cancelled" }),
  initial: "pending",
  on: { CANCEL: ".cancelled" },
  states: {
    pending: {
      on: {
        READY: "ready",
        SKIP: "skipped",
        RESTORE_REVIEW: { target: "review", actions: assign({ result: ({ event }) => event.output }) },
        // Its `atom.retrying` is in the journal already: the rest of the wait is not announced again.
        RESTORE_BACKOFF: {
          target: "retrying",
          actions: assign({
            backoffMs: ({ event }) => Math.max(0, event.remainingMs),
            priority: ({ event }) => event.priority
          })
        }
      }
    },
    ready: {
      entry: emit(({ context }) => ({ type: "atom.ready" as const, ...ref(context) })),
      on: {
        ENQUEUE: { target: "queued", actions: assign({ priority: ({ event }) => event.priority }) },
        SKIP: "skipped"
      }
    },
    queued: {
      entry: emit(({ context }) => ({
        type: "atom.queued" as const,
        ...ref(context),
        priority: context.priority
      })),
      on: {
        START: "running",
        BLOCK: "blocked"
      }
    },
    blocked: {
      entry: emit(({ context, event }) => ({
        type: "atom.blocked" as const,
        ...ref(context),
        reason: event.type === "BLOCK" ? event.reason : "blocked"
      })),
      on: { UNBLOCK: "queued" }
    },
    running: {
      entry: [
        assign({ attempts: ({ context }) => context.attempts + 1 }),
        emit(({ context }) => ({ type: "atom.started" as const, ...ref(context), attempt: context.attempts }))
      ],
      invoke: {
        src: "callModel",
        input: ({ context }) => ({
          atomId: context.atomId,
          attempt: context.attempts,
          feedback: context.failure?.reason === "validation" ? context.problems : []
        })
      },
      on: {
        CALL_SUCCEEDED: {
          target: "validating",
          actions: assign({
            result: ({ event }) => event.output,
            spentUsd: ({ context, event }) => context.spentUsd + event.output.costUsd,
            problems: ({ context, event }) =>
              checkAtomContract(event.output.code, { maxLines: context.maxLines, defines: context.defines })
          })
        },
        CALL_FAILED: { target: "attemptFailed", actions: assign({ failure: ({ event }) => event.failure }) }
      }
    },
    validating: {
      always: [
        {
          guard: "hasProblems",
          target: "attemptFailed",
          actions: assign({ failure: ({ context }) => validationFailure(context.problems) })
        },
        { guard: "lowConfidence", target: "review" },
        { target: "completed" }
      ]
    },
    /** Retry while the failure is retryable and retries are left, after the schedule's delay; else fail. */
    attemptFailed: {
      always: [
        {
          guard: and(["retryable", "retriesLeft"]),
          target: "retrying",
          actions: ["scheduleRetry", "emitRetrying"]
        },
        { target: "failed" }
      ]
    },
    /** The backoff: held by the machine, so a cancel or a stop ends it like any other state. */
    retrying: {
      invoke: {
        src: "backoff",
        input: ({ context }) => ({ atomId: context.atomId, delayMs: context.backoffMs })
      },
      on: { BACKOFF_DONE: "queued" }
    },
    review: {
      entry: emit(({ context }) => ({
        type: "atom.review" as const,
        ...ref(context),
        confidence: context.result?.confidence ?? 0
      })),
      on: {
        APPROVE: { target: "completed", actions: assign({ acceptedBy: "review" }) },
        EDIT: {
          target: "completed",
          actions: assign({
            acceptedBy: "review",
            result: ({ context, event }) =>
              context.result ? { ...context.result, code: event.code } : undefined
          })
        },
        REJECT: {
          target: "failed",
          actions: assign({
            failure: ({ event }) => ({ reason: "rejected", retryable: false, message: event.reason })
          })
        }
      }
    },
    completed: {
      type: "final",
      entry: [
        { type: "settle", params: "completed" },
        emit(({ context }) => ({
          type: "atom.completed" as const,
          ...ref(context),
          attempts: context.attempts,
          model: context.result?.model ?? "unknown",
          confidence: context.result?.confidence ?? 0,
          inputTokens: context.result?.inputTokens ?? 0,
          outputTokens: context.result?.outputTokens ?? 0,
          costUsd: context.spentUsd,
          acceptedBy: context.acceptedBy
        }))
      ]
    },
    failed: {
      type: "final",
      entry: [{ type: "settle", params: "failed" }, "emitFailed"]
    },
    skipped: {
      type: "final",
      entry: [
        { type: "settle", params: "skipped" },
        emit(({ context, event }) => ({
          type: "atom.skipped" as const,
          ...ref(context),
          becauseOf: event.type === "SKIP" ? event.becauseOf : "unknown"
        }))
      ]
    },
    cancelled: {
      type: "final",
      entry: [
        { type: "settle", params: "cancelled" },
        emit(({ context }) => ({ type: "atom.cancelled" as const, ...ref(context) }))
      ]
    }
  }
})

export type AtomMachine = typeof atomMachine
export type AtomActor = ActorRefFrom<AtomMachine>
