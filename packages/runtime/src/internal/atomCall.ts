import {
  buildAtomPrompt,
  callClassOf,
  costOfUsage,
  estimateInputTokens,
  findModelPrice,
  worstCaseUsd
} from "@devmatrix/core"
import type {
  AtomSpec,
  AttemptFailure,
  EventBody,
  LedgerSignal,
  ModelCallOutput,
  ModelPrice,
  PriceTable,
  RateLimitSignal,
  RunOptions,
  TokenDemand
} from "@devmatrix/core"
import { Cause, Effect, Option } from "effect"
import type { BudgetExceeded, CostLedgerService } from "../CostLedger.js"
import type {
  ModelCallError,
  ModelProviderService,
  ModelRequest,
  ModelResponse,
  ModelUsage
} from "../ModelProvider.js"
import type { ScriptedModelRequest } from "../ModelProviderScripted.js"
import { promptCacheKey } from "../PromptCache.js"
import type { CallReport } from "../Scheduler.js"
import type { PromptCacheEntry, PromptCacheService, PromptCacheWrite } from "../PromptCache.js"

/** What a call was billed: the model, its usage and what that cost. */
export interface PaidCall {
  readonly model: string
  readonly usage: ModelUsage
  readonly costUsd: number
}

/** What the call step reports besides the answer: for the journal, the summary and the scheduler. */
interface CallFacts {
  /** What the call was billed, when it was (a billed failure too: `max_tokens`, `refusal`). */
  readonly paid?: PaidCall | undefined
  /** What admission reserved for it. */
  readonly reservedUsd: number
  /** What committing its cost raised (`soft_limit` once per crossing, `overrun`). */
  readonly signals: ReadonlyArray<LedgerSignal>
  /** The prompt cache answered: no call was made, `savedUsd` was not paid again. */
  readonly cacheHit?: { readonly savedUsd: number } | undefined
  /** What the provider's headers said about its rate limits. */
  readonly rateLimits?: RateLimitSignal | undefined
  /** Why the model stopped, for an answer it gave. */
  readonly stopReason?: ModelResponse["stopReason"] | undefined
}

/**
 * How one attempt at one atom ended, as data: the plan journals it and the atom's machine decides on
 * it. Nothing here changes the run's state.
 */
export type CallOutcome =
  | (CallFacts & { readonly _tag: "answered"; readonly output: ModelCallOutput })
  | (CallFacts & { readonly _tag: "failed"; readonly failure: AttemptFailure })

/** What one attempt is asked, beyond the atom itself. */
export interface AttemptRequest {
  readonly attempt: number
  readonly feedback: ReadonlyArray<string>
  readonly wave: number
  /** The accepted code of the atom's dependencies. */
  readonly dependencies: ModelRequest["dependencies"]
  /** The previous attempt ran out of output tokens: this one gets more. */
  readonly afterMaxTokens: boolean
}

/** A call admitted: its request, its cache key (when the cache is on), and the money held for it. */
export interface PreparedCall {
  readonly request: ScriptedModelRequest
  readonly cacheKey: string | undefined
  /** The ledger's id of the call: the atom and the attempt, so its cost is committed once. */
  readonly reservationId: string
  readonly reservedUsd: number
  /** What it may use of the model's token buckets: its input estimate and its `max_tokens`. */
  readonly demand: TokenDemand
}

/** Output tokens a single atom may use; atoms are about ten lines of code. */
export const maxTokensPerAtom = 2_048

/** The one retry after a `max_tokens` stop gets this many times the output tokens. */
const maxTokensGrowth = 2

/** The failure an attempt's Effect ended with; a defect is not retried. */
const failureOf = (cause: Cause.Cause<ModelCallError>): AttemptFailure =>
  Option.match(Cause.failureOption(cause), {
    onSome: (error) => error.failure,
    onNone: () => ({ reason: "unknown" as const, retryable: false, message: Cause.pretty(cause) })
  })

/** Cache-write tokens by lifetime, for a usage that only says how many were written. */
const usageForPricing = (usage: ModelUsage) => ({
  inputTokens: usage.inputTokens,
  outputTokens: usage.outputTokens,
  cacheWrite5mTokens: usage.cacheWrite5mTokens,
  cacheWrite1hTokens: usage.cacheWrite1hTokens,
  cacheWriteTokens: usage.cacheWriteTokens,
  cacheReadTokens: usage.cacheReadTokens
})

export interface AtomCallConfig {
  readonly masterplanId: string
  readonly provider: ModelProviderService
  readonly options: RunOptions
  readonly prices: PriceTable
  /** The plan's model's price (checked when the plan was submitted). */
  readonly price: ModelPrice
  readonly ledger: CostLedgerService
  readonly cache: PromptCacheService
}

/**
 * The model-call step of one plan: `prepare` builds an attempt's request and reserves its worst
 * case (admission); `call` looks the prompt up in the cache, makes the call (with its timeout,
 * applied by the provider), prices what was billed and commits it to the ledger, or gives the
 * reservation back. It never fails: a failed call is an outcome too, with what it cost when it was
 * billed anyway.
 */
