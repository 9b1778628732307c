import { atomMachine, RetryPolicy } from "@devmatrix/core"
import type {
  AtomCommand,
  AtomMachineInput,
  AttemptFailure,
  EventBody,
  ModelCallOutput
} from "@devmatrix/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { AnyEventObject, SnapshotFrom } from "xstate"

type Snapshot = SnapshotFrom<typeof atomMachine>

const input: AtomMachineInput = {
  atomId: "a1",
  wave: 2,
  retry: RetryPolicy.make({ maxRetries: 2, jitter: 0 }),
  reviewThreshold: 0.85,
  maxLines: 10,
  defines: ["add"]
}

/** Steps the machine purely (nothing runs): what it emitted, and the waits its `backoff` actor was asked for. */
const step = (snapshot: Snapshot, event: AtomCommand | AnyEventObject) => {
  const [next, actions] = transition(atomMachine, snapshot, event as AtomCommand)
  const emitted = actions
    .filter((action) => (action.type as string) === "xstate.emit")
    .map((action) => (action.params as { event: EventBody }).event)
  const waits = actions.flatMap((action) => {
    const params = action.params as { src?: unknown; input?: { delayMs: number } } | undefined
    return (action.type as string) === "xstate.spawnChild" && params?.src === "backoff"
      ? [params.input!.delayMs]
      : []
  })
  return { next, emitted, waits }
}

const run = (events: ReadonlyArray<AtomCommand | AnyEventObject>, with_: Partial<AtomMachineInput> = {}) => {
  let [snapshot] = initialTransition(atomMachine, { ...input, ...with_ })
  const emitted: Array<EventBody> = []
  const waits: Array<number> = []
  for (const event of events) {
    const result = step(snapshot, event)
    snapshot = result.next
    emitted.push(...result.emitted)
    waits.push(...result.waits)
  }
  return { snapshot, emitted, waits, types: emitted.map((e) => e.type) }
}

const delaysOf = (emitted: ReadonlyArray<EventBody>) =>
  emitted.flatMap((e) => (e.type === "atom.retrying" ? [e.delayMs] : []))

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
const transient: AttemptFailure = { reason: "server_error", retryable: true, message: "HTTP 500" }
const admitted = [{ type: "READY" }, { type: "START" }]

