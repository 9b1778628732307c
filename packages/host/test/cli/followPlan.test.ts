import { defaultPriceTable } from "@devmatrix/core"
import type { Event } from "@devmatrix/core"
import { Engine, embeddedLayer, StoreError } from "@devmatrix/runtime"
import type { EngineService } from "@devmatrix/runtime"
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { ExitCode } from "../../src/cli/exitCodes.js"
import { followPlan } from "../../src/cli/followPlan.js"
import type { Terminal } from "../../src/cli/followPlan.js"
import type { EngineArgs } from "../../src/cli/runArgs.js"
import { signalGraceMs } from "../../src/cli/stopSignals.js"
import type { StopRequests, StopSignal } from "../../src/cli/stopSignals.js"

const store = "sqlite:/tmp/plans.db"
const args = (json: boolean): EngineArgs => ({
  store,
  json,
  scripted: {},
  promptCache: {},
  prices: defaultPriceTable,
  invocation: "devmatrix"
})

/** A stdout whose reader takes nothing until `release()`: writes pile up in its buffer, as in a pipe nobody reads. */
const slowReader = () => {
  let held: Array<() => void> = []
  let reading = false
  const text: Array<string> = []
  let writes = 0
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, done) {
      text.push(chunk.toString())
      if (reading) done()
      else held.push(done)
    }
  })
  const write = stream.write.bind(stream) as (chunk: string) => boolean
  stream.write = ((chunk: string) => {
    writes++
    return write(chunk)
  }) as typeof stream.write
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    writes: () => writes,
    text: () => text.join(""),
    release: () => {
      reading = true
      const waiting = held
      held = []
      for (const done of waiting) done()
    }
  }
}

/** A stderr that keeps what is written to it. */
const notes = () => {
  let text = ""
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      done()
    }
  })
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text }
}

const stopRequests = Effect.all({
  first: Deferred.make<StopSignal>(),
  second: Deferred.make<StopSignal>()
}) satisfies Effect.Effect<StopRequests>

const storeError = new StoreError({
  reason: "Unavailable",
  store,
  detail: 'cannot commit to "p": disk I/O error\n  (SQLITE_IOERR)'
})

/** An engine that runs nothing: each test says what its plan does. */
const fakeEngine = (overrides: Partial<EngineService>): EngineService => ({
  submit: () => Effect.die("unused"),
  recover: () => Effect.die("unused"),
  recoverAll: () => Effect.die("unused"),
  raiseBudget: () => Effect.die("unused"),
  setConcurrency: () => Effect.void,
  limits: () => Effect.succeed([]),
  events: () => Stream.never,
  followCommits: () => Effect.die("unused"),
  result: () => Effect.never,
  cancel: () => Effect.void,
  pause: () => Effect.void,
  resume: () => Effect.void,
  detach: () => Effect.void,
  review: () => Effect.void,
  ...overrides
})

