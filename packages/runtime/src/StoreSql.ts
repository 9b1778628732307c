import type { CostCommit, Event, ReviewedRow } from "@devmatrix/core"
import { projectEvents } from "@devmatrix/core"
import { Migrator, SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { Duration, Effect, Exit, Option, Schedule } from "effect"
import { driverDefectsAsFailures, storeErrorOf } from "./internal/storeFailure.js"
import { latestMigrationId, storeMigrations } from "./internal/storeMigrations.js"
import {
  initialPhases,
  isReplay,
  journalGap,
  leaseLost,
  masterplanNotStored,
  nextPhaseRow,
  StoreError
} from "./Store.js"
import type {
  AtomRow,
  JournalBatch,
  LeaseOutcome,
  MasterplanRecord,
  PhaseRow,
  StoreService
} from "./Store.js"

/** Rows per multi-row statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const rowsPerStatement = 1_000

const chunks = <T>(items: ReadonlyArray<T>): Array<ReadonlyArray<T>> => {
  const out: Array<ReadonlyArray<T>> = []
  for (let i = 0; i < items.length; i += rowsPerStatement) out.push(items.slice(i, i + rowsPerStatement))
  return out
}

const pipelineOrder = initialPhases().map((row) => row.phase)

/** PostgreSQL returns BIGINT as a string; SQLite as a number. */
const num = (value: unknown): number => (typeof value === "string" ? Number(value) : (value as number))
const opt = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value)

interface MasterplanSqlRow {
  readonly id: string
  readonly name: string
  readonly status: MasterplanRecord["status"]
  readonly phase: string | null
  readonly options: string
  readonly plan?: string
  readonly atom_count: number
  readonly wave_count: number
  readonly created_at: number | string
  readonly updated_at: number | string
  readonly last_seq: number | string
  readonly lease_owner: string | null
  readonly lease_until: number | string | null
  readonly tenant: string | null
}

const toRecord = (row: MasterplanSqlRow) => ({
  id: row.id,
  name: row.name,
  status: row.status,
  ...(row.phase !== null ? { phase: row.phase as NonNullable<MasterplanRecord["phase"]> } : {}),
  options: JSON.parse(row.options) as MasterplanRecord["options"],
  atomCount: num(row.atom_count),
  waveCount: num(row.wave_count),
  createdAt: num(row.created_at),
  updatedAt: num(row.updated_at),
  lastSeq: num(row.last_seq),
  ...(row.tenant !== null ? { tenant: row.tenant } : {}),
  lease:
    row.lease_owner === null || row.lease_until === null
      ? undefined
      : { owner: row.lease_owner, untilMs: num(row.lease_until) }
})

/**
 * The store on an `@effect/sql` client: the same SQL for SQLite and PostgreSQL. Runs the
 * migrations (the `@effect/sql` migrator) when built. `name` says which store it is in errors.
 */
