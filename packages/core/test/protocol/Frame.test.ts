import {
  Command,
  decodeCommand,
  decodeFrame,
  decodePlanInput,
  defaultMaxFrameBytes,
  encodeEventFrame,
  encodeFrame,
  Event,
  EventReply,
  errorReplyOf,
  Frame,
  maxErrorMessageLength,
  type ProtocolError
} from "@devmatrix/core"
import { Arbitrary, Array as Arr, Either, Predicate, Schema } from "effect"
import fc from "fast-check"
import { Packr } from "msgpackr"
import { describe, expect, it } from "vitest"

/** More runs: `DEVMATRIX_PROPERTY_RUNS=5000 npx vitest run ...`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 200)

// An independent reader of the bytes, to say what the codec should make of them.
const msgpack = new Packr({ useRecords: false, mapsAsObjects: false })
const pack = (value: unknown): Uint8Array => msgpack.pack(value)

const commandTypes: ReadonlySet<string> = new Set(
  Command.members.map((member) => member.fields.type.literals[0])
)
const frameTypes = new Set([...commandTypes, "ack", "error", "event"])

const refusal = (result: Either.Either<unknown, ProtocolError>): ProtocolError => {
  if (Either.isRight(result)) throw new Error(`expected a refusal, got ${JSON.stringify(result.right)}`)
  return result.left
}

/**
 * Checks the code the codec gave bytes that are not a valid frame against another reading of
 * them (msgpackr's, untouched): a value msgpackr reads is classified by its shape; `bad_frame` is
 * for bytes msgpackr cannot read, or for what the codec refuses on purpose that msgpackr would
 * act on (an extension, the reserved byte 0xC1, nesting past the decoder's depth).
 */
const expectRightCode = (bytes: Uint8Array, error: ProtocolError, types: ReadonlySet<string>) => {
  let value: unknown
  try {
    value = msgpack.unpack(bytes)
  } catch {
    expect(error.code).toBe("bad_frame")
    return
  }
  if (error.code === "bad_frame") {
    expect(error.message).toMatch(/extension|0xC1|nested more than/)
    return
  }
  const known =
    value instanceof Map && typeof value.get("type") === "string" && types.has(value.get("type") as string)
  expect(error.code).toBe(known ? "invalid_command" : "unknown_command")
}

// -0 is sent as 0 by msgpack (as by JSON): numbers are compared as sent.
const withoutNegativeZero = (value: unknown): unknown =>
  Object.is(value, -0)
    ? 0
    : Array.isArray(value)
      ? value.map(withoutNegativeZero)
      : Predicate.isRecord(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]))
        : value

/**
 * A frame whose plan, if it has one, names only what it has: the schema does not check the plan's
 * references (the codec does, as `decodePlanInput` does), so an arbitrary plan's are dropped. Plans
 * with references are covered by the plan's own round trip (`test/schema/planRoundTrip.test.ts`).
 */
const withoutReferences = <F extends Frame>(frame: F): F =>
  frame.type !== "submit"
    ? frame
    : {
        ...frame,
        plan: {
          ...frame.plan,
          phases: [],
          milestones: [],
          tasks: [],
          requirements: [],
          atoms: Arr.map(frame.plan.atoms, ({ taskId: _, ...atom }) => atom)
        }
      }
/**
 * A summary's records with a key `__proto__`: Effect Schema's record encoding assigns keys, so
 * that one sets the copy's prototype and is lost. A summary never has one (its keys are wave
 * numbers and the price table's model ids); an atom's `input`, which may, is kept whole (below).
 */
const summaryProtoKey = (frame: Frame): boolean => {
  if (frame.type !== "event" || !("summary" in frame.event)) return false
  const { costByModel, costByWave } = frame.event.summary
  return Object.hasOwn(costByModel, "__proto__") || Object.hasOwn(costByWave ?? {}, "__proto__")
}
const validFrame = Arbitrary.make(Frame)
  .map(withoutReferences)
  .filter((frame) => !summaryProtoKey(frame))
const validCommand = Arbitrary.make(Command).map(withoutReferences)

