import { assign, emit, fromCallback, setup } from "xstate"
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
  /** Its place in the ready queue (critical-path priority), reported when it is queued. @default 0 */
  readonly priority?: number
  readonly maxLines: number
  readonly defines: ReadonlyArray<string>
  /** Attempts made by earlier processes (resume); numbering goes on from there. @default 0 */
  readonly attempts?: number
  /** Of those, attempts cut short by a crash or stop: they do not count against `maxRetries`. @default 0 */
  readonly interrupted?: number
  /** Of those, attempts the provider pushed back (429, 529): they do not count either. @default 0 */
  readonly throttled?: number
  /**
   * How long the provider may keep pushing the atom back (429s and 529s in a row, from the first
   * one's end) before a push back counts as a failed attempt, like other transient failures.
   * @default 900000 (15 minutes)
   */
  readonly maxThrottledMs?: number
}

/** What one attempt at one atom is asked (the engine builds it from the machine's context when it starts). */
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

/** How an attempt failed, as the engine reports it: the classified failure, nothing decided. */
export type AttemptFailure = ModelFailure

/** What the engine reports back to the atom when the attempt it started has ended. */
export type CallModelReport =
  | { readonly type: "CALL_SUCCEEDED"; readonly output: ModelCallOutput }
  | {
      readonly type: "CALL_FAILED"
      readonly failure: AttemptFailure
      /** When the call ended, on the engine's clock: how long the provider has been pushing back. */
      readonly atMs?: number
    }

/** What the `backoff` actor reports back when the wait is over. */
export type BackoffReport = { readonly type: "BACKOFF_DONE" }

/** What the `backoff` actor is asked: wait this long before the next attempt. */
export interface BackoffInput {
  readonly atomId: string
  readonly delayMs: number
}

/** Commands the engine (and reviewers) send to an atom. */
export type AtomCommand =
  /** Its dependencies are done: it is ready, and queued for admission at once. */
  | { readonly type: "READY" }
  /** A restarted process puts back an atom that was waiting for its reviewer, with the output to review. */
  | { readonly type: "RESTORE_REVIEW"; readonly output: ModelCallOutput }
  /**
   * A restarted process puts back an atom whose reviewer decided while no process ran the plan:
   * its `atom.reviewed` is journaled already, so the decision is applied without being announced
   * again. `output` holds the code decided on (an edit's code, for `edit`).
   */
  | {
      readonly type: "RESTORE_REVIEWED"
      readonly output: ModelCallOutput
      readonly decision: "approve" | "edit" | "reject"
      readonly reason?: string | undefined
    }
  /**
   * A restarted process puts back an atom whose backoff an earlier one began (and journaled), with
   * what is left of it; then it is queued, as after any backoff.
   */
  | { readonly type: "RESTORE_BACKOFF"; readonly remainingMs: number }
  /** Admitted: the engine makes the attempt's call now and reports how it ended (`CallModelReport`). */
  | { readonly type: "START" }
  | { readonly type: "SKIP"; readonly becauseOf: string }
  | { readonly type: "BLOCK"; readonly reason: string }
  | { readonly type: "UNBLOCK" }
  /** A reviewer's decisions; `principal` names the reviewer in the audit trail (`atom.reviewed`). */
  | { readonly type: "APPROVE"; readonly principal?: string | undefined }
  | { readonly type: "EDIT"; readonly code: string; readonly principal?: string | undefined }
  | { readonly type: "REJECT"; readonly reason: string; readonly principal?: string | undefined }
  | { readonly type: "CANCEL" }

/** How an atom actor ended; its `output`. */
export type AtomOutcome = "completed" | "failed" | "skipped" | "cancelled"

export interface AtomMachineOutput {
  readonly atomId: string
  readonly outcome: AtomOutcome
}

/**
 * What an atom's machine holds. What it was created with stays in `spec`, one shared object: every
 * `assign` copies the context, and this keeps that copy to the fields that change.
 */
interface AtomContext {
  readonly spec: AtomSpecOfMachine
  attempts: number
  interrupted: number
  throttled: number
  /** When the provider's current run of push backs began (the first one's end), while it lasts. */
  throttledSinceMs: number | undefined
  /** Paid for all attempts so far, refused outputs included. */
  spentUsd: number
  result: ModelCallOutput | undefined
  problems: ReadonlyArray<string>
  failure: AttemptFailure | undefined
  /** The wait of the backoff under way (or the one before the attempt that runs). */
  backoffMs: number
  acceptedBy: "validation" | "review"
}