describe("atomMachine", () => {
  it("runs pending -> queued -> running -> completed, emitting each step", () => {
    const { snapshot, types, emitted } = run([{ type: "READY" }, { type: "START" }, done(output(good))], {
      priority: 3
    })
    expect(snapshot.value).toBe("completed")
    expect(snapshot.status).toBe("done")
    expect(snapshot.output).toEqual({ atomId: "a1", outcome: "completed" })
    expect(types).toEqual(["atom.ready", "atom.queued", "atom.started", "atom.completed"])
    expect(emitted[1]).toMatchObject({ priority: 3, wave: 2 })
    expect(emitted[3]).toMatchObject({ attempts: 1, costUsd: 0.001, acceptedBy: "validation" })
  })

  it("retries a retryable failure after the schedule's delay for it, then completes", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "START" },
      error(transient),
      backoffDone,
      { type: "START" },
      done(output(good))
    ])
    expect(snapshot.value).toBe("completed")
    const retrying = emitted.find((e) => e.type === "atom.retrying")
    expect(retrying).toMatchObject({ attempt: 1, delayMs: 5000, reason: "server_error" })
    expect(run([...admitted, error(transient)]).waits).toEqual([5000])
    expect(emitted.filter((e) => e.type === "atom.queued")).toHaveLength(2)
    expect(emitted.at(-1)).toMatchObject({ type: "atom.completed", attempts: 2 })
  })

  it("fails at once on a non-retryable failure", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
      { type: "START" },
      error({ reason: "invalid_request", retryable: false, message: "HTTP 400" })
    ])
    expect(snapshot.value).toBe("failed")
    expect(snapshot.output).toEqual({ atomId: "a1", outcome: "failed" })
    expect(emitted.at(-1)).toMatchObject({ type: "atom.failed", reason: "invalid_request", attempts: 1 })
  })

  it("waits longer at each retry, up to the cap, and never less than the provider's retry-after", () => {
    const retry = RetryPolicy.make({ maxRetries: 4, initialMs: 1000, factor: 3, capMs: 5000, jitter: 0 })
    const again = [error(transient), backoffDone, { type: "START" }]
    const { emitted, waits } = run(
      [
        ...admitted,
        ...again,
        error({ ...transient, retryAfterMs: 7000 }),
        backoffDone,
        { type: "START" },
        ...again
      ],
      { retry }
    )
    expect(delaysOf(emitted)).toEqual([1000, 7000, 5000])
    expect(waits).toEqual([1000, 7000, 5000])
  })

  it("counts a refused output as a step of the sequence, though it goes back to the model at once", () => {
    const retry = RetryPolicy.make({ initialMs: 1000, jitter: 0 })
    const { emitted } = run(
      [
        ...admitted,
        done(output("// TODO")),
        backoffDone,
        { type: "START" },
        error(transient),
        backoffDone,
        { type: "START" },
        error(transient)
      ],
      { retry }
    )
    expect(delaysOf(emitted)).toEqual([0, 2000, 4000])
  })

  it("stops after maxRetries retries even if the failure stays retryable", () => {
    const attempt = [{ type: "START" }, error(transient), backoffDone]
    const { snapshot, types } = run([{ type: "READY" }, ...attempt, ...attempt, ...attempt])
    expect(snapshot.value).toBe("failed")
    expect(types.filter((t) => t === "atom.started")).toHaveLength(3)
    expect(types.filter((t) => t === "atom.retrying")).toHaveLength(2)
  })

  it("sends refused output back to the model with the problems, without waiting", () => {
    const { snapshot, emitted } = run([{ type: "READY" }, { type: "START" }, done(output("// TODO"))])
    expect(snapshot.value).toBe("retrying")
    expect(emitted.at(-1)).toMatchObject({ type: "atom.retrying", reason: "validation", delayMs: 0 })
    expect(snapshot.context.problems.join(" ")).toMatch(/placeholder/)
  })

  it("waits for review when confidence is low, holding nothing, and takes the reviewer's edit", () => {
    const { snapshot, emitted } = run([
      { type: "READY" },
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
    for (const prefix of [[], [{ type: "READY" }], [{ type: "READY" }, { type: "START" }]]) {
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
    expect(types).toEqual(["atom.review", "atom.reviewed", "atom.completed"])
    expect(snapshot.context.attempts).toBe(0)
    expect(snapshot.value).toBe("completed")
  })

  it("applies a decision journaled while no process ran it, without announcing the review again", () => {
    const approved = run([{ type: "RESTORE_REVIEWED", output: output(good, 0.4), decision: "approve" }], {
      attempts: 1
    })
    expect(approved.types).toEqual(["atom.completed"])
    expect(approved.emitted[0]).toMatchObject({ acceptedBy: "review", confidence: 0.4, attempts: 1 })
    expect(approved.snapshot.output).toEqual({ atomId: "a1", outcome: "completed" })
    // An edit's code is the output it is restored with: it completes as an approval does.
    const edited = run([
      { type: "RESTORE_REVIEWED", output: output("export const add = 1", 0.4), decision: "edit" }
    ])
    expect(edited.snapshot.context.result?.code).toBe("export const add = 1")
    expect(edited.snapshot.value).toBe("completed")
    // A rejection fails the atom as a live one does: not retried, with the reviewer's reason.
    const rejected = run([
      { type: "RESTORE_REVIEWED", output: output(good, 0.4), decision: "reject", reason: "wrong" }
    ])
    const live = run([
      { type: "RESTORE_REVIEW", output: output(good, 0.4) },
      { type: "REJECT", reason: "wrong" }
    ])
    expect(rejected.types).toEqual(["atom.failed"])
    expect(rejected.emitted[0]).toEqual(live.emitted.find((e) => e.type === "atom.failed"))
    expect(rejected.emitted[0]).toMatchObject({ reason: "rejected", error: "wrong" })
  })

  it("is put back in a backoff by a restarted process: the rest of the wait, not announced again", () => {
    const { snapshot, emitted, waits } = run([{ type: "RESTORE_BACKOFF", remainingMs: 1234 }, backoffDone], {
      attempts: 2,
      interrupted: 1,
      priority: 7
    })
    expect(waits).toEqual([1234])
    expect(emitted).toEqual([{ type: "atom.queued", atomId: "a1", wave: 2, priority: 7 }])
    expect(snapshot.value).toBe("queued")
    // A backoff that ended while no process ran is over at once.
    expect(run([{ type: "RESTORE_BACKOFF", remainingMs: -50 }]).waits).toEqual([0])
  })

  it("goes on from the attempts an earlier process journaled: the retry budget and the delays", () => {
    // Two attempts before the restart, one of them cut short: one failure so far, one retry left.
    const restored = [{ type: "RESTORE_BACKOFF", remainingMs: 10 }, backoffDone, { type: "START" }]
    const { emitted, snapshot } = run([...restored, error(transient)], { attempts: 2, interrupted: 1 })
    expect(delaysOf(emitted)).toEqual([10_000])
    expect(emitted.find((e) => e.type === "atom.started")).toMatchObject({ attempt: 3 })
    const last = run([...restored, error(transient), backoffDone, { type: "START" }, error(transient)], {
      attempts: 2,
      interrupted: 1
    })
    expect(last.snapshot.value).toBe("failed")
    expect(snapshot.value).toBe("retrying")
  })

  it("is cancelled during a restored backoff like during any other", () => {
    const { snapshot, types } = run([{ type: "RESTORE_BACKOFF", remainingMs: 5000 }, { type: "CANCEL" }])
    expect(snapshot.value).toBe("cancelled")
    expect(types).toEqual(["atom.cancelled"])
  })

  it("ignores commands that do not apply in its state", () => {
    const { snapshot, types } = run([
      { type: "START" },
      { type: "APPROVE" },
      { type: "READY" },
      { type: "READY" }
    ])
    expect(snapshot.value).toBe("queued")
    expect(types).toEqual(["atom.ready", "atom.queued"])
  })
})

/** How one attempt ends: good code, a placeholder the contract refuses, or a failed call. */
type Outcome = "ok" | "refused" | AttemptFailure

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant("ok" as const),
  fc.constant("refused" as const),
  fc.record(
    {
      reason: fc.constantFrom<AttemptFailure["reason"]>(
        "rate_limited",
        "overloaded",
        "server_error",
        "timeout",
        "connection"
      ),
      retryable: fc.constant(true),
      message: fc.constant("transient"),
      retryAfterMs: fc.integer({ min: 0, max: 30_000 })
    },
    { requiredKeys: ["reason", "retryable", "message"] }
  ),
  fc.constant<Outcome>({ reason: "invalid_request", retryable: false, message: "HTTP 400" })
)

