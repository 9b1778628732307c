import { Effect, Runtime } from "effect"

/** The Effect floor: one forked fiber per task (as the engine forks one per model call), reporting its exit. */
export const fiberWork = () => {
  const runFork = Runtime.runFork(Runtime.defaultRuntime)
  return (i: number) =>
    new Promise<void>((resolve) => {
      runFork(Effect.succeed(i), { immediate: false }).addObserver(() => resolve())
    })
}