describe("frame codec", () => {
  it("a valid command or reply decodes to itself", () => {
    fc.assert(
      fc.property(validFrame, (frame) => {
        const decoded = decodeFrame(encodeFrame(frame))
        expect(Either.getOrThrow(decoded)).toEqual(withoutNegativeZero(frame))
      }),
      { numRuns }
    )
  })

  it("an event's frame packed as it is decodes to what the Frame schema's encoding does", () => {
    // Events as the engine makes them: of a plan with a valid id, the summaries' records with no
    // key __proto__ (above).
    const validEvent = fc
      .tuple(Arbitrary.make(EventReply.fields.masterplanId), Arbitrary.make(Event))
      .map(([masterplanId, event]): Event => ({ ...event, masterplanId }))
      .filter((event) => !summaryProtoKey({ type: "event", masterplanId: event.masterplanId, event }))
    fc.assert(
      fc.property(validEvent, (event) => {
        const direct = Either.getOrThrow(decodeFrame(encodeEventFrame(event)))
        expect(direct).toEqual(
          Either.getOrThrow(
            decodeFrame(encodeFrame({ type: "event", masterplanId: event.masterplanId, event }))
          )
        )
        expect(direct).toEqual(
          withoutNegativeZero({ type: "event", masterplanId: event.masterplanId, event })
        )
      }),
      { numRuns }
    )
  })

  it("a valid command decodes as a command", () => {
    fc.assert(
      fc.property(validCommand, (command) => {
        expect(Either.getOrThrow(decodeCommand(encodeFrame(command)))).toEqual(withoutNegativeZero(command))
      }),
      { numRuns: Math.ceil(numRuns / 2) }
    )
  })

  it("never throws on random bytes, and gives each the code it deserves", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expectRightCode(bytes, refusal(decodeFrame(bytes)), frameTypes)
        expectRightCode(bytes, refusal(decodeCommand(bytes)), commandTypes)
      }),
      { numRuns: numRuns * 5 }
    )
  })

  it("never throws on a valid frame cut short or with bytes flipped", () => {
    fc.assert(
      fc.property(
        validCommand,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }),
        (command, cutAt, flips) => {
          const bytes = encodeFrame(command).slice()
          for (const [at, xor] of flips) bytes[at % bytes.length]! ^= xor
          const damaged = flips.length === 0 ? bytes.subarray(0, cutAt % bytes.length) : bytes
          const result = decodeCommand(damaged)
          if (Either.isLeft(result)) expectRightCode(damaged, result.left, commandTypes)
          else expect(Schema.is(Command)(result.right)).toBe(true)
        }
      ),
      { numRuns }
    )
  })

  it("says unknown_command of any msgpack value that is not an object of a known type", () => {
    const notACommand = fc
      .anything()
      .filter((v) => !(Predicate.isRecord(v) && commandTypes.has(String(v["type"]))))
    fc.assert(
      fc.property(notACommand, (value) => {
        const bytes = pack(value)
        expectRightCode(bytes, refusal(decodeCommand(bytes)), commandTypes)
      }),
      { numRuns }
    )
  })

  it("says invalid_command of a known command with a field spoiled, keeping its id", () => {
    const spoiled = fc.tuple(validCommand, fc.string({ minLength: 1, maxLength: 8 }), fc.anything())
    fc.assert(
      fc.property(spoiled, ([command, key, junk]) => {
        const wire: Record<string, unknown> = { ...Schema.encodeSync(Command)(command) }
        const field = Object.keys(wire).find((k) => k !== "type" && k !== "id" && k.length > 0)
        // A field set to a value of the wrong kind, or a field the command does not have.
        if (field !== undefined) wire[field] = [junk, junk]
        else wire[`x${key}`] = junk
        const error = refusal(decodeCommand(pack(wire)))
        expect(error.code).toBe("invalid_command")
        expect(error.id).toBe(command.id)
        expect(error.message.startsWith(command.type)).toBe(true)
      }),
      { numRuns }
    )
  })

  it("refuses deep nesting without overflowing", () => {
    const nested = (depth: number): unknown => {
      let value: unknown = "m"
      for (let i = 0; i < depth; i++) value = [value]
      return value
    }
    const deep = refusal(decodeCommand(pack({ type: "watch", id: "d", masterplanId: nested(100) })))
    expect(deep).toMatchObject({ code: "invalid_command", id: "d" })
    expect(deep.message).toMatch(/^watch\.masterplanId(\[0\])+: is nested too deep/)
    // A million levels, more than the decoder's stack holds: one array header byte a level.
    const tooDeep = new Uint8Array(1_000_001).fill(0x91)
    tooDeep[1_000_000] = 0xc0
    expect(refusal(decodeCommand(tooDeep)).code).toBe("bad_frame")
  })

  it("refuses a frame over the limit before reading it, and a huge string under it by its length", () => {
    const huge = pack({ type: "watch", id: "h", masterplanId: "m".repeat(2_000_000) })
    expect(refusal(decodeCommand(huge, { maxBytes: 1_048_576 }))).toMatchObject({
      code: "frame_too_large",
      message: `a frame of ${huge.byteLength.toLocaleString("en-US")} bytes is over the limit of 1,048,576`
    })
    const long = refusal(decodeCommand(huge))
    expect(long).toMatchObject({ code: "invalid_command", id: "h" })
    expect(long.message).toBe("watch.masterplanId: must be at most 256 characters long, got 2,000,000")
    const longId = refusal(decodeCommand(pack({ type: "list", id: "i".repeat(100_000) })))
    expect(longId.id).toBeUndefined()
    expect(longId.message).toBe("list.id: must be at most 128 characters long, got 100,000")
    const manyProblems = refusal(
      decodeCommand(
        pack({
          type: "list",
          id: "p",
          ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]))
        })
      )
    )
    expect(manyProblems.message.length).toBeLessThanOrEqual(maxErrorMessageLength)
    expect(manyProblems.message).toMatch(/… and 480 more$/)
  })
})