export const makeStoreSql = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** A driver error as a StoreError: its reason, the cause in plain words, then the database's own. */
    const failed = (doing: string) => storeErrorOf(name, doing)

    /** Stored JSON that does not parse is damage: a `Corrupt` StoreError naming it, not a defect. */
    const parsed = <A>(what: string, parse: () => A) =>
      Effect.try({
        try: parse,
        catch: (cause) =>
          new StoreError({
            reason: "Corrupt",
            store: name,
            detail: `the database is damaged: ${what} is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`,
            cause
          })
      })

    // An SQLite file is the store's alone: one with other tables and none of ours belongs to
    // another program, and is refused rather than written into. (A PostgreSQL database is shared.)
    const tablesNotOurs: Effect.Effect<Array<string>, SqlError.SqlError> = sql.onDialectOrElse({
      sqlite: () =>
        Effect.map(
          sql<{
            name: string
          }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
          (rows) => (rows.some((row) => row.name === "dm_migrations") ? [] : rows.map((row) => row.name))
        ),
      orElse: () => Effect.succeed<Array<string>>([])
    })
    const foreignTables = yield* tablesNotOurs.pipe(
      Effect.mapError(
        (error) =>
          new StoreError({
            reason: "Corrupt",
            store: name,
            detail: `cannot read the database: ${error.cause instanceof Error ? error.cause.message : error.message}`,
            cause: error
          })
      )
    )
    if (foreignTables.length > 0)
      return yield* new StoreError({
        reason: "Corrupt",
        store: name,
        detail: `not a DevMatrix database (it has other tables: ${foreignTables.slice(0, 5).join(", ")})`
      })

    // Several processes may start on a new database at once: the migrator lets one of them create
    // the schema and the others go on at once (or fail on a table created under them), so each
    // checks that the schema is all there, and tries again for a few seconds if it is not yet.
    const schemaReady = Effect.flatMap(
      sql<{ id: number | string | null }>`SELECT MAX(migration_id) AS id FROM dm_migrations`,
      ([row]) =>
        num(row?.id ?? 0) >= latestMigrationId
          ? Effect.void
          : Effect.fail(new Error("another process is still creating the schema"))
    )
    yield* Migrator.make({})({ loader: storeMigrations, table: "dm_migrations" }).pipe(
      Effect.zipRight(schemaReady),
      // The migrator's transaction dies when its COMMIT fails (a full disk, a lost connection).
      driverDefectsAsFailures,
      Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(50)))),
      Effect.mapError((error) =>
        "_tag" in error && error._tag === "SqlError"
          ? storeErrorOf(name, "cannot prepare the schema", {
              reason: "Corrupt",
              words: "the schema cannot be prepared"
            })(error)
          : new StoreError({
              reason: "Corrupt",
              store: name,
              detail: `cannot prepare the schema (${error.message}${"cause" in error && error.cause instanceof Error ? `: ${error.cause.message}` : ""})`,
              cause: error
            })
      )
    )

    /**
     * A transaction whose COMMIT and ROLLBACK failures are failures, not defects (as they are in
     * `sql.withTransaction`). After a failed COMMIT it rolls back: SQLite keeps the transaction
     * open on SQLITE_BUSY, and its one connection would run every later statement inside it. On
     * SQLite it begins IMMEDIATE, taking the file's write lock before it reads (waiting out other
     * writers), where a read first could find its snapshot outdated by another process's commit
     * and fail at once (SQLITE_BUSY_SNAPSHOT).
     */
    const begin = sql.onDialectOrElse({ sqlite: () => "BEGIN IMMEDIATE", orElse: () => "BEGIN" })
    const transaction = <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.scoped(
          Effect.gen(function* () {
            const connection = yield* sql.reserve
            const run = (statement: string) => connection.execute(statement, [], undefined)
            yield* run(begin)
            const exit = yield* Effect.exit(
              restore(body).pipe(Effect.provideService(SqlClient.TransactionConnection, [connection, 0]))
            )
            if (Exit.isSuccess(exit))
              return yield* run("COMMIT").pipe(
                Effect.tapError(() => Effect.ignore(run("ROLLBACK"))),
                Effect.as(exit.value)
              )
            // The body's failure says why. A ROLLBACK that fails too adds nothing: the connection
            // is gone (the server rolled back), or SQLite rolled back itself (SQLITE_FULL).
            yield* Effect.ignore(run("ROLLBACK"))
            return yield* exit
          })
        )
      )

    /**
     * Serializes transactions on one masterplan. On PostgreSQL a transaction-scoped advisory lock:
     * a recovering process waits until the commit of a killed owner (still running on the server)
     * has landed or rolled back. On SQLite the transaction holds the file's write lock already
     * (BEGIN IMMEDIATE), so the masterplan's row is written once per commit, at its end.
     */
    const lockMasterplan = (masterplanId: string) =>
      sql.onDialectOrElse({
        pg: () => Effect.asVoid(sql`SELECT pg_advisory_xact_lock(hashtext(${masterplanId}))`),
        orElse: () => Effect.void
      })

    /** Why a batch could not move the journal on: a replay of what it holds (not a failure), or the conflict. */
    const refusal = (masterplanId: string, { events, leaseOwner }: JournalBatch) =>
      Effect.gen(function* () {
        const [head] = yield* sql<{ last_seq: number | string; lease_owner: string | null }>`
          SELECT last_seq, lease_owner FROM dm_masterplans WHERE id = ${masterplanId}`
        if (head === undefined) return yield* masterplanNotStored(name, masterplanId)
        if (leaseOwner !== undefined && head.lease_owner !== leaseOwner)
          return yield* leaseLost(name, masterplanId, head.lease_owner ?? undefined)
        const lastSeq = num(head.last_seq)
        const first = events[0]!.seq
        const last = events[events.length - 1]!.seq
        const stored =
          first <= lastSeq && last <= lastSeq
            ? yield* sql<{ body: string }>`SELECT body FROM dm_events WHERE masterplan_id = ${masterplanId}
                AND seq >= ${first} AND seq <= ${last} ORDER BY seq`
            : []
        if (
          !isReplay(
            events,
            stored.map((row) => row.body)
          )
        )
          return yield* journalGap(name, masterplanId, first, lastSeq)
      })

    const commitIn = (masterplanId: string, batch: JournalBatch) =>
      Effect.gen(function* () {
        const { events, results, leaseOwner } = batch
        yield* lockMasterplan(masterplanId)
        const projection = projectEvents(events)
        const last = events[events.length - 1]!
        const phase = projection.phases.findLast((change) => change.status === "in_progress")?.phase
        // The masterplan's one write of the commit, and its check: the batch follows the journal's
        // end, from the lease's holder. Only when it does not is the row read, to say why.
        const moved = yield* sql<{ id: string }>`UPDATE dm_masterplans SET last_seq = ${last.seq},
          updated_at = ${last.at}, status = COALESCE(${projection.status ?? null}, status),
          phase = COALESCE(${phase ?? null}, phase)
          WHERE id = ${masterplanId} AND last_seq = ${events[0]!.seq - 1}
          ${leaseOwner === undefined ? sql`` : sql`AND lease_owner = ${leaseOwner}`}
          RETURNING id`
        if (moved.length === 0) return yield* refusal(masterplanId, batch)
        // A raised budget is kept with the options, so a resume (in any process) runs under it.
        if (projection.budget !== undefined) {
          const [row] = yield* sql<{
            options: string
          }>`SELECT options FROM dm_masterplans WHERE id = ${masterplanId}`
          const options = JSON.parse(row!.options) as Record<string, unknown>
          yield* sql`UPDATE dm_masterplans SET options = ${JSON.stringify({ ...options, budget: projection.budget })}
            WHERE id = ${masterplanId}`
        }
        for (const part of chunks(events))
          yield* sql`INSERT INTO dm_events ${sql.insert(
            part.map((event) => ({
              masterplan_id: masterplanId,
              seq: event.seq,
              type: event.type,
              at: event.at,
              atom_id: "atomId" in event ? event.atomId : null,
              body: JSON.stringify(event)
            }))
          )}`
        const codes = new Map(results.map((r) => [r.atomId, r.code]))
        const atomIds = new Set([...projection.atoms.keys(), ...codes.keys()])
        const atomChanges = [...atomIds].map((atomId) => {
          const change = projection.atoms.get(atomId)
          return {
            masterplan_id: masterplanId,
            atom_id: atomId,
            idx: -1,
            wave: -1,
            // "" stands for "unchanged": the insert half of the upsert must satisfy NOT NULL too.
            status: change?.status ?? "",
            attempts: change?.attempts ?? 0,
            interrupted: change?.interruptedDelta ?? 0,
            throttled: change?.throttledDelta ?? 0,
            cost_usd: change?.costDelta ?? 0,
            confidence: change?.confidence ?? null,
            model: change?.model ?? null,
            error: change?.error ?? null,
            code: codes.get(atomId) ?? null,
            retry_at: change?.retryAt ?? null,
            review_decision: change?.reviewed?.decision ?? null,
            review_reason: change?.reviewed?.reason ?? null
          }
        })
        // Every atom row exists from submission: the upsert only ever updates, folding the batch's change in.
        for (const part of chunks(atomChanges))
          yield* sql`INSERT INTO dm_atoms ${sql.insert(part)}
            ON CONFLICT (masterplan_id, atom_id) DO UPDATE SET
              status = CASE WHEN excluded.status = '' THEN dm_atoms.status ELSE excluded.status END,
              attempts = CASE WHEN excluded.attempts > dm_atoms.attempts THEN excluded.attempts ELSE dm_atoms.attempts END,
              interrupted = dm_atoms.interrupted + excluded.interrupted,
              throttled = dm_atoms.throttled + excluded.throttled,
              cost_usd = dm_atoms.cost_usd + excluded.cost_usd,
              confidence = COALESCE(excluded.confidence, dm_atoms.confidence),
              model = COALESCE(excluded.model, dm_atoms.model),
              error = COALESCE(excluded.error, dm_atoms.error),
              code = COALESCE(excluded.code, dm_atoms.code),
              retry_at = COALESCE(excluded.retry_at, dm_atoms.retry_at),
              review_decision = COALESCE(excluded.review_decision, dm_atoms.review_decision),
              review_reason = CASE WHEN excluded.review_decision IS NULL THEN dm_atoms.review_reason
                ELSE excluded.review_reason END`
        for (const part of chunks(projection.costs))
          yield* sql`INSERT INTO dm_cost_commits ${sql.insert(
            part.map((cost) => ({
              masterplan_id: cost.masterplanId,
              atom_id: cost.atomId,
              attempt: cost.attempt,
              model: cost.model,
              input_tokens: cost.inputTokens,
              output_tokens: cost.outputTokens,
              cost_usd: cost.costUsd,
              at: cost.at
            }))
          )} ON CONFLICT (masterplan_id, atom_id, attempt) DO NOTHING`
        if (projection.phases.length > 0) {
          const rows = new Map((yield* listPhasesIn(masterplanId)).map((row) => [row.phase, row]))
          for (const change of projection.phases)
            rows.set(change.phase, nextPhaseRow(rows.get(change.phase)!, change))
          for (const change of new Set(projection.phases.map((c) => c.phase))) {
            const row = rows.get(change)!
            yield* sql`UPDATE dm_phases SET status = ${row.status}, attempts = ${row.attempts},
              started_at = ${row.startedAt ?? null}, finished_at = ${row.finishedAt ?? null},
              duration_ms = ${row.durationMs ?? null}
              WHERE masterplan_id = ${masterplanId} AND phase = ${row.phase}`
          }
        }
      })

    const listPhasesIn = (masterplanId: string) =>
      Effect.map(
        sql<{
          phase: PhaseRow["phase"]
          status: PhaseRow["status"]
          attempts: number
          started_at: number | string | null
          finished_at: number | string | null
          duration_ms: number | null
        }>`SELECT phase, status, attempts, started_at, finished_at, duration_ms FROM dm_phases
           WHERE masterplan_id = ${masterplanId}`,
        (rows): Array<PhaseRow> =>
          [...rows]
            .sort((a, b) => pipelineOrder.indexOf(a.phase) - pipelineOrder.indexOf(b.phase))
            .map((row) => ({
              phase: row.phase,
              status: row.status,
              attempts: num(row.attempts),
              startedAt: row.started_at === null ? undefined : num(row.started_at),
              finishedAt: row.finished_at === null ? undefined : num(row.finished_at),
              durationMs: opt(row.duration_ms)
            }))
      )

    const service: StoreService = {
      name,
      createMasterplan: ({ masterplan, plan, atoms }) =>
        transaction(
          Effect.gen(function* () {
            yield* sql`INSERT INTO dm_masterplans ${sql.insert({
              id: masterplan.id,
              name: masterplan.name,
              status: masterplan.status,
              phase: masterplan.phase ?? null,
              options: JSON.stringify(masterplan.options),
              atom_count: masterplan.atomCount,
              wave_count: masterplan.waveCount,
              created_at: masterplan.createdAt,
              updated_at: masterplan.createdAt,
              last_seq: 0,
              tenant: masterplan.tenant ?? null
            })}`
            yield* sql`INSERT INTO dm_plans ${sql.insert({ masterplan_id: masterplan.id, plan: JSON.stringify(plan) })}`
            for (const part of chunks(atoms))
              yield* sql`INSERT INTO dm_atoms ${sql.insert(
                part.map((atom) => ({
                  masterplan_id: masterplan.id,
                  atom_id: atom.atomId,
                  idx: atom.index,
                  wave: atom.wave,
                  status: "pending",
                  attempts: 0,
                  interrupted: 0,
                  throttled: 0,
                  cost_usd: 0
                }))
              )}`
            yield* sql`INSERT INTO dm_phases ${sql.insert(
              initialPhases().map((row) => ({
                masterplan_id: masterplan.id,
                phase: row.phase,
                status: row.status,
                attempts: 0
              }))
            )}`
          })
        ).pipe(
          Effect.catchTag("SqlError", (error) =>
            Effect.flatMap(service.getMasterplan(masterplan.id), (existing) =>
              Effect.fail(
                Option.isSome(existing)
                  ? new StoreError({
                      reason: "Conflict",
                      store: name,
                      detail: `masterplan "${masterplan.id}" exists`
                    })
                  : failed(`cannot create masterplan "${masterplan.id}"`)(error)
              )
            )
          )
        ),
      commit: (masterplanId, batch) =>
        batch.events.length === 0
          ? Effect.void
          : transaction(commitIn(masterplanId, batch)).pipe(
              Effect.catchTag("SqlError", (error) =>
                Effect.fail(failed(`cannot commit to "${masterplanId}"`)(error))
              )
            ),
      readEvents: (masterplanId, fromSeq, toSeq) =>
        sql<{ body: string }>`SELECT body FROM dm_events WHERE masterplan_id = ${masterplanId}
          AND seq >= ${fromSeq} ${toSeq === undefined ? sql`` : sql`AND seq <= ${toSeq}`} ORDER BY seq`.pipe(
          Effect.mapError(failed(`cannot read the journal of "${masterplanId}"`)),
          Effect.flatMap((rows) =>
            parsed(`an event of "${masterplanId}"`, () => rows.map((row) => JSON.parse(row.body) as Event))
          )
        ),
      getMasterplan: (masterplanId) =>
        sql<MasterplanSqlRow>`SELECT m.*, p.plan FROM dm_masterplans m
          LEFT JOIN dm_plans p ON p.masterplan_id = m.id WHERE m.id = ${masterplanId}`.pipe(
          Effect.mapError(failed(`cannot read masterplan "${masterplanId}"`)),
          Effect.flatMap((rows) =>
            parsed(`masterplan "${masterplanId}"`, () =>
              Option.map(Option.fromNullable(rows[0]), (row) => ({
                ...toRecord(row),
                plan: JSON.parse(row.plan!) as unknown
              }))
            )
          )
        ),
      loadForRecovery: (masterplanId) =>
        transaction(
          Effect.gen(function* () {
            yield* lockMasterplan(masterplanId)
            const record = yield* service.getMasterplan(masterplanId)
            if (Option.isNone(record)) return Option.none()
            return Option.some({
              record: record.value,
              atoms: yield* service.listAtoms(masterplanId),
              costs: yield* service.listCostCommits(masterplanId),
              eventCounts: Object.fromEntries(
                (yield* sql<{ type: string; n: number | string }>`SELECT type, COUNT(*) AS n FROM dm_events
                    WHERE masterplan_id = ${masterplanId} GROUP BY type`).map((row) => [row.type, num(row.n)])
              )
            })
          })
        ).pipe(
          Effect.catchTag("SqlError", (error) =>
            Effect.fail(failed(`cannot load masterplan "${masterplanId}"`)(error))
          )
        ),
      listMasterplans: () =>
        sql<MasterplanSqlRow>`SELECT id, name, status, phase, options, atom_count, wave_count, created_at, updated_at,
          last_seq, lease_owner, lease_until, tenant FROM dm_masterplans ORDER BY created_at DESC`.pipe(
          Effect.mapError(failed("cannot list masterplans")),
          Effect.flatMap((rows) => parsed("a masterplan's options", () => rows.map(toRecord)))
        ),
      listAtoms: (masterplanId) =>
        sql<{
          atom_id: string
          idx: number
          wave: number
          status: AtomRow["status"]
          attempts: number
          interrupted: number
          throttled: number
          cost_usd: number
          confidence: number | null
          model: string | null
          error: string | null
          code: string | null
          retry_at: number | string | null
          review_decision: ReviewedRow["decision"] | null
          review_reason: string | null
        }>`SELECT atom_id, idx, wave, status, attempts, interrupted, throttled, cost_usd, confidence, model, error, code, retry_at,
             review_decision, review_reason
           FROM dm_atoms WHERE masterplan_id = ${masterplanId} ORDER BY idx`.pipe(
          Effect.map((rows) =>
            rows.map((row): AtomRow => ({
              atomId: row.atom_id,
              index: num(row.idx),
              wave: num(row.wave),
              status: row.status,
              attempts: num(row.attempts),
              interrupted: num(row.interrupted),
              throttled: num(row.throttled),
              costUsd: num(row.cost_usd),
              confidence: opt(row.confidence),
              model: opt(row.model),
              error: opt(row.error),
              code: opt(row.code),
              retryAt: row.retry_at === null ? undefined : num(row.retry_at),
              reviewed:
                row.review_decision === null
                  ? undefined
                  : {
                      decision: row.review_decision,
                      ...(row.review_reason !== null ? { reason: row.review_reason } : {})
                    }
            }))
          ),
          Effect.mapError(failed(`cannot read the atoms of "${masterplanId}"`))
        ),
      listPhases: (masterplanId) =>
        listPhasesIn(masterplanId).pipe(
          Effect.mapError(failed(`cannot read the phases of "${masterplanId}"`))
        ),
      listCostCommits: (masterplanId) =>
        sql<{
          atom_id: string
          attempt: number
          model: string
          input_tokens: number
          output_tokens: number
          cost_usd: number
          at: number | string
        }>`SELECT atom_id, attempt, model, input_tokens, output_tokens, cost_usd, at FROM dm_cost_commits
           WHERE masterplan_id = ${masterplanId} ORDER BY at, atom_id, attempt`.pipe(
          Effect.map((rows) =>
            rows.map((row): CostCommit => ({
              masterplanId,
              atomId: row.atom_id,
              attempt: num(row.attempt),
              model: row.model,
              inputTokens: num(row.input_tokens),
              outputTokens: num(row.output_tokens),
              costUsd: num(row.cost_usd),
              at: num(row.at)
            }))
          ),
          Effect.mapError(failed(`cannot read the costs of "${masterplanId}"`))
        ),
      acquireLease: (masterplanId, request) =>
        Effect.gen(function* () {
          // One conditional update: of two processes asking at once, only one gets the lease.
          const granted = yield* sql<{ id: string }>`UPDATE dm_masterplans
            SET lease_owner = ${request.owner}, lease_until = ${request.untilMs}
            WHERE id = ${masterplanId} AND (lease_owner IS NULL OR lease_until < ${request.nowMs}
              OR lease_owner = ${request.owner} OR lease_owner = ${request.replacing ?? request.owner})
            RETURNING id`
          if (granted.length > 0) return { _tag: "Granted" } satisfies LeaseOutcome
          const [held] = yield* sql<{ lease_owner: string | null; lease_until: number | string | null }>`
            SELECT lease_owner, lease_until FROM dm_masterplans WHERE id = ${masterplanId}`
          if (held === undefined) return yield* masterplanNotStored(name, masterplanId)
          return {
            _tag: "Held",
            by: { owner: held.lease_owner ?? "", untilMs: num(held.lease_until ?? 0) }
          } satisfies LeaseOutcome
        }).pipe(
          Effect.catchTag("SqlError", (error) => Effect.fail(failed(`cannot lease "${masterplanId}"`)(error)))
        ),
      releaseLease: (masterplanId, owner) =>
        sql`UPDATE dm_masterplans SET lease_owner = NULL, lease_until = NULL
          WHERE id = ${masterplanId} AND lease_owner = ${owner}`.pipe(
          Effect.asVoid,
          Effect.mapError(failed(`cannot release the lease of "${masterplanId}"`))
        ),
      deleteFinishedBefore: (cutoffMs) =>
        transaction(
          Effect.gen(function* () {
            // The delete first (a write before any read, as in `lockMasterplan`), then their rows,
            // in lists short enough for the drivers' parameter limits.
            const rows = yield* sql<{ id: string }>`DELETE FROM dm_masterplans
                WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at < ${cutoffMs}
                RETURNING id`
            const ids = rows.map((row) => row.id)
            for (const part of chunks(ids))
              for (const table of ["dm_plans", "dm_events", "dm_atoms", "dm_phases", "dm_cost_commits"])
                yield* sql`DELETE FROM ${sql(table)} WHERE masterplan_id IN ${sql.in(part)}`
            return ids
          })
        ).pipe(Effect.mapError(failed("cannot delete finished masterplans"))),
      getPromptCacheRow: (key) =>
        sql<{
          model: string
          body: string
          created_at: number | string
          expires_at: number | string
        }>`SELECT model, body, created_at, expires_at FROM dm_prompt_cache WHERE cache_key = ${key}`.pipe(
          Effect.map(([row]) =>
            Option.map(Option.fromNullable(row), (row) => ({
              key,
              model: row.model,
              body: row.body,
              createdAt: num(row.created_at),
              expiresAt: num(row.expires_at)
            }))
          ),
          Effect.mapError(failed("cannot read the prompt cache"))
        ),
      putPromptCacheRow: (row, { nowMs, purgeLimit }) =>
        Effect.zipRight(
          sql`INSERT INTO dm_prompt_cache ${sql.insert({
            cache_key: row.key,
            model: row.model,
            body: row.body,
            created_at: row.createdAt,
            expires_at: row.expiresAt
          })} ON CONFLICT (cache_key) DO UPDATE SET model = excluded.model, body = excluded.body,
            created_at = excluded.created_at, expires_at = excluded.expires_at`,
          // A subquery, for SQLite builds without DELETE ... LIMIT; the index finds the expired rows.
          purgeLimit > 0
            ? sql`DELETE FROM dm_prompt_cache WHERE cache_key IN (SELECT cache_key FROM dm_prompt_cache
                WHERE expires_at <= ${nowMs} LIMIT ${purgeLimit})`
            : Effect.void
        ).pipe(Effect.asVoid, Effect.mapError(failed("cannot write to the prompt cache"))),
      deleteExpiredPromptCacheRow: (key, nowMs) =>
        sql`DELETE FROM dm_prompt_cache WHERE cache_key = ${key} AND expires_at <= ${nowMs}`.pipe(
          Effect.asVoid,
          Effect.mapError(failed("cannot purge the prompt cache"))
        )
    }
    return service
  })