describe("followPlan", () => {
  it("takes the next event only once stdout has room: a reader that does not read holds back a bounded number of lines, then gets all of them in order", async () => {
    const atoms = Array.from({ length: 600 }, (_, i) => ({ id: `a${i}`, instruction: `atom ${i}` }))
    const out = slowReader()
    const err = notes()
    const terminal: Terminal = { stdout: out.stream, stderr: err.stream }
    const { code, produced, writtenWhileHeld } = await Effect.runPromise(
      Effect.gen(function* () {
        const engine = yield* Engine
        const id = yield* engine.submit({ name: "big", atoms })
        const following = yield* Effect.fork(followPlan(engine, id, args(true), terminal))
        // The plan runs to its end whatever its follower does: the journal is the buffer.
        const end = yield* engine.result(id)
        const writtenWhileHeld = out.writes()
        out.release()
        return { code: yield* Fiber.join(following), produced: end.seq, writtenWhileHeld }
      }).pipe(Effect.provide(embeddedLayer({ store: "memory:" })), Effect.scoped)
    )
    expect(code, err.text()).toBe(ExitCode.completed)
    // A line is about 200 bytes: 16 KiB of buffer is some 80 lines, far from the thousands produced.
    expect(produced).toBeGreaterThan(3000)
    expect(writtenWhileHeld).toBeLessThan(200)
    const events = out
      .text()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Event)
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: produced }, (_, i) => i + 1))
    expect(events.at(-1)?.type).toBe("masterplan.completed")
  })

  it("stops a plan that only reviewers can move: saved (detached), what to run next, exit 6", async () => {
    const waiting: Event = { type: "review.waiting", atoms: 2, masterplanId: "p", seq: 9, at: 1 }
    const run = (engineArgs: EngineArgs) => {
      const err = notes()
      const detached: Array<string> = []
      const engine = fakeEngine({
        events: (_, options) =>
          (options?.fromSeq ?? 1) <= waiting.seq
            ? Stream.concat(Stream.make(waiting), Stream.never)
            : Stream.empty,
        detach: (id) => Effect.sync(() => void detached.push(id))
      })
      return Effect.runPromise(
        followPlan(engine, "p", engineArgs, { stdout: notes().stream, stderr: err.stream }).pipe(
          Effect.map((code) => ({ code, stderr: err.text(), detached }))
        )
      )
    }
    const stored = await run(args(true))
    expect(stored.code).toBe(ExitCode.awaitingReview)
    expect(stored.detached).toEqual(["p"])
    expect(stored.stderr).toBe(
      `masterplan p: 2 atoms wait for review, and nothing else can run until they are decided; see them with\n  devmatrix review list p --store ${store}\ndecide with devmatrix review approve|edit|reject, then continue it with\n  devmatrix resume p --store ${store}\n`
    )
    const inMemory = await run({ ...args(false), store: "memory:" })
    expect(inMemory.code).toBe(ExitCode.awaitingReview)
    expect(inMemory.stderr).toContain("it ran on the memory: store, which keeps nothing")
  })

  it.each([
    ["fails", Stream.fail(storeError), Effect.never],
    ["dies (a store error let through as a defect)", Stream.empty, Effect.die(storeError)]
  ] as const)(
    "a store that can no longer be written: one line naming the store and the cause, the resume command, exit 5 (the journal %s)",
    async (_, events, result) => {
      const err = notes()
      const code = await Effect.runPromise(
        followPlan(fakeEngine({ events: () => events, result: () => result }), "p", args(false), {
          stdout: notes().stream,
          stderr: err.stream
        })
      )
      expect(code).toBe(ExitCode.storeFailed)
      expect(err.text()).toBe(
        `devmatrix: store ${store}: Unavailable: cannot commit to "p": disk I/O error (SQLITE_IOERR)\n` +
          `masterplan p stopped with its state as stored; continue it with\n  devmatrix resume p --store ${store}\n`
      )
    }
  )

  it("a defect that is not the store's stays a defect", async () => {
    const exit = await Effect.runPromiseExit(
      followPlan(
        fakeEngine({ events: () => Stream.empty, result: () => Effect.die(new Error("a bug")) }),
        "p",
        args(true),
        { stdout: notes().stream, stderr: notes().stream }
      )
    )
    expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
  })

  it("a first signal detaches with the grace period for the calls in flight; a second one detaches at once; every plan of the process is stopped, each with its resume command", async () => {
    const detached: Array<[string, number | undefined]> = []
    const err = notes()
    const code = await Effect.runPromise(
      Effect.gen(function* () {
        const stop = yield* stopRequests
        const graceStarted = yield* Deferred.make<void>()
        const engine = fakeEngine({
          // A detached plan's journal is read to its end (what the grace period journaled).
          events: () => (detached.length > 0 ? Stream.empty : Stream.never),
          // A grace period that never ends by itself: only the second signal can cut it short.
          detach: (id, options) =>
            Effect.suspend(() => {
              detached.push([id, options?.graceMs])
              return options?.graceMs === 0
                ? Effect.void
                : Effect.zipRight(Deferred.succeed(graceStarted, undefined), Effect.never)
            })
        })
        const following = yield* Effect.fork(
          followPlan(
            engine,
            "p",
            args(true),
            { stdout: notes().stream, stderr: err.stream },
            {
              stop,
              alsoRunning: ["q"]
            }
          )
        )
        yield* Deferred.succeed(stop.first, "SIGTERM")
        yield* Deferred.await(graceStarted)
        expect(err.text()).toContain(`may finish for up to ${signalGraceMs / 1000} s`)
        yield* Deferred.succeed(stop.second, "SIGINT")
        return yield* Fiber.join(following)
      })
    )
    expect(code).toBe(ExitCode.interrupted)
    expect(detached.slice(0, 2).sort()).toEqual([
      ["p", signalGraceMs],
      ["q", signalGraceMs]
    ])
    expect(detached.slice(2).sort()).toEqual([
      ["p", 0],
      ["q", 0]
    ])
    for (const id of ["p", "q"])
      expect(err.text()).toContain(
        `interrupted (SIGTERM): masterplan ${id} is saved; continue it with\n  devmatrix resume ${id} --store ${store}\n`
      )
  })
})
