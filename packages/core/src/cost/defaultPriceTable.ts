import type { ModelPrice, PriceTable } from "./PriceTable.js"

// Prices in USD per million tokens, checked on 2026-12-01 against Anthropic's pricing page and the
// model overview pages (platform.claude.com/docs/en/about-claude/pricing, .../models/<model>/overview).
// Sonnet 5.5's cache read is $0.10: Anthropic cut it from $0.20 on 2026-10-07 (some overview
// snapshots still show the old rate). Opus 5.5, Sonnet 5.5, Haiku 5.5 and Fable 5.1 read the cache
// at 0.05x / 0.05x / 0.1x / 0.025x their input price: the multipliers are per model, not global.

const million = 1_000_000

const sonnet55: Omit<ModelPrice, "id"> = {
  inputPerMTok: 2,
  outputPerMTok: 10,
  cacheWrite5mPerMTok: 2.5,
  cacheWrite1hPerMTok: 4,
  cacheReadPerMTok: 0.1,
  batchDiscount: 0.5,
  contextWindow: million,
  maxOutputTokens: 128_000
}

/**
 * The built-in price table: the current Claude generations (Fable 5.1, Opus 5.5, Sonnet 5.5,
 * Haiku 5.5), the previous ones still offered (Opus 5 and 4.5, Sonnet 5 and 4.5, Haiku 4.5) with
 * their dated ids as aliases, and `scripted`, the offline model, priced as the current Sonnet so
 * that budgets and reports behave as they will with a real provider.
 */
export const defaultPriceTable: PriceTable = {
  checkedAt: "2026-12-01",
  source: "https://platform.claude.com/docs/en/about-claude/pricing",
  models: [
    {
      id: "claude-fable-5-1",
      inputPerMTok: 10,
      outputPerMTok: 50,
      cacheWrite5mPerMTok: 12.5,
      cacheWrite1hPerMTok: 20,
      cacheReadPerMTok: 0.25,
      batchDiscount: 0.5,
      contextWindow: million,
      maxOutputTokens: 128_000
    },
    {
      id: "claude-opus-5-5",
      inputPerMTok: 4,
      outputPerMTok: 20,
      cacheWrite5mPerMTok: 5,
      cacheWrite1hPerMTok: 8,
      cacheReadPerMTok: 0.2,
      batchDiscount: 0.5,
      contextWindow: million,
      maxOutputTokens: 128_000
    },
    {
      id: "claude-opus-5",
      inputPerMTok: 5,
      outputPerMTok: 25,
      cacheWrite5mPerMTok: 6.25,
      cacheWrite1hPerMTok: 10,
      cacheReadPerMTok: 0.5,
      batchDiscount: 0.5,
      contextWindow: million,
      maxOutputTokens: 128_000
    },
    {
      id: "claude-opus-4-5",
      aliases: ["claude-opus-4-5-20251101"],
      inputPerMTok: 5,
      outputPerMTok: 25,
      cacheWrite5mPerMTok: 6.25,
      cacheWrite1hPerMTok: 10,
      cacheReadPerMTok: 0.5,
      batchDiscount: 0.5,
      contextWindow: 200_000,
      maxOutputTokens: 64_000
    },
    { id: "claude-sonnet-5-5", ...sonnet55 },
    { id: "claude-sonnet-5", ...sonnet55, cacheReadPerMTok: 0.2 },
    {
      id: "claude-sonnet-4-5",
      aliases: ["claude-sonnet-4-5-20250929"],
      inputPerMTok: 3,
      outputPerMTok: 15,
      cacheWrite5mPerMTok: 3.75,
      cacheWrite1hPerMTok: 6,
      cacheReadPerMTok: 0.3,
      batchDiscount: 0.5,
      // 1M with the long-context beta; prompts above 200K tokens are billed at the long rates.
      contextWindow: million,
      maxOutputTokens: 64_000,
      longContext: {
        aboveInputTokens: 200_000,
        inputPerMTok: 6,
        outputPerMTok: 22.5,
        cacheWrite5mPerMTok: 7.5,
        cacheWrite1hPerMTok: 12,
        cacheReadPerMTok: 0.6
      }
    },
    {
      id: "claude-haiku-5-5",
      inputPerMTok: 0.1,
      outputPerMTok: 0.5,
      cacheWrite5mPerMTok: 0.125,
      cacheWrite1hPerMTok: 0.2,
      cacheReadPerMTok: 0.01,
      batchDiscount: 0.5,
      contextWindow: million,
      maxOutputTokens: 128_000,
      longContext: {
        aboveInputTokens: 100_000,
        inputPerMTok: 0.5,
        outputPerMTok: 2.5,
        cacheWrite5mPerMTok: 0.625,
        cacheWrite1hPerMTok: 1,
        cacheReadPerMTok: 0.05
      }
    },
    {
      id: "claude-haiku-4-5",
      aliases: ["claude-haiku-4-5-20251001"],
      inputPerMTok: 1,
      outputPerMTok: 5,
      cacheWrite5mPerMTok: 1.25,
      cacheWrite1hPerMTok: 2,
      cacheReadPerMTok: 0.1,
      batchDiscount: 0.5,
      contextWindow: 200_000,
      maxOutputTokens: 64_000
    },
    { id: "scripted", ...sonnet55 }
  ]
}
