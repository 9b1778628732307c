import {
  decodeInput,
  decodePlanInput,
  maxAtoms,
  maxDurationMs,
  maxIdLength,
  maxInputDepth,
  maxListLength,
  maxNameLength,
  maxReportedProblems,
  maxRetries,
  maxRetryFactor,
  maxTextLength,
  maxUsd,
  maxValuesSearched,
  measureInput,
  PlanInput,
  RunOptions,
  tooDeepAt
} from "@devmatrix/core"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { problems } from "./problemLines.js"

const atom = { id: "a", instruction: "write a" }
const plan = (fields: Record<string, unknown> = {}) => ({ name: "p", atoms: [atom], ...fields })
const strictOptions = decodeInput(RunOptions, "options", { onExcessProperty: "error" })

const messageOf = (result: Either.Either<unknown, { readonly message: string }>) =>
  Either.match(result, { onLeft: (error) => error.message, onRight: () => "accepted" })

describe("an id (atoms, dependencies, requirements, tasks, milestones, phases, options.model)", () => {
  /** A plan with `id` in every place that takes an id, each named by its path. */
  const everywhere = (id: string) => ({
    name: "p",
    phases: [{ id, title: "t" }],
    milestones: [{ id, title: "t", phaseId: id }],
    tasks: [{ id, title: "t", milestoneId: id }],
    requirements: [{ id, priority: "must", text: "t", atoms: [id] }],
    atoms: [
      { id, instruction: "x", taskId: id, defines: [id] },
      { id: "b", instruction: "x", dependsOn: [id] }
    ]
  })
  const paths = [
    "phases[0].id",
    "milestones[0].id",
    "milestones[0].phaseId",
    "tasks[0].id",
    "tasks[0].milestoneId",
    "requirements[0].id",
    "requirements[0].atoms[0]",
    "atoms[0].id",
    "atoms[0].taskId",
    "atoms[0].defines[0]",
    "atoms[1].dependsOn[0]"
  ]

  it.each([
    ["a".repeat(maxIdLength), "the longest"],
    ["😀", "an astral character"],
    ["e\u0301", "a combining mark"],
    ["שלום-عالم", "right-to-left scripts"],
    [`it's "quoted" \\ 100% a/b`, "quotes, backslashes, %, slashes and inner spaces"],
    ["x\u00a0y", "a no-break space inside"]
  ])("accepts %j (%s) in every place", (id) => {
    expect(problems(decodePlanInput(everywhere(id)))).toEqual([])
  })

  it.each([
    ["a".repeat(maxIdLength + 1), `must be at most ${maxIdLength} characters long, got ${maxIdLength + 1}`],
    ["a\ud800", "is not well-formed Unicode: an unpaired surrogate (U+D800) at position 1"],
    ["\udc00a", "is not well-formed Unicode: an unpaired surrogate (U+DC00) at position 0"],
    ["a\u0000b", "must not contain a control character: U+0000 at position 1"],
    ["a\u001b[31m", "must not contain a control character: U+001B at position 1"],
    ["a\nb", "must not contain a control character: U+000A at position 1"],
    ["a\u007f", "must not contain a control character: U+007F at position 1"],
    ["a\u0085", "must not contain a control character: U+0085 at position 1"],
    [" a", "must not start or end with whitespace"],
    ["a\u3000", "must not start or end with whitespace"],
    ["", "must not be empty"],
    ["   ", "must not be empty"]
  ])("refuses %j in every place, naming each", (id, message) => {
    expect(problems(decodePlanInput(everywhere(id)))).toEqual(paths.map((path) => `${path}: ${message}`))
  })

  it("options.model is an id too", () => {
    expect(problems(strictOptions({ model: "claude\u0000" }))).toEqual([
      "model: must not contain a control character: U+0000 at position 6"
    ])
  })
})

