import { defaultPriceTable } from "@devmatrix/core"
import { maxAgeMs, maxIdLength, maxSeq } from "@devmatrix/core"
import { describe, expect, it } from "vitest"
import { parseAge } from "../../src/cli/cleanupCommand.js"
import { parseEventsArgs } from "../../src/cli/eventsCommand.js"
import { parseResumeArgs } from "../../src/cli/resumeCommand.js"
import { maxPathLength, parseRunArgs } from "../../src/cli/runArgs.js"
import { parseStatusArgs } from "../../src/cli/statusCommand.js"

/** The price table's models, as an unknown model's message lists them. */
const knownModels = defaultPriceTable.models.map((model) => model.id).join(", ")

const env = { DEVMATRIX_STORE: "memory:" }
const run = (...flags: ReadonlyArray<string>) => parseRunArgs(["plan.json", ...flags], env)
/** The message `parseRunArgs` refuses the flags with, or "accepted". */
const refusal = (...flags: ReadonlyArray<string>) => {
  try {
    run(...flags)
    return "accepted"
  } catch (error) {
    return (error as Error).message
  }
}

describe("parseRunArgs: numbers are finite and within the schema's ranges", () => {
  it.each([
    [["--latency-ms", "1e309"], /^--latency-ms must be a number of milliseconds up to 86400000/],
    [
      ["--latency-ms", `0-${"9".repeat(400)}`],
      /^--latency-ms must be a number of milliseconds up to 86400000/
    ],
    [["--latency-ms", "86400001"], /^--latency-ms must be/],
    [["--budget", "1e309"], /^--budget must be a positive amount of USD up to 1000000000, got "1e309"$/],
    [["--budget", "2e9"], /^--budget must be a positive amount of USD/],
    [["--concurrency", "20000"], /^--concurrency must be a whole number from 1 to 10000, got "20000"$/],
    [["--seed", "1e20"], /^--seed must be a whole number/],
    [["--fault-rate", "Infinity"], /^--fault-rate must be between 0 and 1/]
  ])("%j is refused", (flags, message) => {
    expect(refusal(...flags)).toMatch(message)
  })

  it("takes the bounds, and reads -0 as 0", () => {
    const args = run("--latency-ms", "0-86400000", "--concurrency", "10000", "--budget", "1000000000")
    expect(args.scripted.latencyMs).toEqual({ min: 0, max: 86_400_000 })
    expect(args.overrides).toEqual({
      concurrency: 10_000,
      budget: { hardUsd: 1_000_000_000 },
      scripted: { latencyMs: { min: 0, max: 86_400_000 } }
    })
    // --concurrency is the plan's cap and pins the model's limit too.
    expect(args.pinnedConcurrency).toBe(10_000)
    expect(run().pinnedConcurrency).toBeUndefined()
    expect(Object.is(run("--latency-ms=-0").scripted.latencyMs, 0)).toBe(true)
  })

  it("echoes a bad value cut short", () => {
    expect(refusal("--budget", "x".repeat(1_000_000)).length).toBeLessThan(200)
  })
})

describe("parseRunArgs: --id is an id", () => {
  it.each([
    ["", "must not be empty"],
    ["a\ud800", "is not well-formed Unicode: an unpaired surrogate (U+D800) at position 1"],
    ["a\u0000", "must not contain a control character: U+0000 at position 1"],
    [" a", "must not start or end with whitespace"],
    ["x".repeat(maxIdLength + 1), `must be at most ${maxIdLength} characters long, got ${maxIdLength + 1}`]
  ])("%j is refused, naming --id", (id, problem) => {
    expect(refusal("--id", id)).toMatch(/^--id must name the masterplan, got ".*": it /)
    expect(refusal("--id", id).endsWith(problem)).toBe(true)
  })

  it("takes any well-formed id, stored as given", () => {
    for (const id of ["mp 😀", "x".repeat(maxIdLength), 'it\'s "q" \\ 100%'])
      expect(run("--id", id).masterplanId).toBe(id)
  })
})

