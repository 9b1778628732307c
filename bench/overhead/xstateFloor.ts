import { atomMachine, RetryPolicy, waveMachine } from "@devmatrix/core"
import { createActor, fromCallback } from "xstate"

/** One scripted answer, as the engine reports a call's end to the atom machine. */
const answer = {
  code: "export function f(value: string): string {\n  return `${value}:a`\n}\n",
  confidence: 0.95,
  model: "claude-sonnet-4",
  inputTokens: 160,
  outputTokens: 20,
  costUsd: 0.0008
}

/**
 * The XState floor: the engine's own atom machine, inside a wave actor's system, driven from ready
 * to completed with the answer sent on a microtask, as the engine sends the end of a call that
 * answered at once. No Effect, no journal, no engine: what an actor per atom costs by itself.
 *
 * This function is the one place that knows the machine's commands and provided actors: when the
 * atom machine's protocol changes (events, actors, input), adapt the sequence here, and keep it the
 * engine's own sequence for one successful attempt, so the floor stays the engine's real floor.
 */
export const atomActorWork = (atoms: number) => {
  const retry = RetryPolicy.make({})
  const logic = atomMachine.provide({ actors: { backoff: fromCallback(() => undefined) } })
  const wave = createActor(waveMachine, { input: { wave: 0, size: atoms } })
  wave.start()
  wave.send({ type: "START" })
  return (i: number) =>
    new Promise<void>((resolve) => {
      const atomId = `a${i}`
      const actor = createActor(logic, {
        id: atomId,
        input: { atomId, wave: 0, retry, reviewThreshold: 0.85, maxLines: 40, defines: ["f"] },
        parent: wave
      })
      actor.on("atom.completed", () => resolve())
      actor.start()
      actor.send({ type: "READY" })
      actor.send({ type: "START" })
      queueMicrotask(() => actor.send({ type: "CALL_SUCCEEDED", output: answer }))
    })
}
