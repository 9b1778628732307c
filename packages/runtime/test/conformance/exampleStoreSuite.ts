import { cosineSimilarity, exampleEmbeddingText, hashingEmbedding } from "@devmatrix/core"
import type { Example } from "@devmatrix/core"
import { EmbedderError, ExampleStore, hashingEmbedder } from "@devmatrix/runtime"
import type { Embedder, ExampleStoreError, ExampleStoreService } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { smallExamples } from "../exampleFixtures.js"

/**
 * An example store backend under test. `setup` makes empty backing data for one test (removed
 * with the test's scope) and returns how to open a store on it; opening twice opens the same data.
 */
export interface ExampleStoreSubject {
  readonly setup: Effect.Effect<
    (embedder?: Embedder) => Layer.Layer<ExampleStore, ExampleStoreError>,
    unknown,
    Scope.Scope
  >
  /** Whether examples outlive the store that added them (Chroma), or go with it (memory). */
  readonly durable: boolean
}

/** Opens a store in the current scope and hands its service out. */
export const openStore = (layer: Layer.Layer<ExampleStore, ExampleStoreError>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, ExampleStore))

const ids = (matches: ReadonlyArray<{ readonly example: Example }>) => matches.map((m) => m.example.id)

const byId = (id: string) => smallExamples.find((example) => example.id === id)!

/** An embedder that fails, or lies about its vectors, to see the store say so. */
const brokenEmbedder = (how: "fails" | "short"): Embedder => ({
  name: "hashing/256/3",
  dimension: 256,
  embed: (texts) =>
    how === "fails"
      ? Effect.fail(
          new EmbedderError({ reason: "Unavailable", embedder: "broken", detail: "the model is down" })
        )
      : Effect.succeed(texts.map(() => [1, 0, 0]))
})

