/**
 * The host under test, in a process of its own: `startHost` (what `devmatrix host` runs) on the
 * embedded engine with the scripted model and a memory store, the store wrapped to note when
 * each event's commit returned (on this process's clock): the moment from which a watcher's delay
 * counts. Everything else is the host as it ships. Started by `bench/host-fanout.ts`.
 */
import type { Event } from "@devmatrix/core"
import { startHost, tokenTable } from "@devmatrix/host"
import {
  CostLedgerLocal,
  EngineBase,
  makeStoreMemory,
  ModelProviderFor,
  PricesDefault,
  promptCacheFromOptions,
  SchedulerLocal,
  Store
} from "@devmatrix/runtime"
import { Deferred, Effect, Layer } from "effect"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { childConfig, nowMs, serveParent } from "./childProcess.js"
import { fanoutPlanId, fanoutToken } from "./fanoutPlan.js"
import { openCostWindow } from "./processStats.js"
import type { ProcessCost } from "./processStats.js"

export interface HostConfig {
  /** Where to write a CPU profile of the measured window (from `mark` to `report`), if anywhere. */
  readonly profilePath?: string
}

/** What the host reports once the plan has ended. */
export interface HostReport {
  /** `[seq, committedAtMs]` of every event of the plan, in seq order. */
  readonly commits: ReadonlyArray<readonly [number, number]>
  readonly events: ReadonlyArray<Event>
  readonly cost: ProcessCost
}

const commitAt = new Map<number, number>()

/** The memory store, noting each event's commit time as the commit returns. */
const StoreNotingCommits = Layer.sync(Store, () => {
  const store = makeStoreMemory()
  return {
    ...store,
    commit: (masterplanId, batch) =>
      Effect.tap(store.commit(masterplanId, batch), () =>
        Effect.sync(() => {
          const at = nowMs()
          for (const event of batch.events) commitAt.set(event.seq, at)
        })
      )
  }
})

const engineLayer = EngineBase.pipe(
  Layer.provide(
    Layer.mergeAll(
      ModelProviderFor({}),
      SchedulerLocal,
      CostLedgerLocal,
      PricesDefault,
      promptCacheFromOptions({ disabled: true })
    )
  ),
  Layer.provideMerge(StoreNotingCommits)
)

const config = childConfig<HostConfig>()

/** Profiles the window only: the host's start (and tsx compiling it) is not what is measured. */
const startProfile = async (): Promise<(() => Promise<void>) | undefined> => {
  const path = config.profilePath
  if (path === undefined) return undefined
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  return async () => {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(path, JSON.stringify(profile))
    session.disconnect()
  }
}

const program = Effect.gen(function* () {
  const store = yield* Store
  const host = yield* startHost({ port: 0, tokens: tokenTable([fanoutToken]) })
  const stop = yield* Deferred.make<void>()
  let window: ReturnType<typeof openCostWindow> | undefined
  let stopProfile: (() => Promise<void>) | undefined
  serveParent(host.port, async (request) => {
    switch (request.type) {
      case "mark":
        stopProfile = await startProfile()
        window = openCostWindow()
        return {}
      case "report": {
        const cost = window!.close()
        await stopProfile?.()
        const events = await Effect.runPromise(store.readEvents(fanoutPlanId, 1))
        const report: HostReport = {
          commits: events.map((event) => [event.seq, commitAt.get(event.seq)!] as const),
          events,
          cost
        }
        return report
      }
      default:
        return {}
    }
  })
  process.once("SIGTERM", () => Deferred.unsafeDone(stop, Effect.void))
  yield* Deferred.await(stop)
})

await Effect.runPromise(program.pipe(Effect.provide(engineLayer), Effect.scoped))
process.exit(0)
