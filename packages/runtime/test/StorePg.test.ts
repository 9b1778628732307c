import { Store, StorePg } from "@devmatrix/runtime"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { pgTestUrl, urlWithSchema, withPgSchema } from "./pgTestStore.js"
import { storeSuite } from "./conformance/storeSuite.js"

storeSuite("PostgreSQL", () => withPgSchema((url) => StorePg(url)))

describe("StorePg at start", () => {
  it.effect("an unreachable server fails the layer with a message naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(StorePg("postgres://nobody:secret@127.0.0.1:1/nowhere")).pipe(Effect.scoped)
      )
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.message, "postgres://nobody:***@127.0.0.1:1/nowhere")
      assert.notInclude(error.message, "secret")
    })
  )
  it.live("names the driver's reason when it cannot connect (refused, unknown database)", () =>
    Effect.gen(function* () {
      const refused = yield* Effect.flip(
        Layer.build(StorePg("postgres://postgres@127.0.0.1:1/test")).pipe(Effect.scoped)
      )
      assert.match(refused.message, /ECONNREFUSED/)
      const noDatabase = yield* Effect.flip(
        Layer.build(StorePg(pgTestUrl.replace(/\/[^/?]+(\?|$)/, "/dm_no_such_database$1"))).pipe(
          Effect.scoped
        )
      )
      assert.include(noDatabase.message, "dm_no_such_database")
    })
  )

  it.live("several processes starting at once on an empty database all find the whole schema", () =>
    Effect.gen(function* () {
      const schema = `dm_test_${randomUUID().replaceAll("-", "")}`
      const sql = yield* PgClient.PgClient
      yield* sql`CREATE SCHEMA ${sql(schema)}`
      const starts = yield* Effect.all(
        Array.from({ length: 6 }, () =>
          Effect.flatMap(Store, (store) => store.listMasterplans()).pipe(
            Effect.provide(StorePg(urlWithSchema(schema))),
            Effect.either
          )
        ),
        { concurrency: "unbounded" }
      ).pipe(Effect.ensuring(Effect.ignore(sql`DROP SCHEMA ${sql(schema)} CASCADE`)))
      assert.deepStrictEqual(
        starts.map((start) => (Either.isRight(start) ? "ok" : start.left.message)),
        Array.from({ length: 6 }, () => "ok")
      )
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(pgTestUrl) })), Effect.orDie)
  )
})
