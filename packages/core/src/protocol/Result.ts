import { Schema } from "effect"
import { AtomStatus } from "../schema/Atom.js"
import { MasterplanStatus, PipelinePhase } from "../schema/Masterplan.js"
import { RunSummary } from "../schema/RunSummary.js"
import type { CommandType } from "./Command.js"

/** What a token may do: `viewer` watches; `operator` also submits, reviews, raises budgets, cancels; `admin` everything. */
export const Role = Schema.Literal("viewer", "operator", "admin")
export type Role = typeof Role.Type

/** Who a connection is, as its token says: the `hello` ack, and who the audit trail names. */
export const Principal = Schema.Struct({
  /** The token's holder, as the tokens file names it (never the token itself). */
  principal: Schema.String,
  tenant: Schema.String,
  role: Role
})
export type Principal = typeof Principal.Type

/** A masterplan as `list` shows it. */
export const MasterplanListing = Schema.Struct({
  masterplanId: Schema.String,
  name: Schema.String,
  status: MasterplanStatus,
  phase: Schema.optional(PipelinePhase),
  atomCount: Schema.NonNegativeInt,
  waveCount: Schema.NonNegativeInt,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  /** The seq of its last committed event: a `watch` from `lastSeq + 1` sees only what comes next. */
  lastSeq: Schema.NonNegativeInt
})
export type MasterplanListing = typeof MasterplanListing.Type

/** A masterplan as `get` shows it: its listing, its atoms by status, and its summary once it has ended. */
export const MasterplanView = Schema.Struct({
  ...MasterplanListing.fields,
  atoms: Schema.Record({ key: AtomStatus, value: Schema.NonNegativeInt }).pipe(Schema.partial),
  costUsd: Schema.NonNegative,
  summary: Schema.optional(RunSummary)
})
export type MasterplanView = typeof MasterplanView.Type

/** An atom waiting for a reviewer: the output under review and how sure validation was of it. */
export const ReviewItem = Schema.Struct({
  atomId: Schema.String,
  wave: Schema.NonNegativeInt,
  confidence: Schema.optional(Schema.Number),
  code: Schema.String
})
export type ReviewItem = typeof ReviewItem.Type

const none = Schema.Struct({})

/**
 * The `result` of each command's `ack`, by the command's `type`: the host encodes its results
 * with these and a client decodes them, so a typed client method returns the schema's type.
 */
export const commandResults = {
  hello: Principal,
  submit: Schema.Struct({ masterplanId: Schema.String }),
  get: MasterplanView,
  list: Schema.Struct({ masterplans: Schema.Array(MasterplanListing) }),
  cancel: none,
  pause: none,
  resume: none,
  raiseBudget: Schema.Struct({ hardUsd: Schema.Number, softUsd: Schema.Number }),
  reviewList: Schema.Struct({ atoms: Schema.Array(ReviewItem) }),
  approve: none,
  edit: none,
  reject: none,
  /**
   * The watch is on: events from `fromSeq` follow as `event` frames, ending with the plan's
   * terminal event; `lastSeq` is the plan's last committed seq when the watch began. A watch of a
   * plan that has ended from past its `lastSeq` is acked with `ended` and nothing follows.
   */
  watch: Schema.Struct({
    masterplanId: Schema.String,
    fromSeq: Schema.Int,
    lastSeq: Schema.NonNegativeInt,
    /** The plan had ended already: with `fromSeq` past `lastSeq`, no event follows. */
    ended: Schema.Boolean
  }),
  unwatch: none
} as const satisfies Record<CommandType, Schema.Schema.Any>

/** The result type of a command's `ack`. */
export type CommandResult<T extends CommandType> = Schema.Schema.Type<(typeof commandResults)[T]>

/**
 * Why a host closes a connection (WebSocket close codes; 4000-4999 are the application's). The
 * close reason says it in words; a client reconnects after any of them but `unauthenticated`.
 */
export const CloseCode = {
  /** The host is shutting down (SIGTERM): reconnect to it or another host, and watch from the last `seq`. */
  goingAway: 1001,
  /** A frame over the WebSocket's own payload limit (the `ws` library closes with it). */
  frameTooLarge: 1009,
  /** No `hello` with a known token in time, or a bad bearer token at upgrade. */
  unauthenticated: 4401,
  /** The connection read too slowly and its send buffer filled: reconnect and watch from the last `seq`. */
  slowConsumer: 4408,
  /** Far more commands than the connection may send: it was flooding. */
  flooding: 4429
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** The path of a host's WebSocket endpoint (HTTP serves `/healthz`, `/readyz`, `/metrics` on the same port). */
export const webSocketPath = "/ws"
