import { projectEvents, ReadyQueue } from "@devmatrix/core"
import type { AtomStatus, CostCommit, Event, Masterplan, PipelinePhase, ReviewedRow } from "@devmatrix/core"
import { Context, Data, Effect, Layer, Option } from "effect"

/**
 * Why a store operation failed, a closed list:
 * - `Unavailable`: the connection dropped or was refused, the database is busy or locked, a
 *   serialization failure; worth retrying.
 * - `DiskFull`: no space left for the database (SQLite `SQLITE_FULL`, PostgreSQL 53100).
 * - `ReadOnly`: the database refuses writes (`SQLITE_READONLY*`, PostgreSQL 25006, a replica).
 * - `Corrupt`: the database is damaged, or is not DevMatrix's.
 * - `Conflict`: the write contradicts what is stored (a duplicate id, a journal gap, a lost lease).
 * - `NotFound`: no such masterplan.
 */
export type StoreErrorReason = "Unavailable" | "DiskFull" | "ReadOnly" | "Corrupt" | "Conflict" | "NotFound"

/** A store operation that failed; `reason` says whether retrying could help. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly reason: StoreErrorReason
  /** Which store: `memory:`, `sqlite:<path>`, `postgres://host/db`. */
  readonly store: string
  readonly detail: string
  readonly cause?: unknown
  /**
   * A run this failure stopped: the calls the model had answered (and so were paid for) whose
   * outcome the journal could not take. They are not in the plan's cost, and `resume` runs their
   * atoms again; there are never more of them than the concurrency limit.
   */
  readonly unrecorded?: { readonly calls: number; readonly costUsd: number } | undefined
}> {
  override get message(): string {
    const lost = this.unrecorded
    return `store ${this.store}: ${this.reason}: ${this.detail}${
      lost === undefined || lost.calls === 0
        ? ""
        : `; ${lost.calls} paid call${lost.calls === 1 ? "" : "s"} answered since the last commit ($${lost.costUsd.toFixed(4)}) could not be recorded, and resume runs ${lost.calls === 1 ? "its atom" : "their atoms"} again`
    }`
  }
}

/**
 * Which process runs a masterplan: the one holding its lease, which it renews while it runs. Another
 * process takes the plan over only once the lease has lapsed, or once its holder is known gone.
 */
export interface Lease {
  /** The holding process, as `host/pid/token`. */
  readonly owner: string
  /** When the lease lapses unless renewed (epoch ms). */
  readonly untilMs: number
}

/** A request to take or renew a lease. */
export interface LeaseRequest extends Lease {
  /** The time now (epoch ms): a lease whose `untilMs` is before it has lapsed. */
  readonly nowMs: number
  /** Take the lease from this holder even if it has not lapsed: the caller found it gone. */
  readonly replacing?: string | undefined
}

/** How a lease request ended: granted, or refused because another process holds the lease. */
export type LeaseOutcome = { readonly _tag: "Granted" } | { readonly _tag: "Held"; readonly by: Lease }

/** A masterplan as stored: its record, the plan it was submitted with, and how far its journal goes. */
export interface MasterplanRecord extends Masterplan {
  /** The submitted plan (its encoded JSON), so that another process can resume it. */
  readonly plan: unknown
  readonly lastSeq: number
  readonly updatedAt: number
  /** The lease of the process running it, if one holds it (it may have lapsed). */
  readonly lease?: Lease | undefined
}

/** An atom's row: the projection of its events, plus its result once it has one. */
export interface AtomRow {
  readonly atomId: string
  /** Position in the plan. */
  readonly index: number
  readonly wave: number
  readonly status: AtomStatus
  /** Attempts made, across processes; attempt numbers are never reused. */
  readonly attempts: number
  /** Attempts cut short by a crash or stop (not failures). */
  readonly interrupted: number
  /** Attempts the provider pushed back (429, 529): not failures either, and nothing was billed. */
  readonly throttled: number
  readonly costUsd: number
  readonly confidence?: number | undefined
  readonly model?: string | undefined
  readonly error?: string | undefined
  /** The accepted code, stored once when the atom completes (while in review: the output under review). */
  readonly code?: string | undefined
  /** While retrying: when its backoff ends (epoch ms). */
  readonly retryAt?: number | undefined
  /**
   * A reviewer's decision (`atom.reviewed`). While the status is still `review`, it was journaled
   * for a plan no process ran, and the next resume applies it.
   */
  readonly reviewed?: ReviewedRow | undefined
}