/** The machine's input with its defaults filled in. */
interface AtomSpecOfMachine extends AtomMachineInput {
  readonly jitterSeed: string
  readonly priority: number
  readonly maxThrottledMs: number
}

/** The default of `maxThrottledMs`: a provider that rate-limits an atom for 15 minutes is failing it. */
export const defaultMaxThrottledMs = 900_000

/** Refused output goes back to the model with the problems (the schedule gives it no wait). */
const validationFailure = (problems: ReadonlyArray<string>): AttemptFailure => ({
  reason: "validation",
  retryable: true,
  message: problems.join("; ")
})

/**
 * Failed attempts so far: the journal's attempts less those a crash or stop cut short and those the
 * provider pushed back.
 */
const failedAttempts = (context: AtomContext): number =>
  context.attempts - context.interrupted - context.throttled

/** A 429 (our rate limit) or a 529 (the provider's overload): the provider answered "not now". */
const isPushBack = (failure: AttemptFailure): boolean =>
  failure.retryable && (failure.reason === "rate_limited" || failure.reason === "overloaded")

/** Whether the failed call is a push back the atom waits out in admission, not a failed attempt. */
const pushedBack = (context: AtomContext, failure: AttemptFailure, atMs: number): boolean =>
  isPushBack(failure) &&
  (context.throttledSinceMs === undefined || atMs - context.throttledSinceMs <= context.spec.maxThrottledMs)

/** Whether `failure` is retried: it is retryable and the atom has retries left. */
const retriesFor = (context: AtomContext, failure: AttemptFailure | undefined): boolean =>
  failure?.retryable === true && failedAttempts(context) <= context.spec.retry.maxRetries

/** The schedule's wait before retrying `failure` (only asked once `retriesFor` said yes). */
const delayFor = (context: AtomContext, failure: AttemptFailure): number =>
  retryDelayMs(context.spec.retry, {
    retry: failedAttempts(context),
    failure,
    jitterKey: `${context.spec.jitterSeed}/${context.spec.atomId}`
  })

const problemsOf = (context: AtomContext, output: ModelCallOutput): ReadonlyArray<string> =>
  checkAtomContract(output.code, { maxLines: context.spec.maxLines, defines: context.spec.defines })

const ref = (context: AtomContext) => ({ atomId: context.spec.atomId, wave: context.spec.wave })

const queuedEvent = (context: AtomContext): EventBody => ({
  type: "atom.queued",
  ...ref(context),
  priority: context.spec.priority
})

