import type { Event, Masterplan, MasterplanStatus } from "@devmatrix/core"
import { Context, Data, Effect, Layer, Option } from "effect"

/** A store operation that failed; `reason` says whether retrying could help. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly reason: "NotFound" | "Conflict" | "Unavailable" | "Corrupt"
  /** Which store: `memory:`, `sqlite:<path>`, `postgres://host/db`. */
  readonly store: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `store ${this.store}: ${this.reason}: ${this.detail}`
  }
}

/**
 * Durable state: masterplans and the append-only journal of their events. The journal is the
 * source of truth; `commit` appends a batch of events atomically, with the gap-free `seq` the
 * engine assigned, and applies them to the masterplan's row in the same step.
 */
export interface StoreService {
  /** The store's URL-like name, for messages. */
  readonly name: string
  readonly createMasterplan: (masterplan: Masterplan) => Effect.Effect<void, StoreError>
  readonly commit: (masterplanId: string, events: ReadonlyArray<Event>) => Effect.Effect<void, StoreError>
  /** Events with `fromSeq <= seq <= toSeq`, in order. */
  readonly readEvents: (
    masterplanId: string,
    fromSeq: number,
    toSeq?: number
  ) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  readonly getMasterplan: (masterplanId: string) => Effect.Effect<Option.Option<Masterplan>, StoreError>
  readonly listMasterplans: () => Effect.Effect<ReadonlyArray<Masterplan>, StoreError>
}

export class Store extends Context.Tag("@devmatrix/runtime/Store")<Store, StoreService>() {}

/** The status a masterplan has after an event; most events leave it as it was. */
export const statusAfter = (status: MasterplanStatus, event: Event): MasterplanStatus => {
  switch (event.type) {
    case "masterplan.started":
    case "masterplan.resumed":
      return "running"
    case "masterplan.paused":
      return "paused"
    case "masterplan.completed":
      return "completed"
    case "masterplan.failed":
      return "failed"
    case "masterplan.cancelled":
      return "cancelled"
    default:
      return status
  }
}

interface MemoryPlan {
  record: Masterplan
  readonly events: Array<Event>
}

/** A store that keeps everything in this process's memory: for tests and throwaway runs. */
export const makeStoreMemory = (): StoreService => {
  const name = "memory:"
  const plans = new Map<string, MemoryPlan>()
  const find = (id: string) =>
    Effect.suspend(() => {
      const plan = plans.get(id)
      return plan
        ? Effect.succeed(plan)
        : Effect.fail(new StoreError({ reason: "NotFound", store: name, detail: `no masterplan "${id}"` }))
    })
  return {
    name,
    createMasterplan: (masterplan) =>
      Effect.suspend(() => {
        if (plans.has(masterplan.id))
          return Effect.fail(
            new StoreError({
              reason: "Conflict",
              store: name,
              detail: `masterplan "${masterplan.id}" exists`
            })
          )
        plans.set(masterplan.id, { record: masterplan, events: [] })
        return Effect.void
      }),
    commit: (masterplanId, events) =>
      Effect.flatMap(find(masterplanId), (plan) => {
        let expected = plan.events.length + 1
        for (const event of events) {
          if (event.seq !== expected)
            return Effect.fail(
              new StoreError({
                reason: "Conflict",
                store: name,
                detail: `masterplan "${masterplanId}": event seq ${event.seq} where ${expected} was next`
              })
            )
          expected++
        }
        let status = plan.record.status
        for (const event of events) {
          plan.events.push(event)
          status = statusAfter(status, event)
        }
        if (status !== plan.record.status) plan.record = { ...plan.record, status }
        return Effect.void
      }),
    readEvents: (masterplanId, fromSeq, toSeq) =>
      Effect.map(find(masterplanId), (plan) =>
        plan.events.slice(Math.max(0, fromSeq - 1), toSeq === undefined ? undefined : Math.max(0, toSeq))
      ),
    getMasterplan: (masterplanId) => Effect.sync(() => Option.fromNullable(plans.get(masterplanId)?.record)),
    listMasterplans: () => Effect.sync(() => Array.from(plans.values(), (plan) => plan.record))
  }
}

/** The in-memory store as a layer; each build starts empty. */
export const StoreMemory: Layer.Layer<Store> = Layer.sync(Store, makeStoreMemory)