export const makeAtomCall = (config: AtomCallConfig) => {
  const { masterplanId, provider, options, ledger, cache } = config
  // No cache to ask (`--no-cache`, or a layer that keeps nothing): no key is made.
  const cacheEnabled = options.promptCache && cache.name !== "none"

  const priceFor = (model: string): ModelPrice => findModelPrice(config.prices, model) ?? config.price

  const paidCall = (model: string, usage: ModelUsage): PaidCall => ({
    model,
    usage,
    costUsd: costOfUsage(priceFor(model), usageForPricing(usage))
  })

  /** Commits what a call cost; a ledger that refuses (a plan it no longer holds) loses no record: the journal has it. */
  const commit = (prepared: PreparedCall, paid: PaidCall) =>
    ledger.commit(masterplanId, prepared.reservationId, paid.costUsd).pipe(
      Effect.map((step) => step.signals),
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning(`cost ledger: ${error.message}`), [] as ReadonlyArray<LedgerSignal>)
      )
    )

  const release = (prepared: PreparedCall) =>
    Effect.ignore(ledger.release(masterplanId, prepared.reservationId))

  const prepare = (spec: AtomSpec, attempt: AttemptRequest): Effect.Effect<PreparedCall, BudgetExceeded> => {
    const maxTokens = attempt.afterMaxTokens
      ? Math.min(maxTokensPerAtom * maxTokensGrowth, config.price.maxOutputTokens)
      : maxTokensPerAtom
    const request: ScriptedModelRequest = {
      model: options.model,
      masterplanId,
      atomId: spec.id,
      attempt: attempt.attempt,
      language: spec.language,
      instruction: spec.instruction,
      defines: spec.defines,
      ...(spec.input !== undefined ? { input: spec.input } : {}),
      dependencies: attempt.dependencies,
      feedback: attempt.feedback,
      maxTokens,
      timeoutMs: options.callTimeoutMs,
      // The scripted model's per-atom instructions, only for a provider that reads them.
      ...(provider.acceptsSimulation === true && spec.simulate !== undefined
        ? { simulate: spec.simulate }
        : {}),
      // The scripted model's stored behaviour (seed, latency, faults): a resume answers as the run began.
      ...(provider.acceptsSimulation === true && options.scripted !== undefined
        ? { behaviour: options.scripted }
        : {})
    }
    const prompt = buildAtomPrompt(request)
    const system = prompt.system.map((block) => block.text)
    const messages = prompt.messages.flatMap((message) => message.content.map((block) => block.text))
    // Hashed only for a cache that will be asked: a sha256 of the prompt per call is not free.
    const cacheKey = cacheEnabled
      ? promptCacheKey({
          model: options.model,
          system: system.join("\n"),
          prompt: messages.join("\n"),
          maxTokens,
          provider: provider.name,
          // In the key itself, not only through the prompt: a provider of one's own may read it alone.
          input: spec.input,
          // What the scripted model is told to answer decides its answer as much as the prompt does.
          ...(request.simulate !== undefined ? { simulate: JSON.stringify(request.simulate) } : {})
        })
      : undefined
    const reservationId = `${spec.id}/${attempt.attempt}`
    const inputTokens = estimateInputTokens({ system, messages })
    const usd = worstCaseUsd(config.price, inputTokens, maxTokens)
    const demand = { inputTokens, outputTokens: maxTokens }
    return ledger.reserve(masterplanId, reservationId, usd, { wave: attempt.wave, atomId: spec.id }).pipe(
      Effect.catchTag("CostLedgerError", (error) => Effect.die(error)),
      Effect.as({ request, cacheKey, reservationId, reservedUsd: usd, demand })
    )
  }

  const fromCache = (prepared: PreparedCall) =>
    prepared.cacheKey !== undefined ? cache.get(prepared.cacheKey) : Effect.succeedNone

  /** A cached answer: no call is made, and the reservation is given back. */
  const answeredFromCache = (prepared: PreparedCall, entry: PromptCacheEntry): Effect.Effect<CallOutcome> =>
    Effect.as(release(prepared), {
      _tag: "answered" as const,
      reservedUsd: prepared.reservedUsd,
      signals: [],
      cacheHit: { savedUsd: entry.costUsd },
      output: {
        code: entry.text,
        confidence: entry.confidence ?? 1,
        model: entry.model,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0
      }
    })

  const answered = (prepared: PreparedCall, response: ModelResponse): Effect.Effect<CallOutcome> => {
    const paid = paidCall(response.model, response.usage)
    return Effect.map(commit(prepared, paid), (signals) => ({
      _tag: "answered" as const,
      paid,
      reservedUsd: prepared.reservedUsd,
      signals,
      rateLimits: response.rateLimits,
      stopReason: response.stopReason,
      output: {
        code: response.text,
        confidence: response.confidence ?? 1,
        model: paid.model,
        inputTokens: paid.usage.inputTokens,
        outputTokens: paid.usage.outputTokens,
        costUsd: paid.costUsd
      }
    }))
  }

  const failed = (prepared: PreparedCall, cause: Cause.Cause<ModelCallError>): Effect.Effect<CallOutcome> => {
    const error = Option.getOrUndefined(Cause.failureOption(cause))
    const billed = error?.billed
    const paid = billed === undefined ? undefined : paidCall(billed.model, billed.usage)
    let failure = failureOf(cause)
    // One retry with more output tokens: if that one runs out too, the atom fails.
    if (failure.reason === "max_tokens" && prepared.request.maxTokens > maxTokensPerAtom)
      failure = {
        ...failure,
        retryable: false,
        message: `${failure.message} (even with max_tokens ${prepared.request.maxTokens})`
      }
    const outcome = (signals: ReadonlyArray<LedgerSignal>): CallOutcome => ({
      _tag: "failed" as const,
      failure,
      paid,
      reservedUsd: prepared.reservedUsd,
      signals,
      rateLimits: error?.rateLimits
    })
    return paid === undefined
      ? Effect.as(release(prepared), outcome([]))
      : Effect.map(commit(prepared, paid), outcome)
  }

  // A pipeline, not a generator: it runs once per attempt of every atom.
  const call = (prepared: PreparedCall): Effect.Effect<CallOutcome> =>
    fromCache(prepared).pipe(
      Effect.flatMap((hit) =>
        Option.isSome(hit)
          ? answeredFromCache(prepared, hit.value)
          : Effect.matchCauseEffect(provider.generate(prepared.request), {
              onSuccess: (response) => answered(prepared, response),
              onFailure: (cause) => failed(prepared, cause)
            })
      ),
      Effect.onInterrupt(() => release(prepared))
    )

  return { prepare, call }
}

