import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer } from "effect"
import { closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { driverDefectsAsFailures, storeErrorOf } from "./internal/storeFailure.js"
import { Store, StoreError } from "./Store.js"
import type { StoreService } from "./Store.js"
import { makeStoreSql } from "./StoreSql.js"

const sqliteHeader = "SQLite format 3\u0000"

/**
 * Files up to this size are checked whole at start (`PRAGMA quick_check`, about 1 ms per MB);
 * larger ones by their header, schema and each table's first pages, so that start-up stays
 * bounded however large the file grows.
 */
export const fullCheckMaxBytes = 32 * 1024 * 1024

/** The first 16 bytes of the file: only those say whether it is an SQLite database. */
const readHeader = (filename: string): string => {
  const fd = openSync(filename, "r")
  try {
    const header = Buffer.alloc(16)
    const read = readSync(fd, header, 0, 16, 0)
    return header.subarray(0, read).toString("latin1")
  } finally {
    closeSync(fd)
  }
}

/**
 * Refuses a file that exists and is not an SQLite database, before the driver touches it; its
 * size, for what to check once open. A directory that cannot be made is named with its cause.
 */
const checkFile = (filename: string, name: string) =>
  Effect.gen(function* () {
    const stat = yield* Effect.try({
      try: () => {
        mkdirSync(dirname(filename), { recursive: true })
        return statSync(filename, { throwIfNoEntry: false })
      },
      catch: storeErrorOf(name, `cannot create ${dirname(filename)}`)
    })
    if (stat === undefined || stat.size === 0) return 0
    const header = yield* Effect.try({
      try: () => readHeader(filename),
      catch: storeErrorOf(name, "cannot read the file")
    })
    if (header !== sqliteHeader)
      return yield* new StoreError({
        reason: "Corrupt",
        store: name,
        detail: "the file is not an SQLite database (corrupted, or another kind of file)"
      })
    return stat.size
  })

/**
 * Checks the file before anything writes to it, then sets the durability pragmas. A file up to
 * `fullCheckMaxBytes` is checked whole (`PRAGMA quick_check`: every page and b-tree); a larger
 * one by its schema and the first pages of each table, so that start-up does not grow with the
 * file (damage deeper in is met when read, as a `Corrupt` StoreError that stops the run with its
 * state as stored). Damage is refused here, at start, by name, and a damaged file is left as it was.
 *
 * WAL with `synchronous = FULL`: the WAL is synced at every commit, so a committed batch survives
 * a power loss or an OS crash as well as a crash of the process. NORMAL syncs only at checkpoints:
 * as safe against a process crash, but a power loss could take the commits since the last one,
 * and their atoms would be paid again on resume. Group commit keeps the cost to one sync per batch.
 */
const openChecked = (name: string, sizeBytes: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const fail = (doing: string) => (error: SqlError.SqlError) =>
      storeErrorOf(name, doing, { reason: "Unavailable", words: "the database cannot be opened" })(error)
    if (sizeBytes <= fullCheckMaxBytes) {
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
    } else {
      const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.pipe(
        Effect.mapError(fail("cannot read the database"))
      )
      for (const table of tables)
        yield* sql`SELECT * FROM ${sql(table.name)} LIMIT 1`.pipe(
          Effect.mapError(fail(`cannot read table ${table.name}`))
        )
    }
    yield* sql`PRAGMA journal_mode = WAL`.pipe(Effect.mapError(fail("cannot turn on WAL mode")))
    yield* sql`PRAGMA synchronous = FULL`.pipe(Effect.mapError(fail("cannot set synchronous = FULL")))
    const store = yield* makeStoreSql(name)
    return {
      ...store,
      inProcess: true,
      commit: (masterplanId, batch) => Effect.zipRight(yieldThread, store.commit(masterplanId, batch))
    } satisfies StoreService
  })

/**
 * better-sqlite3 runs a commit synchronously, holding the thread: the engine's next steps wait
 * for it and nothing is journaled meanwhile, so every commit carries one step's events. Letting
 * the event loop turn first lets the engine journal what it has ready, for the next commit.
 */
const yieldThread = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** The driver's client; it dies when it cannot open the file (a read-only directory): that fails here. */
const sqliteClient = (filename: string) =>
  Layer.scopedContext(
    Effect.map(driverDefectsAsFailures(SqliteClient.make({ filename, disableWAL: true })), (client) =>
      Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    )
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * The embedded store: one SQLite file (WAL mode), created with its parent directory if missing.
 * A file that is not SQLite, a damaged database, or an SQLite database that is not DevMatrix's is
 * refused by name.
 */
export const StoreSqlite = (filename: string): Layer.Layer<Store, StoreError> => {
  const name = `sqlite:${filename}`
  return Layer.unwrapScoped(
    Effect.map(checkFile(filename, name), (sizeBytes) =>
      Layer.effect(Store, openChecked(name, sizeBytes)).pipe(
        // WAL is turned on by `openChecked`, after the check: the driver's own `journal_mode`
        // pragma runs on open, outside the Effect error channel, and dies on a damaged file.
        Layer.provide(sqliteClient(filename)),
        Layer.catchAll((error) =>
          Layer.fail(
            error._tag === "StoreError" ? error : storeErrorOf(name, "cannot open the database")(error)
          )
        )
      )
    )
  )
}
