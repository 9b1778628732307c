import type { Event, MasterplanListing, MasterplanView, Principal, ReviewItem } from "@devmatrix/core"
import { createClient, type DevMatrixClient, type DevMatrixError } from "@devmatrix/sdk"
import { describe, expectTypeOf, it } from "vitest"

// What the client's methods are typed as (checked by `pnpm typecheck`; nothing connects).

describe("the client's types", () => {
  it("resolves each command with its result schema's type", () => {
    expectTypeOf(createClient).returns.toEqualTypeOf<DevMatrixClient>()
    expectTypeOf<DevMatrixClient["ready"]>().returns.resolves.toEqualTypeOf<Principal>()
    expectTypeOf<DevMatrixClient["submit"]>().returns.resolves.toEqualTypeOf<{
      readonly masterplanId: string
    }>()
    expectTypeOf<DevMatrixClient["get"]>().returns.resolves.toEqualTypeOf<MasterplanView>()
    expectTypeOf<DevMatrixClient["list"]>().returns.resolves.toEqualTypeOf<{
      readonly masterplans: ReadonlyArray<MasterplanListing>
    }>()
    expectTypeOf<DevMatrixClient["reviewList"]>().returns.resolves.toEqualTypeOf<{
      readonly atoms: ReadonlyArray<ReviewItem>
    }>()
    expectTypeOf<DevMatrixClient["raiseBudget"]>().returns.resolves.toEqualTypeOf<{
      readonly hardUsd: number
      readonly softUsd: number
    }>()
    expectTypeOf<keyof Awaited<ReturnType<DevMatrixClient["approve"]>>>().toEqualTypeOf<never>()
    expectTypeOf<DevMatrixClient["watch"]>().returns.toEqualTypeOf<AsyncIterable<Event>>()
  })

  it("takes a plan as plan.json has it, and refuses what is not one", () => {
    // Never called: only typed.
    const calls = (client: DevMatrixClient) => {
      const plan = { name: "p", atoms: [{ id: "a", instruction: "i" }] } as const
      void client.submit(plan, { options: { concurrency: 2 }, masterplanId: "mp" })
      // @ts-expect-error a plan has atoms
      void client.submit({ name: "p" })
      // @ts-expect-error an unknown run option
      void client.submit(plan, { options: { speed: 1 } })
      // @ts-expect-error a budget is a number of USD
      void client.raiseBudget("mp", "10")
    }
    expectTypeOf(calls).toBeFunction()
  })

  it("errors name their code from the protocol's closed list", () => {
    expectTypeOf<DevMatrixError["code"]>().toEqualTypeOf<
      | "bad_frame"
      | "frame_too_large"
      | "unknown_command"
      | "invalid_command"
      | "unauthenticated"
      | "forbidden"
      | "not_found"
      | "conflict"
      | "rate_limited"
      | "queue_full"
      | "too_many_watches"
      | "slow_consumer"
      | "internal"
    >()
  })
})
