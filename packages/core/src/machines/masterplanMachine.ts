import { and, assign, emit, enqueueActions, fromPromise, setup } from "xstate"
import type { ActorRefFrom } from "xstate"
import type { EventBody, EventOf } from "../schema/Event.js"
import type { PipelinePhase } from "../schema/Masterplan.js"
import type { RunOutcome, RunSummary } from "../schema/RunSummary.js"
import { notProvided } from "./notProvided.js"

/** What a masterplan actor is created with: its identity and what `masterplan.submitted` reports. */
export interface MasterplanMachineInput {
  readonly masterplanId: string
  readonly submitted: Omit<EventOf<"masterplan.submitted">, "type" | "masterplanId" | "seq" | "at">
  /** The atoms are given (plan.json): discovery, planning and atomization are skipped. */
  readonly structured: boolean
  /** Requirements with acceptance tests to run; none means the acceptance phase is skipped. */
  readonly acceptance: boolean
  /** The summary reported if the plan ends before execution produced one. */
  readonly initialSummary: RunSummary
  /** A process picks the plan up again (crash recovery): it goes straight back to execution. */
  readonly recovered?: boolean
  /** The recovered plan was paused: it goes back to execution paused, and waits for `RESUME`. */
  readonly paused?: boolean
}

/** What a phase actor hands back when it is done. */
export interface PhaseOutput {
  readonly durationMs: number
}

/** What the execution phase hands back: how the atoms ended. */
export interface ExecutionOutput extends PhaseOutput {
  readonly summary: RunSummary
}

/** Commands the engine sends a masterplan. */
export type MasterplanCommand =
  | { readonly type: "START" }
  | {
      readonly type: "PAUSE"
      readonly reason: string
      readonly by?: "operator" | "spend_limit" | undefined
      /** The operator's name, for the audit trail. */
      readonly principal?: string | undefined
    }
  /**
   * The provider refused the plan's calls for good (a key it does not accept, a billing problem):
   * the plan fails with that reason, rather than every atom retrying into the same refusal.
   */
  | { readonly type: "PROVIDER_FAILED"; readonly reason: string; readonly summary: RunSummary }
  | { readonly type: "RESUME"; readonly principal?: string | undefined }
  /**
   * A call's worst case did not fit under the hard limit (the ledger refused its reservation): the
   * plan pauses until its budget is raised; the calls in flight finish.
   */
  | {
      readonly type: "BUDGET_EXHAUSTED"
      readonly totalUsd: number
      readonly limitUsd: number
      readonly level: "plan" | "wave" | "atom"
      readonly atomId?: string | undefined
      readonly neededUsd?: number | undefined
    }
  /** An operator raised the budget (the ledger took it already); journaled so a resume runs under it. */
  | {
      readonly type: "RAISE_BUDGET"
      readonly hardUsd: number
      readonly softUsd: number
      readonly previousHardUsd: number
      readonly principal?: string | undefined
    }
  | {
      readonly type: "CANCEL"
      readonly reason: string
      readonly summary: RunSummary
      readonly principal?: string | undefined
    }

interface MasterplanContext extends MasterplanMachineInput {
  summary: RunSummary
  reason: string
  /** Who cancelled it, for the audit trail. */
  cancelledBy?: string | undefined
}

/** An operator command's `principal`, as the field its event carries (none when embedded). */
const principalOf = (command: { readonly principal?: string | undefined }) =>
  command.principal !== undefined ? { principal: command.principal } : {}

const isPhaseOutput = (output: unknown): output is PhaseOutput =>
  typeof output === "object" && output !== null && "durationMs" in output

const isExecutionOutput = (output: unknown): output is ExecutionOutput =>
  typeof output === "object" && output !== null && "summary" in output

const withOutcome = (summary: RunSummary, outcome: RunOutcome): RunSummary => ({ ...summary, outcome })

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * A masterplan: `submitted`, then the phases `discovery -> planning -> atomization -> execution ->
 * acceptance -> done`, with `paused` inside execution, and `failed` or `cancelled` at any point.
 * Each phase is an actor the runtime provides; phases a structured plan does not need are skipped.
 */
