import { maxIdLength } from "@devmatrix/core"
import fc from "fast-check"
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bin, eventsOf, root, runDevmatrix } from "./devmatrixProcess.js"

/**
 * Plan files a hostile or unlucky user could give `devmatrix run`: odd strings, odd numbers, deep
 * nesting, huge lists and values, wrong types, odd encodings. Whatever the file, the command exits
 * 0, 1, 2 or 6 as documented, never crashes, never hangs, prints a bounded amount, writes nothing
 * when it refuses the file, and a plan it accepted can be read back from the store.
 */

/** Each run spawns the CLI, so the suite keeps a count that fits its time budget; more: `DEVMATRIX_HOSTILE_RUNS=200 npx vitest run test/hostilePlans.test.ts`. */
const numRuns = Number(process.env["DEVMATRIX_HOSTILE_RUNS"] ?? 12)
/**
 * A run that takes longer has hung: it is killed, and the test fails. The slowest input here (27 MB
 * of unknown keys, every one a problem counted) takes 6 s on a quiet machine; a fully loaded CI
 * machine stretched it past 30 s.
 */
const hangMs = 90_000
/** What a command may print on stderr at most, whatever its input. */
const maxStderrBytes = 64 * 1024

const dir = mkdtempSync(join(tmpdir(), "devmatrix-hostile-"))
let made = 0
const fresh = (name: string) => join(dir, `${made++}-${name}`)

interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `devmatrix <args>` as `runDevmatrix` does, but killed (SIGKILL) past `hangMs`. */
const devmatrix = (args: ReadonlyArray<string>) =>
  new Promise<Ran>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ANTHROPIC_API_KEY: "" },
      timeout: hangMs,
      killSignal: "SIGKILL"
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

/** Runs the plan file on a store of its own; checks what every run must do, whatever its input. */
const runHostile = async (file: string) => {
  const db = fresh("store.db")
  const run = await devmatrix(["run", file, "--json", "--store", `sqlite:${db}`, "--latency-ms", "0"])
  const what = `${file}: exit ${run.code} ${run.signal ?? ""}\n${run.stderr.slice(0, 2_000)}`
  expect(run.signal, what).toBeNull()
  expect([0, 1, 2, 6], what).toContain(run.code)
  expect(run.stderr, what).not.toContain("internal error")
  expect(Buffer.byteLength(run.stderr), what).toBeLessThan(maxStderrBytes)
  if (run.code === 2) {
    // Refused: nothing ran, nothing was written, not even the store's file.
    expect(run.stdout, what).toBe("")
    expect(existsSync(db), what).toBe(false)
    expect(run.stderr, what).toMatch(/^devmatrix: /)
    return run
  }
  // Accepted: it ran to its end (or as far as it goes without a reviewer), and the plan stored decodes again.
  const events = eventsOf(run.stdout)
  expect(events.at(-1)?.type, what).toMatch(
    run.code === 6 ? /^review\.waiting$/ : /^masterplan\.(completed|failed)$/
  )
  const id = events[0]!.masterplanId
  const status = await devmatrix(["status", id, "--json", "--store", `sqlite:${db}`])
  expect(status.code, status.stderr).toBe(0)
  expect(JSON.parse(status.stdout)).toMatchObject({
    id,
    status: run.code === 0 ? "completed" : run.code === 6 ? "running" : "failed"
  })
  return run
}

// ---- What hostile plan files are made of ----------------------------------------------------------