describe("parseRunArgs: --model", () => {
  it("is refused unless this build runs it, as a plan's options.model is", () => {
    expect(refusal("--model", "claude-sonnet-4")).toBe(
      `--model unknown model "claude-sonnet-4": known models are ${knownModels}`
    )
  })

  it("overrides the plan's model only when given", () => {
    expect(run().overrides).toEqual({})
    expect(run("--model", "scripted").overrides).toEqual({ model: "scripted" })
  })

  it("stores the scripted model's behaviour with the plan (a resume answers as the run began)", () => {
    expect(run("--seed", "7", "--latency-ms", "5-30", "--fault-rate", "0.2").overrides).toEqual({
      scripted: { seed: 7, latencyMs: { min: 5, max: 30 }, faultRate: 0.2 }
    })
    expect(run("--latency-ms", "0").overrides).toEqual({ scripted: { latencyMs: 0 } })
  })
})

describe("other commands' numbers stay within what the stores hold", () => {
  const refused = (parse: () => unknown) => {
    try {
      parse()
      return "accepted"
    } catch (error) {
      return (error as Error).message
    }
  }

  it("events --from-seq: at most a 32-bit seq (PostgreSQL failed with 'out of range for type integer')", () => {
    expect(parseEventsArgs(["mp", "--from-seq", String(maxSeq)], env).fromSeq).toBe(maxSeq)
    for (const seq of ["1e20", "3000000000", "Infinity"])
      expect(refused(() => parseEventsArgs(["mp", "--from-seq", seq], env))).toBe(
        `--from-seq must be a whole number from 1 to ${maxSeq}, got "${seq}"`
      )
  })

  it("cleanup --older-than: at most 100 years (PostgreSQL failed on a cutoff of -8.6e27)", () => {
    expect(parseAge("36500d")).toBe(maxAgeMs)
    expect(refused(() => parseAge("99999999999999999999d"))).toBe(
      '--older-than must be at most 100 years (36500d), got "99999999999999999999d"'
    )
  })
})

describe("ids, paths and store URLs of the reading commands", () => {
  /** The message a parser refuses `argv` with. */
  const refusedWith = (parse: () => unknown): string => {
    try {
      parse()
    } catch (error) {
      return (error as Error).message
    }
    throw new Error("accepted")
  }
  const long = "x".repeat(120_000)

  it("refuses a masterplan id that is not an id, naming it cut short and escaped", () => {
    for (const parse of [parseStatusArgs, parseEventsArgs, parseResumeArgs]) {
      const tooLong = refusedWith(() => parse([long], env))
      expect(tooLong.length).toBeLessThan(400)
      expect(tooLong).toContain(`at most ${maxIdLength} characters`)
      expect(refusedWith(() => parse(["\u0001"], env))).toContain(
        '"\\u0001" must not contain a control character'
      )
    }
  })

  it("refuses a store URL or a plan path longer than a path can be, cut short", () => {
    const store = refusedWith(() => parseStatusArgs(["--store", `sqlite:/tmp/${long}`], env))
    expect(store).toMatch(
      new RegExp(`^--store is longer than ${maxPathLength} characters: "sqlite:/tmp/x+…"$`)
    )
    expect(store.length).toBeLessThan(300)
    const file = refusedWith(() => parseRunArgs([`/tmp/${long}`], env))
    expect(file).toMatch(/^the plan file is longer than 4096 characters/)
    expect(file.length).toBeLessThan(300)
  })
})

describe("store URLs", () => {
  it("refuses a postgres URL that cannot be read (a port out of range) as bad usage, naming it", () => {
    expect(() => parseStatusArgs(["--store", "postgres://u:secret@h:99999/db"], env)).toThrow(
      '--store "postgres://u:***@h:99999/db" is not a valid URL (its host, port or escapes cannot be read)'
    )
    expect(parseStatusArgs(["--store", "postgres://u@h:5432/db?options=-c%20x%3Dy"], env).store).toBe(
      "postgres://u@h:5432/db?options=-c%20x%3Dy"
    )
  })
})
