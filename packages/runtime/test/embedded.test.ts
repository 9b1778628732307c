import type { JsonObject } from "@devmatrix/core"
import { Engine, embeddedLayer, ModelProvider, scriptedCode, Store } from "@devmatrix/runtime"
import type { ModelRequest, ModelResponse } from "@devmatrix/runtime"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** What the test's provider answers: code that defines what the atom must, billed as nothing. */
const answerTo = (request: ModelRequest): ModelResponse => ({
  text: scriptedCode(request),
  model: request.model,
  usage: {
    inputTokens: 10,
    outputTokens: 10,
    cacheWriteTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: 0
  },
  stopReason: "end_turn"
})

/** A provider of the test's own: it answers every call, and keeps every request it was given. */
const recordingProvider = (seen: Array<ModelRequest>) =>
  Layer.succeed(ModelProvider, {
    name: "recording",
    generate: (request) => Effect.sync(() => (seen.push(request), answerTo(request)))
  })

/** What each atom's calls carried as `input`, by atom id (`"absent"` for a call without one). */
const inputsByAtom = (seen: ReadonlyArray<ModelRequest>) =>
  Object.fromEntries(seen.map((request) => [request.atomId, request.input ?? "absent"]))

const inputs = {
  user: { name: "Ada", roles: ["admin", "dev"], age: 36, active: true, manager: null },
  order: { id: 42, lines: [{ sku: "A-1", qty: 2, price: 9.5 }], notes: "line one\nline two 😀" },
  // `__proto__` as a key, as JSON.parse gives it (in an object literal it would set the prototype).
  nested: JSON.parse(
    '{"a":{"b":{"c":[[1,2],[3]]}},"odd key":-1e-9,"__proto__":"kept as a key"}'
  ) as JsonObject
} satisfies Record<string, JsonObject>

const plan = {
  name: "payloads",
  atoms: [
    { id: "user", instruction: "write a user record", input: inputs.user },
    { id: "order", instruction: "write an order", dependsOn: ["user"], input: inputs.order },
    { id: "nested", instruction: "write a tree", input: inputs.nested },
    { id: "plain", instruction: "write without a payload", dependsOn: ["order", "nested"] }
  ]
}
const expected = { ...inputs, plain: "absent" }