/** A phase checkpoint. */
export interface PhaseRow {
  readonly phase: PipelinePhase
  readonly status: "pending" | "in_progress" | "completed" | "failed" | "skipped"
  /** Times the phase was entered (a recovered plan enters execution again). */
  readonly attempts: number
  readonly startedAt?: number | undefined
  readonly finishedAt?: number | undefined
  readonly durationMs?: number | undefined
}

/** A masterplan as a recovering process finds it. */
export interface RecoverySnapshot {
  readonly record: MasterplanRecord
  readonly atoms: ReadonlyArray<AtomRow>
  readonly costs: ReadonlyArray<CostCommit>
  /** How many events of each type the journal holds (`atom.started`: calls made), for the summary to carry on. */
  readonly eventCounts: Readonly<Record<string, number>>
}

/** A new masterplan: its record, its plan, and its atoms (all pending). */
export interface NewMasterplan {
  readonly masterplan: Masterplan
  readonly plan: unknown
  readonly atoms: ReadonlyArray<{ readonly atomId: string; readonly index: number; readonly wave: number }>
}

/** What one commit appends and stores: events, and the results of the atoms they complete. */
export interface JournalBatch {
  readonly events: ReadonlyArray<Event>
  readonly results: ReadonlyArray<{ readonly atomId: string; readonly code: string }>
  /**
   * The lease owner committing: the commit is refused (`Conflict`) unless it still holds the
   * masterplan's lease, so a process that lost the plan (its lease lapsed and was taken) cannot
   * write into the journal of the one that took it over. Absent: not checked.
   */
  readonly leaseOwner?: string | undefined
}

/**
 * A prompt cache entry as the store keeps it: its key, the entry's JSON, and when it expires.
 * The store does not judge expiry (the PromptCache does, on its clock); it only purges.
 */
export interface PromptCacheRow {
  readonly key: string
  readonly model: string
  /** The entry, as JSON. */
  readonly body: string
  /** Epoch ms. */
  readonly createdAt: number
  /** Epoch ms: at and after it the entry is no longer served. */
  readonly expiresAt: number
}

/** The error for a masterplan the store does not have. */
export const masterplanNotStored = (store: string, masterplanId: string) =>
  new StoreError({ reason: "NotFound", store, detail: `no masterplan "${masterplanId}"` })

/** The `Conflict` a commit gets from a process that no longer holds the plan's lease. */
export const leaseLost = (store: string, masterplanId: string, holder: string | undefined) =>
  new StoreError({
    reason: "Conflict",
    store,
    detail: `masterplan "${masterplanId}" is now run by ${holder === undefined ? "no process" : `another process (${holder})`}: this one no longer holds its lease`
  })

/** The `Conflict` of a batch that does not start right after the journal's last seq. */
export const journalGap = (store: string, masterplanId: string, batchStart: number, lastSeq: number) =>
  new StoreError({
    reason: "Conflict",
    store,
    detail: `masterplan "${masterplanId}": batch starts at seq ${batchStart}, journal ends at ${lastSeq}`
  })

/**
 * Whether a batch is one the journal holds already, event for event: a commit retried after its
 * answer was lost (the connection dropped during COMMIT) had landed, and is not committed twice.
 */
export const isReplay = (batch: ReadonlyArray<Event>, stored: ReadonlyArray<Event | string>): boolean =>
  batch.length === stored.length &&
  batch.every((event, i) => {
    const kept = stored[i]!
    return JSON.stringify(event) === (typeof kept === "string" ? kept : JSON.stringify(kept))
  })

/**
 * Durable state: masterplans, their atoms and phase checkpoints, paid calls, and the append-only
 * journal of their events. `commit` appends a batch of events (with the gap-free `seq` the engine
 * assigned) and applies their projection (`projectEvents`) to the rows in one transaction.
 */
