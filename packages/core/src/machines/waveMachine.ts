import { assign, emit, setup } from "xstate"
import type { ActorRefFrom } from "xstate"
import type { EventBody } from "../schema/Event.js"
import type { WaveCounts } from "../schema/Wave.js"

export interface WaveMachineInput {
  readonly wave: number
  /** How many atoms the wave has. */
  readonly size: number
  /** Atoms that had already ended in an earlier process (resume). */
  readonly settled?: WaveCounts | undefined
}

interface WaveContext extends WaveMachineInput, WaveCounts {}

/**
 * Commands the engine sends a wave: start, and how its atoms ended (`ATOMS_SETTLED`, counts to add:
 * the engine sends them once the wave's last atom has ended, not once per atom, which would cost
 * every atom a transition that decides nothing).
 */
export type WaveCommand =
  { readonly type: "START" } | { readonly type: "ATOMS_SETTLED"; readonly settled: WaveCounts }

const settled = (c: WaveCounts) => c.completed + c.failed + c.skipped + c.cancelled

/**
 * One wave: `pending -> running -> completed`. The engine tells it how its atoms ended
 * (`ATOMS_SETTLED`); it counts them and completes when all have. Its atoms are not its children:
 * a child's end reaches its parent as an event typed by the child's id, which XState memoizes a
 * transition lookup for, once per atom of the plan.
 * Gates per wave arrive with acceptance tests; this is where they will run.
 */
export const waveMachine = setup({
  types: {
    input: {} as WaveMachineInput,
    context: {} as WaveContext,
    events: {} as WaveCommand,
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
        ATOMS_SETTLED: {
          actions: assign(({ context, event }) => ({
            completed: context.completed + event.settled.completed,
            failed: context.failed + event.settled.failed,
            skipped: context.skipped + event.settled.skipped,
            cancelled: context.cancelled + event.settled.cancelled
          }))
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
