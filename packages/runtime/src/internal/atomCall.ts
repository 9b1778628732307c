import { costOf } from "@devmatrix/core"
import type { AtomSpec, AttemptFailure, ModelCallOutput, RunOptions } from "@devmatrix/core"
import { Cause, Effect, Option } from "effect"
import type { ModelProviderService, ModelUsage } from "../ModelProvider.js"

/** What a call was billed: the model, its usage and what that cost. */
export interface PaidCall {
  readonly model: string
  readonly usage: ModelUsage
  readonly costUsd: number
}

/**
 * How one attempt at one atom ended, as data: the plan journals it and the atom's machine decides on
 * it. Nothing here changes the run's state.
 */
export type CallOutcome =
  | { readonly _tag: "answered"; readonly output: ModelCallOutput; readonly paid: PaidCall }
  | { readonly _tag: "failed"; readonly failure: AttemptFailure; readonly paid?: PaidCall | undefined }

/** What one attempt is asked, beyond the atom itself. */
export interface AttemptRequest {
  readonly atomId: string
  readonly attempt: number
  readonly feedback: ReadonlyArray<string>
}

/** Output tokens a single atom may use; atoms are about ten lines of code. */
export const maxTokensPerAtom = 2_048

/** The failure an attempt's Effect ended with; a defect is not retried. */
const failureOf = (cause: Cause.Cause<AttemptFailure>): AttemptFailure =>
  Option.getOrElse(Cause.failureOption(cause), () => ({
    reason: "unknown" as const,
    retryable: false,
    message: Cause.pretty(cause)
  }))

const paidCall = (model: string, usage: ModelUsage): PaidCall => ({
  model,
  usage,
  costUsd: costOf(model, usage)
})

/**
 * The model-call step of one plan: builds the provider's request for an attempt, makes the call (with
 * its timeout, applied by the provider) and prices what was billed. It never fails: a failed call is
 * an outcome too, with what it cost when it was billed anyway.
 */
export const makeAtomCall =
  (config: {
    readonly masterplanId: string
    readonly provider: ModelProviderService
    readonly options: RunOptions
  }) =>
  (spec: AtomSpec, attempt: AttemptRequest): Effect.Effect<CallOutcome> =>
    config.provider
      .generate({
        model: config.options.model,
        masterplanId: config.masterplanId,
        atomId: spec.id,
        attempt: attempt.attempt,
        language: spec.language,
        instruction: spec.instruction,
        defines: spec.defines,
        feedback: attempt.feedback,
        maxTokens: maxTokensPerAtom,
        timeoutMs: config.options.callTimeoutMs,
        simulate: spec.simulate
      })
      .pipe(
        Effect.map((response): CallOutcome => {
          const paid = paidCall(response.model, response.usage)
          return {
            _tag: "answered",
            paid,
            output: {
              code: response.text,
              confidence: response.confidence ?? 1,
              model: response.model,
              inputTokens: response.usage.inputTokens,
              outputTokens: response.usage.outputTokens,
              costUsd: paid.costUsd
            }
          }
        }),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.succeed<CallOutcome>({
                _tag: "failed",
                failure: failureOf(Cause.map(cause, (error) => error.failure))
              })
        )
      )
