import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
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

/** The driver's own words: better-sqlite3's message and code (`SQLITE_CORRUPT`, `SQLITE_NOTADB`...). */
const driverDetail = (error: SqlError.SqlError): { readonly text: string; readonly corrupt: boolean } => {
  const cause = error.cause as { message?: unknown; code?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : ""
  const text = typeof cause?.message === "string" ? cause.message : error.message
  return { text: code === "" ? text : `${text} (${code})`, corrupt: /^SQLITE_(CORRUPT|NOTADB)/.test(code) }
}

/**
 * Checks the whole file (`PRAGMA quick_check`: every page and b-tree, about 1 ms per MB) before
 * anything writes to it, then turns WAL mode on. Damage is refused here, at start, by name, rather
 * than met mid-run; and a damaged file is left as it was.
 */
const openChecked = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const fail = (doing: string) => (error: SqlError.SqlError) => {
      const { text, corrupt } = driverDetail(error)
      return new StoreError({
        reason: corrupt ? "Corrupt" : "Unavailable",
        store: name,
        detail: `${doing}: ${text}`,
        cause: error
      })
    }
    const rows = yield* sql<{ quick_check: string }>`PRAGMA quick_check`.pipe(
      Effect.mapError(fail("cannot read the database"))
    )
    // Rows read "ok", or list the damage: "*** in database main ***\nTree 3 page 3: ..." lines.
    const damage = rows
      .flatMap((row) => row.quick_check.split("\n"))
      .filter((line) => line !== "ok" && !line.startsWith("***"))
    if (damage.length > 0)
      return yield* new StoreError({
        reason: "Corrupt",
        store: name,
        detail: `the database is damaged (quick_check: ${damage.slice(0, 3).join("; ")}${damage.length > 3 ? "; ..." : ""})`
      })
    yield* sql`PRAGMA journal_mode = WAL`.pipe(Effect.mapError(fail("cannot turn on WAL mode")))
    return yield* makeStoreSql(name)
  })

/**
 * The embedded store: one SQLite file (WAL mode), created with its parent directory if missing.
 * A file that is not SQLite, a damaged database, or an SQLite database that is not DevMatrix's is
 * refused by name.
 */
export const StoreSqlite = (filename: string): Layer.Layer<Store, StoreError> => {
  const name = `sqlite:${filename}`
  return Layer.unwrapScoped(
    Effect.map(checkFile(filename, name), () =>
      Layer.effect(Store, openChecked(name)).pipe(
        // WAL is turned on by `openChecked`, after the check: the driver's own `journal_mode`
        // pragma runs on open, outside the Effect error channel, and dies on a damaged file.
        Layer.provide(SqliteClient.layer({ filename, disableWAL: true })),
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
