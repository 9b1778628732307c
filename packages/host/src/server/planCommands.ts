import type {
  AtomStatus,
  Command,
  CommandResult,
  CommandType,
  ErrorCode,
  Principal,
  Role
} from "@devmatrix/core"
import { isTerminalEvent, softLimitUsd } from "@devmatrix/core"
import { Engine, finishedStatuses, Store } from "@devmatrix/runtime"
import type { MasterplanRecord } from "@devmatrix/runtime"
import { Data, Effect, Option } from "effect"
import type { WatchHub } from "./watchHub.js"

/** A command refused: its `error` reply's code and message. */
export class CommandRefused extends Data.TaggedError("CommandRefused")<{
  readonly code: ErrorCode
  readonly message: string
}> {}

/** The lowest role each command needs: a `viewer` watches and reads; an `operator` acts; `admin` may do both. */
export const roleNeeded: Record<CommandType, Role> = {
  hello: "viewer",
  get: "viewer",
  list: "viewer",
  reviewList: "viewer",
  watch: "viewer",
  unwatch: "viewer",
  submit: "operator",
  cancel: "operator",
  pause: "operator",
  resume: "operator",
  raiseBudget: "operator",
  approve: "operator",
  edit: "operator",
  reject: "operator"
}

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/** Whether `role` may send `type`. */
export const mayDo = (role: Role, type: CommandType): boolean => rank[role] >= rank[roleNeeded[type]]

/**
 * The refusal for a plan the caller's tenant cannot see: the same bytes whether it does not exist
 * or belongs to another tenant, so that no tenant learns of another's plans.
 */
export const notFound = (masterplanId: string) =>
  new CommandRefused({ code: "not_found", message: `no masterplan ${JSON.stringify(masterplanId)}` })

/**
 * The id a plan is stored under: a client's own id lives in its tenant's namespace
 * (`tenant/id`), so that two tenants may choose the same id and neither learns the other has it.
 */
export const qualifiedId = (tenant: string, masterplanId: string) => `${tenant}/${masterplanId}`

/** The stored plan of the caller's tenant, or `not_found`. */
export const planOfTenant = (masterplanId: string, principal: Principal) =>
  Effect.flatMap(Store, (store) => store.getMasterplan(masterplanId)).pipe(
    Effect.flatMap((found) =>
      Option.isSome(found) && found.value.tenant === principal.tenant
        ? Effect.succeed(found.value)
        : Effect.fail(notFound(masterplanId))
    )
  )

const conflict = (message: string) => new CommandRefused({ code: "conflict", message })

const listingOf = (record: Omit<MasterplanRecord, "plan">): CommandResult<"list">["masterplans"][number] => ({
  masterplanId: record.id,
  name: record.name,
  status: record.status,
  ...(record.phase !== undefined ? { phase: record.phase } : {}),
  atomCount: record.atomCount,
  waveCount: record.waveCount,
  createdAt: record.createdAt,
  updatedAt: record.updatedAt,
  lastSeq: record.lastSeq
})

/** A plan this host does not run (it ended, or another process runs it): nothing to act on here. */
const notRunningHere = (record: MasterplanRecord) =>
  conflict(
    finishedStatuses.has(record.status)
      ? `masterplan ${JSON.stringify(record.id)} has ended (${record.status})`
      : `masterplan ${JSON.stringify(record.id)} is not running on this host`
  )

type PlanCommand = Exclude<Command, { readonly type: "hello" | "watch" | "unwatch" }>

/**
 * Runs a command on plans for `principal` (its role was checked): its ack's result, or why not.
 * The operator's principal goes into what the engine journals: the journal is the audit trail.
 */
