import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { mkdirSync, readFileSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { Store, StoreError } from "./Store.js"
import { makeStoreSql } from "./StoreSql.js"

const sqliteHeader = "SQLite format 3\u0000"

/** Refuses a file that exists and is not an SQLite database, before the driver touches it. */
const checkFile = (filename: string, name: string) =>
  Effect.try({
    try: () => {
      mkdirSync(dirname(filename), { recursive: true })
      const stat = statSync(filename, { throwIfNoEntry: false })
      if (stat === undefined || stat.size === 0) return
      const header = readFileSync(filename).subarray(0, 16).toString("latin1")
      if (header !== sqliteHeader)
        throw new Error("the file is not an SQLite database (corrupted, or another kind of file)")
    },
    catch: (cause) =>
      new StoreError({ reason: "Corrupt", store: name, detail: (cause as Error).message, cause })
  })

/**
 * The embedded store: one SQLite file (WAL mode), created with its parent directory if missing.
 * A file that is not SQLite, or an SQLite database that is not DevMatrix's, is refused by name.
 */
export const StoreSqlite = (filename: string): Layer.Layer<Store, StoreError> => {
  const name = `sqlite:${filename}`
  return Layer.unwrapScoped(
    Effect.map(checkFile(filename, name), () =>
      Layer.effect(Store, makeStoreSql(name)).pipe(
        Layer.provide(SqliteClient.layer({ filename })),
        Layer.catchAll((error) =>
          Layer.fail(
            error._tag === "StoreError"
              ? error
              : new StoreError({ reason: "Unavailable", store: name, detail: error.message, cause: error })
          )
        )
      )
    )
  )
}
