import { StoreSqlite } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { storeSuite } from "./conformance/storeSuite.js"

const tempFile = () => join(mkdtempSync(join(tmpdir(), "devmatrix-sqlite-")), "store.db")

storeSuite("SQLite", () => StoreSqlite(tempFile()))

describe("StoreSqlite at start", () => {
  it.effect("refuses a file that is not an SQLite database, naming the store", () =>
    Effect.gen(function* () {
      const file = tempFile()
      writeFileSync(file, "this is a text file, not a database".repeat(10))
      const error = yield* Effect.flip(Layer.build(StoreSqlite(file)).pipe(Effect.scoped))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, `sqlite:${file}`)
      assert.include(error.message, "not an SQLite database")
    })
  )

  it.effect("refuses an SQLite database that belongs to another program, and leaves it untouched", () =>
    Effect.gen(function* () {
      const file = tempFile()
      const other = SqliteClient.layer({ filename: file })
      yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`CREATE TABLE invoices (id INTEGER PRIMARY KEY)`
      ).pipe(Effect.provide(other))
      const error = yield* Effect.flip(Layer.build(StoreSqlite(file)).pipe(Effect.scoped))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, "not a DevMatrix database")
      assert.include(error.message, "invoices")
      const tables = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
      ).pipe(Effect.provide(other))
      assert.deepStrictEqual(
        tables.map((t) => t.name),
        ["invoices"]
      )
    })
  )

  it.effect("creates the file and its directory when missing, and opens it again with its data", () =>
    Effect.gen(function* () {
      const file = join(tempFile(), "..", "nested", "dir", "store.db")
      yield* Layer.build(StoreSqlite(file)).pipe(Effect.scoped)
      yield* Layer.build(StoreSqlite(file)).pipe(Effect.scoped)
    })
  )
})
