import { defaultPriceTable } from "@devmatrix/core"
import { maxPlanFileBytes } from "@devmatrix/core"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readPlanFile } from "../../src/cli/planFile.js"

/** The price table's models, as an unknown model's message lists them. */
const knownModels = defaultPriceTable.models.map((model) => model.id).join(", ")

const dir = mkdtempSync(join(tmpdir(), "devmatrix-planfile-"))
const plan = { name: "p", atoms: [{ id: "a", instruction: "write a" }] }
let files = 0
const fileOf = (content: string | Buffer) => {
  const file = join(dir, `plan-${files++}.json`)
  writeFileSync(file, content)
  return file
}

/** What reading the file gives: the plan's name, or the message of the error. */
const read = (file: string, modelFlag?: string) =>
  Effect.runPromise(
    Effect.either(readPlanFile(file, { flag: modelFlag, env: {} })).pipe(
      Effect.map(
        Either.match({ onLeft: (error) => `error: ${error.message}`, onRight: (read) => read.plan.name })
      )
    )
  )

describe("readPlanFile", () => {
  it("refuses a file nested too deep before parsing it, naming where (a parse of 30 million brackets takes gigabytes)", async () => {
    const deep = `{"name": "p", "atoms": [{"id": "a", "instruction": "x", "input":\n  ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}}]}`
    expect(await read(fileOf(deep))).toBe(
      `error: ${dir}/plan-${files - 1}.json is invalid:\n  - is nested too deep (more than 64 levels of arrays and objects), at line 2 column 64`
    )
    // Brackets inside strings are text, not nesting.
    const inText = { ...plan, atoms: [{ id: "a", instruction: "[".repeat(1_000) }] }
    expect(await read(fileOf(JSON.stringify(inText)))).toBe("p")
  })

  it("drops a UTF-8 byte order mark", async () => {
    expect(await read(fileOf(`\ufeff${JSON.stringify(plan)}`))).toBe("p")
  })

  it("refuses UTF-16 and bytes that are not UTF-8, rather than read them as U+FFFD", async () => {
    const utf16 = fileOf(
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(plan), "utf16le")])
    )
    expect(await read(utf16)).toBe(
      `error: ${utf16} is UTF-16 (it starts with a UTF-16 byte order mark): save it as UTF-8`
    )
    const latin1 = fileOf(Buffer.from(JSON.stringify({ ...plan, name: "café" }), "latin1"))
    expect(await read(latin1)).toBe(`error: ${latin1} is not valid UTF-8: save it as UTF-8`)
  })

  it("refuses a device, a directory and a named pipe without reading (or waiting on) them", async () => {
    expect(await read("/dev/zero")).toBe("error: /dev/zero is a device, not a plan file: give a plan.json")
    const directory = join(dir, "a-directory.json")
    mkdirSync(directory)
    expect(await read(directory)).toBe(
      `error: ${directory} is a directory, not a plan file: give a plan.json`
    )
    // Nothing ever writes to this pipe: opening it to read would block for good.
    const fifo = join(dir, "pipe.json")
    execFileSync("mkfifo", [fifo])
    expect(await read(fifo)).toBe(`error: ${fifo} is a named pipe, not a plan file: give a plan.json`)
  })

  it("refuses a file over the size limit without reading it", async () => {
    const big = fileOf("")
    truncateSync(big, maxPlanFileBytes + 1)
    expect(await read(big)).toBe(`error: ${big} is 64 MiB: a plan file may have at most 64 MiB`)
  })

  it("shows what JSON.parse quotes of the file with its control characters escaped", async () => {
    const message = await read(fileOf('{"name": "\u001b[2J'))
    expect(message).toMatch(/^error: .* is not valid JSON: /)
    expect(message).not.toMatch(/\p{Cc}/u)
  })

  it("refuses a plan's model this build cannot run, unless --model overrides it", async () => {
    const file = fileOf(JSON.stringify({ ...plan, options: { model: "claude-sonnet-4" } }))
    expect(await read(file)).toBe(
      `error: ${file} is invalid:\n  - options.model: unknown model "claude-sonnet-4": known models are ${knownModels}`
    )
    expect(await read(file, "scripted")).toBe("p")
    expect(await read(fileOf(JSON.stringify({ ...plan, options: { model: "scripted" } })))).toBe("p")
  })
})
