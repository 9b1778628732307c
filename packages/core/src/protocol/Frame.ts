import { Data, Either, Predicate, Schema } from "effect"
import { Packr } from "msgpackr"
import { maxEchoLength, maxInputDepth, maxReportedProblems } from "../schema/inputLimits.js"
import { decodeInput, planProblems, runOptionProblems } from "../schema/PlanInputError.js"
import type { InputProblem } from "../schema/problemsOf.js"
import { cut } from "../schema/problemsOf.js"
import type { Event } from "../schema/Event.js"
import { Command, CommandId, commandSchemas, type CommandType, type SubmitCommand } from "./Command.js"
import { scanMsgpack } from "./scanMsgpack.js"
import { AckReply, ErrorReply, EventReply, maxErrorMessageLength, Reply, type ErrorCode } from "./Reply.js"

/** Anything that crosses a host's socket: a command from a client, or a reply to one. */
export const Frame = Schema.Union(Command, Reply)
export type Frame = typeof Frame.Type
export type FrameEncoded = typeof Frame.Encoded

/**
 * The default largest frame a host or client accepts, in bytes: 32 MiB. A submitted plan is the
 * largest frame. Measured: 10,000 atoms (a 120-character instruction, a file and a dependency
 * each) take 2.2 MB of msgpack, about 223 bytes an atom, so 100,000 such atoms take 22 MB and fit
 * with room for longer instructions; a plan near `maxAtoms` (200,000) needs a host started with a
 * larger limit. A frame is held whole while it is decoded: the limit bounds that memory.
 */
export const defaultMaxFrameBytes = 32 * 1024 * 1024

/** A frame refused before anything acted on it; `id` is its command's, when that could be read. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly code: ErrorCode
  readonly message: string
  readonly id?: string
}> {}

/** The `error` reply that tells the client of a refused frame. */
export const errorReplyOf = (error: ProtocolError): typeof ErrorReply.Type => ({
  type: "error",
  ...(error.id !== undefined ? { id: error.id } : {}),
  code: error.code,
  message: cut(error.message, maxErrorMessageLength)
})

/**
 * msgpackr as core sees it: its types name Node's `Buffer` (a `Uint8Array`), which core, free of
 * Node types, does not know.
 */
interface Msgpack {
  readonly pack: (value: unknown) => Uint8Array
  readonly unpack: (bytes: Uint8Array) => unknown
}

// Plain msgpack maps: no record extension, which a client of another language would not know.
// Maps are read as `Map`s (`plainOf` makes objects of them): read as objects, msgpackr renames a
// key `__proto__`, which an atom's `input` may have. `variableMapSize`: without it msgpackr
// cannot write an object of more than 65,535 keys. Built once: a Packr keeps its buffers.
const packr: Msgpack = new Packr({ useRecords: false, mapsAsObjects: false, variableMapSize: true })

/**
 * A msgpack value with its maps as plain objects, every key an own property (`__proto__` too, as
 * `JSON.parse` makes it). Down to the depth a schema reads only: below it the value is too deep
 * anyway (`measureInput` says so), and the recursion stays bounded.
 */
