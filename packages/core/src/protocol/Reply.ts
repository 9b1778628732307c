import { Schema } from "effect"
import { Event } from "../schema/Event.js"
import { Id } from "../schema/PlanText.js"
import { CommandId } from "./Command.js"

/**
 * Why a host refused a frame or a command: a closed list, so a client can act on the code alone
 * (the message is for people).
 */
export const ErrorCode = Schema.Literal(
  /** The bytes are not one msgpack value. */
  "bad_frame",
  /** The frame is over the host's maximum frame size. */
  "frame_too_large",
  /** The frame is not an object with the `type` of a command. */
  "unknown_command",
  /** A known command with a field missing, of the wrong kind, out of range, or unknown. */
  "invalid_command",
  /** No token, or a token the host does not know: `hello` first, or a bearer token at upgrade. */
  "unauthenticated",
  /** The token's role may not do this (a `viewer` submitting, approving, cancelling). */
  "forbidden",
  /** No such masterplan or atom for this tenant (another tenant's looks exactly the same). */
  "not_found",
  /** The command does not fit the plan's state (resume a plan that is not paused, approve twice). */
  "conflict",
  /** More commands per second than the connection may send. */
  "rate_limited",
  /** The engine's admission queue stayed full for as long as a submission may wait: try again later. */
  "queue_full",
  /** More watches than the connection may hold at once. */
  "too_many_watches",
  /** The connection read too slowly: its send buffer filled; reconnect and watch from the last `seq`. */
  "slow_consumer",
  /** The host failed; the command may or may not have taken effect. */
  "internal"
)
export type ErrorCode = typeof ErrorCode.Type

/** The longest message an `error` reply carries. */
export const maxErrorMessageLength = 2_000

/** The command `id` succeeded; `result` is what it returned (the command's own shape). */
export const AckReply = Schema.Struct({
  type: Schema.Literal("ack"),
  id: CommandId,
  result: Schema.optional(Schema.Unknown)
})

/**
 * A frame or command refused: `id` is the command's when it could be read (a frame that is not a
 * command has none), so the client matches the error to what it sent.
 */
export const ErrorReply = Schema.Struct({
  type: Schema.Literal("error"),
  id: Schema.optional(CommandId),
  code: ErrorCode,
  message: Schema.String.pipe(Schema.maxLength(maxErrorMessageLength))
})

/** One event of a watched masterplan, in `seq` order. */
export const EventReply = Schema.Struct({
  type: Schema.Literal("event"),
  masterplanId: Id,
  event: Event
})

/** What a host sends a client: replies to its commands and the events of its watches. */
export const Reply = Schema.Union(AckReply, ErrorReply, EventReply)
export type Reply = typeof Reply.Type
export type ReplyEncoded = typeof Reply.Encoded
