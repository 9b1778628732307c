import { Layer } from "effect"
import type { Engine } from "./Engine.js"
import { EngineLive } from "./Engine.js"
import { ModelProviderScripted } from "./ModelProviderScripted.js"
import type { ScriptedModelOptions } from "./ModelProviderScripted.js"
import type { Store, StoreError } from "./Store.js"
import { defaultStoreUrl, storeFromUrl } from "./StoreLive.js"

/** How the embedded engine is put together. */
export interface EmbeddedOptions {
  /** The offline model's behaviour. @default {} */
  readonly scripted?: ScriptedModelOptions
  /** `memory:`, `sqlite:<path>` or `postgres://...`. @default "sqlite:.devmatrix/devmatrix.db" */
  readonly store?: string
}

/**
 * The engine with no services to run: the offline scripted model and an SQLite file (or the
 * store the URL names), with that `Store` too, for reading what the engine wrote. A store that cannot be opened fails the layer with a `StoreError` naming it.
 */
export const embeddedLayer = (options: EmbeddedOptions = {}): Layer.Layer<Engine | Store, StoreError> =>
  EngineLive.pipe(
    Layer.provide(ModelProviderScripted(options.scripted)),
    Layer.provideMerge(storeFromUrl(options.store ?? defaultStoreUrl))
  )
