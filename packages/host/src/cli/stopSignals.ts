import { Deferred, Effect } from "effect"
import { ExitCode } from "./exitCodes.js"

/** The signals that stop a run cleanly: Ctrl-C, `kill` (a service manager's stop), a closed terminal. */
export const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const
export type StopSignal = (typeof stopSignals)[number]

/**
 * How long the calls in flight may go on after the first stop signal: their results are already
 * paid for, and whatever ends in time is journaled instead of being paid again on resume. A
 * second signal stops at once.
 */
export const signalGraceMs = 5_000

/** The stop signals a command has received, for as long as it listens. */
export interface StopRequests {
  /** The first one: stop admitting, let the calls in flight end within `signalGraceMs`, save. */
  readonly first: Deferred.Deferred<StopSignal>
  /** The second one: interrupt the calls in flight, save what is journaled. */
  readonly second: Deferred.Deferred<StopSignal>
}

/**
 * Listens for stop signals until the scope closes (then the default handling is back). A third
 * signal exits at once, for a store that no longer answers: what is committed stays saved.
 */
export const listenForStop = Effect.acquireRelease(
  Effect.gen(function* () {
    const requests: StopRequests = {
      first: yield* Deferred.make<StopSignal>(),
      second: yield* Deferred.make<StopSignal>()
    }
    let received = 0
    const onSignal = (signal: StopSignal) => {
      received += 1
      if (received === 1) Deferred.unsafeDone(requests.first, Effect.succeed(signal))
      else if (received === 2) Deferred.unsafeDone(requests.second, Effect.succeed(signal))
      else process.exit(ExitCode.interrupted)
    }
    for (const signal of stopSignals) process.on(signal, onSignal)
    return { requests, onSignal }
  }),
  ({ onSignal }) =>
    Effect.sync(() => {
      for (const signal of stopSignals) process.off(signal, onSignal)
    })
).pipe(Effect.map(({ requests }) => requests))