export interface StoreService {
  /** The store's URL-like name, for messages. */
  readonly name: string
  /**
   * It answers on this thread (memory, SQLite): a call cannot stall without holding the thread
   * itself, so a deadline on it can never fire and is not set. @default false
   */
  readonly inProcess?: boolean
  readonly createMasterplan: (masterplan: NewMasterplan) => Effect.Effect<void, StoreError>
  /**
   * Fails with `Conflict` when the batch does not start right after the journal's last seq, unless
   * the journal holds that very batch already (a retry of a commit that landed): that is a success.
   */
  readonly commit: (masterplanId: string, batch: JournalBatch) => Effect.Effect<void, StoreError>
  /** Events with `fromSeq <= seq <= toSeq`, in order. */
  readonly readEvents: (
    masterplanId: string,
    fromSeq: number,
    toSeq?: number
  ) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  readonly getMasterplan: (masterplanId: string) => Effect.Effect<Option.Option<MasterplanRecord>, StoreError>
  /**
   * Everything a process needs to take a masterplan over, read consistently: after any commit of
   * a previous owner still in flight has landed (a process killed mid-commit may still have one).
   */
  readonly loadForRecovery: (
    masterplanId: string
  ) => Effect.Effect<Option.Option<RecoverySnapshot>, StoreError>
  /** Every masterplan, newest first (without their plans). */
  readonly listMasterplans: () => Effect.Effect<ReadonlyArray<Omit<MasterplanRecord, "plan">>, StoreError>
  readonly listAtoms: (masterplanId: string) => Effect.Effect<ReadonlyArray<AtomRow>, StoreError>
  readonly listPhases: (masterplanId: string) => Effect.Effect<ReadonlyArray<PhaseRow>, StoreError>
  readonly listCostCommits: (masterplanId: string) => Effect.Effect<ReadonlyArray<CostCommit>, StoreError>
  /** Deletes completed, failed and cancelled masterplans last updated before `cutoffMs`; their ids. */
  readonly deleteFinishedBefore: (cutoffMs: number) => Effect.Effect<ReadonlyArray<string>, StoreError>
  /**
   * Takes or renews a masterplan's lease, atomically: granted when nobody holds it, when it has
   * lapsed, when the requester holds it already, or when it is held by `replacing`.
   */
  readonly acquireLease: (
    masterplanId: string,
    request: LeaseRequest
  ) => Effect.Effect<LeaseOutcome, StoreError>
  /** Gives the lease up, if `owner` holds it. */
  readonly releaseLease: (masterplanId: string, owner: string) => Effect.Effect<void, StoreError>
  /** The prompt cache row under `key`, expired or not. */
  readonly getPromptCacheRow: (key: string) => Effect.Effect<Option.Option<PromptCacheRow>, StoreError>
  /**
   * Stores a prompt cache row, replacing any under its key, then deletes at most `purgeLimit`
   * rows expired at `nowMs`: expired rows go a few at a time, and no write pays for them all.
   */
  readonly putPromptCacheRow: (
    row: PromptCacheRow,
    purge: { readonly nowMs: number; readonly purgeLimit: number }
  ) => Effect.Effect<void, StoreError>
  /** Deletes the row under `key` if it is expired at `nowMs` (a row written since stays). */
  readonly deleteExpiredPromptCacheRow: (key: string, nowMs: number) => Effect.Effect<void, StoreError>
}

/** Whether a lease request may take the lease as it stands. */
export const leaseGrantable = (held: Lease | undefined, request: LeaseRequest): boolean =>
  held === undefined ||
  held.untilMs < request.nowMs ||
  held.owner === request.owner ||
  held.owner === request.replacing

export class Store extends Context.Tag("@devmatrix/runtime/Store")<Store, StoreService>() {}

/** Statuses after which a masterplan never runs again. */
export const finishedStatuses: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"])

const pipelinePhases: ReadonlyArray<PipelinePhase> = [
  "discovery",
  "planning",
  "atomization",
  "execution",
  "acceptance"
]

/** The phase rows of a new masterplan: all pending. */
export const initialPhases = (): Array<PhaseRow> =>
  pipelinePhases.map((phase) => ({ phase, status: "pending", attempts: 0 }))

/** Applies a phase checkpoint event to its row. */
export const nextPhaseRow = (
  row: PhaseRow,
  change: ReturnType<typeof projectEvents>["phases"][number]
): PhaseRow =>
  change.status === "in_progress"
    ? {
        ...row,
        status: "in_progress",
        attempts: row.attempts + 1,
        startedAt: change.at,
        finishedAt: undefined
      }
    : {
        ...row,
        status: change.status,
        finishedAt: change.at,
        durationMs: change.durationMs ?? row.durationMs
      }

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The atoms' rows in plan order, as copies: the memory store updates its own rows in place. */
const atomRowsOf = (plan: MemoryPlan): Array<AtomRow> =>
  Array.from(plan.atoms.values(), (row) => ({ ...row })).sort((a, b) => a.index - b.index)

