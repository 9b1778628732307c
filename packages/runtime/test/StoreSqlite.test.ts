import { RunOptions } from "@devmatrix/core"
import { Engine, EngineLive, ModelProviderScripted, Store, StoreSqlite } from "@devmatrix/runtime"
import type { JournalBatch, StoreError } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { scaleAndReplaySuite, storeSuite } from "./conformance/storeSuite.js"
import { newMasterplan, readyEvents } from "./storeFixtures.js"
import { fillUp, withTmpfs } from "./tmpfs.js"

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
scaleAndReplaySuite("SQLite", () => StoreSqlite(tempFile()))

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

/** Makes a file unwritable, for root too (`chattr +i` where the file system has it); undoes it. */
const readOnlyFile = (file: string) => {
  try {
    execFileSync("chattr", ["+i", file], { stdio: "pipe" })
    return () => execFileSync("chattr", ["-i", file])
  } catch {
    chmodSync(file, 0o444)
    return () => chmodSync(file, 0o644)
  }
}

/** The store on `file`, open for the rest of the scope. */
const openStore = (file: string) => Effect.map(Layer.build(StoreSqlite(file)), Context.get(Store))

describe("StoreSqlite when the disk is full or the file is read-only", () => {
  it("a commit on a full disk fails as DiskFull naming the store; once space is freed the same commit lands", async () => {
    await withTmpfs(2, (dir) => {
      const file = join(dir, "store.db")
      return Effect.gen(function* () {
        const store = yield* openStore(file)
        yield* store.createMasterplan(newMasterplan("p", 3_000))
        const filler = fillUp(dir)
        const batch = { events: readyEvents("p", 1, 3_000), results: [] }
        const error = yield* Effect.flip(store.commit("p", batch))
        assert.strictEqual(error.reason, "DiskFull")
        assert.include(error.message, `store sqlite:${file}: DiskFull: disk is full: cannot commit to "p"`)
        assert.include(error.message, "SQLITE_FULL")
        // Nothing of the batch went in, and the connection is not left inside its transaction.
        assert.deepStrictEqual(yield* store.readEvents("p", 1), [])
        rmSync(filler)
        yield* store.commit("p", batch)
        assert.strictEqual((yield* store.readEvents("p", 1)).length, 3_000)
        assert.strictEqual(
          (yield* store.listAtoms("p")).filter((atom) => atom.status === "ready").length,
          3_000
        )
      }).pipe(Effect.scoped, Effect.runPromise)
    })
  })

  it("a new store on a full disk is refused at start as DiskFull, naming it", async () => {
    await withTmpfs(1, async (dir) => {
      fillUp(dir)
      const file = join(dir, "store.db")
      const error = await Effect.runPromise(Effect.flip(Layer.build(StoreSqlite(file)).pipe(Effect.scoped)))
      assert.strictEqual(error.reason, "DiskFull")
      assert.include(error.message, `store sqlite:${file}: DiskFull: disk is full`)
    })
  })

  it.effect("a commit to a read-only file fails as ReadOnly naming the store; reading goes on", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      const undo = readOnlyFile(file)
      yield* Effect.gen(function* () {
        const store = yield* openStore(file)
        const error = yield* Effect.flip(store.commit("p", { events: readyEvents("p", 2, 1), results: [] }))
        assert.strictEqual(error.reason, "ReadOnly")
        assert.include(error.message, `store sqlite:${file}: ReadOnly: the database is read-only`)
        assert.include(error.message, "SQLITE_READONLY")
        assert.strictEqual((yield* store.readEvents("p", 1)).length, 1)
      }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(undo)))
    })
  )
})

describe("StoreSqlite reading damaged rows", () => {
  it.effect(
    "an event or a masterplan whose stored JSON does not parse is Corrupt, naming the store, not a defect",
    () =>
      Effect.gen(function* () {
        const file = yield* realDatabase
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.zipRight(
            sql`UPDATE dm_events SET body = '{"type": "masterplan.sta' WHERE seq = 1`,
            sql`UPDATE dm_masterplans SET options = 'not json'`
          )
        ).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
        const store = yield* openStore(file)
        const events = yield* Effect.flip(store.readEvents("p", 1))
        assert.strictEqual(events.reason, "Corrupt")
        assert.include(
          events.message,
          `store sqlite:${file}: Corrupt: the database is damaged: an event of "p"`
        )
        const reads: ReadonlyArray<Effect.Effect<unknown, StoreError>> = [
          store.getMasterplan("p"),
          store.listMasterplans(),
          store.loadForRecovery("p")
        ]
        for (const read of reads) assert.strictEqual((yield* Effect.flip(read)).reason, "Corrupt")
      }).pipe(Effect.scoped)
  )
})

