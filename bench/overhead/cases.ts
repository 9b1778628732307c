import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { dagPool } from "./dagPool.js"
import { engineRun } from "./engineRun.js"
import { watchEventLoop } from "./eventLoopDelay.js"
import { fiberWork } from "./fiberFloor.js"
import { makeInFlightMeter } from "./inFlightMeter.js"
import type { Measurement } from "./measurement.js"
import { meteredScriptedProvider } from "./meteredProvider.js"
import {
  atomsOf,
  hundredThousand,
  latencyOfAtom,
  latencyRange,
  latencySeed,
  realLatency,
  zeroLatency
} from "./workloads.js"
import type { Workload } from "./workloads.js"
import { atomActorWork } from "./xstateFloor.js"

type Extra = Omit<Measurement, "atoms" | "seconds" | "peakRssMb">

/** A case: the work to time, and what it measured besides time once it is over. */
interface Case {
  readonly workload: Workload
  readonly run: () => Promise<Extra>
}

const none = async (): Promise<Extra> => ({})
const zeroWork = async (i: number) => i

/** The real-latency cases: the meter and the event loop's delay around a run. */
const withLatencyMeters =
  (run: (meter: ReturnType<typeof makeInFlightMeter>) => Promise<void>) => async () => {
    const meter = makeInFlightMeter()
    const loop = watchEventLoop()
    await run(meter)
    return { calls: meter.calls(), inFlight: meter.average(), eventLoopP99Ms: loop.p99Ms() }
  }

export const cases: Record<string, Case> = {
  pool: { workload: zeroLatency, run: () => dagPool(zeroLatency, zeroWork).then(none) },
  fibers: { workload: zeroLatency, run: () => dagPool(zeroLatency, fiberWork()).then(none) },
  actors: {
    workload: zeroLatency,
    run: () => dagPool(zeroLatency, atomActorWork(atomsOf(zeroLatency))).then(none)
  },
  engine: { workload: zeroLatency, run: () => engineRun(zeroLatency).then(none) },
  /** The same run with the prompt cache off: what its key, lookup and write cost per atom. */
  "engine-no-cache": {
    workload: zeroLatency,
    run: () => engineRun(zeroLatency, undefined, "memory:", false).then(none)
  },
  "pool-latency": {
    workload: realLatency,
    run: withLatencyMeters((meter) =>
      dagPool(realLatency, async (_, atomId) => {
        meter.started()
        await sleep(latencyOfAtom(atomId))
        meter.ended()
      })
    )
  },
  "engine-latency": {
    workload: realLatency,
    run: withLatencyMeters((meter) =>
      engineRun(realLatency, meteredScriptedProvider({ seed: latencySeed, latencyMs: latencyRange }, meter))
    )
  },
  "engine-100k": { workload: hundredThousand, run: () => engineRun(hundredThousand).then(none) },
  /** The same plan on the embedded default store, an SQLite file (in a directory of its own). */
  "engine-100k-sqlite": {
    workload: hundredThousand,
    run: async () => {
      const dir = mkdtempSync(join(tmpdir(), "devmatrix-overhead-"))
      try {
        return await engineRun(hundredThousand, undefined, `sqlite:${join(dir, "devmatrix.db")}`).then(none)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/** Runs one case once, timed, and the measurement with this process's peak RSS. */
export const runCase = async (name: string): Promise<Measurement> => {
  const chosen = cases[name]
  if (chosen === undefined) throw new Error(`no such case: ${name}`)
  const started = performance.now()
  const extra = await chosen.run()
  const seconds = (performance.now() - started) / 1000
  return {
    atoms: atomsOf(chosen.workload),
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    ...extra
  }
}
