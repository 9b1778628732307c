/** USD per million tokens for a model family (DESIGN.md §9). */
export interface ModelPrice {
  readonly inputPerMTok: number
  readonly outputPerMTok: number
}

/** Tokens a call was billed for. Cache writes cost 1.25x input, cache reads 0.1x input. */
export interface TokenUsage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheWriteTokens?: number
  readonly cacheReadTokens?: number
}

const sonnet: ModelPrice = { inputPerMTok: 3, outputPerMTok: 15 }
const haiku: ModelPrice = { inputPerMTok: 0.8, outputPerMTok: 4 }
const opus: ModelPrice = { inputPerMTok: 15, outputPerMTok: 75 }

/**
 * The price of a model by its family name. The offline `scripted` model is priced as Sonnet so
 * that budgets and cost reports behave as they will with a real provider.
 */
export const priceOf = (model: string): ModelPrice => {
  const name = model.toLowerCase()
  if (name.includes("haiku")) return haiku
  if (name.includes("opus")) return opus
  return sonnet
}

/** The cost in USD of one call's usage. */
export const costOf = (model: string, usage: TokenUsage): number => {
  const price = priceOf(model)
  const input = usage.inputTokens + (usage.cacheWriteTokens ?? 0) * 1.25 + (usage.cacheReadTokens ?? 0) * 0.1
  return (input * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000
}
