import { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { outputClosed } from "../../src/cli/outputClosed.js"

const writeError = (code: string) => Object.assign(new Error(`write ${code}`), { code })

describe("outputClosed", () => {
  it("resolves on EPIPE and absorbs the EPIPE of every later write; other errors still surface", async () => {
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() })
    const closed = outputClosed(stream)
    expect(outputClosed(stream)).toBe(closed)
    let resolved = false
    void closed.then(() => (resolved = true))
    await Promise.resolve()
    expect(resolved).toBe(false)
    stream.emit("error", writeError("EPIPE"))
    await closed
    expect(resolved).toBe(true)
    expect(() => stream.emit("error", writeError("EPIPE"))).not.toThrow()
    expect(() => stream.emit("error", writeError("ENOSPC"))).toThrow("write ENOSPC")
  })

  it("a terminal that hung up (EIO on a TTY) has gone too; EIO elsewhere (a file) is still an error", async () => {
    const terminal = Object.assign(new Writable({ write: (_chunk, _encoding, done) => done() }), {
      isTTY: true
    })
    const closed = outputClosed(terminal)
    terminal.emit("error", writeError("EIO"))
    await closed
    const file = new Writable({ write: (_chunk, _encoding, done) => done() })
    void outputClosed(file)
    expect(() => file.emit("error", writeError("EIO"))).toThrow("write EIO")
  })
})