const policyArb = fc.record({
  maxRetries: fc.integer({ min: 0, max: 5 }),
  initialMs: fc.integer({ min: 0, max: 10_000 }),
  // Drawn as whole percents: fast-check's doubles crowd at the ends of their range.
  factor: fc.integer({ min: 100, max: 400 }).map((percent) => percent / 100),
  capMs: fc.integer({ min: 0, max: 60_000 }),
  jitter: fc.integer({ min: 0, max: 100 }).map((percent) => percent / 100)
})

/** A run of one atom's machine as the engine drives it, its attempts answered in order. */
interface Drive {
  snapshot: Snapshot
  /** Outcomes used: an attempt cut short uses none. */
  answered: number
  readonly emitted: Array<EventBody>
  readonly waits: Array<number>
}

/** Sends what the engine would (admission, the attempt's outcome, the end of a wait), `limit` times or until the atom settles. */
const drive = (state: Drive, outcomes: ReadonlyArray<Outcome>, limit = Infinity): Drive => {
  for (let sent = 0; sent < limit && state.snapshot.status === "active"; sent++) {
    const value = state.snapshot.value
    let command: AtomCommand | AnyEventObject
    if (value === "pending") command = { type: "READY" }
    else if (value === "queued") command = { type: "START" }
    else if (value === "retrying") command = backoffDone
    else if (value === "running") {
      const outcome = outcomes[state.answered++] ?? "ok"
      command =
        outcome === "ok"
          ? done(output(good))
          : outcome === "refused"
            ? done(output("// TODO"))
            : error(outcome)
    } else throw new Error(`the atom waits in ${String(value)}`)
    const result = step(state.snapshot, command)
    state.snapshot = result.next
    state.emitted.push(...result.emitted)
    state.waits.push(...result.waits)
  }
  return state
}

