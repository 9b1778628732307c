import type { PlanInputEncoded } from "@devmatrix/core"
import { layeredPlan } from "../layeredPlan.js"

/** The atoms of the streamed plan: 1,000 by default (about 5,000 events). */
export const fanoutAtoms = Number(process.env.DEVMATRIX_FANOUT_ATOMS) || 1_000

/**
 * The scripted model's answer time and the plan's static limit: the engine makes at most
 * `concurrency / latency` atoms a second (100/s, 5 events each). Measured, the engine spends 2-6
 * ms of CPU an atom on this machine (more with small commits, as here), so that rate leaves the
 * host's core about half free when no one watches: the stream offered is paced by the model,
 * not by the host's CPU, and what the watchers cost shows as the engine slowing, if it does.
 */
export const fanoutLatencyMs = Number(process.env.DEVMATRIX_FANOUT_LATENCY_MS) || 20
export const fanoutConcurrency = Number(process.env.DEVMATRIX_FANOUT_CONCURRENCY) || 2

/** Atoms per layer of the plan: wide enough that `fanoutConcurrency` atoms are always ready. */
const width = 50

/** The streamed plan: layers of 50 atoms, each depending on two of the layer before. */
export const fanoutPlan = (): PlanInputEncoded => {
  const plan = layeredPlan(Math.ceil(fanoutAtoms / width), width, fanoutConcurrency)
  return {
    ...plan,
    name: "fanout",
    options: { ...plan.options, promptCache: false, scripted: { latencyMs: fanoutLatencyMs } }
  }
}

/** The one token of the bench's host: an operator, who submits, pauses, resumes and watches. */
export const fanoutToken = {
  token: "bench-fanout-operator-token",
  tenant: "bench",
  role: "operator",
  principal: "bench@fanout"
} as const

/** The plan's id as submitted, and as the host names it (qualified by the tenant). */
export const fanoutPlanName = "fanout"
export const fanoutPlanId = `${fanoutToken.tenant}/${fanoutPlanName}`
