import type { PriceTable } from "@devmatrix/core"
import { Layer } from "effect"
import { CostLedgerLocal } from "./CostLedger.js"
import type { Engine } from "./Engine.js"
import { EngineBase } from "./Engine.js"
import type { ModelProvider } from "./ModelProvider.js"
import type { AnthropicModelOptions } from "./ModelProviderAnthropic.js"
import { ModelProviderFor } from "./ModelProviderLive.js"
import type { ScriptedModelOptions } from "./ModelProviderScripted.js"
import { pricesFrom, PricesDefault } from "./Prices.js"
import { promptCacheFromOptions } from "./PromptCacheLive.js"
import type { PromptCacheChoice } from "./PromptCacheLive.js"
import { defaultSchedulerOptions, SchedulerLocal, SchedulerLocalWith } from "./Scheduler.js"
import type { SchedulerOptions } from "./Scheduler.js"
import type { Store, StoreError } from "./Store.js"
import { defaultStoreUrl, storeFromUrl } from "./StoreLive.js"

/** How the embedded engine is put together. */
export interface EmbeddedOptions {
  /**
   * The model provider: a layer of one's own; else each plan's model picks one, the offline scripted
   * model for `scripted` and the Anthropic Messages API (with `anthropic`'s key and base URL) for
   * Claude models. @default by model
   */
  readonly provider?: Layer.Layer<ModelProvider> | undefined
  /** How to reach the Messages API (`anthropicOptionsFromEnv`); absent: Claude models cannot be called. */
  readonly anthropic?: AnthropicModelOptions | undefined
  /** The offline model's behaviour, when it is the provider. @default {} */
  readonly scripted?: ScriptedModelOptions
  /** `memory:`, `sqlite:<path>` or `postgres://...`. @default "sqlite:.devmatrix/devmatrix.db" */
  readonly store?: string
  /** Where model answers are cached: the store (default), Redis (`redis`), or nowhere (`disabled`). */
  readonly promptCache?: PromptCacheChoice | undefined
  /** Prices to bill and budget with. @default defaultPriceTable */
  readonly prices?: PriceTable | undefined
  /**
   * The scheduler's options over `defaultSchedulerOptions`: tenants' caps, the admission queue's
   * bounds and wait, the herd guard, the models' limiters. @default defaultSchedulerOptions
   */
  readonly scheduler?: Partial<SchedulerOptions<unknown>> | undefined
}

const providerOf = (options: EmbeddedOptions): Layer.Layer<ModelProvider> =>
  options.provider ?? ModelProviderFor({ scripted: options.scripted, anthropic: options.anthropic })

/**
 * The engine with no services to run: the offline scripted model (or the provider given) and an
 * SQLite file (or the store the URL names), this process's scheduler and cost ledger, the prompt
 * cache in the store, and that `Store` too, for reading what the engine wrote. A store that cannot
 * be opened fails the layer with a `StoreError` naming it.
 */
export const embeddedLayer = (options: EmbeddedOptions = {}): Layer.Layer<Engine | Store, StoreError> =>
  EngineBase.pipe(
    Layer.provide(
      Layer.mergeAll(
        providerOf(options),
        options.scheduler === undefined
          ? SchedulerLocal
          : SchedulerLocalWith({ ...defaultSchedulerOptions, ...options.scheduler }),
        CostLedgerLocal,
        options.prices !== undefined ? pricesFrom(options.prices) : PricesDefault,
        promptCacheFromOptions(options.promptCache ?? {})
      )
    ),
    Layer.provideMerge(storeFromUrl(options.store ?? defaultStoreUrl))
  )
