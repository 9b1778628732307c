import { Schema } from "effect"
import { maxSeq } from "../schema/inputLimits.js"
import { PlanInput } from "../schema/PlanInput.js"
import { FreeText, Id, NonEmptyFreeText } from "../schema/PlanText.js"
import { PositiveUsd } from "../schema/PlanNumber.js"
import { RunOptionsAsGiven } from "../schema/RunOptions.js"

/** The longest `id` a command may carry: the client's own label, echoed in its reply. */
export const maxCommandIdLength = 128

/**
 * The id a client gives a command, to match it with its `ack` or `error`: 1 to
 * `maxCommandIdLength` characters of well-formed Unicode, of any kind (the host only echoes it).
 */
export const CommandId = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  // msgpack carries UTF-8, which has no lone surrogates: such an id would not come back as sent.
  Schema.filter((id) => !/\p{Cs}/u.test(id), {
    message: () => "is not well-formed Unicode: an unpaired surrogate"
  }),
  Schema.maxLength(maxCommandIdLength, {
    message: (issue) =>
      `must be at most ${maxCommandIdLength} characters long, got ${String(issue.actual).length.toLocaleString("en-US")}`
  })
).annotations({ identifier: "CommandId" })

/** The first event a `watch` replays: 1 (the default) replays the plan's whole journal. */
export const FromSeq = Schema.Number.pipe(
  Schema.filter((n) => Number.isInteger(n) && n >= 1 && n <= maxSeq, {
    message: (issue) => `expected a positive integer, got ${String(issue.actual)}`
  })
).annotations({ identifier: "FromSeq" })

const command = <TType extends string, TFields extends Schema.Struct.Fields>(type: TType, fields: TFields) =>
  Schema.Struct({ type: Schema.Literal(type), id: CommandId, ...fields })

const ofPlan = { masterplanId: Id }
const ofAtom = { masterplanId: Id, atomId: Id }

/** The longest bearer token a `hello` carries. */
export const maxTokenLength = 4_096

/** A bearer token; a problem with one never echoes it (the host may log the problem). */
const Token = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxTokenLength)).annotations({
  message: () => ({
    message: `must be a string of 1 to ${maxTokenLength.toLocaleString("en-US")} characters`,
    override: true
  })
})

/** Authenticates the connection when no `Authorization` header came with the upgrade. */
export const HelloCommand = command("hello", { token: Token })

/**
 * Submits a plan (`PlanInput`, as `plan.json` has it) with run options kept as given (defaults
 * are resolved with the plan's by the host); `masterplanId` names it, when the client chooses.
 */
export const SubmitCommand = command("submit", {
  plan: PlanInput,
  options: Schema.optional(RunOptionsAsGiven),
  masterplanId: Schema.optional(Id)
})
export type SubmitCommand = typeof SubmitCommand.Type

/** A masterplan's state and summary. */
export const GetCommand = command("get", ofPlan)

/** The masterplans the connection's tenant can see. */
export const ListCommand = command("list", {})

/** Cancels a masterplan; its atoms in flight are interrupted. */
export const CancelCommand = command("cancel", { ...ofPlan, reason: Schema.optional(FreeText) })

/** Pauses a masterplan: no atom starts until it is resumed; calls in flight finish. */
export const PauseCommand = command("pause", { ...ofPlan, reason: Schema.optional(FreeText) })

/** Resumes a paused masterplan. */
export const ResumeCommand = command("resume", ofPlan)

/** Raises a masterplan's hard budget (a plan paused by its budget can then be resumed). */
export const RaiseBudgetCommand = command("raiseBudget", { ...ofPlan, hardUsd: PositiveUsd })

/** The atoms of a masterplan waiting for review. */
export const ReviewListCommand = command("reviewList", ofPlan)

/** Accepts an atom's code as it is. */
export const ApproveCommand = command("approve", ofAtom)

/** Accepts an atom with the reviewer's code in place of the model's. */
export const EditCommand = command("edit", { ...ofAtom, code: FreeText })

/** Refuses an atom's code, saying why (the atom fails, and its dependents with it). */
export const RejectCommand = command("reject", { ...ofAtom, reason: NonEmptyFreeText })

/**
 * Streams a masterplan's events from `fromSeq` on: the journal's first, then live ones, in order,
 * with no gap and no duplicate. A client that reconnects resumes from its last `seq` + 1.
 */
export const WatchCommand = command("watch", {
  ...ofPlan,
  fromSeq: Schema.optionalWith(FromSeq, { default: () => 1 })
})
export type WatchCommand = typeof WatchCommand.Type

/** Stops a `watch` of the connection. */
export const UnwatchCommand = command("unwatch", ofPlan)

/** Every command a client sends, by its `type`. */
export const commandSchemas = {
  hello: HelloCommand,
  submit: SubmitCommand,
  get: GetCommand,
  list: ListCommand,
  cancel: CancelCommand,
  pause: PauseCommand,
  resume: ResumeCommand,
  raiseBudget: RaiseBudgetCommand,
  reviewList: ReviewListCommand,
  approve: ApproveCommand,
  edit: EditCommand,
  reject: RejectCommand,
  watch: WatchCommand,
  unwatch: UnwatchCommand
} as const

/** The `type` of a command. */
export type CommandType = keyof typeof commandSchemas

/** A command a client sends a host: each carries an `id`, and gets an `ack` or an `error` with it. */
export const Command = Schema.Union(
  HelloCommand,
  SubmitCommand,
  GetCommand,
  ListCommand,
  CancelCommand,
  PauseCommand,
  ResumeCommand,
  RaiseBudgetCommand,
  ReviewListCommand,
  ApproveCommand,
  EditCommand,
  RejectCommand,
  WatchCommand,
  UnwatchCommand
)
export type Command = typeof Command.Type
export type CommandEncoded = typeof Command.Encoded