const oddChar = fc.constantFrom(
  ...["a", "b", " ", "\n", "\t", "\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\ud800", "\udc00"],
  ...["\ud83d\ude00", "e\u0301", "שלום", "\u202e", "\ufeff", "%", "\\", '"', "'", "\u00a0", "\u2028"]
)
const oddString = fc.oneof(
  fc.array(oddChar, { maxLength: 8 }).map((chars) => chars.join("")),
  fc.constantFrom("", " ", "a".repeat(maxIdLength), "a".repeat(maxIdLength + 1), "x".repeat(300_000)),
  // Names of Object.prototype: valid ids, and no safe keys of a plain object.
  fc.constantFrom("__proto__", "constructor", "toString")
)
/** Number literals as a file spells them: `1e309` and `-1e309` are read as ±Infinity. */
const oddNumber = fc.constantFrom(
  ...["0", "-0", "1", "0.5", "-1", "1e309", "-1e309", "1e-400", "1e308", "9007199254740993", "86400001"],
  ...["123456789012345678901234567890", "2", "100", "1e-12"]
)
/** Any JSON value of a wrong or odd kind. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  oddString,
  fc.constantFrom(null, true, 42, [], {}, [1, "a"], { id: "a" }),
  fc.jsonValue({ maxDepth: 3 })
)

/** A field of a plan a mutation may change, as a path from the plan. */
const stringPaths: ReadonlyArray<ReadonlyArray<string | number>> = [
  ["name"],
  ["description"],
  ["atoms", 0, "id"],
  ["atoms", 1, "id"],
  ["atoms", 1, "dependsOn", 0],
  ["atoms", 0, "instruction"],
  ["atoms", 0, "file"],
  ["atoms", 0, "taskId"],
  ["atoms", 0, "defines", 0],
  ["atoms", 1, "simulate", "output"],
  ["atoms", 1, "input", "tags", 0],
  ["atoms", 1, "input", "odd key 😀"],
  ["requirements", 0, "id"],
  ["requirements", 0, "atoms", 0],
  ["options", "model"]
]
const numberPaths: ReadonlyArray<ReadonlyArray<string | number>> = [
  ["options", "callTimeoutMs"],
  ["options", "concurrency"],
  ["options", "retry", "initialMs"],
  ["options", "retry", "capMs"],
  ["options", "retry", "maxRetries"],
  ["options", "retry", "factor"],
  ["options", "retry", "jitter"],
  ["budget", "hardUsd"],
  ["atoms", 0, "simulate", "latencyMs"],
  ["atoms", 1, "input", "n"]
]
const anyPath = fc.constantFrom(
  ...stringPaths,
  ...numberPaths,
  ["atoms"],
  ["atoms", 0],
  ["atoms", 1, "input"],
  ["options"],
  []
)

type Mutation =
  | { readonly kind: "string"; readonly path: ReadonlyArray<string | number>; readonly value: string }
  | { readonly kind: "number"; readonly path: ReadonlyArray<string | number>; readonly literal: string }
  | { readonly kind: "value"; readonly path: ReadonlyArray<string | number>; readonly value: unknown }
  | { readonly kind: "deep"; readonly path: ReadonlyArray<string | number>; readonly depth: number }
  | {
      readonly kind: "many"
      readonly what: "defines" | "dependsOn" | "badDependsOn" | "keys"
      readonly n: number
    }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("string" as const),
      path: fc.constantFrom(...stringPaths),
      value: oddString
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("number" as const),
      path: fc.constantFrom(...numberPaths),
      literal: oddNumber
    })
  },
  {
    // A valid confidence below the review threshold sends the atom to a reviewer: the run goes as
    // far as it can without one, then stops, saved (exit 6).
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("number" as const),
      path: fc.constant(["atoms", 0, "simulate", "confidence"]),
      literal: fc.constantFrom("1", "0.9", "0.5", "-0.1", "1.5", "1e309", "-1e309")
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("value" as const), path: anyPath, value: oddValue })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deep" as const),
      path: fc.constantFrom(["atoms", 0, "instruction"], ["options"], ["extra"]),
      depth: fc.constantFrom(63, 65, 3_000, 100_000)
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("many" as const),
      what: fc.constantFrom(
        "defines" as const,
        "dependsOn" as const,
        "badDependsOn" as const,
        "keys" as const
      ),
      n: fc.constantFrom(10_000, 10_001, 100_000)
    })
  }
)
/** How the file's bytes are written. */
const encoding = fc.constantFrom("utf8", "utf8", "utf8", "bom", "utf16", "truncated", "latin1")

const basePlan = () => ({
  name: "hostile",
  description: "a plan under attack",
  options: { concurrency: 4, retry: { initialMs: 0 } },
  requirements: [{ id: "R1", priority: "must", text: "works", atoms: ["a"] }],
  tasks: [{ id: "t1", title: "task" }],
  atoms: [
    { id: "a", instruction: "write a", file: "src/a.ts", taskId: "t1", defines: ["a"] },
    {
      id: "b",
      dependsOn: ["a"],
      instruction: "write b",
      input: { n: 1, tags: ["x"], nested: { ok: true, none: null } },
      simulate: { faults: ["transient"] }
    }
  ]
})

/** Sets `value` at `path`, making the objects on the way. */
const setAt = (target: Record<string, unknown>, path: ReadonlyArray<string | number>, value: unknown) => {
  if (path.length === 0) return value
  let at: Record<string | number, unknown> = target
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== "object" || at[key] === null) at[key] = typeof key === "number" ? [] : {}
    at = at[key] as Record<string | number, unknown>
  }
  at[path[path.length - 1]!] = value
  return target
}