describe("free text", () => {
  it("takes line breaks, tabs, any script and up to the limit", () => {
    const instruction = "line 1\n\tline 2 😀 שלום ".padEnd(maxTextLength, "x")
    expect(
      problems(decodePlanInput(plan({ description: "a\r\nb", atoms: [{ id: "a", instruction }] })))
    ).toEqual([])
  })

  it.each([
    ["atoms[0].instruction", plan({ atoms: [{ id: "a", instruction: "a\u0000" }] })],
    ["description", plan({ description: "\u0000" })],
    ["requirements[0].text", plan({ requirements: [{ id: "R", priority: "must", text: "t\u0000" }] })],
    ["tasks[0].description", plan({ tasks: [{ id: "t", title: "t", description: "\u0000" }] })],
    ["atoms[0].simulate.output", plan({ atoms: [{ ...atom, simulate: { output: "\u0000" } }] })]
  ])("refuses NUL (PostgreSQL cannot store it) in %s", (path, input) => {
    expect(problems(decodePlanInput(input))).toEqual([
      `${path}: must not contain a control character: U+0000 at position ${path === "atoms[0].instruction" || path === "requirements[0].text" ? 1 : 0}`
    ])
  })

  it("refuses an unpaired surrogate, and text over the limit", () => {
    expect(
      problems(
        decodePlanInput(
          plan({ atoms: [{ id: "a", instruction: "\ud83d" }], description: "x".repeat(maxTextLength + 1) })
        )
      )
    ).toEqual([
      `description: must be at most ${maxTextLength.toLocaleString("en-US")} characters long, got ${(maxTextLength + 1).toLocaleString("en-US")}`,
      "atoms[0].instruction: is not well-formed Unicode: an unpaired surrogate (U+D83D) at position 0"
    ])
  })

  it("a plan's name is a single line of at most the limit", () => {
    expect(problems(decodePlanInput(plan({ name: "x".repeat(maxNameLength) })))).toEqual([])
    expect(problems(decodePlanInput(plan({ name: "two\nlines" })))).toEqual([
      "name: must not contain a control character: U+000A at position 3"
    ])
    expect(problems(decodePlanInput(plan({ name: "x".repeat(maxNameLength + 1) })))).toEqual([
      `name: must be at most ${maxNameLength.toLocaleString("en-US")} characters long, got ${(maxNameLength + 1).toLocaleString("en-US")}`
    ])
  })
})

describe("numbers are finite and within their ranges", () => {
  // `1e309` in a JSON file reads as Infinity.
  const odd = [Infinity, -Infinity, NaN]
  const options: ReadonlyArray<[string, number, number, (n: number) => Record<string, unknown>]> = [
    ["callTimeoutMs", 1, maxDurationMs, (n) => ({ callTimeoutMs: n })],
    ["retry.initialMs", 0, maxDurationMs, (n) => ({ retry: { initialMs: n } })],
    ["retry.capMs", 0, maxDurationMs, (n) => ({ retry: { capMs: n } })],
    ["retry.factor", 1, maxRetryFactor, (n) => ({ retry: { factor: n } })],
    ["retry.maxRetries", 0, maxRetries, (n) => ({ retry: { maxRetries: n } })],
    ["retry.jitter", 0, 1, (n) => ({ retry: { jitter: n } })],
    ["reviewThreshold", 0, 1, (n) => ({ reviewThreshold: n })],
    ["concurrency", 1, 10_000, (n) => ({ concurrency: n })],
    ["maxAtomLines", 1, 10_000, (n) => ({ maxAtomLines: n })],
    ["budget.hardUsd", 1e-12, maxUsd, (n) => ({ budget: { hardUsd: n } })]
  ]
  it.each(options)(
    "options.%s: its bounds taken, Infinity, NaN and past the bounds refused",
    (path, min, max, at) => {
      expect(problems(strictOptions(at(min)))).toEqual([])
      expect(problems(strictOptions(at(max)))).toEqual([])
      for (const n of [...odd, max + 1, min - 1]) {
        const found = problems(strictOptions(at(n)))
        expect(found, String(n)).toHaveLength(1)
        expect(found[0]!.startsWith(`${path}: `), found[0]).toBe(true)
      }
    }
  )

  it("names the range it wants", () => {
    expect(problems(strictOptions({ callTimeoutMs: Infinity, retry: { maxRetries: 1.5 } }))).toEqual([
      "callTimeoutMs: expected a number above 0 and at most 86,400,000, got Infinity",
      "retry.maxRetries: expected a whole number from 0 to 1,000, got 1.5"
    ])
  })

  it.each([
    ["budget.hardUsd", (n: number) => plan({ budget: { hardUsd: n } })],
    ["budget.softUsd", (n: number) => plan({ budget: { hardUsd: maxUsd, softUsd: n } })],
    ["budget.perAtomUsd", (n: number) => plan({ budget: { perAtomUsd: n } })],
    [
      "atoms[0].simulate.latencyMs",
      (n: number) => plan({ atoms: [{ ...atom, simulate: { latencyMs: n } }] })
    ],
    [
      "atoms[0].simulate.confidence",
      (n: number) => plan({ atoms: [{ ...atom, simulate: { confidence: n } }] })
    ]
  ])("%s in the plan: Infinity, NaN and past its bounds refused", (path, at) => {
    for (const n of [...odd, maxUsd * 2, -1]) {
      const found = problems(decodePlanInput(at(n)))
      expect(found, String(n)).toHaveLength(1)
      expect(found[0]!.startsWith(`${path}: `), found[0]).toBe(true)
    }
  })

  it("reads -0 as 0, which is what JSON writes it as", () => {
    const options = Either.getOrThrow(strictOptions({ retry: { initialMs: -0, jitter: -0 } }))
    expect(Object.is(options.retry.initialMs, 0)).toBe(true)
    expect(Object.is(options.retry.jitter, 0)).toBe(true)
  })
})

