import { assign, emit, setup } from "xstate"
import type { ActorRefFrom, DoneActorEvent } from "xstate"
import type { EventBody } from "../schema/Event.js"
import type { WaveCounts } from "../schema/Wave.js"
import type { AtomMachineOutput } from "./atomMachine.js"

export interface WaveMachineInput {
  readonly wave: number
  /** How many atoms the wave has. */
  readonly size: number
  /** Atoms that had already ended in an earlier process (resume). */
  readonly settled?: WaveCounts | undefined
}

interface WaveContext extends WaveMachineInput, WaveCounts {}

/** Commands the engine sends a wave. */
export type WaveCommand = { readonly type: "START" }

const settled = (c: WaveCounts) => c.completed + c.failed + c.skipped + c.cancelled

/**
 * One wave: `pending -> running -> completed`. Its atoms are its child actors; the wave counts
 * their outcomes as they finish (XState's `xstate.done.actor.*`) and completes when all have.
 * Gates per wave arrive with acceptance tests; this is where they will run.
 */
export const waveMachine = setup({
  types: {
    input: {} as WaveMachineInput,
    context: {} as WaveContext,
    events: {} as WaveCommand | DoneActorEvent<AtomMachineOutput>,
    emitted: {} as EventBody
  },
  guards: {
    allSettled: ({ context }) => settled(context) >= context.size
  }
}).createMachine({
  id: "wave",
  context: ({ input }) => ({
    wave: input.wave,
    size: input.size,
    completed: input.settled?.completed ?? 0,
    failed: input.settled?.failed ?? 0,
    skipped: input.settled?.skipped ?? 0,
    cancelled: input.settled?.cancelled ?? 0
  }),
  initial: "pending",
  states: {
    pending: {
      on: { START: "running" }
    },
    running: {
      entry: emit(({ context }) => ({
        type: "wave.started" as const,
        wave: context.wave,
        atoms: context.size
      })),
      always: { guard: "allSettled", target: "completed" },
      on: {
        "xstate.done.actor.*": {
          actions: assign(({ context, event }) => {
            const outcome = event.output.outcome
            return { [outcome]: context[outcome] + 1 }
          })
        }
      }
    },
    completed: {
      type: "final",
      entry: emit(({ context }) => ({
        type: "wave.completed" as const,
        wave: context.wave,
        completed: context.completed,
        failed: context.failed,
        skipped: context.skipped,
        cancelled: context.cancelled
      }))
    }
  }
})

export type WaveMachine = typeof waveMachine
export type WaveActor = ActorRefFrom<WaveMachine>
