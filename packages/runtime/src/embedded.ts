import { Layer } from "effect"
import type { Engine } from "./Engine.js"
import { EngineLive } from "./Engine.js"
import { ModelProviderScripted } from "./ModelProviderScripted.js"
import type { ScriptedModelOptions } from "./ModelProviderScripted.js"
import { StoreMemory } from "./Store.js"

/** How the embedded engine is put together. */
export interface EmbeddedOptions {
  /** The offline model's behaviour. @default {} */
  readonly scripted?: ScriptedModelOptions
}

/**
 * The engine with no services to run: the offline scripted model and the in-memory store.
 * Durable stores and real providers are layers of their own.
 */
export const embeddedLayer = (options: EmbeddedOptions = {}): Layer.Layer<Engine> =>
  EngineLive.pipe(Layer.provide(ModelProviderScripted(options.scripted)), Layer.provide(StoreMemory))
