import { waveMachine } from "@devmatrix/core"
import type { AtomOutcome, EventBody } from "@devmatrix/core"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"

/** Steps the wave purely through `commands`; what it emitted and where it ended. */
const run = (
  input: Parameters<typeof initialTransition<typeof waveMachine>>[1],
  outcomes: ReadonlyArray<AtomOutcome>
) => {
  let [snapshot] = initialTransition(waveMachine, input)
  const emitted: Array<EventBody> = []
  for (const command of [
    { type: "START" as const },
    ...outcomes.map((outcome) => ({ type: "ATOM_SETTLED" as const, outcome }))
  ]) {
    const [next, actions] = transition(waveMachine, snapshot, command)
    snapshot = next
    for (const action of actions)
      if ((action.type as string) === "xstate.emit")
        emitted.push((action.params as { event: EventBody }).event)
  }
  return { snapshot, emitted }
}

describe("waveMachine", () => {
  it("counts its atoms' ends as the engine reports them and completes with the last", () => {
    const short = run({ wave: 3, size: 4 }, ["completed", "failed", "skipped"])
    expect(short.snapshot.value).toBe("running")
    expect(short.emitted.map((e) => e.type)).toEqual(["wave.started"])
    const { snapshot, emitted } = run({ wave: 3, size: 4 }, ["completed", "failed", "skipped", "cancelled"])
    expect(snapshot.value).toBe("completed")
    expect(emitted).toEqual([
      { type: "wave.started", wave: 3, atoms: 4 },
      { type: "wave.completed", wave: 3, completed: 1, failed: 1, skipped: 1, cancelled: 1 }
    ])
  })

  it("goes on from the atoms an earlier process settled (resume)", () => {
    const { snapshot, emitted } = run(
      { wave: 0, size: 3, settled: { completed: 2, failed: 0, skipped: 0, cancelled: 0 } },
      ["completed"]
    )
    expect(snapshot.value).toBe("completed")
    expect(emitted.at(-1)).toMatchObject({ type: "wave.completed", completed: 3 })
  })
})
