import { Effect, Fiber } from "effect"
import fc from "fast-check"
import { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { writeLine } from "../../src/cli/writeLine.js"

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)

/** A stream whose reader takes nothing until released, then everything. */
const heldStream = (highWaterMark: number) => {
  let reading = false
  let held: Array<() => void> = []
  const received: Array<string> = []
  const stream = new Writable({
    highWaterMark,
    decodeStrings: false,
    write(chunk: string, _encoding, done) {
      received.push(chunk)
      if (reading) done()
      else held.push(done)
    }
  })
  return {
    stream,
    received,
    release: () => {
      reading = true
      for (const done of held.splice(0)) done()
      held = []
    }
  }
}

describe("writeLine", () => {
  it("while the reader takes nothing, lines are written only until the buffer is full; once it reads, every line arrives, in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 4096 }),
        async (lines, highWaterMark) => {
          const { stream, received, release } = heldStream(highWaterMark)
          let written = 0
          const writing = Effect.runFork(
            Effect.forEach(
              lines,
              (line) =>
                Effect.zipRight(
                  Effect.sync(() => written++),
                  writeLine(stream, line)
                ),
              {
                discard: true
              }
            )
          )
          await new Promise((resolve) => setImmediate(resolve))
          // `write` says the buffer is full once it holds highWaterMark or more: the writer stops there.
          let buffered = 0
          let expected = 0
          while (expected < lines.length && buffered < highWaterMark) buffered += lines[expected++]!.length
          expect(written).toBe(expected)
          release()
          await Effect.runPromise(Fiber.join(writing))
          expect(received.join("")).toBe(lines.join(""))
        }
      ),
      { numRuns }
    )
  })
})
