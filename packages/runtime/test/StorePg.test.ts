import { Store, StorePg } from "@devmatrix/runtime"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import { pgTestUrl, urlWithSchema, withPgSchema } from "./pgTestStore.js"
import { scaleAndReplaySuite, storeSuite } from "./conformance/storeSuite.js"
import { newMasterplan, readyEvents } from "./storeFixtures.js"

storeSuite("PostgreSQL", () => withPgSchema((url) => StorePg(url)))
scaleAndReplaySuite("PostgreSQL", () => withPgSchema((url) => StorePg(url)))

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

/** A store in a schema of its own, with an admin connection beside it that can hold locks and kill backends. */
const inSchema = <A, E>(
  body: (setup: {
    readonly store: Store["Type"]
    readonly admin: PgClient.PgClient
    readonly schema: string
    readonly url: string
  }) => Effect.Effect<A, E, Scope.Scope>
) =>
  Effect.gen(function* () {
    const admin = yield* PgClient.PgClient
    const schema = `dm_test_${randomUUID().replaceAll("-", "")}`
    yield* Effect.acquireRelease(admin`CREATE SCHEMA ${admin(schema)}`, () =>
      Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`)
    )
    const url = urlWithSchema(schema)
    const store = Context.get(yield* Layer.build(StorePg(url)), Store)
    return yield* body({ store, admin, schema, url })
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(pgTestUrl) })))

/**
 * Holds advisory lock `key` on a connection of its own; `kill` terminates the one backend waiting
 * for it (found by `pg_blocking_pids`, so never another test's), once it waits.
 */
const lockHolder = (admin: PgClient.PgClient, key: bigint) =>
  Effect.gen(function* () {
    const connection = yield* admin.reserve
    const run = (statement: string) => connection.executeUnprepared(statement, [], undefined)
    yield* run(`SELECT pg_advisory_lock(${key})`)
    const [{ pid }] = (yield* run("SELECT pg_backend_pid() AS pid")) as unknown as [{ pid: number }]
    const blocked = admin<{
      pid: number
    }>`SELECT pid FROM pg_stat_activity WHERE ${pid} = ANY(pg_blocking_pids(pid))`
    const kill = Effect.gen(function* () {
      const [victim] = yield* blocked.pipe(
        Effect.filterOrFail((rows) => rows.length > 0),
        Effect.retry(Schedule.spaced(Duration.millis(20)))
      )
      yield* admin`SELECT pg_terminate_backend(${victim!.pid})`
    })
    return { kill, release: Effect.asVoid(run(`SELECT pg_advisory_unlock(${key})`)) }
  })

/** The store's advisory lock key for a masterplan, as `lockMasterplan` takes it. */
const planLockKey = (admin: PgClient.PgClient, masterplanId: string) =>
  Effect.map(admin<{ key: string }>`SELECT hashtext(${masterplanId})::bigint AS key`, ([row]) =>
    BigInt(row!.key)
  )

describe("StorePg when the connection drops", () => {
  it.live(
    "a connection killed mid-transaction fails the commit as Unavailable (connection lost); the retry lands",
    () =>
      inSchema(({ store, admin, url }) =>
        Effect.gen(function* () {
          const id = `p-${randomUUID()}`
          yield* store.createMasterplan(newMasterplan(id, 3))
          const batch = { events: readyEvents(id, 1, 3), results: [] }
          // The commit waits inside its transaction for the plan's lock, which the admin holds.
          const holder = yield* lockHolder(admin, yield* planLockKey(admin, id))
          const commit = yield* Effect.fork(Effect.either(store.commit(id, batch)))
          yield* holder.kill
          const outcome = yield* Fiber.join(commit)
          assert.isTrue(Either.isLeft(outcome), "the commit succeeded")
          const error = Either.getLeft(outcome).pipe(Option.getOrThrow)
          assert.strictEqual(error.reason, "Unavailable")
          assert.include(error.message, `store ${url}: Unavailable: connection lost`)
          yield* holder.release
          yield* store.commit(id, batch)
          assert.deepStrictEqual(
            (yield* store.readEvents(id, 1)).map((e) => e.seq),
            [1, 2, 3]
          )
        })
      )
  )

  it.live(
    "a connection killed during COMMIT fails the commit as Unavailable, not a defect; the retry lands once",
    () =>
      inSchema(({ store, admin, schema }) =>
        Effect.gen(function* () {
          const id = `p-${randomUUID()}`
          yield* store.createMasterplan(newMasterplan(id, 3))
          // A deferred constraint trigger runs at COMMIT: it waits there for a lock the admin holds.
          const key = BigInt(Math.floor(Math.random() * 2 ** 40)) + 1n
          yield* admin.unsafe(`CREATE FUNCTION ${schema}.wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN PERFORM pg_advisory_xact_lock(${key}); RETURN NULL; END $$`)
          yield* admin.unsafe(`CREATE CONSTRAINT TRIGGER wait_at_commit AFTER INSERT ON ${schema}.dm_events
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${schema}.wait_at_commit()`)
          const holder = yield* lockHolder(admin, key)
          const batch = { events: readyEvents(id, 1, 2), results: [] }
          const commit = yield* Effect.fork(Effect.either(store.commit(id, batch)))
          yield* holder.kill
          const error = Either.getLeft(yield* Fiber.join(commit)).pipe(Option.getOrThrow)
          assert.strictEqual(error.reason, "Unavailable")
          assert.include(error.message, "connection lost")
          assert.include(error.message, `cannot commit to "${id}"`)
          yield* holder.release
          yield* store.commit(id, batch)
          // Committed again (or found there, had the first COMMIT landed): once either way.
          yield* store.commit(id, batch)
          assert.deepStrictEqual(
            (yield* store.readEvents(id, 1)).map((e) => e.seq),
            [1, 2]
          )
        })
      )
  )

  it.live("a read-only database (default_transaction_read_only) fails a commit as ReadOnly, naming it", () =>
    inSchema(({ store, url }) =>
      Effect.gen(function* () {
        const id = `p-${randomUUID()}`
        yield* store.createMasterplan(newMasterplan(id, 3))
        const readOnlyUrl = `${url}${encodeURIComponent(" -c default_transaction_read_only=on")}`
        const replica = Context.get(yield* Layer.build(StorePg(readOnlyUrl)), Store)
        const error = yield* Effect.flip(replica.commit(id, { events: readyEvents(id, 1, 1), results: [] }))
        assert.strictEqual(error.reason, "ReadOnly")
        assert.include(error.message, "ReadOnly: the database is read-only")
        assert.include(error.message, "read-only transaction")
        // Reading still works, and nothing was written.
        assert.deepStrictEqual(yield* replica.readEvents(id, 1), [])
      })
    )
  )
})