export const runPlanCommand = (
  command: PlanCommand,
  principal: Principal,
  hub: WatchHub
): Effect.Effect<unknown, CommandRefused, Engine | Store> =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const store = yield* Store
    const by = { principal: principal.principal }
    switch (command.type) {
      case "submit": {
        const masterplanId =
          command.masterplanId !== undefined ? qualifiedId(principal.tenant, command.masterplanId) : undefined
        if (masterplanId !== undefined && Option.isSome(yield* store.getMasterplan(masterplanId)))
          return yield* conflict(`masterplan ${JSON.stringify(masterplanId)} exists`)
        const id = yield* engine.submit(command.plan, {
          ...(masterplanId !== undefined ? { masterplanId } : {}),
          ...(command.options !== undefined ? { options: command.options } : {}),
          tenant: principal.tenant,
          principal: principal.principal
        })
        hub.follow(id, 1)
        return { masterplanId: id } satisfies CommandResult<"submit">
      }
      case "get": {
        const record = yield* planOfTenant(command.masterplanId, principal)
        const atoms = yield* store.listAtoms(record.id)
        const counts: Partial<Record<AtomStatus, number>> = {}
        let costUsd = 0
        for (const atom of atoms) {
          counts[atom.status] = (counts[atom.status] ?? 0) + 1
          costUsd += atom.costUsd
        }
        const last = finishedStatuses.has(record.status)
          ? (yield* store.readEvents(record.id, record.lastSeq, record.lastSeq))[0]
          : undefined
        return {
          ...listingOf(record),
          atoms: counts,
          costUsd,
          ...(last !== undefined && isTerminalEvent(last) ? { summary: last.summary } : {})
        } satisfies CommandResult<"get">
      }
      case "list": {
        const all = yield* store.listMasterplans()
        return {
          masterplans: all.filter((record) => record.tenant === principal.tenant).map(listingOf)
        } satisfies CommandResult<"list">
      }
      case "reviewList": {
        const record = yield* planOfTenant(command.masterplanId, principal)
        const atoms = yield* store.listAtoms(record.id)
        return {
          atoms: atoms
            // A decision journaled while no process ran the plan waits for its resume: not for a reviewer.
            .filter((atom) => atom.status === "review" && atom.reviewed === undefined)
            .map((atom) => ({
              atomId: atom.atomId,
              wave: atom.wave,
              ...(atom.confidence !== undefined ? { confidence: atom.confidence } : {}),
              code: atom.code ?? ""
            }))
        } satisfies CommandResult<"reviewList">
      }
      case "cancel":
      case "pause":
      case "resume": {
        const record = yield* planOfTenant(command.masterplanId, principal)
        if (finishedStatuses.has(record.status)) return yield* notRunningHere(record)
        if (command.type === "pause" && record.status === "paused")
          return yield* conflict(`masterplan ${JSON.stringify(record.id)} is paused already`)
        if (command.type === "resume" && record.status !== "paused")
          return yield* conflict(`masterplan ${JSON.stringify(record.id)} is not paused (${record.status})`)
        const acted =
          command.type === "cancel"
            ? engine.cancel(record.id, command.reason, by)
            : command.type === "pause"
              ? engine.pause(record.id, command.reason, by)
              : engine.resume(record.id, by)
        yield* Effect.catchTag(acted, "MasterplanNotFound", () => Effect.fail(notRunningHere(record)))
        return {}
      }
      case "raiseBudget": {
        const record = yield* planOfTenant(command.masterplanId, principal)
        yield* engine.raiseBudget(record.id, { hardUsd: command.hardUsd }, by).pipe(
          Effect.catchTags({
            MasterplanNotFound: () => Effect.fail(notFound(command.masterplanId)),
            MasterplanNotResumable: (error) => Effect.fail(conflict(error.message))
          })
        )
        const budget = { hardUsd: command.hardUsd }
        return { ...budget, softUsd: softLimitUsd(budget) } satisfies CommandResult<"raiseBudget">
      }
      case "approve":
      case "edit":
      case "reject": {
        const record = yield* planOfTenant(command.masterplanId, principal)
        const decision =
          command.type === "approve"
            ? ("APPROVE" as const)
            : command.type === "edit"
              ? { edit: command.code }
              : { reject: command.reason }
        yield* engine.review(record.id, command.atomId, decision, by).pipe(
          Effect.catchTags({
            MasterplanNotFound: () => Effect.fail(notRunningHere(record)),
            MasterplanNotResumable: (error) => Effect.fail(conflict(error.message)),
            AtomNotInReview: (error) =>
              Effect.fail(
                error.status === "unknown"
                  ? new CommandRefused({
                      code: "not_found",
                      message: `masterplan ${JSON.stringify(record.id)} has no atom ${JSON.stringify(command.atomId)}`
                    })
                  : conflict(
                      `atom ${JSON.stringify(command.atomId)} of ${JSON.stringify(record.id)} is not waiting for review${error.status !== undefined && error.status !== "review" ? ` (it is ${error.status})` : ""}`
                    )
              )
          })
        )
        return {}
      }
    }
  }).pipe(
    Effect.catchTags({
      PlanInputError: (error) =>
        Effect.fail(new CommandRefused({ code: "invalid_command", message: error.message })),
      PlanGraphError: (error) =>
        Effect.fail(new CommandRefused({ code: "invalid_command", message: error.message })),
      StoreError: (error) => Effect.fail(new CommandRefused({ code: "internal", message: error.message })),
      AdmissionQueueFull: (error) =>
        Effect.fail(new CommandRefused({ code: "queue_full", message: error.message }))
    })
  )
