import { Either, Schema } from "effect"
import { decodeInput, PlanInputError } from "../schema/PlanInputError.js"
import { numberIn } from "../schema/PlanNumber.js"
import { isWholeNanosPerToken } from "./money.js"

/**
 * A price in USD per million tokens: from 0 to 10,000, to a tenth of a cent per million tokens
 * at most (a whole number of nano-dollars per token), so that costs add up exactly.
 */
export const UsdPerMTok = numberIn(0, 10_000).pipe(
  Schema.filter(
    (usd) =>
      isWholeNanosPerToken(usd) ||
      `expected at most 3 decimals (a whole number of nano-dollars per token), got ${String(usd)}`
  )
)

const TokenCount = numberIn(1, 100_000_000, { int: true })

/** The five token prices of a model, each in USD per million tokens. */
const tokenPrices = {
  inputPerMTok: UsdPerMTok,
  outputPerMTok: UsdPerMTok,
  /** Writing the prompt cache with the default 5-minute TTL. */
  cacheWrite5mPerMTok: UsdPerMTok,
  /** Writing the prompt cache with `ttl: "1h"`. */
  cacheWrite1hPerMTok: UsdPerMTok,
  /** Reading the prompt cache (a hit or a refresh); the multiplier differs per model. */
  cacheReadPerMTok: UsdPerMTok
}

/**
 * The prices a model charges instead when a request's prompt (input, cache writes and cache reads
 * together) is above `aboveInputTokens`: they then apply to every token of that request, output
 * included.
 */
export const LongContextPrice = Schema.Struct({ aboveInputTokens: TokenCount, ...tokenPrices })
export type LongContextPrice = typeof LongContextPrice.Type

/** One model of the price table: its id, the other names it answers to, prices and limits. */
export const ModelPrice = Schema.Struct({
  /** The model id as the API takes it (`claude-sonnet-5-5`). */
  id: Schema.NonEmptyTrimmedString,
  /** Other ids of the same model at the same price (dated snapshots). */
  aliases: Schema.optional(Schema.Array(Schema.NonEmptyTrimmedString)),
  ...tokenPrices,
  /** The share of the price paid on the Message Batches API. @default 0.5 */
  batchDiscount: Schema.optionalWith(numberIn(0, 1), { default: () => 0.5 }),
  /** Tokens of prompt plus output the model can take. */
  contextWindow: TokenCount,
  /** The most `max_tokens` the model accepts. */
  maxOutputTokens: TokenCount,
  longContext: Schema.optional(LongContextPrice)
})
export type ModelPrice = typeof ModelPrice.Type

/** The names a model answers to: its id, then its aliases. */
export const namesOf = (model: ModelPrice): ReadonlyArray<string> => [model.id, ...(model.aliases ?? [])]

const repeatedName = (models: ReadonlyArray<ModelPrice>): Schema.FilterIssue | undefined => {
  const seen = new Set<string>()
  for (const [i, model] of models.entries())
    for (const name of namesOf(model)) {
      if (seen.has(name)) return { path: [i, "id"], message: `the model name "${name}" is listed twice` }
      seen.add(name)
    }
  return undefined
}

/**
 * Prices of the models DevMatrix may call, as data: the date they were checked, where, and per
 * model its token prices (cache multipliers differ per model), batch discount, limits and
 * long-context prices. The default is `defaultPriceTable`; a configuration file overrides or adds
 * models (`mergePriceTables`).
 */
export const PriceTable = Schema.Struct({
  /** When the prices were checked, `YYYY-MM-DD`. */
  checkedAt: Schema.String.pipe(
    Schema.pattern(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, {
      message: () => "expected a date YYYY-MM-DD"
    })
  ),
  /** Where they were checked (a URL, or a note naming the pages). */
  source: Schema.NonEmptyTrimmedString,
  models: Schema.Array(ModelPrice).pipe(Schema.filter((models) => repeatedName(models)))
})
export type PriceTable = typeof PriceTable.Type

const decodeTable = decodeInput(PriceTable, "price table", { onExcessProperty: "error" })

/**
 * Decodes a price table from JSON text or an already parsed value. A problem names the field at
 * fault (`models[2].cacheReadPerMTok: expected a number from 0 to 10,000, got -1`); a field the
 * schema does not know is a problem, so that a misspelt price is not silently dropped.
 *
 * @example
 * const table = loadPriceTable(readFileSync("prices.json", "utf8"))
 * if (Either.isLeft(table)) console.error(table.left.message)
 */
export const loadPriceTable = (input: unknown): Either.Either<PriceTable, PlanInputError> => {
  if (typeof input !== "string") return decodeTable(input)
  let parsed: unknown
  try {
    parsed = JSON.parse(input)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(
      new PlanInputError({
        source: "price table",
        problems: [{ path: "", message: `is not JSON: ${reason}` }]
      })
    )
  }
  return decodeTable(parsed)
}

/**
 * `base` with the models of `override`: a model of `override` replaces every model of `base` that
 * shares a name with it (id or alias) and the others are added after; the date and source are the
 * override's, its prices being the latest word.
 */
export const mergePriceTables = (base: PriceTable, override: PriceTable): PriceTable => {
  const overridden = new Set(override.models.flatMap(namesOf))
  return {
    checkedAt: override.checkedAt,
    source: override.source,
    models: [
      ...base.models.filter((model) => !namesOf(model).some((n) => overridden.has(n))),
      ...override.models
    ]
  }
}

/** The price of a model by its id or one of its aliases; `undefined` for a model the table lacks. */
export const findModelPrice = (table: PriceTable, model: string): ModelPrice | undefined =>
  table.models.find((price) => price.id === model || (price.aliases?.includes(model) ?? false))

/** `unknown model "x": known models are a, b, c`: the refusal of a model the table lacks. */
export const unknownModelMessage = (table: PriceTable, model: string): string =>
  `unknown model ${JSON.stringify(model)}: known models are ${table.models.map((m) => m.id).join(", ")}`
