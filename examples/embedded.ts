/**
 * DevMatrix embedded: one process, no services. Run it with `node --import tsx examples/embedded.ts`.
 */
import { Engine, embeddedLayer } from "@devmatrix/runtime"
import { Effect, Stream } from "effect"

/** Runs a two-atom plan on the offline scripted model and returns its terminal event. */
export const runHello = Effect.gen(function* () {
  const engine = yield* Engine
  const id = yield* engine.submit({
    name: "hello",
    atoms: [
      { id: "greet", instruction: "write greet(name)", defines: ["greet"] },
      { id: "shout", dependsOn: ["greet"], instruction: "write shout(name) using greet", defines: ["shout"] }
    ]
  })
  yield* Stream.runForEach(engine.events(id), (event) => Effect.log(`${event.seq} ${event.type}`))
  return yield* engine.result(id)
}).pipe(Effect.provide(embeddedLayer({ store: "memory:" })), Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  const end = await Effect.runPromise(runHello)
  process.stdout.write(`${end.type}: ${end.summary.atoms.completed} atoms completed\n`)
}