const start = (with_: Partial<AtomMachineInput>): Drive => ({
  snapshot: initialTransition(atomMachine, { ...input, ...with_ })[0],
  answered: 0,
  emitted: [],
  waits: []
})

/** What the journal says of how the atom ended: the delays it was given, the decision, the failures counted. */
const verdict = (emitted: ReadonlyArray<EventBody>) => {
  const end = emitted.at(-1)
  const count = (type: string) => emitted.filter((e) => e.type === type).length
  return {
    delays: delaysOf(emitted),
    end: end?.type === "atom.failed" ? `failed: ${end.reason}` : end?.type,
    countedAttempts: count("atom.started") - count("atom.interrupted") - count("atom.throttled")
  }
}

const pushBack = (reason: "rate_limited" | "overloaded", atMs: number, retryAfterMs?: number) => ({
  type: "CALL_FAILED",
  atMs,
  failure: {
    reason,
    retryable: true,
    message: reason === "rate_limited" ? "HTTP 429" : "HTTP 529",
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
  }
})

describe("atomMachine: the provider's push back (429, 529)", () => {
  it("goes back through admission, after the provider's retry-after only, and uses up no retry", () => {
    // Odd push backs carry a retry-after (waited out, then queued), even ones none (queued at once).
    const pushes = Array.from({ length: 6 }, (_, i) =>
      i % 2 === 0
        ? [pushBack("rate_limited", 1_000 * i, 500), backoffDone, { type: "START" }]
        : [pushBack("overloaded", 1_000 * i), { type: "START" }]
    ).flat()
    const { snapshot, emitted, types, waits } = run([...admitted, ...pushes, done(output(good))], {
      retry: RetryPolicy.make({ maxRetries: 0 })
    })
    expect(snapshot.value).toBe("completed")
    // The only waits are the provider's: the schedule's backoff is not applied to a push back.
    expect(waits).toEqual([500, 500, 500])
    expect(types.filter((type) => type === "atom.throttled")).toHaveLength(6)
    expect(types.filter((type) => type === "atom.retrying")).toHaveLength(0)
    expect(types.slice(2, 5)).toEqual(["atom.started", "atom.throttled", "atom.queued"])
    expect(emitted.find((e) => e.type === "atom.throttled")).toMatchObject({
      attempt: 1,
      reason: "rate_limited",
      retryAfterMs: 500
    })
    expect(emitted.filter((e) => e.type === "atom.throttled")[1]).not.toHaveProperty("retryAfterMs")
    expect(emitted.at(-1)).toMatchObject({ type: "atom.completed", attempts: 7 })
  })

  it("counts a push back as a failed attempt once the provider has pushed back for longer than maxThrottledMs", () => {
    const { snapshot, emitted } = run(
      [
        ...admitted,
        pushBack("rate_limited", 10_000),
        { type: "START" },
        pushBack("rate_limited", 10_000 + 60_001)
      ],
      { retry: RetryPolicy.make({ maxRetries: 0 }), maxThrottledMs: 60_000 }
    )
    expect(snapshot.value).toBe("failed")
    expect(emitted.at(-1)).toMatchObject({ type: "atom.failed", reason: "rate_limited", attempts: 2 })
  })

  it("starts the bound again after an answer: only push backs in a row add up", () => {
    const refusedThenPushed = [
      ...admitted,
      pushBack("overloaded", 0),
      { type: "START" },
      done(output("// TODO")),
      backoffDone,
      { type: "START" },
      pushBack("overloaded", 120_000),
      { type: "START" },
      done(output(good))
    ]
    const { snapshot } = run(refusedThenPushed, {
      retry: RetryPolicy.make({ maxRetries: 1 }),
      maxThrottledMs: 60_000
    })
    expect(snapshot.value).toBe("completed")
  })

  it("does not count the push backs an earlier process journaled", () => {
    const { snapshot, emitted } = run([{ type: "READY" }, { type: "START" }, error(transient)], {
      retry: RetryPolicy.make({ maxRetries: 1 }),
      attempts: 5,
      throttled: 5
    })
    expect(snapshot.value).toBe("retrying")
    expect(emitted.at(-1)).toMatchObject({ type: "atom.retrying", attempt: 6 })
  })

  it("is not a push back when the failure is not retryable (the spend-limit 429 is not)", () => {
    const spendLimit = {
      type: "CALL_FAILED",
      atMs: 0,
      failure: {
        reason: "spend_limit",
        retryable: false,
        message: "monthly spend limit reached",
        status: 429
      }
    }
    expect(run([...admitted, spendLimit]).snapshot.value).toBe("failed")
  })
})

