import { Migrator, SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The store's schema, one migration per entry, for SQLite and PostgreSQL alike. `BIGINT` holds
 * epoch milliseconds; events keep their JSON body as text. Append new entries; never edit one.
 */
const migrations = {
  "0001_journal": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE dm_masterplans (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      phase TEXT,
      options TEXT NOT NULL,
      plan TEXT NOT NULL,
      atom_count INTEGER NOT NULL,
      wave_count INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      last_seq INTEGER NOT NULL DEFAULT 0
    )`
    yield* sql`CREATE INDEX dm_masterplans_status ON dm_masterplans (status, updated_at)`
    yield* sql`CREATE TABLE dm_phases (
      masterplan_id TEXT NOT NULL,
      phase TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      started_at BIGINT,
      finished_at BIGINT,
      duration_ms DOUBLE PRECISION,
      PRIMARY KEY (masterplan_id, phase)
    )`
    yield* sql`CREATE TABLE dm_atoms (
      masterplan_id TEXT NOT NULL,
      atom_id TEXT NOT NULL,
      idx INTEGER NOT NULL,
      wave INTEGER NOT NULL,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      interrupted INTEGER NOT NULL DEFAULT 0,
      cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
      confidence DOUBLE PRECISION,
      model TEXT,
      error TEXT,
      code TEXT,
      PRIMARY KEY (masterplan_id, atom_id)
    )`
    yield* sql`CREATE TABLE dm_events (
      masterplan_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      type TEXT NOT NULL,
      at BIGINT NOT NULL,
      atom_id TEXT,
      body TEXT NOT NULL,
      PRIMARY KEY (masterplan_id, seq)
    )`
    yield* sql`CREATE TABLE dm_cost_commits (
      masterplan_id TEXT NOT NULL,
      atom_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      model TEXT NOT NULL,
      input_tokens INTEGER NOT NULL,
      output_tokens INTEGER NOT NULL,
      cost_usd DOUBLE PRECISION NOT NULL,
      at BIGINT NOT NULL,
      PRIMARY KEY (masterplan_id, atom_id, attempt)
    )`
  }),
  "0002_retry_at": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE dm_atoms ADD COLUMN retry_at BIGINT`
  }),
  "0003_lease": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE dm_masterplans ADD COLUMN lease_owner TEXT`
    yield* sql`ALTER TABLE dm_masterplans ADD COLUMN lease_until BIGINT`
  }),
  // The plan's JSON (7.6 MB at 100,000 atoms) in a table of its own: SQLite rewrites a row whole
  // on every UPDATE, and every commit updates the masterplan's row.
  "0004_plans": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE dm_plans (
      masterplan_id TEXT PRIMARY KEY,
      plan TEXT NOT NULL
    )`
    yield* sql`INSERT INTO dm_plans (masterplan_id, plan) SELECT id, plan FROM dm_masterplans`
    yield* sql`ALTER TABLE dm_masterplans DROP COLUMN plan`
  }),
  // Model answers by the hash of their inputs (PromptCacheStore): shared by every plan, so not
  // keyed by masterplan, and purged by expiry, a few rows per write, through the index.
  "0005_prompt_cache": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE dm_prompt_cache (
      cache_key TEXT PRIMARY KEY,
      model TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    )`
    yield* sql`CREATE INDEX dm_prompt_cache_expires ON dm_prompt_cache (expires_at)`
  }),
  // Attempts the provider pushed back (429, 529) do not count against an atom's retries, across
  // restarts too.
  "0006_throttled": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE dm_atoms ADD COLUMN throttled INTEGER NOT NULL DEFAULT 0`
  }),
  // The tenant a host submitted a plan for (NULL: embedded, no tenant): a host shows a tenant its
  // own plans only.
  "0007_tenant": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE dm_masterplans ADD COLUMN tenant TEXT`
  }),
  // A reviewer's decision on an atom in review, kept until a resume applies it: a review of a plan
  // no process runs is journaled (`atom.reviewed`) and waits here.
  "0008_review": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE dm_atoms ADD COLUMN review_decision TEXT`
    yield* sql`ALTER TABLE dm_atoms ADD COLUMN review_reason TEXT`
  })
}

export const storeMigrations = Migrator.fromRecord(migrations)

/** The id of the newest migration: a database at it has the whole schema. */
export const latestMigrationId = Math.max(...Object.keys(migrations).map((key) => Number.parseInt(key, 10)))
