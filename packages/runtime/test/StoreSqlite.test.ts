import { RunOptions } from "@devmatrix/core"
import { Store, StoreSqlite } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { storeSuite } from "./conformance/storeSuite.js"

const tempFile = () => join(mkdtempSync(join(tmpdir(), "devmatrix-sqlite-")), "store.db")

/** A DevMatrix database with one masterplan and its journal, written through the store and closed. */
const realDatabase = Effect.gen(function* () {
  const file = tempFile()
  const atoms = Array.from({ length: 30 }, (_, i) => `atom-${i}`)
  yield* Effect.flatMap(Store, (store) =>
    Effect.zipRight(
      store.createMasterplan({
        masterplan: {
          id: "p",
          name: "plan p",
          status: "submitted",
          options: RunOptions.make({}),
          atomCount: atoms.length,
          waveCount: 1,
          createdAt: 1_000
        },
        plan: { name: "plan p", atoms: atoms.map((id) => ({ id, instruction: `write ${id}` })) },
        atoms: atoms.map((atomId, index) => ({ atomId, index, wave: 0 }))
      }),
      store.commit("p", {
        events: [{ type: "masterplan.started", masterplanId: "p", seq: 1, at: 2_000 }],
        results: []
      })
    )
  ).pipe(Effect.provide(StoreSqlite(file)))
  // Closed cleanly: the WAL is checkpointed into the file and removed.
  assert.deepStrictEqual(readdirSync(dirname(file)), [basename(file)])
  return file
})

/** Overwrites `length` bytes at `offset` with one byte repeated. */
const overwrite = (file: string, offset: number, length: number, byte = 0xa5) => {
  const fd = openSync(file, "r+")
  writeSync(fd, Buffer.alloc(length, byte), 0, length, offset)
  closeSync(fd)
}

/** Opening the store fails with a `Corrupt` StoreError naming it, and leaves the file byte for byte as it was. */
const refusedUntouched = (file: string) =>
  Effect.gen(function* () {
    const before = readFileSync(file)
    const error = yield* Effect.flip(Layer.build(StoreSqlite(file)).pipe(Effect.scoped))
    assert.strictEqual(error._tag, "StoreError")
    assert.strictEqual(error.reason, "Corrupt")
    assert.include(error.message, `store sqlite:${file}: Corrupt: `)
    assert.isTrue(readFileSync(file).equals(before), "the file was changed")
    assert.deepStrictEqual(readdirSync(dirname(file)), [basename(file)])
    return error
  })

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

  it.effect("refuses a database with 4 KB overwritten at offset 100 (its first page), untouched", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      overwrite(file, 100, 4096)
      const error = yield* refusedUntouched(file)
      assert.include(error.message, "database disk image is malformed (SQLITE_CORRUPT)")
    })
  )

  it.effect("refuses a database truncated to 5000 bytes, untouched", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      assert.isAbove(readFileSync(file).length, 5000)
      truncateSync(file, 5000)
      const error = yield* refusedUntouched(file)
      assert.include(error.message, "database disk image is malformed (SQLITE_CORRUPT)")
    })
  )

  it.effect("finds damage in a table first read mid-run (the journal's) at start, untouched", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      const [events] = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ rootpage: number; page_size: number }>`SELECT rootpage, page_size
          FROM sqlite_master, pragma_page_size() WHERE name = 'dm_events'`
      ).pipe(Effect.provide(SqliteClient.layer({ filename: file, disableWAL: true })))
      overwrite(file, (events!.rootpage - 1) * events!.page_size, events!.page_size)
      yield* refusedUntouched(file)
    })
  )

  it.effect("names the damage quick_check lists", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      // The header's count of free pages (offset 36) says 5; the free list (offset 32) is empty.
      const fd = openSync(file, "r+")
      writeSync(fd, Buffer.from([0, 0, 0, 5]), 0, 4, 36)
      closeSync(fd)
      const error = yield* refusedUntouched(file)
      assert.strictEqual(
        error.detail,
        "the database is damaged (quick_check: Freelist: size is 0 but should be 5)"
      )
    })
  )

  it.effect("keeps the database in WAL mode", () =>
    Effect.gen(function* () {
      const file = tempFile()
      yield* Layer.build(StoreSqlite(file)).pipe(Effect.scoped)
      const [row] = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ journal_mode: string }>`PRAGMA journal_mode`
      ).pipe(Effect.provide(SqliteClient.layer({ filename: file, disableWAL: true })))
      assert.strictEqual(row?.journal_mode, "wal")
    })
  )
})
