import { SqlError } from "@effect/sql"
import { Cause, Chunk, Effect, Option } from "effect"
import type { StoreErrorReason } from "../Store.js"
import { StoreError } from "../Store.js"

/** What a driver's failure means for the store: its reason, and the cause in plain words. */
export interface StoreFailure {
  readonly reason: StoreErrorReason
  readonly words: string
}

const connectionLost: StoreFailure = { reason: "Unavailable", words: "connection lost" }
const diskFull: StoreFailure = { reason: "DiskFull", words: "disk is full" }
const readOnly: StoreFailure = { reason: "ReadOnly", words: "the database is read-only" }

/** SQLite result codes (better-sqlite3's `code`, extended codes included), first match wins. */
const sqliteCodes: ReadonlyArray<readonly [RegExp, StoreFailure]> = [
  [/^SQLITE_FULL/, diskFull],
  [/^SQLITE_(READONLY|PERM|AUTH)/, readOnly],
  [
    /^SQLITE_(BUSY|LOCKED)/,
    { reason: "Unavailable", words: "the database is busy (locked by another process)" }
  ],
  [/^SQLITE_(CORRUPT|NOTADB)/, { reason: "Corrupt", words: "the database is damaged" }],
  [/^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/, { reason: "Conflict", words: "the row exists already" }],
  // A trigger, a CHECK, NOT NULL or a foreign key: a rule of the database, not a duplicate.
  [/^SQLITE_CONSTRAINT/, { reason: "Conflict", words: "the database refused the change (a constraint)" }],
  [/^SQLITE_IOERR/, { reason: "Unavailable", words: "the database file cannot be read or written" }],
  [/^SQLITE_CANTOPEN/, { reason: "Unavailable", words: "the database file cannot be opened" }]
]

/** PostgreSQL SQLSTATEs (appendix A of its manual), first match wins. */
const pgStates: ReadonlyArray<readonly [RegExp, StoreFailure]> = [
  [/^53100$/, diskFull],
  [/^25006$/, readOnly],
  [/^08/, connectionLost],
  // 57P01 admin shutdown (pg_terminate_backend), 57P02 crash shutdown, 57P03 cannot connect now.
  [/^57P0[1-3]$/, { reason: "Unavailable", words: "connection lost (the server ended it)" }],
  [
    /^40001$/,
    { reason: "Unavailable", words: "serialization failure (another transaction got there first)" }
  ],
  [/^40P01$/, { reason: "Unavailable", words: "deadlock with another transaction" }],
  [/^55P03$/, { reason: "Unavailable", words: "the database is busy (a lock is held)" }],
  [/^57014$/, { reason: "Unavailable", words: "the statement was cancelled" }],
  [/^53/, { reason: "Unavailable", words: "the server is out of resources" }],
  [/^23505$/, { reason: "Conflict", words: "the row exists already" }],
  [/^XX00[12]$/, { reason: "Corrupt", words: "the database is damaged" }]
]

/** Node's system error codes, from the pg socket or the file system. */
const systemCodes: Readonly<Record<string, StoreFailure>> = {
  ECONNRESET: connectionLost,
  EPIPE: connectionLost,
  ECONNABORTED: connectionLost,
  ETIMEDOUT: connectionLost,
  ECONNREFUSED: { reason: "Unavailable", words: "cannot connect (connection refused)" },
  ENOTFOUND: { reason: "Unavailable", words: "cannot connect (unknown host)" },
  EHOSTUNREACH: { reason: "Unavailable", words: "cannot connect (host unreachable)" },
  ENETUNREACH: { reason: "Unavailable", words: "cannot connect (network unreachable)" },
  ENOSPC: diskFull,
  EDQUOT: diskFull,
  EROFS: readOnly,
  EACCES: readOnly,
  EPERM: readOnly
}

/** What node-postgres says, without a code, when the socket went away. */
const pgConnectionMessages = /connection terminated|connection error|not queryable|connection ended|socket/i

const codeOf = (cause: unknown): string | undefined => {
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  return typeof code === "string" ? code : undefined
}

/**
 * What a driver's error means, by its code (SQLite's, PostgreSQL's SQLSTATE, Node's) and, for a
 * socket node-postgres lost, its message; `fallback` when nothing is known of it.
 */
export const classifyDriverError = (cause: unknown, fallback: StoreFailure): StoreFailure => {
  const code = codeOf(cause)
  if (code !== undefined) {
    const table = code.startsWith("SQLITE_") ? sqliteCodes : /^[0-9A-Z]{5}$/.test(code) ? pgStates : []
    const found = table.find(([pattern]) => pattern.test(code))
    if (found !== undefined) return found[1]
    if (code in systemCodes) return systemCodes[code]!
  }
  const message = cause instanceof Error ? cause.message : ""
  if (pgConnectionMessages.test(message)) return connectionLost
  return fallback
}

const isSqlError = (defect: unknown): defect is SqlError.SqlError =>
  typeof defect === "object" && defect !== null && (defect as { _tag?: unknown })._tag === "SqlError"

/** The driver's own error under an `SqlError` (which wraps it as `cause`). */
const driverErrorOf = (error: unknown): unknown => (isSqlError(error) ? (error.cause ?? error) : error)

/** The driver's words and code: `database or disk is full (SQLITE_FULL)`. */
const driverWords = (driver: unknown): string => {
  const message = driver instanceof Error ? driver.message : String(driver)
  const code = codeOf(driver)
  return code === undefined || message.includes(code) ? message : `${message} (${code})`
}

/** Unknown driver failures are taken as passing: retrying them costs a few seconds at most. */
export const unknownFailure: StoreFailure = { reason: "Unavailable", words: "the database failed" }

/**
 * The StoreError for a driver's failure while `doing` something: its reason, the cause in plain
 * words first, then the driver's own (`DiskFull: disk is full: cannot commit to "p": database or
 * disk is full (SQLITE_FULL)`).
 */
export const storeErrorOf =
  (store: string, doing: string, fallback: StoreFailure = unknownFailure) =>
  (error: unknown): StoreError => {
    const driver = driverErrorOf(error)
    const { reason, words } = classifyDriverError(driver, fallback)
    return new StoreError({
      reason,
      store,
      detail: `${words}: ${doing}: ${driverWords(driver)}`,
      cause: error
    })
  }

/**
 * Turns a driver's error that came out as a defect into a failure: `@effect/sql`'s
 * `withTransaction` (used by its migrator) dies when COMMIT or ROLLBACK fails, and the SQLite
 * client dies when it cannot open its file. A failure already there is kept: it says why first.
 */
export const driverDefectsAsFailures = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError.SqlError, R> =>
  Effect.catchAllCause(effect, (cause): Effect.Effect<never, E | SqlError.SqlError> => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) return Effect.fail(failure.value)
    const defect = Chunk.findFirst(
      Cause.defects(cause),
      (defect) => isSqlError(defect) || /^SQLITE_/.test(codeOf(defect) ?? "")
    )
    if (Option.isNone(defect)) return Effect.failCause(cause)
    return Effect.fail(
      isSqlError(defect.value)
        ? defect.value
        : new SqlError.SqlError({ cause: defect.value, message: "the SQLite driver failed" })
    )
  })
