import { PgClient } from "@effect/sql-pg"
import { Duration, Layer, Redacted } from "effect"
import { Store, StoreError } from "./Store.js"
import { makeStoreSql } from "./StoreSql.js"

/** The URL without its password, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@")

/** The production store: PostgreSQL at any `postgres://` URL. An unreachable server fails the layer, naming it. */
export const StorePg = (url: string): Layer.Layer<Store, StoreError> => {
  const name = redactUrl(url)
  return Layer.effect(Store, makeStoreSql(name)).pipe(
    Layer.provide(
      PgClient.layer({ url: Redacted.make(url), connectTimeout: Duration.seconds(5), maxConnections: 5 })
    ),
    Layer.catchAll((error) =>
      Layer.fail(
        error._tag === "StoreError"
          ? error
          : new StoreError({
              reason: "Unavailable",
              store: name,
              // The driver's own words say which part is wrong: refused, unknown host, database or role.
              detail: `cannot connect: ${error.message}${error.cause instanceof Error && error.cause.message !== "" ? ` (${error.cause.message})` : ""}`,
              cause: error
            })
      )
    )
  )
}
