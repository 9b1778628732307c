import { hashString, seededRandom } from "@devmatrix/core"

/** A layered DAG run at a concurrency limit (see `layeredAtoms`). */
export interface Workload {
  readonly layers: number
  readonly width: number
  readonly concurrency: number
}

export const atomsOf = (workload: Workload): number => workload.layers * workload.width

/** The overhead workload: 10,000 zero-latency atoms, concurrency 100. */
export const zeroLatency: Workload = { layers: 20, width: 500, concurrency: 100 }

/** A static limit of 40 with 250 atoms per layer, so that 40 are always ready: 5,000 atoms. */
export const realLatency: Workload = { layers: 20, width: 250, concurrency: 40 }

/** The memory workload: 100,000 zero-latency atoms, concurrency 100. */
export const hundredThousand: Workload = { layers: 200, width: 500, concurrency: 100 }

/** The provider's answer time in the real-latency case: uniform over 10-30 ms, seeded. */
export const latencyRange = { min: 10, max: 30 } as const
export const latencySeed = 1

/**
 * Atom `atomId`'s first-attempt latency exactly as the scripted model draws it for `latencySeed`
 * (the first number of its `seed/atomId/attempt` generator), so the pool waits what the engine waits.
 */
export const latencyOfAtom = (atomId: string): number =>
  latencyRange.min +
  (latencyRange.max - latencyRange.min) * seededRandom(hashString(`${latencySeed}/${atomId}/1`))()
