import type { ModelProvider } from "@devmatrix/runtime"
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect } from "effect"
import type { Layer } from "effect"
import { layeredPlan } from "../layeredPlan.js"
import { atomsOf } from "./workloads.js"
import type { Workload } from "./workloads.js"

/**
 * The workload through the embedded engine on a store (the memory store unless told), from building
 * its layer to the plan's result: the plan's decoding and graph are part of what an atom costs.
 * Fails unless every atom completed.
 */
export const engineRun = (
  workload: Workload,
  provider?: Layer.Layer<ModelProvider>,
  store = "memory:",
  /** Whether answers go through the prompt cache (the default), or it is turned off. */
  promptCache = true
): Promise<void> =>
  Effect.gen(function* () {
    const engine = yield* Engine
    const id = yield* engine.submit(layeredPlan(workload.layers, workload.width, workload.concurrency))
    const end = yield* engine.result(id)
    if (end.type !== "masterplan.completed" || end.summary.atoms.completed !== atomsOf(workload))
      throw new Error(`engine run did not complete: ${JSON.stringify(end.summary.atoms)}`)
  }).pipe(
    Effect.scoped,
    Effect.provide(
      embeddedLayer({
        store,
        ...(provider !== undefined ? { provider } : {}),
        ...(promptCache ? {} : { promptCache: { disabled: true } })
      })
    ),
    Effect.runPromise
  )