describe("StoreSqlite at scale", () => {
  it.effect("a commit updates the masterplan's row once (the row SQLite rewrites whole)", () =>
    Effect.gen(function* () {
      const file = tempFile()
      const store = yield* openStore(file)
      yield* store.createMasterplan(newMasterplan("p", 10))
      // Counted by a trigger, from a connection of its own.
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.zipRight(
          sql`CREATE TABLE dm_test_updates (n INTEGER NOT NULL)`,
          sql`CREATE TRIGGER dm_test_count AFTER UPDATE ON dm_masterplans BEGIN
                INSERT INTO dm_test_updates VALUES (1); END`
        )
      ).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      for (let i = 0; i < 5; i++)
        yield* store.commit("p", { events: readyEvents("p", 1 + i * 2, 2), results: [] })
      const [row] = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ n: number }>`SELECT COUNT(*) AS n FROM dm_test_updates`
      ).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      assert.strictEqual(row!.n, 5)
    }).pipe(Effect.scoped)
  )

  it.effect("a 3 GB file opens without being read whole, and works", () =>
    Effect.gen(function* () {
      const file = yield* realDatabase
      // Sparse: 3 GB long, a few KB on disk. Reading it whole would fail (over 2 GiB) or take seconds.
      truncateSync(file, 3 * 1024 ** 3)
      yield* Effect.gen(function* () {
        const store = yield* openStore(file)
        assert.strictEqual(Option.getOrThrow(yield* store.getMasterplan("p")).lastSeq, 1)
        yield* store.commit("p", { events: readyEvents("p", 2, 5), results: [] })
        assert.strictEqual((yield* store.readEvents("p", 1)).length, 6)
      }).pipe(Effect.scoped, Effect.ensuring(Effect.sync(() => rmSync(dirname(file), { recursive: true }))))
    })
  )

  it.effect(
    "a database of the previous layout (the plan in the masterplan's row) migrates, its plans readable",
    () =>
      Effect.gen(function* () {
        const file = yield* realDatabase
        const plan = yield* Effect.flatMap(Store, (store) => store.getMasterplan("p")).pipe(
          Effect.map((record) => Option.getOrThrow(record).plan),
          Effect.provide(StoreSqlite(file))
        )
        // Back to the layout of migration 0003.
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.all(
            [
              sql`ALTER TABLE dm_masterplans ADD COLUMN plan TEXT NOT NULL DEFAULT ''`,
              sql`UPDATE dm_masterplans SET plan = (SELECT plan FROM dm_plans WHERE masterplan_id = id)`,
              sql`DROP TABLE dm_plans`,
              // And without the later migrations' tables: the migrator runs only those after the newest it finds.
              sql`DROP TABLE dm_prompt_cache`,
              sql`ALTER TABLE dm_atoms DROP COLUMN throttled`,
              sql`ALTER TABLE dm_masterplans DROP COLUMN tenant`,
              sql`ALTER TABLE dm_atoms DROP COLUMN review_decision`,
              sql`ALTER TABLE dm_atoms DROP COLUMN review_reason`,
              sql`DELETE FROM dm_migrations WHERE migration_id >= 4`
            ],
            { discard: true }
          )
        ).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
        const migrated = yield* Effect.flatMap(Store, (store) => store.getMasterplan("p")).pipe(
          Effect.provide(StoreSqlite(file))
        )
        assert.deepStrictEqual(Option.getOrThrow(migrated).plan, plan)
        assert.strictEqual((plan as { atoms: Array<unknown> }).atoms.length, 30)
        const columns = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql<{ name: string }>`SELECT name FROM pragma_table_info('dm_masterplans')`
        ).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
        assert.notInclude(
          columns.map((c) => c.name),
          "plan"
        )
      })
  )
})

describe("StoreSqlite under the engine", () => {
  it.live(
    "a chain's commits carry many atoms each (the synchronous driver lets the engine journal first)",
    () =>
      Effect.gen(function* () {
        let commits = 0
        const counted = Layer.effect(
          Store,
          Effect.map(Store, (store) => ({
            ...store,
            commit: (id: string, batch: JournalBatch) =>
              Effect.zipRight(
                Effect.sync(() => commits++),
                store.commit(id, batch)
              )
          }))
        ).pipe(Layer.provide(StoreSqlite(tempFile())))
        const count = 300
        const end = yield* Effect.gen(function* () {
          const engine = yield* Engine
          const id = yield* engine.submit({
            name: "chain",
            options: { retry: { initialMs: 0 } },
            atoms: Array.from({ length: count }, (_, i) => ({
              id: `c${i}`,
              dependsOn: i === 0 ? [] : [`c${i - 1}`],
              instruction: "zero-work atom"
            }))
          })
          return yield* engine.result(id)
        }).pipe(
          Effect.provide(EngineLive.pipe(Layer.provide(ModelProviderScripted()), Layer.provide(counted)))
        )
        assert.strictEqual(end.summary.atoms.completed, count)
        // One commit per atom, each holding the thread, was 300 commits and more.
        assert.isBelow(commits, count / 3)
      }).pipe(Effect.scoped)
  )
})