describe("frame codec errors", () => {
  it("bad_frame: not one msgpack value", () => {
    expect(refusal(decodeFrame(new Uint8Array([])))).toMatchObject({ code: "bad_frame" })
    expect(refusal(decodeFrame(pack({ type: "list", id: "a" }).subarray(0, 5)))).toMatchObject({
      code: "bad_frame"
    })
    expect(refusal(decodeFrame(new Uint8Array([...pack({ type: "list", id: "a" }), 0x01])))).toMatchObject({
      code: "bad_frame"
    })
    expect(refusal(decodeFrame(new Uint8Array([0xc1])))).toMatchObject({
      code: "bad_frame",
      message: "not one msgpack value: the reserved byte 0xC1 at byte 0"
    })
  })

  it("unknown_command: not an object, no type, an unknown type; the id kept when readable", () => {
    expect(refusal(decodeCommand(pack(42)))).toEqual(
      expect.objectContaining({
        code: "unknown_command",
        message: 'a frame must be an object with a "type", got a number'
      })
    )
    expect(refusal(decodeCommand(pack({ id: "a", token: "secret" })))).toEqual(
      expect.objectContaining({
        code: "unknown_command",
        id: "a",
        message: 'a frame must be an object with a "type", this one has none'
      })
    )
    expect(refusal(decodeCommand(pack(["secret"])))).toMatchObject({
      message: 'a frame must be an object with a "type", got an array'
    })
    expect(refusal(decodeCommand(pack({ type: 7, id: "a" })))).toMatchObject({
      code: "unknown_command",
      message: `a frame's "type" must be a string, got a number`
    })
    expect(refusal(decodeCommand(pack({ type: "nope", id: "q" })))).toMatchObject({
      code: "unknown_command",
      id: "q",
      message: 'unknown command type "nope"'
    })
    expect(refusal(decodeCommand(pack({ type: "toString", id: "q" })))).toMatchObject({
      code: "unknown_command",
      message: 'unknown command type "toString"'
    })
    // A reply is a frame, not a command a client may send.
    const ack = encodeFrame({ type: "ack", id: "r" })
    expect(Either.isRight(decodeFrame(ack))).toBe(true)
    expect(refusal(decodeCommand(ack))).toMatchObject({ code: "unknown_command", id: "r" })
  })

  it("invalid_command: the path and the problem", () => {
    const cases: ReadonlyArray<[unknown, string]> = [
      [
        { type: "watch", id: "w", masterplanId: "m", fromSeq: -3 },
        "watch.fromSeq: expected a positive integer, got -3"
      ],
      [
        { type: "watch", id: "w", masterplanId: "m", fromSeq: 1.5 },
        "watch.fromSeq: expected a positive integer, got 1.5"
      ],
      [{ type: "get", id: "w" }, "get.masterplanId: is missing"],
      [
        { type: "get", id: "w", masterplanId: "m", extra: 1 },
        'get.extra: unknown field (expected "type", "id" or "masterplanId")'
      ],
      [
        { type: "raiseBudget", id: "w", masterplanId: "m", hardUsd: "5" },
        'raiseBudget.hardUsd: Expected number, actual "5"'
      ],
      [
        { type: "reject", id: "w", masterplanId: "m", atomId: "a", reason: " " },
        "reject.reason: must not be empty"
      ],
      [
        { type: "submit", id: "w", plan: { name: "p", atoms: [] } },
        "submit.plan.atoms: a plan needs at least one atom"
      ],
      [
        {
          type: "submit",
          id: "w",
          plan: { name: "p", atoms: [{ id: "a", instruction: "x" }] },
          options: { concurrency: 0 }
        },
        "submit.options.concurrency: Expected a number between 1 and 10000, actual 0"
      ],
      [
        {
          type: "submit",
          id: "w",
          plan: {
            name: "p",
            atoms: [{ id: "a", instruction: "x" }],
            tasks: [{ id: "t", title: "T", milestoneId: "nope" }]
          }
        },
        "submit.plan.tasks[0].milestoneId"
      ]
    ]
    for (const [frame, message] of cases) {
      const error = refusal(decodeCommand(pack(frame)))
      expect(error.code).toBe("invalid_command")
      expect(error.id).toBe("w")
      expect(error.message.startsWith(message)).toBe(true)
    }
    // A token is never echoed: the host may log the problem.
    for (const token of ["", "s".repeat(5_000), ["secret"]])
      expect(refusal(decodeCommand(pack({ type: "hello", id: "h", token })))).toMatchObject({
        code: "invalid_command",
        message: "hello.token: must be a string of 1 to 4,096 characters"
      })
    expect(refusal(decodeCommand(pack({ type: "list", id: "" })))).toEqual(
      expect.objectContaining({ code: "invalid_command", message: "list.id: must not be empty" })
    )
  })

  it("makes an error reply that is itself a valid frame", () => {
    const error = refusal(decodeCommand(pack({ type: "nope", id: "q" })))
    const reply = errorReplyOf(error)
    expect(reply).toEqual({
      type: "error",
      id: "q",
      code: "unknown_command",
      message: 'unknown command type "nope"'
    })
    expect(Either.getOrThrow(decodeFrame(encodeFrame(reply)))).toEqual(reply)
  })

  it("keeps a key __proto__ of an atom's input as a key", () => {
    const input = JSON.parse('{"__proto__": {"x": 1}, "y": [{"__proto__": null}]}') as Record<string, unknown>
    const atoms = [{ id: "a", instruction: "x", input }]
    const plan = Either.getOrThrow(decodePlanInput({ name: "p", atoms }))
    const decoded = Either.getOrThrow(decodeCommand(encodeFrame({ type: "submit", id: "s", plan })))
    expect(decoded.type === "submit" && JSON.stringify(decoded.plan.atoms[0].input)).toBe(
      JSON.stringify(input)
    )
  })

  it("fills a watch's fromSeq with 1", () => {
    expect(Either.getOrThrow(decodeCommand(pack({ type: "watch", id: "w", masterplanId: "m" })))).toEqual({
      type: "watch",
      id: "w",
      masterplanId: "m",
      fromSeq: 1
    })
  })
})

describe("frame size", () => {
  it("a submitted plan of 10,000 atoms fits the default frame size ten times over", () => {
    const atoms = Array.from({ length: 10_000 }, (_, i) => ({
      id: `atom-${i}`,
      instruction:
        `Write function ${i} of the module: it takes a list of records, returns those the filter keeps`.padEnd(
          120,
          "."
        ),
      file: `src/module${i}.ts`,
      ...(i > 0 ? { dependsOn: [`atom-${i - 1}`] } : {})
    }))
    const plan = Either.getOrThrow(decodePlanInput({ name: "big", atoms }))
    const bytes = encodeFrame({ type: "submit", id: "s", plan })
    expect(bytes.byteLength * 10).toBeLessThan(defaultMaxFrameBytes)
    const decoded = Either.getOrThrow(decodeCommand(bytes))
    expect(decoded.type === "submit" && decoded.plan.atoms.length).toBe(10_000)
  })
})