// Raw JSON text (a number literal such as 1e309, which JSON.stringify cannot write; nesting
// deeper than JSON.stringify can recurse) goes into the text in place of a numbered marker.
const rawMark = (n: number) => `\u0001raw${n}\u0001`
const rawMarks = /"\\u0001raw(\d+)\\u0001"/g

/** The text of a plan with the mutations applied. */
const planText = (mutations: ReadonlyArray<Mutation>): string => {
  let plan: unknown = basePlan()
  const raws: Array<string> = []
  for (const m of mutations) {
    const target = (typeof plan === "object" && plan !== null ? plan : {}) as Record<string, unknown>
    switch (m.kind) {
      case "string":
      case "value":
        plan = setAt(target, m.path, m.value)
        break
      case "number":
        plan = setAt(target, m.path, rawMark(raws.push(m.literal) - 1))
        break
      case "deep":
        plan = setAt(
          target,
          m.path,
          rawMark(raws.push(`${"[".repeat(m.depth)}"x"${"]".repeat(m.depth)}`) - 1)
        )
        break
      case "many": {
        const atoms = (target["atoms"] ?? []) as Array<Record<string, unknown>>
        const first: Record<string, unknown> =
          typeof atoms[0] === "object" && atoms[0] !== null ? atoms[0] : {}
        if (m.what === "keys") for (let i = 0; i < m.n; i++) target[`k${i}`] = i
        else if (m.what === "defines") first["defines"] = Array.from({ length: m.n }, (_, i) => `s${i}`)
        else first["dependsOn"] = Array.from({ length: m.n }, (_, i) => (m.what === "badDependsOn" ? i : "b"))
        plan = target
      }
    }
  }
  // Each marker left (a JSON string) is replaced by its own raw text.
  return JSON.stringify(plan).replace(rawMarks, (_, n: string) => raws[Number(n)]!)
}

const bytesOf = (text: string, how: string): Buffer => {
  switch (how) {
    case "bom":
      return Buffer.from(`\ufeff${text}`, "utf8")
    case "utf16":
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])
    case "truncated":
      return Buffer.from(text, "utf8").subarray(0, Math.floor(text.length / 2))
    case "latin1":
      return Buffer.from(text, "latin1")
    default:
      return Buffer.from(text, "utf8")
  }
}

