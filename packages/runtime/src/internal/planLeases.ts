import { Duration, Effect, Either, Option } from "effect"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import type { Lease, LeaseRequest, StoreError, StoreService } from "../Store.js"

/**
 * A running plan's lease lasts this long unless renewed, and is renewed this often: a process
 * that stops renewing (frozen, cut off) loses the plan to another within `leaseMs`. A holder
 * that is gone from this host is replaced at once.
 */
export const leaseMs = 15_000
export const leaseRenewMs = 5_000

/**
 * A renewal or a release that a store does not answer within this long is given up (and left to
 * end in the background): a stalled connection must not hold a plan's shutdown or its next renewal.
 */
const leaseCallTimeoutMs = 2_000

const bounded = <A, E>(call: Effect.Effect<A, E>) =>
  call.pipe(Effect.disconnect, Effect.timeoutOption(Duration.millis(leaseCallTimeoutMs)))

/** This process as a lease owner: `host/pid/token` (the token tells apart engines of one process). */
const leaseOwnerOfThisProcess = (): string =>
  `${hostname()}/${process.pid}/${randomUUID().replaceAll("-", "").slice(0, 8)}`

/**
 * Whether the process that holds a lease is known to be gone: it ran on this host and no process
 * has its pid any more (killed, crashed). A holder on another host is never known gone: its
 * lease has to lapse.
 */
export const leaseHolderGone = (owner: string): boolean => {
  const [host, pidText] = owner.split("/")
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    // Signal 0 only asks whether the process exists.
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}

/** One engine's leases: it takes them as one owner, renews those of its running plans, gives them up. */
export interface PlanLeases {
  readonly owner: string
  /** Takes a new plan's lease (free: nobody else knows its id yet). */
  readonly takeNew: (masterplanId: string) => Effect.Effect<void, StoreError>
  /**
   * Takes a plan's lease, from a holder that is gone if need be; the live holder that keeps it
   * otherwise.
   */
  readonly take: (masterplanId: string) => Effect.Effect<Option.Option<Lease>, StoreError>
  /**
   * Renews the lease every `leaseRenewMs` while `running()` says so; when another process has
   * taken it, runs `onLost` with that holder and stops.
   */
  readonly keep: (
    masterplanId: string,
    running: () => boolean,
    onLost: (holder: Lease) => Effect.Effect<void>
  ) => Effect.Effect<void>
  readonly release: (masterplanId: string) => Effect.Effect<void>
}

export const makePlanLeases = (store: StoreService, nowMs: () => number): PlanLeases => {
  const owner = leaseOwnerOfThisProcess()
  const request = (replacing?: string): LeaseRequest => {
    const now = nowMs()
    return { owner, untilMs: now + leaseMs, nowMs: now, replacing }
  }
  return {
    owner,
    takeNew: (masterplanId) => Effect.asVoid(store.acquireLease(masterplanId, request())),
    take: (masterplanId) =>
      Effect.gen(function* () {
        const first = yield* store.acquireLease(masterplanId, request())
        if (first._tag === "Granted") return Option.none()
        const second = leaseHolderGone(first.by.owner)
          ? yield* store.acquireLease(masterplanId, request(first.by.owner))
          : first
        return second._tag === "Granted" ? Option.none() : Option.some(second.by)
      }),
    keep: (masterplanId, running, onLost) =>
      Effect.gen(function* () {
        for (;;) {
          yield* Effect.sleep(Duration.millis(leaseRenewMs))
          if (!running()) return
          const outcome = yield* bounded(Effect.either(store.acquireLease(masterplanId, request())))
          // A store that cannot be reached now may be back by the next renewal; the commits say if not.
          if (
            Option.isNone(outcome) ||
            Either.isLeft(outcome.value) ||
            outcome.value.right._tag === "Granted"
          )
            continue
          return yield* onLost(outcome.value.right.by)
        }
      }),
    release: (masterplanId) => Effect.ignore(bounded(store.releaseLease(masterplanId, owner)))
  }
}
