import type { Store, StoreError } from "@devmatrix/runtime"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"

/** The PostgreSQL the tests use: every machine here, CI's included, runs one. */
export const pgTestUrl = process.env["DEVMATRIX_TEST_PG"] ?? "postgres://postgres@127.0.0.1:5432/test"

const admin = PgClient.layer({ url: Redacted.make(pgTestUrl) })

/** A URL whose connections use the given schema. */
export const urlWithSchema = (schema: string) =>
  `${pgTestUrl}${pgTestUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`

/** A store layer in a schema of its own, created before and dropped after. */
export const withPgSchema = (
  layer: (url: string) => Layer.Layer<Store, StoreError>
): Layer.Layer<Store, StoreError> => {
  const schema = `dm_test_${randomUUID().replaceAll("-", "")}`
  const lifecycle = Effect.acquireRelease(
    Effect.flatMap(PgClient.PgClient, (sql) => sql`CREATE SCHEMA ${sql(schema)}`).pipe(
      Effect.provide(admin),
      Effect.orDie
    ),
    () =>
      Effect.flatMap(PgClient.PgClient, (sql) => sql`DROP SCHEMA ${sql(schema)} CASCADE`).pipe(
        Effect.provide(admin),
        Effect.ignore
      )
  )
  return Layer.unwrapScoped(Effect.as(lifecycle, layer(urlWithSchema(schema))))
}

/** Runs `body` with the URL of a schema of its own (for child processes too), created before and dropped after. */
export const inPgSchema = async <A>(body: (url: string) => Promise<A>): Promise<A> => {
  const schema = `dm_test_${randomUUID().replaceAll("-", "")}`
  const run = (statement: (sql: PgClient.PgClient) => Effect.Effect<unknown, unknown>) =>
    Effect.runPromise(Effect.flatMap(PgClient.PgClient, statement).pipe(Effect.provide(admin), Effect.orDie))
  await run((sql) => sql`CREATE SCHEMA ${sql(schema)}`)
  try {
    return await body(urlWithSchema(schema))
  } finally {
    await run((sql) => sql`DROP SCHEMA ${sql(schema)} CASCADE`)
  }
}
