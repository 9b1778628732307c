import { StorePg } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { pgTestUrl, withPgSchema } from "./pgTestStore.js"
import { storeSuite } from "./conformance/storeSuite.js"

storeSuite("PostgreSQL", () => withPgSchema((url) => StorePg(url)))

describe("StorePg at start", () => {
  it.effect("an unreachable server fails the layer with a message naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(StorePg("postgres://nobody:secret@127.0.0.1:1/nowhere")).pipe(Effect.scoped)
      )
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.message, "postgres://nobody:***@127.0.0.1:1/nowhere")
      assert.notInclude(error.message, "secret")
    })
  )
  it("runs against the PostgreSQL named by DEVMATRIX_TEST_PG or 127.0.0.1:5432/test", () => {
    assert.match(pgTestUrl, /^postgres/)
  })
})
