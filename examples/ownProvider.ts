/**
 * DevMatrix embedded with a model provider of one's own, which reads each atom's `input`. Run it
 * with `node --import tsx examples/ownProvider.ts`.
 */
import { Engine, embeddedLayer, ModelProvider, Store } from "@devmatrix/runtime"
import { Effect, Layer } from "effect"

/** Answers every call itself, with code made from the atom's `input`; bills nothing. */
const greeter = Layer.succeed(ModelProvider, {
  name: "greeter",
  generate: (request) => {
    const name = request.input?.["name"]
    return Effect.succeed({
      text: `export const ${request.atomId} = ${JSON.stringify(`Hello, ${typeof name === "string" ? name : "world"}!`)}\n`,
      model: request.model,
      usage: {
        inputTokens: 0,
        outputTokens: 0,
        cacheWriteTokens: 0,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0
      },
      stopReason: "end_turn" as const
    })
  }
})

/** Runs a plan of two atoms, each with its own `input`, and returns the code accepted for each. */
export const runGreeter = Effect.gen(function* () {
  const engine = yield* Engine
  const id = yield* engine.submit({
    name: "greetings",
    atoms: [
      { id: "hiAda", instruction: "greet the user", defines: ["hiAda"], input: { name: "Ada" } },
      { id: "hiAlan", instruction: "greet the user", defines: ["hiAlan"], input: { name: "Alan" } }
    ]
  })
  yield* engine.result(id)
  const atoms = yield* (yield* Store).listAtoms(id)
  return atoms.map((atom) => `${atom.atomId} (${atom.status}): ${atom.code ?? ""}`)
}).pipe(Effect.provide(embeddedLayer({ provider: greeter, store: "memory:" })), Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`)
  process.stdout.write((await Effect.runPromise(runGreeter)).join(""))
