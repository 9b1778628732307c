import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect } from "effect"
import { layeredPlan } from "./layeredPlan.js"
const layers = Number(process.env.L ?? 20), width = Number(process.env.W ?? 500)
const cache = process.env.CACHE === "off" ? { promptCache: { disabled: true } } : {}
const run = () => Effect.gen(function* () {
  const engine = yield* Engine
  const id = yield* engine.submit(layeredPlan(layers, width, 100))
  const end = yield* engine.result(id)
  return end
}).pipe(Effect.scoped, Effect.provide(embeddedLayer({ store: "memory:", ...cache })), Effect.runPromise)
const t = performance.now()
const end = await run()
const s = (performance.now() - t) / 1000
console.log(end.type, Math.round((layers * width) / s), "atoms/s", Math.round(process.resourceUsage().maxRSS / 1024), "MB")
const u = process.cpuUsage(); console.log("cpu s", (u.user + u.system) / 1e6)
