import {
  commandResults,
  commandSchemas,
  decodeInput,
  encodeFrame,
  type Command,
  type CommandType,
  type ErrorReply
} from "@devmatrix/core"
import { Either, Schema } from "effect"
import { DevMatrixError, type DevMatrixErrorReason } from "../DevMatrixError.js"

const commandDecoders = new Map<
  CommandType,
  (input: unknown) => Either.Either<Command, { message: string }>
>()

/** The command's schema, every problem named, an unknown field one of them (a typo would be lost). */
const commandDecoder = (type: CommandType) => {
  let decode = commandDecoders.get(type)
  if (decode === undefined) {
    decode = decodeInput(commandSchemas[type] as Schema.Schema<Command, unknown>, type, {
      onExcessProperty: "error"
    })
    commandDecoders.set(type, decode)
  }
  return decode
}

/** Decodes a command's ack `result` with the command's result schema. */
export const resultDecoder = (type: CommandType) =>
  Schema.decodeUnknownEither(commandResults[type] as Schema.Schema<unknown, unknown>, { errors: "all" })

/** A client-side failure: `internal` unless told. */
export const clientError = (
  reason: DevMatrixErrorReason,
  message: string,
  more: {
    readonly command?: CommandType
    readonly outcomeUnknown?: boolean
    readonly code?: DevMatrixError["code"]
  } = {}
): DevMatrixError =>
  new DevMatrixError({
    code: more.code ?? "internal",
    reason,
    message,
    ...(more.command !== undefined ? { command: more.command } : {}),
    outcomeUnknown: more.outcomeUnknown ?? false
  })

/** The same error, for one command. */
export const forCommand = (error: DevMatrixError, command: CommandType): DevMatrixError =>
  clientError(error.reason, error.message, {
    command,
    code: error.code,
    outcomeUnknown: error.outcomeUnknown
  })

/** The host's `error` reply to a command. */
export const hostError = (frame: typeof ErrorReply.Type, command: CommandType): DevMatrixError =>
  clientError("rejected", frame.message, {
    command,
    code: frame.code,
    outcomeUnknown: frame.code === "internal"
  })

/** A reply that does not match the protocol: it may have been an ack. */
export const badReply = (command: CommandType, message: string): DevMatrixError =>
  clientError("bad_reply", message, { command, outcomeUnknown: true })

/** A command's fields through its schema, as the frame's bytes, no larger than `maxFrameBytes`. */
export const encodeCommand = (
  type: CommandType,
  fields: Readonly<Record<string, unknown>>,
  id: string,
  maxFrameBytes: number
): Either.Either<Uint8Array, DevMatrixError> => {
  const command = commandDecoder(type)({ ...fields, type, id })
  if (Either.isLeft(command))
    return Either.left(
      clientError("invalid", command.left.message, { command: type, code: "invalid_command" })
    )
  const bytes = encodeFrame(command.right)
  if (bytes.byteLength <= maxFrameBytes) return Either.right(bytes)
  const size = (n: number) => n.toLocaleString("en-US")
  return Either.left(
    clientError(
      "invalid",
      `the ${type} frame is ${size(bytes.byteLength)} bytes, over maxFrameBytes (${size(maxFrameBytes)})`,
      {
        command: type,
        code: "frame_too_large"
      }
    )
  )
}

/** A `watch`'s plan and first seq (1 when not given), as its schema reads them. */
export const watchFieldsOf = (
  masterplanId: string,
  fromSeq: number | undefined
): Either.Either<{ readonly masterplanId: string; readonly fromSeq: number }, DevMatrixError> =>
  Either.match(
    commandDecoder("watch")({
      type: "watch",
      id: "watch",
      masterplanId,
      ...(fromSeq !== undefined ? { fromSeq } : {})
    }),
    {
      onLeft: (error) =>
        Either.left(clientError("invalid", error.message, { command: "watch", code: "invalid_command" })),
      onRight: (command) => Either.right(command as Extract<Command, { type: "watch" }>)
    }
  )
