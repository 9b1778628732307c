import { defaultPriceTable } from "@devmatrix/core"
import type { PriceTable } from "@devmatrix/core"
import { Context, Layer } from "effect"

/**
 * The prices the engine bills calls at and reserves budgets with: a versioned table of models
 * (`PriceTable`). A model the table does not know is refused when a plan is submitted, never billed
 * at a guessed price.
 */
export class Prices extends Context.Tag("@devmatrix/runtime/Prices")<Prices, PriceTable>() {}

/** The table that ships with this build (`defaultPriceTable`, with the date it was checked). */
export const PricesDefault: Layer.Layer<Prices> = Layer.succeed(Prices, defaultPriceTable)

/** A table of one's own: the default merged with a configuration file's, say (`mergePriceTables`). */
export const pricesFrom = (table: PriceTable): Layer.Layer<Prices> => Layer.succeed(Prices, table)
