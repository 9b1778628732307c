import { and, assign, emit, fromCallback, setup } from "xstate"
import type { ActorRefFrom } from "xstate"
import { checkAtomContract } from "../atom/checkAtomContract.js"
import type { ModelFailure } from "../retry/ModelFailure.js"
import type { EventBody } from "../schema/Event.js"
import { notProvided } from "./notProvided.js"

/** What an atom actor is created with. */
export interface AtomMachineInput {
  readonly atomId: string
  readonly wave: number
  /** Retries allowed after the first attempt (RetryPolicy.maxRetries). */
  readonly maxRetries: number
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

/**
 * How an attempt failed, as `callModel` reports it: the classified failure and, when the runtime's
 * retry schedule allows another attempt, how long to wait first.
 */
export interface AttemptFailure extends ModelFailure {
  readonly retryInMs?: number | undefined
}

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
  attempts: number
  interrupted: number
  /** Paid for all attempts so far, refused outputs included. */
  spentUsd: number
  priority: number
  result: ModelCallOutput | undefined
  problems: ReadonlyArray<string>
  failure: AttemptFailure | undefined
  outcome: AtomOutcome | undefined
  acceptedBy: "validation" | "review"
}

/** Refused output goes straight back to the model with the problems: no wait is needed. */
const validationFailure = (problems: ReadonlyArray<string>): AttemptFailure => ({
  reason: "validation",
  retryable: true,
  message: problems.join("; "),
  retryInMs: 0
})

const ref = (context: AtomContext) => ({ atomId: context.atomId, wave: context.wave })

/**
 * One atom: `pending -> ready -> queued -> running -> validating -> completed`, with `retrying`
 * (backoff, then back to `queued`), `review`, `failed`, `skipped`, `blocked` and `cancelled`.
 *
 * The engine decides admission (`ENQUEUE`, `START`); the machine decides everything else and says
 * so by emitting events, which the engine journals. The two side effects are named actors the
 * runtime provides: `callModel` (one attempt; on failure its retry schedule says whether and when
 * to try again) and `backoff` (that wait, on the runtime's clock).
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
    retriesLeft: ({ context }) => context.attempts - context.interrupted <= context.maxRetries,
    hasProblems: ({ context }) => context.problems.length > 0,
    /** The failure is retryable and the schedule gave a delay for the next attempt. */
    retryScheduled: ({ context }) =>
      context.failure?.retryable === true && context.failure.retryInMs !== undefined,
    lowConfidence: ({ context }) => (context.result?.confidence ?? 0) < context.reviewThreshold
  },
  actions: {
    settle: assign((_, outcome: AtomOutcome) => ({ outcome })),
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
    maxRetries: input.maxRetries,
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
        RESTORE_REVIEW: { target: "review", actions: assign({ result: ({ event }) => event.output }) }
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
    /** Transient: retry while the failure is retryable and retries are left, else fail. */
    attemptFailed: {
      always: [{ guard: and(["retryScheduled", "retriesLeft"]), target: "retrying" }, { target: "failed" }]
    },
    retrying: {
      entry: emit(({ context }) => ({
        type: "atom.retrying" as const,
        ...ref(context),
        attempt: context.attempts,
        reason: context.failure?.reason ?? "unknown",
        error: context.failure?.message ?? "unknown failure",
        delayMs: context.failure?.retryInMs ?? 0
      })),
      invoke: {
        src: "backoff",
        input: ({ context }) => ({ atomId: context.atomId, delayMs: context.failure?.retryInMs ?? 0 })
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
