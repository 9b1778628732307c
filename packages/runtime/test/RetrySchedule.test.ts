import type { ModelFailure } from "@devmatrix/core"
import { RetryPolicy } from "@devmatrix/core"
import { makeRetrySchedule, nextRetry } from "@devmatrix/runtime"
import type { RetryDecision, RetryState } from "@devmatrix/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"

const transient: ModelFailure = { reason: "server_error", retryable: true, message: "HTTP 500" }

/** Steps the schedule through failures, returning each delay (or undefined once it gives up). */
const delays = (policy: RetryPolicy, failures: ReadonlyArray<ModelFailure>) =>
  Effect.gen(function* () {
    const schedule = makeRetrySchedule(policy)
    let state: RetryState = undefined
    let now = 0
    const out: Array<number | undefined> = []
    for (const failure of failures) {
      const decision: Option.Option<RetryDecision> = yield* nextRetry(schedule, state, failure, now)
      if (Option.isNone(decision)) {
        out.push(undefined)
        break
      }
      out.push(decision.value.delayMs)
      state = decision.value.state
      now += decision.value.delayMs
    }
    return out
  })

describe("makeRetrySchedule", () => {
  it.effect("backs off exponentially from 5 s, capped, for at most maxRetries", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ jitter: 0, capMs: 30_000 })
      const out = yield* delays(policy, Array(6).fill(transient))
      assert.deepStrictEqual(out, [5_000, 10_000, 20_000, 30_000, undefined])
    })
  )

  it.effect("spreads each delay within ±jitter", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ maxRetries: 1 })
      for (let i = 0; i < 50; i++) {
        const [first] = yield* delays(policy, [transient])
        assert.isTrue(first! >= 4_500 && first! <= 5_500, `delay ${first}`)
      }
    })
  )

  it.effect("never retries a non-retryable failure", () =>
    Effect.gen(function* () {
      const out = yield* delays(RetryPolicy.make({}), [
        { reason: "invalid_request", retryable: false, message: "400" }
      ])
      assert.deepStrictEqual(out, [undefined])
    })
  )

  it.effect("waits at least the provider's retry-after", () =>
    Effect.gen(function* () {
      const out = yield* delays(RetryPolicy.make({ jitter: 0 }), [{ ...transient, retryAfterMs: 42_000 }])
      assert.deepStrictEqual(out, [42_000])
    })
  )
})
