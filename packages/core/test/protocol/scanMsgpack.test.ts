import fc from "fast-check"
import { Packr } from "msgpackr"
import { describe, expect, it } from "vitest"
import { scanMsgpack } from "../../src/protocol/scanMsgpack.js"

/** More runs: `DEVMATRIX_PROPERTY_RUNS=5000 npx vitest run ...`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const msgpack = new Packr({ useRecords: false, variableMapSize: true })
const bytes = (...values: ReadonlyArray<number>) => new Uint8Array(values)

describe("scanMsgpack", () => {
  it("accepts whatever msgpackr writes of a plain value, and nothing less of it", () => {
    fc.assert(
      fc.property(fc.anything(), fc.nat(), (value, cutAt) => {
        const packed = msgpack.pack(value)
        expect(scanMsgpack(packed, 1_000)).toBeUndefined()
        // Every prefix is cut short, and one byte more is one too many.
        expect(scanMsgpack(packed.subarray(0, cutAt % packed.length), 1_000)).toMatch(
          /cut short|no bytes|past the end/
        )
        expect(scanMsgpack(new Uint8Array([...packed, 0xc0]), 1_000)).toBe("1 bytes after the value")
      }),
      { numRuns }
    )
  })

  it("reads every kind of header", () => {
    const values = [
      0,
      127,
      -1,
      -32,
      128,
      65_536,
      2 ** 40,
      -129,
      -(2 ** 40),
      1.5,
      "x".repeat(40),
      "y".repeat(300)
    ]
    for (const value of [
      ...values,
      "z".repeat(70_000),
      new Uint8Array(300),
      new Uint8Array(70_000),
      null,
      true
    ]) {
      expect(scanMsgpack(msgpack.pack(value), 1)).toBeUndefined()
      expect(scanMsgpack(msgpack.pack([value]), 1)).toBeUndefined()
    }
    const manyEntries = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))
    expect(scanMsgpack(msgpack.pack(manyEntries), 1)).toBeUndefined()
    expect(scanMsgpack(msgpack.pack(Array.from({ length: 70_000 }, (_, i) => i)), 1)).toBeUndefined()
    expect(scanMsgpack(msgpack.pack([undefined]), 1)).toBeUndefined()
  })

  it("refuses a length past the end without reading on", () => {
    expect(scanMsgpack(bytes(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0), 8)).toBe(
      "a length of 4,294,967,295 entries past the end"
    )
    expect(scanMsgpack(bytes(0xdf, 0x80, 0x00, 0x00, 0x00), 8)).toBe(
      "a length of 4,294,967,296 entries past the end"
    )
    expect(scanMsgpack(bytes(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), 8)).toBe("cut short at byte 6")
    expect(scanMsgpack(bytes(0xc6, 0x00, 0x00, 0x00, 0x02, 0x61), 8)).toBe("cut short at byte 6")
  })

  it("refuses extensions, the reserved byte and nesting too deep", () => {
    expect(scanMsgpack(msgpack.pack(new Date(0)), 8)).toBe(
      "a msgpack extension at byte 0, which frames do not use"
    )
    expect(scanMsgpack(bytes(0x91, 0xd4, 0x01, 0x00), 8)).toBe(
      "a msgpack extension at byte 1, which frames do not use"
    )
    expect(scanMsgpack(bytes(0x92, 0xc0, 0xc1), 8)).toBe("the reserved byte 0xC1 at byte 2")
    expect(scanMsgpack(bytes(0x91, 0x91, 0x91, 0xc0), 3)).toBeUndefined()
    expect(scanMsgpack(bytes(0x91, 0x91, 0x91, 0x91, 0xc0), 3)).toBe("nested more than 3 levels deep")
    // Empty containers close at once: a thousand of them side by side are one level.
    expect(
      scanMsgpack(new Uint8Array([0xdc, 0x03, 0xe8, ...Array<number>(1_000).fill(0x90)]), 1)
    ).toBeUndefined()
  })
})