describe("devmatrix run on hostile plan files", () => {
  it(
    "exits 0, 1, 2 or 6 (waiting for review), never crashes nor hangs, prints a bounded amount; what it accepts is stored and read back (property)",
    async () => {
      const codes: Array<number | null> = []
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutation, { minLength: 0, maxLength: 3 }),
          encoding,
          async (mutations, how) => {
            const file = fresh("plan.json")
            writeFileSync(file, bytesOf(planText(mutations), how))
            codes.push((await runHostile(file)).code)
          }
        ),
        // Among the files tried: the plan untouched, with a byte order mark, and with 1e309.
        {
          numRuns,
          examples: [
            [[], "utf8"],
            [[], "bom"],
            [[{ kind: "number", path: ["options", "callTimeoutMs"], literal: "1e309" }], "utf8"]
          ]
        }
      )
      // Not vacuous: some files were accepted and run, some refused.
      expect(codes).toContain(0)
      expect(codes).toContain(2)
    },
    numRuns * 3 * hangMs
  )

  const refused: ReadonlyArray<[string, () => string, RegExp]> = [
    [
      "a value nested 3,000 deep (a stack overflow in the error report)",
      () => planText([{ kind: "deep", path: ["atoms", 0, "instruction"], depth: 3_000 }]),
      /is nested too deep \(more than 64 levels/
    ],
    [
      "100,000 defines on one atom (the output check was quadratic)",
      () => planText([{ kind: "many", what: "defines", n: 100_000 }]),
      /atoms\[0\]\.defines: must have at most 10,000 entries, got 100,000/
    ],
    [
      "100,000 bad dependsOn entries (100,001 lines)",
      () => planText([{ kind: "many", what: "badDependsOn", n: 100_000 }]),
      /and 99,981 more problems\n$/
    ],
    [
      "5,000,000 bad dependsOn entries (33 s and 3.5 GB to list them all)",
      () => planText([{ kind: "many", what: "badDependsOn", n: 5_000_000 }]),
      /only the first problem is looked for in an input of more than 1,000,000 values/
    ],
    [
      "200,000 unknown keys (27 MB)",
      () => planText([{ kind: "many", what: "keys", n: 200_000 }]),
      /and 199,980 more problems\n$/
    ],
    [
      "an unpaired surrogate in an id (it came back from the store as U+FFFD and ran again)",
      () => planText([{ kind: "string", path: ["atoms", 0, "id"], value: "a\ud800" }]),
      /atoms\[0\]\.id: is not well-formed Unicode/
    ],
    [
      "1e309 in an atom's input (stored as null: a resume would hand the provider another payload)",
      () => planText([{ kind: "number", path: ["atoms", 1, "input", "n"], literal: "1e309" }]),
      /atoms\[1\]\.input\.n: expected a JSON value \(a string, a finite number, a boolean, null, an array or an object\), got Infinity/
    ],
    [
      "an atom's input that is no object",
      () => planText([{ kind: "value", path: ["atoms", 1, "input"], value: ["x"] }]),
      /atoms\[1\]\.input: expected a JSON object, got an array/
    ],
    [
      "1e309 in callTimeoutMs (stored as null: the plan could not resume)",
      () => planText([{ kind: "number", path: ["options", "callTimeoutMs"], literal: "1e309" }]),
      /options\.callTimeoutMs: expected a number above 0 and at most 86,400,000, got Infinity/
    ]
  ]
  it.each(refused)("refuses %s, exit 2, in a few lines", async (_, text, message) => {
    const file = fresh("plan.json")
    writeFileSync(file, text())
    const run = await runHostile(file)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(message)
    expect(run.stderr.split("\n").length).toBeLessThan(30)
  }, 2 * hangMs)

  it("refuses a device, a named pipe and a file over 64 MiB at once, exit 2", async () => {
    const fifo = fresh("pipe.json")
    execFileSync("mkfifo", [fifo])
    const big = fresh("big.json")
    writeFileSync(big, "")
    truncateSync(big, 64 * 1024 * 1024 + 1)
    for (const [file, message] of [
      ["/dev/zero", "is a device"],
      [fifo, "is a named pipe"],
      [big, "a plan file may have at most 64 MiB"]
    ] as const) {
      const run = await runHostile(file)
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })
})

describe("a plan with odd but valid ids, interrupted, resumes from its stored copy", () => {
  it("Ctrl-C mid-run, then `status` and `resume` read it back; every atom completes once", async () => {
    const ids = ["😀", "e\u0301", "שלום", `it's "q" \\ 100%`, "a".repeat(maxIdLength), "x\u00a0y", "ü/ü"]
    const atoms = Array.from({ length: 22 }, (_, i) => ({
      id: `${ids[i % ids.length]!.slice(0, maxIdLength - 3)}-${i}`,
      instruction: `write\n\tpart ${i} 😀`,
      ...(i >= ids.length
        ? {
            dependsOn: [`${ids[(i - ids.length) % ids.length]!.slice(0, maxIdLength - 3)}-${i - ids.length}`]
          }
        : {})
    }))
    // Names of Object.prototype too: valid ids, no safe keys of a plain object.
    atoms.push(
      { id: "__proto__", instruction: "write it" },
      { id: "constructor", instruction: "write it", dependsOn: ["__proto__"] }
    )
    const file = fresh("odd.json")
    writeFileSync(
      file,
      `\ufeff${JSON.stringify({ name: "odd 😀 שלום", options: { concurrency: 2 }, atoms })}`
    )
    const store = `sqlite:${fresh("store.db")}`
    const id = `odd ${"😀".repeat(10)} %`
    const run = await runDevmatrix(
      ["run", file, "--json", "--store", store, "--latency-ms", "100", "--id", id],
      {
        onStdout: (text, interrupt) => {
          if (text.includes('"atom.completed"')) interrupt()
        }
      }
    )
    expect(run.code, run.stderr).toBe(130)
    const status = await runDevmatrix(["status", id, "--json", "--store", store])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: "running" })
    const resumed = await runDevmatrix(["resume", id, "--json", "--store", store, "--latency-ms", "0"])
    expect(resumed.code, resumed.stderr).toBe(0)
    const completed = [...eventsOf(run.stdout), ...eventsOf(resumed.stdout)].flatMap((e) =>
      e.type === "atom.completed" ? [e.atomId] : []
    )
    expect(completed.slice().sort()).toEqual(atoms.map((a) => a.id).sort())
    expect(eventsOf(resumed.stdout).at(-1)?.type).toBe("masterplan.completed")
  })
})
