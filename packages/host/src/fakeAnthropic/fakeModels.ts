import { defaultPriceTable } from "@devmatrix/core"

/**
 * What the fake server must know of a model to refuse what the real API refuses: its names and its
 * limits. The shape is the subset of core's price-table entries that concerns limits, so that
 * table's `models` can be passed as they are.
 */
export interface FakeModel {
  readonly id: string
  /** Other names of the model, e.g. its dated id. */
  readonly aliases?: ReadonlyArray<string> | undefined
  /** The most prompt tokens a request may carry. */
  readonly contextWindow: number
  /** The largest `max_tokens` a request may ask for. */
  readonly maxOutputTokens: number
}

const claude = (id: string, dated: string, maxOutputTokens: number): FakeModel => ({
  id,
  aliases: [dated],
  contextWindow: 200_000,
  maxOutputTokens
})

/** Models the API still answers for that the price table no longer lists. */
const retiredModels: ReadonlyArray<FakeModel> = [
  claude("claude-opus-4-1", "claude-opus-4-1-20250805", 32_000),
  claude("claude-sonnet-4-0", "claude-sonnet-4-20250514", 64_000),
  claude("claude-opus-4-0", "claude-opus-4-20250514", 32_000)
]

/**
 * The models the server answers for when it is given none: every model of core's price table (the
 * current Claude models with their dated ids and limits, and the offline `scripted` model), so that
 * any model `devmatrix run --model` takes is one the server knows, and a few older ones.
 */
export const defaultFakeModels: ReadonlyArray<FakeModel> = [
  ...defaultPriceTable.models.map(({ id, aliases, contextWindow, maxOutputTokens }) => ({
    id,
    aliases,
    contextWindow,
    maxOutputTokens
  })),
  ...retiredModels
]

/** The model a request names, by id or alias; undefined when the server does not know it. */
export const findFakeModel = (models: ReadonlyArray<FakeModel>, name: string): FakeModel | undefined =>
  models.find((model) => model.id === name || (model.aliases ?? []).includes(name))
