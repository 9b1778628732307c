import { atomMachine } from "@devmatrix/core"
import type { AtomCommand, AttemptFailure, EventBody, ModelCallOutput } from "@devmatrix/core"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { AnyEventObject, SnapshotFrom } from "xstate"

type Snapshot = SnapshotFrom<typeof atomMachine>

const input = { atomId: "a1", wave: 2, maxRetries: 2, reviewThreshold: 0.85, maxLines: 10, defines: ["add"] }

/** Steps the machine purely (nothing runs) and collects what it emitted. */
const step = (snapshot: Snapshot, event: AtomCommand | AnyEventObject) => {
  const [next, actions] = transition(atomMachine, snapshot, event as AtomCommand)
  const emitted = actions
    .filter((action) => (action.type as string) === "xstate.emit")
    .map((action) => (action.params as { event: EventBody }).event)
  return { next, emitted }
}

const run = (events: ReadonlyArray<AtomCommand | AnyEventObject>) => {
  let [snapshot] = initialTransition(atomMachine, input)
  const emitted: Array<EventBody> = []
  for (const event of events) {
    const result = step(snapshot, event)
    snapshot = result.next
    emitted.push(...result.emitted)
  }
  return { snapshot, emitted, types: emitted.map((e) => e.type) }
}

const output = (code: string, confidence = 0.95): ModelCallOutput => ({
  code,
  confidence,
  model: "scripted",
  inputTokens: 100,
  outputTokens: 20,
  costUsd: 0.001
})
const done = (output: ModelCallOutput) => ({ type: "CALL_SUCCEEDED", output })
const error = (failure: AttemptFailure) => ({ type: "CALL_FAILED", failure })
const backoffDone = { type: "BACKOFF_DONE" }
const good = "export function add(a: number, b: number) {\n  return a + b\n}"
const transient: AttemptFailure = {
  reason: "server_error",
  retryable: true,
  message: "HTTP 500",
  retryInMs: 5000
}

describe("atomMachine", () => {
  it("runs pending -> ready -> queued -> running -> completed, emitting each step", () => {
    const { snapshot, types, emitted } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 3 },
      { type: "START" },
      done(output(good))
    ])
    expect(snapshot.value).toBe("completed")
    expect(snapshot.status).toBe("done")
    expect(snapshot.output).toEqual({ atomId: "a1", outcome: "completed" })
    expect(types).toEqual(["atom.ready", "atom.queued", "atom.started", "atom.completed"])
    expect(emitted[1]).toMatchObject({ priority: 3, wave: 2 })
    expect(emitted[3]).toMatchObject({ attempts: 1, costUsd: 0.001, acceptedBy: "validation" })
  })

  it("retries a retryable failure after the delay the schedule chose, then completes", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      error(transient),
      backoffDone,
      { type: "START" },
      done(output(good))
    ])
    expect(snapshot.value).toBe("completed")
    const retrying = emitted.find((e) => e.type === "atom.retrying")
    expect(retrying).toMatchObject({ attempt: 1, delayMs: 5000, reason: "server_error" })
    expect(emitted.filter((e) => e.type === "atom.queued")).toHaveLength(2)
    expect(emitted.at(-1)).toMatchObject({ type: "atom.completed", attempts: 2 })
  })

  it("fails at once on a non-retryable failure", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      error({ reason: "invalid_request", retryable: false, message: "HTTP 400" })
    ])
    expect(snapshot.value).toBe("failed")
    expect(snapshot.output).toEqual({ atomId: "a1", outcome: "failed" })
    expect(emitted.at(-1)).toMatchObject({ type: "atom.failed", reason: "invalid_request", attempts: 1 })
  })

  it("fails when the schedule gives no further delay (retries exhausted)", () => {
    const { snapshot } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      error({ ...transient, retryInMs: undefined })
    ])
    expect(snapshot.value).toBe("failed")
  })

  it("stops after maxRetries retries even if the failure stays retryable", () => {
    const attempt = [{ type: "START" }, error(transient), backoffDone]
    const { snapshot, types } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      ...attempt,
      ...attempt,
      ...attempt
    ])
    expect(snapshot.value).toBe("failed")
    expect(types.filter((t) => t === "atom.started")).toHaveLength(3)
    expect(types.filter((t) => t === "atom.retrying")).toHaveLength(2)
  })

  it("sends refused output back to the model with the problems, without waiting", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      done(output("// TODO"))
    ])
    expect(snapshot.value).toBe("retrying")
    expect(emitted.at(-1)).toMatchObject({ type: "atom.retrying", reason: "validation", delayMs: 0 })
    expect(snapshot.context.problems.join(" ")).toMatch(/placeholder/)
  })

  it("waits for review when confidence is low, holding nothing, and takes the reviewer's edit", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      done(output(good, 0.5)),
      { type: "EDIT", code: "export const add = (a: number, b: number) => a + b" }
    ])
    expect(emitted.map((e) => e.type)).toContain("atom.review")
    expect(snapshot.value).toBe("completed")
    expect(snapshot.context.result?.code).toMatch(/=>/)
    expect(emitted.at(-1)).toMatchObject({ acceptedBy: "review" })
  })

  it("fails when the reviewer rejects", () => {
    const { snapshot } = run([
      { type: "READY" },
      { type: "ENQUEUE", priority: 0 },
      { type: "START" },
      done(output(good, 0.1)),
      { type: "REJECT", reason: "wrong algorithm" }
    ])
    expect(snapshot.value).toBe("failed")
    expect(snapshot.context.failure).toMatchObject({ reason: "rejected", message: "wrong algorithm" })
  })

  it("is skipped with the failed dependency named, and cancelled from any live state", () => {
    expect(run([{ type: "SKIP", becauseOf: "a0" }]).emitted).toEqual([
      { type: "atom.skipped", atomId: "a1", wave: 2, becauseOf: "a0" }
    ])
    for (const prefix of [
      [],
      [{ type: "READY" }],
      [{ type: "READY" }, { type: "ENQUEUE", priority: 0 }, { type: "START" }]
    ]) {
      const { snapshot, types } = run([...prefix, { type: "CANCEL" }])
      expect(snapshot.value).toBe("cancelled")
      expect(types.at(-1)).toBe("atom.cancelled")
    }
  })

  it("is put back in review by a restarted process, without a new call", () => {
    const { snapshot, types } = run([
      { type: "RESTORE_REVIEW", output: output(good, 0.4) },
      { type: "APPROVE" }
    ])
    expect(types).toEqual(["atom.review", "atom.completed"])
    expect(snapshot.context.attempts).toBe(0)
    expect(snapshot.value).toBe("completed")
  })

  it("ignores commands that do not apply in its state", () => {
    const { snapshot, types } = run([{ type: "START" }, { type: "APPROVE" }, { type: "READY" }])
    expect(snapshot.value).toBe("ready")
    expect(types).toEqual(["atom.ready"])
  })
})
