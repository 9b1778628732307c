import { Effect, Logger, LogLevel } from "effect"
import { expect, it } from "vitest"
import { runHello } from "./embedded.js"

it("the README's embedded example runs its plan to completion", async () => {
  const end = await Effect.runPromise(runHello.pipe(Logger.withMinimumLogLevel(LogLevel.None)))
  expect(end.type).toBe("masterplan.completed")
  expect(end.summary.atoms.completed).toBe(2)
})