/**
 * One atom: `pending -> queued -> running -> completed`, with `retrying` (backoff, then back to
 * `queued`), `review`, `failed`, `skipped`, `blocked` and `cancelled`.
 *
 * The engine decides admission (`START`) and makes the attempt's call; the machine decides
 * everything else and says so by emitting events, which the engine journals. Whether an output is
 * accepted (the L2 contract, the confidence) and whether a failed attempt is retried are decided
 * here alone, from what the journal holds (the failure, attempts less interrupted ones against
 * `maxRetries`); how long it waits first is the schedule's answer (`retryDelayMs`). The one side
 * effect it holds is the `backoff` actor (the wait, on the runtime's clock), and only after a failure.
 *
 * The path every atom takes is four commands and one `assign` per transition that changes
 * something: it runs once per atom of plans of 100,000, so the rare paths (a refused output, a
 * review) take a state of their own and the common one takes none.
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
    backoff: fromCallback<AtomCommand, BackoffInput, BackoffReport>(notProvided("backoff"))
  },
  guards: {
    /** The output passes the contract with the confidence to need no review: the common case. */
    accepted: ({ context, event }) =>
      event.type === "CALL_SUCCEEDED" &&
      event.output.confidence >= context.spec.reviewThreshold &&
      problemsOf(context, event.output).length === 0,
    pushedBack: ({ context, event }) =>
      event.type === "CALL_FAILED" && pushedBack(context, event.failure, event.atMs ?? 0),
    pushedBackUntilRetryAfter: ({ context, event }) =>
      event.type === "CALL_FAILED" &&
      (event.failure.retryAfterMs ?? 0) > 0 &&
      pushedBack(context, event.failure, event.atMs ?? 0),
    retried: ({ context, event }) => event.type === "CALL_FAILED" && retriesFor(context, event.failure),
    refusedAndRetried: ({ context }) => retriesFor(context, context.failure),
    hasProblems: ({ context }) => context.problems.length > 0,
    lowConfidence: ({ context }) => (context.result?.confidence ?? 0) < context.spec.reviewThreshold
  },
  actions: {
    emitQueued: emit(({ context }) => queuedEvent(context)),
    assignPushBack: assign(({ context, event }) =>
      event.type === "CALL_FAILED"
        ? {
            failure: event.failure,
            throttled: context.throttled + 1,
            throttledSinceMs: context.throttledSinceMs ?? event.atMs ?? 0,
            backoffMs: Math.ceil(event.failure.retryAfterMs ?? 0)
          }
        : {}
    ),
    emitThrottled: emit(({ context }) => ({
      type: "atom.throttled" as const,
      ...ref(context),
      attempt: context.attempts,
      reason: context.failure?.reason ?? "rate_limited",
      error: context.failure?.message ?? "pushed back by the provider",
      ...(context.failure?.retryAfterMs !== undefined ? { retryAfterMs: context.backoffMs } : {})
    })),
    emitRetrying: emit(({ context }) => ({
      type: "atom.retrying" as const,
      ...ref(context),
      attempt: context.attempts,
      reason: context.failure?.reason ?? "unknown",
      error: context.failure?.message ?? "unknown failure",
      delayMs: context.backoffMs
    })),
    /** What an approval or an edit means, live or restored: the reviewer accepted the atom. */
    acceptReviewed: assign({ acceptedBy: "review" as const }),
    /** What a rejection means, live or restored: the atom fails, not retried (the reviewer refused it). */
    rejectReviewed: assign({
      failure: ({ event }) => ({
        reason: "rejected",
        retryable: false,
        message:
          event.type === "REJECT" || event.type === "RESTORE_REVIEWED"
            ? (event.reason ?? "rejected")
            : "rejected"
      })
    }),
    /** The audit trail of a review: what was decided, and by whom. */
    emitReviewed: emit(({ context, event }) => ({
      type: "atom.reviewed" as const,
      ...ref(context),
      decision:
        event.type === "EDIT"
          ? ("edit" as const)
          : event.type === "REJECT"
            ? ("reject" as const)
            : ("approve" as const),
      ...(event.type === "REJECT" ? { reason: event.reason } : {}),
      ...("principal" in event && event.principal !== undefined ? { principal: event.principal } : {})
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
    spec: {
      atomId: input.atomId,
      wave: input.wave,
      retry: input.retry,
      jitterSeed: input.jitterSeed ?? "",
      reviewThreshold: input.reviewThreshold,
      priority: input.priority ?? 0,
      maxThrottledMs: input.maxThrottledMs ?? defaultMaxThrottledMs,
      maxLines: input.maxLines,
      defines: input.defines
    },
    attempts: input.attempts ?? 0,
    interrupted: input.interrupted ?? 0,
    throttled: input.throttled ?? 0,
    throttledSinceMs: undefined,
    spentUsd: 0,
    result: undefined,
    problems: [],
    failure: undefined,
    backoffMs: 0,
    acceptedBy: "validation"
  }),
  // Each final state says how the atom ended (`output`), so ending it assigns nothing.
  output: ({ context, event }) => ({
    atomId: context.spec.atomId,
    outcome: (event.output as { outcome?: AtomOutcome } | undefined)?.outcome ?? "cancelled"
  }),
  initial: "pending",
  on: { CANCEL: ".cancelled" },
  states: {
    pending: {
      on: {
        READY: {
          target: "queued",
          actions: [emit(({ context }) => ({ type: "atom.ready" as const, ...ref(context) })), "emitQueued"]
        },
        SKIP: "skipped",
        RESTORE_REVIEW: { target: "review", actions: assign({ result: ({ event }) => event.output }) },
        RESTORE_REVIEWED: [
          {
            guard: ({ event }) => event.decision === "reject",
            target: "failed",
            actions: [assign({ result: ({ event }) => event.output }), "rejectReviewed"]
          },
          {
            target: "completed",
            actions: [assign({ result: ({ event }) => event.output }), "acceptReviewed"]
          }
        ],
        // Its `atom.retrying` is in the journal already: the rest of the wait is not announced again.
        RESTORE_BACKOFF: {
          target: "retrying",
          actions: assign({ backoffMs: ({ event }) => Math.max(0, event.remainingMs) })
        }
      }
    },
    queued: {
      on: {
        START: {
          target: "running",
          actions: [
            assign({ attempts: ({ context }) => context.attempts + 1 }),
            emit(({ context }) => ({
              type: "atom.started" as const,
              ...ref(context),
              attempt: context.attempts
            }))
          ]
        },
        BLOCK: "blocked"
      }
    },
    blocked: {
      entry: emit(({ context, event }) => ({
        type: "atom.blocked" as const,
        ...ref(context),
        reason: event.type === "BLOCK" ? event.reason : "blocked"
      })),
      on: { UNBLOCK: { target: "queued", actions: "emitQueued" } }
    },
    running: {
      on: {
        CALL_SUCCEEDED: [
          {
            guard: "accepted",
            target: "completed",
            actions: assign(({ context, event }) => ({
              result: event.output,
              spentUsd: context.spentUsd + event.output.costUsd,
              throttledSinceMs: undefined
            }))
          },
          {
            target: "validating",
            actions: assign(({ context, event }) => ({
              result: event.output,
              spentUsd: context.spentUsd + event.output.costUsd,
              problems: problemsOf(context, event.output),
              throttledSinceMs: undefined
            }))
          }
        ],
        CALL_FAILED: [
          {
            // Back through admission, behind the limiter the push back slowed, once the provider's
            // `retry-after` (if it sent one) has passed: no wait of the schedule, no retry used up.
            guard: "pushedBackUntilRetryAfter",
            target: "retrying",
            actions: ["assignPushBack", "emitThrottled"]
          },
          {
            guard: "pushedBack",
            target: "queued",
            actions: ["assignPushBack", "emitThrottled", "emitQueued"]
          },
          {
            guard: "retried",
            target: "retrying",
            actions: [
              assign(({ context, event }) => ({
                failure: event.failure,
                backoffMs: delayFor(context, event.failure)
              })),
              "emitRetrying"
            ]
          },
          { target: "failed", actions: assign({ failure: ({ event }) => event.failure }) }
        ]
      }
    },
    /** An output that was not accepted at once: refused by the contract (retried), or for review. */
    validating: {
      always: [
        {
          guard: "hasProblems",
          target: "refused",
          actions: assign({ failure: ({ context }) => validationFailure(context.problems) })
        },
        { guard: "lowConfidence", target: "review" },
        { target: "completed" }
      ]
    },
    /** A refused output goes back to the model while retries are left; else the atom fails. */
    refused: {
      always: [
        {
          guard: "refusedAndRetried",
          target: "retrying",
          actions: [
            assign({ backoffMs: ({ context }) => delayFor(context, context.failure!) }),
            "emitRetrying"
          ]
        },
        { target: "failed" }
      ]
    },
    /** The backoff: held by the machine, so a cancel or a stop ends it like any other state. */
    retrying: {
      invoke: {
        src: "backoff",
        input: ({ context }) => ({ atomId: context.spec.atomId, delayMs: context.backoffMs })
      },
      on: { BACKOFF_DONE: { target: "queued", actions: "emitQueued" } }
    },
    review: {
      entry: emit(({ context }) => ({
        type: "atom.review" as const,
        ...ref(context),
        confidence: context.result?.confidence ?? 0
      })),
      on: {
        APPROVE: { target: "completed", actions: ["emitReviewed", "acceptReviewed"] },
        EDIT: {
          target: "completed",
          actions: [
            "emitReviewed",
            "acceptReviewed",
            assign({
              result: ({ context, event }) =>
                context.result ? { ...context.result, code: event.code } : undefined
            })
          ]
        },
        REJECT: { target: "failed", actions: ["emitReviewed", "rejectReviewed"] }
      }
    },
    completed: {
      type: "final",
      output: { outcome: "completed" },
      entry: emit(({ context }) => ({
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
    },
    failed: {
      type: "final",
      output: { outcome: "failed" },
      entry: "emitFailed"
    },
    skipped: {
      type: "final",
      output: { outcome: "skipped" },
      entry: emit(({ context, event }) => ({
        type: "atom.skipped" as const,
        ...ref(context),
        becauseOf: event.type === "SKIP" ? event.becauseOf : "unknown"
      }))
    },
    cancelled: {
      type: "final",
      output: { outcome: "cancelled" },
      entry: emit(({ context }) => ({ type: "atom.cancelled" as const, ...ref(context) }))
    }
  }
})

export type AtomMachine = typeof atomMachine
export type AtomActor = ActorRefFrom<AtomMachine>