export type AtomCall = ReturnType<typeof makeAtomCall>

/**
 * How an attempt's outcome counts for the model's limiter: its class, the provider's rate-limit
 * signal (a `retry-after` the failure carried, when no headers did), and the tokens it used that
 * count against the buckets (input and cache writes, not cache reads; output).
 */
export const callReportOf = (outcome: CallOutcome, nowMs: number): CallReport => {
  const usage = outcome.paid?.usage
  const used =
    usage === undefined
      ? { inputTokens: 0, outputTokens: 0 }
      : { inputTokens: usage.inputTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens }
  if (outcome._tag === "answered")
    return {
      class: "success",
      rateLimits: outcome.rateLimits,
      used,
      reachedProvider: outcome.cacheHit === undefined
    }
  const retryAfterMs = outcome.failure.retryAfterMs
  return {
    class: callClassOf(outcome.failure.reason),
    rateLimits: outcome.rateLimits ?? (retryAfterMs === undefined ? undefined : { at: nowMs, retryAfterMs }),
    used,
    reachedProvider: true
  }
}

/**
 * What an attempt's outcome adds to the journal before the atom's own events: what it was billed
 * (`cost.updated`, with the plan's total after it), a soft-limit crossing, an answer from the cache.
 */
export const eventsOfOutcome = (
  outcome: CallOutcome,
  attempt: { readonly atomId: string; readonly wave: number; readonly attempt: number },
  totalUsdBefore: number
): ReadonlyArray<EventBody> => {
  const events: Array<EventBody> = []
  const paid = outcome.paid
  if (paid !== undefined)
    events.push({
      type: "cost.updated",
      atomId: attempt.atomId,
      attempt: attempt.attempt,
      model: paid.model,
      inputTokens: paid.usage.inputTokens,
      outputTokens: paid.usage.outputTokens,
      cacheWriteTokens: paid.usage.cacheWriteTokens,
      cacheReadTokens: paid.usage.cacheReadTokens,
      costUsd: paid.costUsd,
      totalUsd: totalUsdBefore + paid.costUsd,
      reservedUsd: outcome.reservedUsd
    })
  for (const signal of outcome.signals)
    if (signal.type === "soft_limit")
      events.push({ type: "cost.soft_limit", totalUsd: signal.totalUsd, limitUsd: signal.limitUsd })
  if (outcome.cacheHit !== undefined)
    events.push({ type: "cache.hit", ...attempt, savedUsd: outcome.cacheHit.savedUsd })
  return events
}

/**
 * What the prompt cache may keep of an answer, once its atom is accepted: a paid answer that ended
 * normally (not one served from the cache, not a cut or refused one).
 */
export const cacheWriteOf = (prepared: PreparedCall, outcome: CallOutcome): PromptCacheWrite | undefined => {
  if (
    prepared.cacheKey === undefined ||
    outcome._tag !== "answered" ||
    outcome.paid === undefined ||
    outcome.cacheHit !== undefined
  )
    return undefined
  const { output, paid, stopReason } = outcome
  if (stopReason !== "end_turn" && stopReason !== "stop_sequence") return undefined
  return {
    key: prepared.cacheKey,
    model: paid.model,
    text: output.code,
    stopReason,
    usage: {
      inputTokens: paid.usage.inputTokens,
      outputTokens: paid.usage.outputTokens,
      cacheWriteTokens: paid.usage.cacheWriteTokens,
      cacheReadTokens: paid.usage.cacheReadTokens
    },
    costUsd: paid.costUsd,
    confidence: output.confidence
  }
}
