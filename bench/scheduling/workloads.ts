import { buildPlanGraph, seededRandom } from "@devmatrix/core"
import type { PlanGraph } from "@devmatrix/core"
import { Either } from "effect"
import type { ProviderProfile } from "./simProvider.js"
import type { SimAtom } from "./simulate.js"

/** A standard normal from two uniforms (Box-Muller). */
const normal = (random: () => number): number =>
  Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

export const logNormal = (random: () => number, median: number, sigma: number): number =>
  median * Math.exp(sigma * normal(random))

/** Work of calls that use few tokens (the request-limited workloads). */
const requestCall = (workMs: number): SimAtom => ({
  workMs,
  countedInputTokens: 500,
  maxTokens: 200,
  outputTokens: 100,
  demand: { inputTokens: 500, outputTokens: 200 },
  used: { inputTokens: 500, outputTokens: 100 }
})

/**
 * A random DAG of `size` atoms: each depends on 0-3 atoms among the `reach` before it (a small
 * reach makes long chains, a large one a wide, shallow plan), with log-normal work (median 1 s,
 * sigma 0.5).
 */
export const randomDag = (
  size: number,
  reach: number,
  seed: number
): { readonly graph: PlanGraph; readonly atoms: ReadonlyArray<SimAtom> } => {
  const random = seededRandom(seed)
  const specs = Array.from({ length: size }, (_, i) => {
    const count = i === 0 ? 0 : Math.floor(random() * 4)
    const deps = new Set<string>()
    for (let k = 0; k < count; k++)
      deps.add(`a${Math.max(0, i - 1 - Math.floor(random() * Math.min(i, reach)))}`)
    return { id: `a${i}`, dependsOn: [...deps] }
  })
  const graph = buildPlanGraph(specs)
  if (Either.isLeft(graph)) throw new Error(graph.left.message)
  return { graph: graph.right, atoms: specs.map(() => requestCall(logNormal(random, 1_000, 0.5))) }
}

/** max(critical path in time, total work / permits): no schedule beats it. */
export const makespanLowerBound = (
  graph: PlanGraph,
  atoms: ReadonlyArray<SimAtom>,
  permits: number
): { readonly criticalPathMs: number; readonly workMs: number; readonly boundMs: number } => {
  const finish = new Array<number>(atoms.length).fill(0)
  for (const wave of graph.waves)
    for (const atom of wave) {
      let ready = 0
      for (const dep of graph.deps[atom]!) ready = Math.max(ready, finish[dep]!)
      finish[atom] = ready + atoms[atom]!.workMs
    }
  const criticalPathMs = Math.max(...finish)
  const workMs = atoms.reduce((sum, atom) => sum + atom.workMs, 0) / permits
  return { criticalPathMs, workMs, boundMs: Math.max(criticalPathMs, workMs) }
}

/** Independent atoms of log-normal work (median `medianMs`, sigma 0.3), few tokens each. */
export const independentAtoms = (size: number, medianMs: number, seed: number): ReadonlyArray<SimAtom> => {
  const random = seededRandom(seed)
  return Array.from({ length: size }, () => requestCall(logNormal(random, medianMs, 0.3)))
}

const sigmaOfWork = 0.3

/** The request-limited provider of workloads 2 and 3: latency grows with load, 1 s of burst. */
export const requestLimitedProvider = (capacity: number, headers: boolean): ProviderProfile => ({
  capacity,
  medianLatencyMs: 200,
  loadFactor: 0.25,
  burstMs: 1_000,
  headers,
  rejectLatencyMs: 15,
  meanWorkFactor: Math.exp((sigmaOfWork * sigmaOfWork) / 2)
})

/** An unlimited provider that answers in exactly each atom's work: workload 1 measures the scheduler. */
export const unlimitedProvider: ProviderProfile = {
  capacity: 1e9,
  medianLatencyMs: 1_000,
  loadFactor: 0,
  burstMs: 60_000,
  requestsPerMinute: Number.POSITIVE_INFINITY,
  headers: false,
  rejectLatencyMs: 15,
  meanWorkFactor: 1
}

/** Workload 4's provider: limited by input and output tokens per minute, full-minute buckets as the fake's. */
export const tokenLimitedProvider = (headers: boolean): ProviderProfile => ({
  capacity: 400,
  medianLatencyMs: 1,
  loadFactor: 0.25,
  burstMs: 60_000,
  requestsPerMinute: 4_000,
  inputTokensPerMinute: 400_000,
  outputTokensPerMinute: 80_000,
  headers,
  rejectLatencyMs: 15,
  meanWorkFactor: 1
})

/** Share of workload 4's atoms whose 4,000-token prefix is read from the prompt cache. */
export const cachedShare = 0.7
const prefixTokens = 4_000
const maxTokens = 1_024

/**
 * Workload 4's atoms: a unique part (median 600 tokens) after a 4,000-token prefix that 70% of the
 * atoms read from the cache (not counted) and the rest write (counted); output median 180 tokens
 * of `max_tokens` 1,024; the call's time is 400 ms plus 8 ms per output token. `countCached` makes
 * the demand count the cached prefix too (a cache-blind caller).
 */
export const tokenAtoms = (size: number, seed: number, countCached: boolean): ReadonlyArray<SimAtom> => {
  const random = seededRandom(seed)
  return Array.from({ length: size }, () => {
    const unique = Math.round(logNormal(random, 600, 0.4))
    const cached = random() < cachedShare
    const counted = unique + (cached ? 0 : prefixTokens)
    const output = Math.min(maxTokens, Math.round(logNormal(random, 180, 0.5)))
    const workMs = (400 + 8 * output) * Math.exp(0.2 * normal(random))
    return {
      workMs,
      countedInputTokens: counted,
      maxTokens,
      outputTokens: output,
      demand: { inputTokens: countCached ? unique + prefixTokens : counted, outputTokens: maxTokens },
      used: { inputTokens: countCached ? unique + prefixTokens : counted, outputTokens: output }
    }
  })
}
