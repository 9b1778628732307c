import { waveMachine } from "@devmatrix/core"
import type { AtomOutcome, EventBody, WaveCounts } from "@devmatrix/core"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"

const none: WaveCounts = { completed: 0, failed: 0, skipped: 0, cancelled: 0 }

/** The counts of some atoms' ends, as the engine sends them. */
const counts = (outcomes: ReadonlyArray<AtomOutcome>): WaveCounts =>
  outcomes.reduce((sum, outcome) => ({ ...sum, [outcome]: sum[outcome] + 1 }), none)

/** Steps the wave purely through `batches` of atoms' ends; what it emitted and where it ended. */
const run = (
  input: Parameters<typeof initialTransition<typeof waveMachine>>[1],
  batches: ReadonlyArray<ReadonlyArray<AtomOutcome>>
) => {
  let [snapshot] = initialTransition(waveMachine, input)
  const emitted: Array<EventBody> = []
  for (const command of [
    { type: "START" as const },
    ...batches.map((batch) => ({ type: "ATOMS_SETTLED" as const, settled: counts(batch) }))
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
  it("counts its atoms' ends as the engine reports them and completes once all have ended", () => {
    const short = run({ wave: 3, size: 4 }, [["completed", "failed"], ["skipped"]])
    expect(short.snapshot.value).toBe("running")
    expect(short.emitted.map((e) => e.type)).toEqual(["wave.started"])
    const { snapshot, emitted } = run({ wave: 3, size: 4 }, [["completed", "failed", "skipped", "cancelled"]])
    expect(snapshot.value).toBe("completed")
    expect(emitted).toEqual([
      { type: "wave.started", wave: 3, atoms: 4 },
      { type: "wave.completed", wave: 3, completed: 1, failed: 1, skipped: 1, cancelled: 1 }
    ])
  })

  it("adds up ends reported in several batches", () => {
    const { snapshot, emitted } = run({ wave: 1, size: 5 }, [
      ["completed"],
      ["completed", "failed"],
      ["skipped", "completed"]
    ])
    expect(snapshot.value).toBe("completed")
    expect(emitted.at(-1)).toEqual({
      type: "wave.completed",
      wave: 1,
      completed: 3,
      failed: 1,
      skipped: 1,
      cancelled: 0
    })
  })

  it("goes on from the atoms an earlier process settled (resume)", () => {
    const { snapshot, emitted } = run(
      { wave: 0, size: 3, settled: { completed: 2, failed: 0, skipped: 0, cancelled: 0 } },
      [["completed"]]
    )
    expect(snapshot.value).toBe("completed")
    expect(emitted.at(-1)).toMatchObject({ type: "wave.completed", completed: 3 })
  })
})