describe("lists and plans have bounded lengths", () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`)
  it.each([
    ["atoms[0].defines", (n: number) => plan({ atoms: [{ ...atom, defines: many(n) }] })],
    ["atoms[0].dependsOn", (n: number) => plan({ atoms: [{ ...atom, dependsOn: many(n) }] })],
    [
      "atoms[0].simulate.faults",
      (n: number) => plan({ atoms: [{ ...atom, simulate: { faults: Array(n).fill("transient") } }] })
    ],
    [
      "requirements",
      (n: number) => plan({ requirements: many(n).map((id) => ({ id, priority: "must", text: "t" })) })
    ],
    ["phases", (n: number) => plan({ phases: many(n).map((id) => ({ id, title: "t" })) })]
  ])("%s: up to the limit, then one problem naming it", (path, at) => {
    expect(problems(decodeInput(PlanInput, "plan")(at(maxListLength)))).toEqual([])
    expect(problems(decodeInput(PlanInput, "plan")(at(maxListLength + 1)))).toEqual([
      `${path}: must have at most 10,000 entries, got 10,001`
    ])
  })

  it(`a plan has at most ${maxAtoms.toLocaleString("en-US")} atoms (plans of 100,000 run)`, () => {
    expect(maxAtoms).toBeGreaterThanOrEqual(100_000)
    const atoms = Array.from({ length: maxAtoms + 1 }, (_, i) => ({ id: `a${i}`, instruction: "x" }))
    expect(problems(decodePlanInput({ name: "p", atoms }))).toEqual([
      `atoms: must have at most ${maxAtoms.toLocaleString("en-US")} atoms, got ${(maxAtoms + 1).toLocaleString("en-US")}`
    ])
  })
})

describe("depth is bounded before decoding", () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1
    for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { v: value }
    return value
  }

  it("tooDeepAt: the limit is taken, one more level is found with its path", () => {
    expect(tooDeepAt(nested(maxInputDepth), maxInputDepth)).toBeUndefined()
    expect(tooDeepAt(nested(maxInputDepth + 1), maxInputDepth)).toHaveLength(maxInputDepth)
    expect(tooDeepAt("text", maxInputDepth)).toBeUndefined()
    expect(tooDeepAt(nested(3), 2)).toEqual([0, "v"])
  })

  it("tooDeepAt walks without recursion (a million levels) and finds a cycle too deep", () => {
    expect(tooDeepAt(nested(1_000_000), maxInputDepth)).toHaveLength(maxInputDepth)
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    expect(tooDeepAt(cyclic, maxInputDepth)).toHaveLength(maxInputDepth)
  })

  it("a value nested 3,000 deep is one problem, not a stack overflow", () => {
    const found = problems(decodePlanInput(plan({ atoms: [{ ...atom, instruction: nested(3_000) }] })))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(/^atoms\[0\]\.instruction(\[0\]|\.v)+: is nested too deep \(more than 64 levels/)
  })
})

describe("what is reported is bounded", () => {
  it("the first problems, then how many more", () => {
    const input = plan({ atoms: [{ ...atom, dependsOn: Array(100_000).fill(5) }] })
    const lines = messageOf(decodePlanInput(input, "plan.json")).split("\n")
    expect(lines).toHaveLength(1 + maxReportedProblems + 1)
    // The list's length first, then its entries, as many as are reported.
    expect(lines[1]).toBe("  - atoms[0].dependsOn: must have at most 10,000 entries, got 100,000")
    expect(lines[2]).toBe("  - atoms[0].dependsOn[0]: Expected string, actual 5")
    expect(lines.at(-1)).toBe(
      `  … and ${(100_001 - maxReportedProblems).toLocaleString("en-US")} more problems`
    )
  })

  it("in an input of more than a million values, only the first problem is looked for (5,000,000 took 33 s, 3.5 GB)", () => {
    const input = plan({ atoms: [{ ...atom, dependsOn: Array(maxValuesSearched).fill(1) }] })
    expect(messageOf(decodePlanInput(input, "plan.json"))).toBe(
      [
        "plan.json is invalid:",
        "  - atoms[0].dependsOn[0]: Expected string, actual 1",
        "  (only the first problem is looked for in an input of more than 1,000,000 values; there may be more)"
      ].join("\n")
    )
  })

  it("measureInput counts every value, through every level", () => {
    expect(measureInput({ a: [1, { b: 2 }], c: "x" }, maxInputDepth)).toEqual({ values: 6 })
    expect(measureInput(3, maxInputDepth)).toEqual({ values: 1 })
  })

  it("20,000 unknown keys make a message of a few KB (it was 2.8 MB)", () => {
    const input: Record<string, unknown> = plan()
    for (let i = 0; i < 20_000; i++) input[`k${i}`] = 1
    const message = messageOf(decodePlanInput(input))
    expect(message.length).toBeLessThan(8_000)
    expect(message).toContain("and 19,980 more problems")
  })

  it.each([
    ["a wrong type", plan({ options: { concurrency: "x".repeat(1_000_000) } })],
    ["a literal", plan({ atoms: [{ ...atom, language: "x".repeat(1_000_000) }] })],
    ["an untrimmed id", plan({ atoms: [{ ...atom, id: ` ${"x".repeat(1_000_000)}` }] })],
    ["an unknown key", { ...plan(), ["k".repeat(1_000_000)]: 1 }]
  ])("a 1 MB bad value (%s) is echoed cut short", (_, input) => {
    expect(messageOf(decodePlanInput(input)).length).toBeLessThan(1_000)
  })

  it("a key that would garble its line is shown quoted", () => {
    expect(problems(decodePlanInput({ ...plan(), "x\u001b[2J\ny": 1 }))[0]).toMatch(
      /^\["x\\u001b\[2J\\ny"\]: unknown field/
    )
  })
})

describe("what a plan names, it has", () => {
  it.each([
    [
      "a requirement's unknown atom (it could never be checked)",
      plan({ requirements: [{ id: "R1", priority: "must", text: "t", atoms: ["a", "typo"] }] }),
      ['requirements[0].atoms[1]: unknown atom "typo"']
    ],
    [
      "an atom's task, in a plan without tasks",
      plan({ atoms: [{ ...atom, taskId: "t1" }] }),
      ['atoms[0].taskId: unknown task "t1": the plan has no tasks']
    ],
    [
      "an atom's unknown task",
      plan({ tasks: [{ id: "t1", title: "t" }], atoms: [{ ...atom, taskId: "t2" }] }),
      ['atoms[0].taskId: unknown task "t2"']
    ],
    [
      "a task's milestone and a milestone's phase",
      plan({
        milestones: [{ id: "m", title: "t", phaseId: "ph" }],
        tasks: [{ id: "t", title: "t", milestoneId: "mm" }]
      }),
      [
        'tasks[0].milestoneId: unknown milestone "mm"',
        'milestones[0].phaseId: unknown phase "ph": the plan has no phases'
      ]
    ],
    [
      "an id given twice",
      plan({ requirements: [0, 1].map(() => ({ id: "R1", priority: "must", text: "t" })) }),
      ['requirements[1].id: duplicate id "R1"']
    ]
  ])("refuses %s", (_, input, expected) => {
    expect(problems(decodePlanInput(input))).toEqual(expected)
  })
})
