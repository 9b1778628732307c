import { StoreError } from "@devmatrix/runtime"
import { Cause, FiberId } from "effect"
import { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { ExitCode, UsageError } from "../../src/cli/exitCodes.js"
import { report } from "../../src/cli/report.js"

const reported = (cause: Cause.Cause<unknown>) => {
  let text = ""
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      done()
    }
  }) as unknown as NodeJS.WriteStream
  const code = report(cause, { stdout: stderr, stderr })
  return { code, text }
}

const storeError = new StoreError({
  reason: "Corrupt",
  store: "sqlite:x.db",
  detail: "database disk image is malformed\n(SQLITE_CORRUPT)"
})

describe("report", () => {
  it.each([
    ["a failure", Cause.fail(storeError)],
    ["a defect", Cause.die(storeError)],
    ["a defect beside an interruption", Cause.parallel(Cause.interrupt(FiberId.none), Cause.die(storeError))]
  ])("a StoreError as %s is one line naming the store and the cause, never a trace", (_, cause) => {
    expect(reported(cause)).toEqual({
      code: ExitCode.failed,
      text: "devmatrix: store sqlite:x.db: Corrupt: database disk image is malformed (SQLITE_CORRUPT)\n"
    })
  })

  it("bad input is exit 2; a bug prints its trace", () => {
    expect(reported(Cause.fail(new UsageError("--x is bad")))).toEqual({
      code: ExitCode.usage,
      text: "devmatrix: --x is bad\n"
    })
    const bug = reported(Cause.die(new Error("a bug")))
    expect(bug.code).toBe(ExitCode.failed)
    expect(bug.text).toMatch(/^devmatrix: internal error\n.*a bug/s)
  })
})