const plainOf = (value: unknown, depth = 0): unknown => {
  if (depth > maxInputDepth || typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return value.map((item: unknown) => plainOf(item, depth + 1))
  if (value instanceof Map)
    return Object.fromEntries(
      Array.from(value as Map<unknown, unknown>, ([key, item]) => [String(key), plainOf(item, depth + 1)])
    )
  return value
}

const encodeWire = Schema.encodeSync(Frame)

/**
 * A frame as msgpack bytes, through the `Frame` schema (so its encoded side is what goes on the
 * wire). Throws if the frame does not match the schema: the sender's own bug, not its peer's.
 */
export const encodeFrame = (frame: Frame): Uint8Array => packr.pack(encodeWire(frame))

/**
 * A frame already in its wire form (`FrameEncoded`: a plan as `plan.json` has it, say) as msgpack
 * bytes, not checked: what a client sends as it is, for its peer's schema to judge. `encodeFrame`
 * is for frames built as their decoded types.
 */
export const encodeWireFrame = (frame: FrameEncoded): Uint8Array => packr.pack(frame)

/**
 * A journaled event's `event` frame as msgpack bytes, packed as it is, not through the `Frame`
 * schema: an `Event`'s encoded side is the event itself (its schema only filters, and its one
 * transformation, -0 read as 0, encodes as the identity; msgpack writes -0 as 0 anyway), so the
 * bytes decode to what `encodeFrame`'s do, at a fifth of the cost (measured: 3 µs against 16 µs
 * an event), which a host pays for every event it streams. For events the engine built (typed,
 * and read back from the store as they were committed); anything else goes through `encodeFrame`.
 */
export const encodeEventFrame = (event: Event): Uint8Array =>
  packr.pack({ type: "event", masterplanId: event.masterplanId, event })

/** How `decodeFrame` and `decodeCommand` read bytes. */
export interface DecodeFrameOptions {
  /** The largest frame accepted, in bytes. @default defaultMaxFrameBytes */
  readonly maxBytes?: number
}

/**
 * What kind of msgpack value a frame is, for a message: never the value itself, which may hold a
 * token sent without its `hello`, and which the host may log.
 */
const kindOf = (value: unknown): string => {
  if (value === null) return "null"
  if (value === undefined) return "undefined"
  if (Array.isArray(value)) return "an array"
  if (value instanceof Uint8Array) return "binary data"
  return typeof value === "object" ? "an object" : `a ${typeof value}`
}

/**
 * The deepest nesting of arrays and maps the decoder reads; a frame's schema refuses more than
 * `maxInputDepth` (64) levels anyway, with the path: this bounds msgpackr's recursion only.
 */
const maxFrameDepth = 1_000

const readMsgpack = (bytes: Uint8Array, maxBytes: number): Either.Either<unknown, ProtocolError> => {
  if (bytes.byteLength > maxBytes)
    return Either.left(
      new ProtocolError({
        code: "frame_too_large",
        message: `a frame of ${bytes.byteLength.toLocaleString("en-US")} bytes is over the limit of ${maxBytes.toLocaleString("en-US")}`
      })
    )
  // msgpackr trusts the lengths it reads (a five-byte header makes it loop four billion times)
  // and recurses per level: the bytes are checked first, in one pass.
  const problem = scanMsgpack(bytes, maxFrameDepth)
  if (problem !== undefined)
    return Either.left(new ProtocolError({ code: "bad_frame", message: `not one msgpack value: ${problem}` }))
  try {
    const value = packr.unpack(bytes)
    return Either.right(plainOf(value))
  } catch (error) {
    // Not expected once the scan passed; kept so that no bytes can make the codec throw.
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(
      new ProtocolError({ code: "bad_frame", message: `not one msgpack value: ${cut(reason, 200)}` })
    )
  }
}

/** The problems of the whole of a submission that its schema does not see, at their paths. */
const submitProblems = (submit: SubmitCommand): ReadonlyArray<InputProblem> => [
  ...planProblems(submit.plan).map((p) => ({
    path: p.path === "" ? "plan" : `plan.${p.path}`,
    message: p.message
  })),
  ...runOptionProblems(submit.options, "options")
]

/** `watch.fromSeq: expected a positive integer, got -3; …`: the first few problems at their paths. */
const invalidMessage = (type: string, problems: ReadonlyArray<InputProblem>, onlyFirst: boolean): string => {
  const shown = problems.slice(0, maxReportedProblems)
  const more = problems.length - shown.length
  const lines = shown.map(
    (p) => `${type}${p.path === "" ? "" : p.path.startsWith("[") ? p.path : `.${p.path}`}: ${p.message}`
  )
  if (more > 0) lines.push(`… and ${more.toLocaleString("en-US")} more`)
  if (onlyFirst) lines.push("(only the first problem is looked for in a frame this big)")
  return lines.join("; ")
}

type FrameType = Frame["type"]

/** A decoder of one frame `type`: its decoded frame, or the problems of its fields. */
type MemberDecoder = (
  value: unknown
) => Either.Either<Frame, { problems: ReadonlyArray<InputProblem>; onlyFirst: boolean }>

const memberDecoder = <A extends Frame, I>(schema: Schema.Schema<A, I>, type: FrameType): MemberDecoder => {
  const decode = decodeInput(schema, type, { onExcessProperty: "error" })
  return (value) =>
    Either.match(decode(value), {
      onLeft: (error) => Either.left({ problems: error.problems, onlyFirst: error.onlyFirst === true }),
      onRight: (
        frame
      ): Either.Either<Frame, { problems: ReadonlyArray<InputProblem>; onlyFirst: boolean }> => {
        const problems = frame.type === "submit" ? submitProblems(frame) : []
        return problems.length === 0 ? Either.right(frame) : Either.left({ problems, onlyFirst: false })
      }
    })
}

const commandDecoders: Record<CommandType, MemberDecoder> = Object.fromEntries(
  Object.entries(commandSchemas).map(([type, schema]) => [
    type,
    memberDecoder(schema as Schema.Schema<Frame, unknown>, type as CommandType)
  ])
) as Record<CommandType, MemberDecoder>

const frameDecoders: Record<FrameType, MemberDecoder> = {
  ...commandDecoders,
  ack: memberDecoder(AckReply, "ack"),
  error: memberDecoder(ErrorReply, "error"),
  event: memberDecoder(EventReply, "event")
}

const decodeCommandId = Schema.decodeUnknownOption(CommandId)

/** The frame's `id` when it is one a reply can carry. */
const readableId = (value: Record<PropertyKey, unknown>): { id?: string } => {
  const id = Object.hasOwn(value, "id") ? decodeCommandId(value["id"]) : undefined
  return id !== undefined && id._tag === "Some" ? { id: id.value } : {}
}

const decodeWith =
  <T extends Frame>(decoders: Readonly<Record<string, MemberDecoder>>, what: string) =>
  (bytes: Uint8Array, options: DecodeFrameOptions = {}): Either.Either<T, ProtocolError> =>
    Either.flatMap(readMsgpack(bytes, options.maxBytes ?? defaultMaxFrameBytes), (value) => {
      if (!Predicate.isRecord(value))
        return Either.left(
          new ProtocolError({
            code: "unknown_command",
            message: `a frame must be an object with a "type", got ${kindOf(value)}`
          })
        )
      const id = readableId(value)
      if (!Object.hasOwn(value, "type"))
        return Either.left(
          new ProtocolError({
            code: "unknown_command",
            message: `a frame must be an object with a "type", this one has none`,
            ...id
          })
        )
      const type = value["type"]
      const decoder = typeof type === "string" && Object.hasOwn(decoders, type) ? decoders[type] : undefined
      if (decoder === undefined || typeof type !== "string")
        return Either.left(
          new ProtocolError({
            code: "unknown_command",
            message:
              typeof type === "string"
                ? `unknown ${what} type ${JSON.stringify(cut(type, maxEchoLength))}`
                : `a frame's "type" must be a string, got ${kindOf(type)}`,
            ...id
          })
        )
      return Either.match(decoder(value), {
        onLeft: ({ problems, onlyFirst }) =>
          Either.left(
            new ProtocolError({
              code: "invalid_command",
              message: cut(invalidMessage(type, problems, onlyFirst), maxErrorMessageLength),
              ...id
            })
          ),
        onRight: (frame) => Either.right(frame as T)
      })
    })

/**
 * Reads one frame (a command or a reply: what a client or a test reads) from msgpack bytes, never
 * throwing whatever the bytes: over `maxBytes` is `frame_too_large`; not one msgpack value,
 * `bad_frame`; not an object of a known `type`, `unknown_command`; a known type with bad fields,
 * `invalid_command` naming each path (`watch.fromSeq: expected a positive integer, got -3`).
 */
export const decodeFrame: (
  bytes: Uint8Array,
  options?: DecodeFrameOptions
) => Either.Either<Frame, ProtocolError> = decodeWith<Frame>(frameDecoders, "frame")

/** Reads a command, as a host does from its clients: a reply's type is an `unknown_command` here. */
export const decodeCommand: (
  bytes: Uint8Array,
  options?: DecodeFrameOptions
) => Either.Either<Command, ProtocolError> = decodeWith<Command>(commandDecoders, "command")