/** What every ExampleStore layer must do, whatever keeps its examples. */
export const exampleStoreSuite = (name: string, subject: ExampleStoreSubject) =>
  describe(`ExampleStore conformance: ${name}`, () => {
    const fresh = Effect.flatMap(subject.setup, (open) => openStore(open()))

    it.scopedLive(
      "an added example is found, field for field, with its cosine similarity; count counts it",
      () =>
        Effect.gen(function* () {
          const store: ExampleStoreService = yield* fresh
          assert.strictEqual(yield* store.count(), 0)
          yield* store.add(smallExamples)
          assert.strictEqual(yield* store.count(), smallExamples.length)
          const text = "parse a todo from JSON text"
          const matches = yield* store.search({ text, language: "typescript", k: 1, minSimilarity: -1 })
          assert.deepStrictEqual(ids(matches), ["ts/parseTodo"])
          assert.deepStrictEqual(matches[0]!.example, byId("ts/parseTodo"))
          const expected = cosineSimilarity(
            hashingEmbedding(text).map(Math.fround),
            hashingEmbedding(exampleEmbeddingText(byId("ts/parseTodo"))).map(Math.fround)
          )
          assert.closeTo(matches[0]!.similarity, expected, 1e-9)
        })
    )

    it.scopedLive("an example without an instruction comes back without one", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        const { instruction: _, ...bare } = byId("ts/Todo")
        yield* store.add([bare])
        const [match] = yield* store.search({
          text: "todo id title done",
          language: "typescript",
          minSimilarity: -1
        })
        assert.deepStrictEqual(match?.example, bare)
        assert.isFalse("instruction" in match!.example)
      })
    )

    it.scopedLive(
      "adding is idempotent by id: the same examples twice change nothing; a new version replaces",
      () =>
        Effect.gen(function* () {
          const store = yield* fresh
          const query = { text: "parse a todo", language: "typescript", k: 3, minSimilarity: -1 } as const
          yield* store.add(smallExamples)
          const before = yield* store.search(query)
          yield* store.add(smallExamples)
          assert.strictEqual(yield* store.count(), smallExamples.length)
          assert.deepStrictEqual(yield* store.search(query), before)
          const changed = {
            ...byId("ts/parseTodo"),
            code: "export const parseTodo = (json: string): Todo => JSON.parse(json)"
          }
          yield* store.add([changed])
          assert.strictEqual(yield* store.count(), smallExamples.length)
          const found = (yield* store.search(query)).find((m) => m.example.id === "ts/parseTodo")
          assert.strictEqual(found?.example.code, changed.code)
        })
    )

    it.scopedLive("of two examples with one id in one add, the last is kept", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        const first = byId("ts/parseTodo")
        const last = { ...first, code: "export const parseTodo = (text: string): Todo => JSON.parse(text)" }
        yield* store.add([first, last])
        assert.strictEqual(yield* store.count(), 1)
        const [match] = yield* store.search({ text: "parse todo", language: "typescript", minSimilarity: -1 })
        assert.strictEqual(match?.example.code, last.code)
      })
    )

    it.scopedLive("filters by language, and by kind when asked", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        yield* store.add(smallExamples)
        const text = "parse a todo item from its JSON text"
        const python = yield* store.search({ text, language: "python", k: 10, minSimilarity: -1 })
        assert.deepStrictEqual(ids(python).sort(), ["py/Todo", "py/parse_todo"])
        const javascript = yield* store.search({ text, language: "javascript", k: 10, minSimilarity: -1 })
        assert.deepStrictEqual(ids(javascript), ["js/parseTodo"])
        const classes = yield* store.search({
          text,
          language: "typescript",
          kind: "class",
          k: 10,
          minSimilarity: -1
        })
        assert.deepStrictEqual(ids(classes), ["ts/TodoStore"])
        const none = yield* store.search({
          text,
          language: "typescript",
          kind: "decorator",
          minSimilarity: -1
        })
        assert.deepStrictEqual(none, [])
      })
    )

    it.scopedLive("never returns an example below the threshold, nor more than k", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        yield* store.add(smallExamples)
        const text = "parse a todo item from its JSON text"
        const all = yield* store.search({ text, language: "typescript", k: 10, minSimilarity: -1 })
        assert.strictEqual(all.length, 3)
        const similarities = all.map((m) => m.similarity).sort((a, b) => b - a)
        const between = (similarities[0]! + similarities[1]!) / 2
        const above = yield* store.search({ text, language: "typescript", k: 10, minSimilarity: between })
        assert.deepStrictEqual(ids(above), ["ts/parseTodo"])
        for (const match of above) assert.isAtLeast(match.similarity, between)
        assert.deepStrictEqual(
          yield* store.search({ text, language: "typescript", minSimilarity: similarities[0]! + 1e-6 }),
          []
        )
        assert.strictEqual(
          (yield* store.search({ text, language: "typescript", k: 2, minSimilarity: -1 })).length,
          2
        )
        assert.deepStrictEqual(yield* store.search({ text, language: "typescript", k: 0 }), [])
        // The default threshold (0.3) keeps out what has nothing in common with the query.
        assert.deepStrictEqual(yield* store.search({ text: "zebra giraffe", language: "typescript" }), [])
      })
    )

    it.scopedLive("refuses an invalid example, adding none of the batch, and an invalid query", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        const bad = { ...byId("ts/Todo"), id: "ts/bad", defines: [""] }
        const refused = yield* Effect.flip(store.add([byId("ts/parseTodo"), bad]))
        assert.strictEqual(refused.reason, "Invalid")
        assert.include(refused.detail, '"ts/bad"')
        assert.include(refused.detail, "defines.0")
        assert.strictEqual(yield* store.count(), 0)
        const badLanguage = { ...byId("ts/Todo"), language: "cobol" } as unknown as Example
        assert.strictEqual((yield* Effect.flip(store.add([badLanguage]))).reason, "Invalid")
        for (const query of [
          { text: "x", language: "typescript", k: -1 },
          { text: "x", language: "typescript", k: 1.5 },
          { text: "x", language: "typescript", minSimilarity: 2 },
          { text: "x", language: "typescript", diversity: { lambda: 1.5 } },
          { text: "x", language: "typescript", k: 4, diversity: { poolSize: 2 } },
          { text: "x", language: "cobol" },
          { text: "x", language: "typescript", kind: "" }
        ] as const) {
          const error = yield* Effect.flip(store.search(query as never))
          assert.strictEqual(error.reason, "Invalid", JSON.stringify(query))
        }
      })
    )

    it.scopedLive(
      "an embedder that fails, or returns vectors it did not promise, is an Embedding error",
      () =>
        Effect.gen(function* () {
          const open = yield* subject.setup
          for (const how of ["fails", "short"] as const) {
            const store = yield* openStore(open(brokenEmbedder(how)))
            const error = yield* Effect.flip(store.add([byId("ts/Todo")]))
            assert.strictEqual(error.reason, "Embedding")
            assert.strictEqual(yield* store.count(), 0)
            assert.strictEqual(
              (yield* Effect.flip(store.search({ text: "todo", language: "typescript" }))).reason,
              "Embedding"
            )
          }
        })
    )

    it.scopedLive(
      "diversity: of two near-duplicates MMR takes one and a different example; lambda 1 takes both",
      () =>
        Effect.gen(function* () {
          const store = yield* fresh
          const original = byId("ts/parseTodo")
          const copy = { ...original, id: "ts/parseTodo-again", code: `${original.code}\n` }
          yield* store.add([...smallExamples, copy])
          const query = {
            text: "parse a todo item from its JSON text",
            language: "typescript",
            k: 2,
            minSimilarity: 0
          } as const
          const plain = yield* store.search({ ...query, diversity: { lambda: 1 } })
          assert.deepStrictEqual(ids(plain).sort(), ["ts/parseTodo", "ts/parseTodo-again"])
          const diverse = yield* store.search(query)
          assert.strictEqual(diverse.length, 2)
          assert.isFalse(ids(diverse).includes("ts/parseTodo") && ids(diverse).includes("ts/parseTodo-again"))
        })
    )

    it.scopedLive("a custom embedder is used for examples and queries alike", () =>
      Effect.gen(function* () {
        const open = yield* subject.setup
        const store = yield* openStore(open(hashingEmbedder({ dimension: 64 })))
        assert.strictEqual(store.embedder, "hashing/64/3")
        yield* store.add(smallExamples)
        const [match] = yield* store.search({
          text: "parse a todo",
          language: "typescript",
          k: 1,
          minSimilarity: -1
        })
        const expected = cosineSimilarity(
          hashingEmbedding("parse a todo", { dimension: 64 }).map(Math.fround),
          hashingEmbedding(exampleEmbeddingText(match!.example), { dimension: 64 }).map(Math.fround)
        )
        assert.closeTo(match!.similarity, expected, 1e-9)
      })
    )

    if (subject.durable)
      it.scopedLive("examples outlive the store: another one opened on the same data finds them", () =>
        Effect.gen(function* () {
          const open = yield* subject.setup
          yield* Effect.scoped(Effect.flatMap(openStore(open()), (store) => store.add(smallExamples)))
          const reopened = yield* openStore(open())
          assert.strictEqual(yield* reopened.count(), smallExamples.length)
          const [match] = yield* reopened.search({ text: "parse a todo from JSON", language: "python", k: 1 })
          assert.strictEqual(match?.example.id, "py/parse_todo")
        })
      )
  })