interface MemoryPlan {
  record: MasterplanRecord
  readonly events: Array<Event>
  readonly atoms: Map<string, Mutable<AtomRow>>
  readonly phases: Map<PipelinePhase, PhaseRow>
  readonly costs: Map<string, CostCommit>
}

/** A store that keeps everything in this process's memory: for tests and throwaway runs. */
export const makeStoreMemory = (): StoreService => {
  const name = "memory:"
  const plans = new Map<string, MemoryPlan>()
  const promptCache = new Map<string, PromptCacheRow>()
  // The rows written, soonest to expire first, so a put purges in O(log n) per row instead of
  // scanning every row (which made a plan of 100,000 atoms quadratic). A row replaced or deleted
  // stays here until its expiry comes up, and is passed over then.
  const written = new Map<number, PromptCacheRow>()
  let writes = 0
  const byExpiry = new ReadyQueue((a, b) => written.get(a)!.expiresAt < written.get(b)!.expiresAt)
  const find = (id: string) =>
    Effect.suspend(() => {
      const plan = plans.get(id)
      return plan ? Effect.succeed(plan) : Effect.fail(masterplanNotStored(name, id))
    })
  return {
    name,
    inProcess: true,
    createMasterplan: ({ masterplan, plan, atoms }) =>
      Effect.suspend(() => {
        if (plans.has(masterplan.id))
          return Effect.fail(
            new StoreError({
              reason: "Conflict",
              store: name,
              detail: `masterplan "${masterplan.id}" exists`
            })
          )
        plans.set(masterplan.id, {
          record: { ...masterplan, plan, lastSeq: 0, updatedAt: masterplan.createdAt },
          events: [],
          atoms: new Map(
            atoms.map((atom) => [
              atom.atomId,
              // Every field present from the start: rows change in place, and a stable shape keeps that fast.
              {
                atomId: atom.atomId,
                index: atom.index,
                wave: atom.wave,
                status: "pending",
                attempts: 0,
                interrupted: 0,
                throttled: 0,
                costUsd: 0,
                confidence: undefined,
                model: undefined,
                error: undefined,
                code: undefined,
                retryAt: undefined,
                reviewed: undefined
              } satisfies AtomRow
            ])
          ),
          phases: new Map(initialPhases().map((row) => [row.phase, row])),
          costs: new Map()
        })
        return Effect.void
      }),
    commit: (masterplanId, { events, results, leaseOwner }) =>
      Effect.flatMap(find(masterplanId), (plan) => {
        if (events.length === 0) return Effect.void
        if (leaseOwner !== undefined && plan.record.lease?.owner !== leaseOwner)
          return Effect.fail(leaseLost(name, masterplanId, plan.record.lease?.owner))
        if (events[0]!.seq !== plan.record.lastSeq + 1) {
          const stored = plan.events.slice(events[0]!.seq - 1, events[events.length - 1]!.seq)
          return isReplay(events, stored)
            ? Effect.void
            : Effect.fail(journalGap(name, masterplanId, events[0]!.seq, plan.record.lastSeq))
        }
        const projection = projectEvents(events)
        // One by one: a spread of a batch of 70,000 overflows the call stack.
        for (const event of events) plan.events.push(event)
        // Rows are updated in place (a commit touches thousands of them); readers get copies.
        for (const [atomId, change] of projection.atoms) {
          const row = plan.atoms.get(atomId)
          if (row === undefined) continue
          row.status = change.status ?? row.status
          row.attempts = Math.max(row.attempts, change.attempts ?? 0)
          row.interrupted += change.interruptedDelta
          row.throttled += change.throttledDelta
          row.costUsd += change.costDelta
          row.confidence = change.confidence ?? row.confidence
          row.model = change.model ?? row.model
          row.error = change.error ?? row.error
          row.retryAt = change.retryAt ?? row.retryAt
          row.reviewed = change.reviewed ?? row.reviewed
        }
        for (const { atomId, code } of results) {
          const row = plan.atoms.get(atomId)
          if (row !== undefined) row.code = code
        }
        for (const change of projection.phases)
          plan.phases.set(change.phase, nextPhaseRow(plan.phases.get(change.phase)!, change))
        for (const cost of projection.costs) {
          const key = `${cost.atomId}#${cost.attempt}`
          if (!plan.costs.has(key)) plan.costs.set(key, cost)
        }
        plan.record = {
          ...plan.record,
          status: projection.status ?? plan.record.status,
          options:
            projection.budget === undefined
              ? plan.record.options
              : { ...plan.record.options, budget: projection.budget },
          lastSeq: events[events.length - 1]!.seq,
          updatedAt: events[events.length - 1]!.at
        }
        return Effect.void
      }),
    readEvents: (masterplanId, fromSeq, toSeq) =>
      Effect.map(find(masterplanId), (plan) =>
        plan.events.slice(Math.max(0, fromSeq - 1), toSeq === undefined ? undefined : Math.max(0, toSeq))
      ),
    getMasterplan: (masterplanId) => Effect.sync(() => Option.fromNullable(plans.get(masterplanId)?.record)),
    loadForRecovery: (masterplanId) =>
      Effect.sync(() =>
        Option.map(Option.fromNullable(plans.get(masterplanId)), (plan) => ({
          record: plan.record,
          atoms: atomRowsOf(plan),
          costs: [...plan.costs.values()],
          eventCounts: plan.events.reduce<Record<string, number>>((counts, event) => {
            counts[event.type] = (counts[event.type] ?? 0) + 1
            return counts
          }, {})
        }))
      ),
    listMasterplans: () =>
      Effect.sync(() =>
        Array.from(plans.values(), ({ record: { plan: _, ...rest } }) => rest).sort(
          (a, b) => b.createdAt - a.createdAt
        )
      ),
    listAtoms: (masterplanId) => Effect.map(find(masterplanId), atomRowsOf),
    listPhases: (masterplanId) => Effect.map(find(masterplanId), (plan) => [...plan.phases.values()]),
    listCostCommits: (masterplanId) => Effect.map(find(masterplanId), (plan) => [...plan.costs.values()]),
    acquireLease: (masterplanId, request) =>
      Effect.map(find(masterplanId), (plan): LeaseOutcome => {
        const held = plan.record.lease
        if (held !== undefined && !leaseGrantable(held, request)) return { _tag: "Held", by: held }
        plan.record = { ...plan.record, lease: { owner: request.owner, untilMs: request.untilMs } }
        return { _tag: "Granted" }
      }),
    releaseLease: (masterplanId, owner) =>
      Effect.map(find(masterplanId), (plan) => {
        if (plan.record.lease?.owner === owner) plan.record = { ...plan.record, lease: undefined }
      }),
    deleteFinishedBefore: (cutoffMs) =>
      Effect.sync(() => {
        const deleted: Array<string> = []
        for (const [id, plan] of plans)
          if (finishedStatuses.has(plan.record.status) && plan.record.updatedAt < cutoffMs) {
            plans.delete(id)
            deleted.push(id)
          }
        return deleted
      }),
    getPromptCacheRow: (key) => Effect.sync(() => Option.fromNullable(promptCache.get(key))),
    putPromptCacheRow: (row, { nowMs, purgeLimit }) =>
      Effect.sync(() => {
        promptCache.set(row.key, row)
        written.set(writes, row)
        byExpiry.push(writes++)
        let purged = 0
        while (purged < purgeLimit && byExpiry.size > 0) {
          // Looked at before it is taken: the common write finds nothing expired and moves nothing.
          const soonest = byExpiry.peek()!
          const kept = written.get(soonest)!
          if (kept.expiresAt > nowMs) break
          byExpiry.pop()
          written.delete(soonest)
          if (promptCache.get(kept.key) === kept) {
            promptCache.delete(kept.key)
            purged++
          }
        }
      }),
    deleteExpiredPromptCacheRow: (key, nowMs) =>
      Effect.sync(() => {
        if ((promptCache.get(key)?.expiresAt ?? Infinity) <= nowMs) promptCache.delete(key)
      })
  }
}

/** The in-memory store as a layer; each build starts empty. */
export const StoreMemory: Layer.Layer<Store> = Layer.sync(Store, makeStoreMemory)