describe("atomMachine across a restart (property)", () => {
  it("a restart at any point, mid-call or mid-backoff, changes no delay and no retry-or-fail decision", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(outcomeArb, { maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 0, max: 1000 }).map((permille) => permille / 1000),
        (policy, outcomes, cutPick, elapsedShare) => {
          const retry = RetryPolicy.make(policy)
          const straight = drive(start({ retry, jitterSeed: "mp" }), outcomes)
          expect(straight.snapshot.status).toBe("done")
          // The first process stops after some of the commands; the second starts from what it journaled.
          const cut = cutPick % Math.max(1, straight.emitted.length)
          const first = drive(start({ retry, jitterSeed: "mp" }), outcomes, cut)
          if (first.snapshot.status !== "active") return
          const attempts = first.emitted.filter((e) => e.type === "atom.started").length
          const last = first.emitted.at(-1)
          const midCall = last?.type === "atom.started"
          const emitted: Array<EventBody> = [...first.emitted]
          if (midCall) emitted.push({ type: "atom.interrupted", atomId: "a1", wave: 2, attempt: attempts })
          const throttled = first.emitted.filter((e) => e.type === "atom.throttled").length
          const second = start({ retry, jitterSeed: "mp", attempts, interrupted: midCall ? 1 : 0, throttled })
          // The call cut short had not answered: its outcome goes to the next attempt.
          second.answered = first.answered
          let remainingMs: number | undefined
          if (last?.type === "atom.retrying") {
            remainingMs = Math.round(last.delayMs * (1 - elapsedShare))
            const restored = step(second.snapshot, { type: "RESTORE_BACKOFF", remainingMs })
            second.snapshot = restored.next
            second.emitted.push(...restored.emitted)
            second.waits.push(...restored.waits)
          }
          drive(second, outcomes)
          emitted.push(...second.emitted)
          expect(verdict(emitted)).toEqual(verdict(straight.emitted))
          // The wait it was restored into is what was left of the backoff, and only that.
          if (remainingMs !== undefined) expect(second.waits[0]).toBe(remainingMs)
        }
      ),
      { numRuns: Number(process.env.DEVMATRIX_PROPERTY_RUNS) || 300 }
    )
  })
})