export const masterplanMachine = setup({
  types: {
    input: {} as MasterplanMachineInput,
    context: {} as MasterplanContext,
    events: {} as MasterplanCommand,
    emitted: {} as EventBody
  },
  actors: {
    runDiscovery: fromPromise<PhaseOutput, { masterplanId: string }>(notProvided("runDiscovery")),
    runPlanning: fromPromise<PhaseOutput, { masterplanId: string }>(notProvided("runPlanning")),
    runAtomization: fromPromise<PhaseOutput, { masterplanId: string }>(notProvided("runAtomization")),
    runExecution: fromPromise<ExecutionOutput, { masterplanId: string }>(notProvided("runExecution")),
    runAcceptance: fromPromise<PhaseOutput, { masterplanId: string }>(notProvided("runAcceptance"))
  },
  guards: {
    structured: ({ context }) => context.structured,
    recovered: ({ context }) => context.recovered === true,
    recoveredPaused: ({ context }) => context.recovered === true && context.paused === true,
    noAcceptance: ({ context }) => !context.acceptance,
    noAtomFailed: ({ event }) =>
      "output" in event && isExecutionOutput(event.output) && event.output.summary.atoms.failed === 0
  },
  actions: {
    phase: emit((_, params: { phase: PipelinePhase; status: EventOf<"masterplan.phase">["status"] }) => ({
      type: "masterplan.phase" as const,
      ...params
    })),
    phaseDone: emit(({ event }, phase: PipelinePhase) => ({
      type: "masterplan.phase" as const,
      phase,
      status: "completed" as const,
      durationMs: "output" in event && isPhaseOutput(event.output) ? event.output.durationMs : 0
    })),
    keepSummary: assign(({ context, event }) =>
      "output" in event && isExecutionOutput(event.output)
        ? { summary: event.output.summary }
        : { summary: context.summary }
    )
  }
}).createMachine({
  id: "masterplan",
  context: ({ input }) => ({ ...input, summary: input.initialSummary, reason: "" }),
  initial: "submitted",
  on: {
    CANCEL: {
      target: ".cancelled",
      actions: assign({
        reason: ({ event }) => event.reason,
        summary: ({ event }) => event.summary,
        cancelledBy: ({ event }) => event.principal
      })
    }
  },
  states: {
    submitted: {
      entry: enqueueActions(({ context, enqueue }) => {
        if (!context.recovered) enqueue.emit({ type: "masterplan.submitted" as const, ...context.submitted })
      }),
      on: {
        START: [
          {
            guard: "recoveredPaused",
            target: "execution.paused",
            actions: emit({
              type: "masterplan.paused" as const,
              reason: "it was paused when its last process stopped; resume it to go on",
              by: "restart" as const
            })
          },
          {
            guard: "recovered",
            target: "execution",
            actions: emit({ type: "masterplan.resumed" as const, reason: "recovery" as const })
          },
          {
            guard: "structured",
            target: "execution",
            actions: [
              emit({ type: "masterplan.started" as const }),
              { type: "phase", params: { phase: "discovery", status: "skipped" } },
              { type: "phase", params: { phase: "planning", status: "skipped" } },
              { type: "phase", params: { phase: "atomization", status: "skipped" } }
            ]
          },
          { target: "discovery", actions: emit({ type: "masterplan.started" as const }) }
        ]
      }
    },
    discovery: {
      entry: { type: "phase", params: { phase: "discovery", status: "started" } },
      invoke: {
        src: "runDiscovery",
        input: ({ context }) => ({ masterplanId: context.masterplanId }),
        onDone: { target: "planning", actions: { type: "phaseDone", params: "discovery" } },
        onError: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "discovery", status: "failed" } },
            assign({ reason: ({ event }) => errorMessage(event.error) })
          ]
        }
      }
    },
    planning: {
      entry: { type: "phase", params: { phase: "planning", status: "started" } },
      invoke: {
        src: "runPlanning",
        input: ({ context }) => ({ masterplanId: context.masterplanId }),
        onDone: { target: "atomization", actions: { type: "phaseDone", params: "planning" } },
        onError: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "planning", status: "failed" } },
            assign({ reason: ({ event }) => errorMessage(event.error) })
          ]
        }
      }
    },
    atomization: {
      entry: { type: "phase", params: { phase: "atomization", status: "started" } },
      invoke: {
        src: "runAtomization",
        input: ({ context }) => ({ masterplanId: context.masterplanId }),
        onDone: { target: "execution", actions: { type: "phaseDone", params: "atomization" } },
        onError: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "atomization", status: "failed" } },
            assign({ reason: ({ event }) => errorMessage(event.error) })
          ]
        }
      }
    },
    execution: {
      entry: { type: "phase", params: { phase: "execution", status: "started" } },
      invoke: {
        src: "runExecution",
        input: ({ context }) => ({ masterplanId: context.masterplanId }),
        onDone: [
          {
            guard: and(["noAtomFailed", "noAcceptance"]),
            target: "done",
            actions: [
              "keepSummary",
              { type: "phaseDone", params: "execution" },
              { type: "phase", params: { phase: "acceptance", status: "skipped" } }
            ]
          },
          {
            guard: "noAtomFailed",
            target: "acceptance",
            actions: ["keepSummary", { type: "phaseDone", params: "execution" }]
          },
          {
            target: "failed",
            actions: [
              assign({
                summary: ({ event }) => event.output.summary,
                reason: ({ event }) =>
                  `${event.output.summary.atoms.failed} atom(s) failed, ${event.output.summary.atoms.skipped} skipped`
              }),
              emit(({ event }) => ({
                type: "masterplan.phase" as const,
                phase: "execution" as const,
                status: "failed" as const,
                durationMs: event.output.durationMs
              }))
            ]
          }
        ],
        onError: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "execution", status: "failed" } },
            assign({ reason: ({ event }) => errorMessage(event.error) })
          ]
        }
      },
      initial: "running",
      on: {
        PROVIDER_FAILED: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "execution", status: "failed" } },
            assign({ reason: ({ event }) => event.reason, summary: ({ event }) => event.summary })
          ]
        },
        RAISE_BUDGET: {
          actions: emit(({ event }) => ({
            type: "budget.raised" as const,
            hardUsd: event.hardUsd,
            softUsd: event.softUsd,
            previousHardUsd: event.previousHardUsd,
            ...principalOf(event)
          }))
        }
      },
      states: {
        running: {
          on: {
            PAUSE: {
              target: "paused",
              actions: emit(({ event }) => ({
                type: "masterplan.paused" as const,
                reason: event.reason,
                by: event.by ?? ("operator" as const),
                ...principalOf(event)
              }))
            },
            BUDGET_EXHAUSTED: {
              target: "paused",
              actions: [
                emit(({ event }) => ({
                  type: "cost.hard_limit" as const,
                  totalUsd: event.totalUsd,
                  limitUsd: event.limitUsd,
                  level: event.level,
                  ...(event.atomId !== undefined ? { atomId: event.atomId } : {}),
                  ...(event.neededUsd !== undefined ? { neededUsd: event.neededUsd } : {})
                })),
                emit(({ event }) => ({
                  type: "masterplan.paused" as const,
                  by: "budget" as const,
                  reason: `budget: ${event.level === "plan" ? "the" : `the ${event.level}'s`} hard limit of $${event.limitUsd} leaves no room for the next call`
                }))
              ]
            }
          }
        },
        paused: {
          on: {
            RESUME: {
              target: "running",
              actions: emit(({ event }) => ({
                type: "masterplan.resumed" as const,
                reason: "operator" as const,
                ...principalOf(event)
              }))
            }
          }
        }
      }
    },
    acceptance: {
      entry: { type: "phase", params: { phase: "acceptance", status: "started" } },
      invoke: {
        src: "runAcceptance",
        input: ({ context }) => ({ masterplanId: context.masterplanId }),
        onDone: { target: "done", actions: { type: "phaseDone", params: "acceptance" } },
        onError: {
          target: "failed",
          actions: [
            { type: "phase", params: { phase: "acceptance", status: "failed" } },
            assign({ reason: ({ event }) => errorMessage(event.error) })
          ]
        }
      }
    },
    done: {
      type: "final",
      entry: emit(({ context }) => ({
        type: "masterplan.completed" as const,
        summary: withOutcome(context.summary, "completed")
      }))
    },
    failed: {
      type: "final",
      entry: emit(({ context }) => ({
        type: "masterplan.failed" as const,
        reason: context.reason,
        summary: withOutcome(context.summary, "failed")
      }))
    },
    cancelled: {
      type: "final",
      entry: emit(({ context }) => ({
        type: "masterplan.cancelled" as const,
        reason: context.reason,
        summary: withOutcome(context.summary, "cancelled"),
        ...(context.cancelledBy !== undefined ? { principal: context.cancelledBy } : {})
      }))
    }
  }
})

export type MasterplanMachine = typeof masterplanMachine
export type MasterplanActor = ActorRefFrom<MasterplanMachine>