describe("embeddedLayer with a provider of one's own", () => {
  it.effect("every atom's `input` reaches the provider, exactly, and the plan completes", () => {
    const seen: Array<ModelRequest> = []
    return Effect.gen(function* () {
      const engine = yield* Engine
      const end = yield* engine.result(yield* engine.submit(plan))
      assert.strictEqual(end.type, "masterplan.completed")
      assert.strictEqual(end.summary.atoms.completed, 4)
      assert.strictEqual(seen.length, 4)
      assert.deepStrictEqual(inputsByAtom(seen), expected)
      // As an own key, not a prototype: the provider gets what JSON says.
      const nested = seen.find((request) => request.atomId === "nested")!.input!
      assert.deepStrictEqual(Object.keys(nested), ["a", "odd key", "__proto__"])
      assert.strictEqual(Object.getPrototypeOf(nested), Object.prototype)
    }).pipe(Effect.provide(embeddedLayer({ provider: recordingProvider(seen), store: "memory:" })))
  })

  it.effect("a bad `input` is refused at submit, naming the atom and the field; nothing is stored", () => {
    const seen: Array<ModelRequest> = []
    return Effect.gen(function* () {
      const engine = yield* Engine
      const bad = {
        name: "bad",
        atoms: [
          { id: "fine", instruction: "write it", input: { n: 1 } },
          { id: "dated", instruction: "write it", input: { when: new Date(0), n: Infinity } },
          { id: "listed", instruction: "write it", input: [1, 2] }
        ]
      }
      const error = yield* Effect.flip(engine.submit(bad))
      assert.strictEqual(error._tag, "PlanInputError")
      assert.strictEqual(
        error.message,
        [
          "plan is invalid:",
          "  - atoms[1].input.when: expected a JSON value (a string, a finite number, a boolean, null, an array or an object), got a Date",
          "  - atoms[1].input.n: expected a JSON value (a string, a finite number, a boolean, null, an array or an object), got Infinity",
          "  - atoms[2].input: expected a JSON object, got an array"
        ].join("\n")
      )
      assert.deepStrictEqual(yield* (yield* Store).listMasterplans(), [])
      assert.strictEqual(seen.length, 0)
    }).pipe(Effect.provide(embeddedLayer({ provider: recordingProvider(seen), store: "memory:" })))
  })

  it.effect("two atoms alike but for their `input` never share a cached answer", () => {
    const seen: Array<ModelRequest> = []
    const withInput = (input: JsonObject) => ({
      name: "cached",
      atoms: [{ id: "same", instruction: "write the same thing", input }]
    })
    return Effect.gen(function* () {
      const engine = yield* Engine
      const run = (input: JsonObject) =>
        Effect.flatMap(engine.submit(withInput(input)), (id) => engine.result(id))
      assert.strictEqual((yield* run({ n: 1 })).summary.cacheHits, 0)
      // The cache is written in the background: the same atom again is served once the write landed.
      let hit = false
      for (let tries = 0; tries < 100 && !hit; tries++) {
        yield* Effect.yieldNow()
        hit = (yield* run({ n: 1 })).summary.cacheHits === 1
      }
      assert.isTrue(hit, "the same atom with the same input is served from the cache")
      const callsBefore = seen.length
      const other = yield* run({ n: 2 })
      assert.strictEqual(other.type, "masterplan.completed")
      assert.strictEqual(other.summary.cacheHits, 0)
      assert.deepStrictEqual(
        seen.slice(callsBefore).map((request) => request.input),
        [{ n: 2 }]
      )
    }).pipe(Effect.provide(embeddedLayer({ provider: recordingProvider(seen), store: "memory:" })))
  })

  describe("a plan stored and resumed", () => {
    const dir = mkdtempSync(join(tmpdir(), "devmatrix-embedded-"))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it.effect("hands the provider of the resuming engine the same inputs", () => {
      const store = `sqlite:${join(dir, "resume.db")}`
      const resumed: Array<ModelRequest> = []
      return Effect.gen(function* () {
        // First engine: its provider never answers; once every call has started, the plan is detached.
        const started: Array<ModelRequest> = []
        const allStarted = yield* Deferred.make<void>()
        const stalling = Layer.succeed(ModelProvider, {
          name: "recording",
          generate: (request) =>
            Effect.gen(function* () {
              if (started.push(request) === 2) yield* Deferred.succeed(allStarted, undefined)
              return yield* Effect.never
            })
        })
        const twoAtoms = {
          name: "resumable",
          atoms: plan.atoms.filter((atom) => atom.dependsOn === undefined)
        }
        const id = yield* Effect.gen(function* () {
          const engine = yield* Engine
          const id = yield* engine.submit(twoAtoms)
          yield* Deferred.await(allStarted)
          yield* engine.detach(id)
          return id
        }).pipe(Effect.provide(embeddedLayer({ provider: stalling, store })), Effect.scoped)
        assert.deepStrictEqual(inputsByAtom(started), { user: inputs.user, nested: inputs.nested })

        // Second engine, on the stored plan alone.
        const end = yield* Effect.gen(function* () {
          const engine = yield* Engine
          yield* engine.recover(id)
          return yield* engine.result(id)
        }).pipe(Effect.provide(embeddedLayer({ provider: recordingProvider(resumed), store })), Effect.scoped)
        assert.strictEqual(end.type, "masterplan.completed")
        assert.deepStrictEqual(inputsByAtom(resumed), { user: inputs.user, nested: inputs.nested })
      })
    })
  })
})
