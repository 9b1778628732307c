import { decodeInput, decodePlanInput, Event, problemsOf, RunOptions } from "@devmatrix/core"
import type { PlanInput } from "@devmatrix/core"
import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { problems } from "./problemLines.js"

const atom = { id: "a", instruction: "write a" }
const plan = (fields: Record<string, unknown>) => ({ name: "p", atoms: [atom], ...fields })

describe("decodePlanInput", () => {
  const table: ReadonlyArray<[string, unknown, ReadonlyArray<string>]> = [
    [
      "a misspelt field of an atom (its dependency is not dropped silently)",
      { name: "p", atoms: [atom, { id: "b", dependOn: ["a"], instruction: "write b" }] },
      ['atoms[1].dependOn: unknown field, did you mean "dependsOn"?']
    ],
    [
      "a misspelt field of the plan",
      plan({ optoins: {} }),
      ['optoins: unknown field, did you mean "options"?']
    ],
    [
      "a misspelt option",
      plan({ options: { concurrancy: 3 } }),
      ['options.concurrancy: unknown field, did you mean "concurrency"?']
    ],
    [
      "a misspelt retry field",
      plan({ options: { retry: { maxRetry: 3 } } }),
      ['options.retry.maxRetry: unknown field, did you mean "maxRetries"?']
    ],
    [
      "a field of another case",
      plan({ atoms: [{ ...atom, DependsOn: [] }] }),
      ['atoms[0].DependsOn: unknown field, did you mean "dependsOn"?']
    ],
    [
      "a field cut short",
      plan({ budget: { hard: 3 } }),
      ['budget.hard: unknown field, did you mean "hardUsd"?']
    ],
    [
      "an unknown field like no known one",
      plan({ budget: { limit: 3 } }),
      ['budget.limit: unknown field (expected "hardUsd", "softUsd" or "perAtomUsd")']
    ],
    [
      "a literal not allowed",
      plan({ options: { mode: "fast" } }),
      ['options.mode: expected "eager" or "waves", got "fast"']
    ],
    [
      "a literal of the wrong type",
      plan({ options: { mode: 3 } }),
      ['options.mode: expected "eager" or "waves", got 3']
    ],
    [
      "a literal among three",
      plan({ atoms: [{ ...atom, language: "rust" }] }),
      ['atoms[0].language: expected "typescript", "javascript" or "python", got "rust"']
    ],
    [
      "a literal in an array",
      plan({ atoms: [{ ...atom, simulate: { faults: ["boom"] } }] }),
      [
        'atoms[0].simulate.faults[0]: expected "transient", "rate_limited", "overloaded", "server_error", "timeout" or "non_retryable", got "boom"'
      ]
    ],
    [
      "a requirement's priority",
      plan({ requirements: [{ id: "R1", priority: "maybe", text: "t" }] }),
      ['requirements[0].priority: expected "must" or "should", got "maybe"']
    ],
    ["an array for a plan", [], ["(root): a plan must be a JSON object"]],
    ["a string for a plan", "plan.json", ["(root): a plan must be a JSON object"]],
    ["null for a plan", null, ["(root): a plan must be a JSON object"]],
    ["no atoms", { name: "p", atoms: [] }, ["atoms: a plan needs at least one atom"]],
    ["atoms not an array", { name: "p", atoms: { a: atom } }, ["atoms: expected a non-empty array of atoms"]],
    ["an atom not an object", plan({ atoms: ["a"] }), ['atoms[0]: expected a JSON object, got "a"']],
    ["options not an object", plan({ options: 3 }), ["options: expected a JSON object, got 3"]],
    ["options an array", plan({ options: [] }), ["options: expected a JSON object, got []"]],
    [
      "dependsOn not an array",
      plan({ atoms: [{ ...atom, dependsOn: "b" }] }),
      ['atoms[0].dependsOn: expected an array, got "b"']
    ],
    ["a missing field", { atoms: [atom] }, ["name: is missing"]],
    [
      "a wrong type",
      plan({ atoms: [{ id: "a", instruction: 42 }] }),
      ["atoms[0].instruction: Expected string, actual 42"]
    ],
    [
      "an empty id",
      plan({ atoms: [{ ...atom, dependsOn: [""] }] }),
      ["atoms[0].dependsOn[0]: must not be empty"]
    ],
    [
      "a refinement of the budget",
      plan({ budget: { hardUsd: 1, softUsd: 2 } }),
      ["budget: softUsd must not exceed hardUsd"]
    ],
    [
      "every problem at once, each by its path",
      { name: "", options: { mode: "x" }, atoms: [{ ...atom, dependOn: [] }, { id: "b" }] },
      [
        "name: must not be empty",
        'options.mode: expected "eager" or "waves", got "x"',
        'atoms[0].dependOn: unknown field, did you mean "dependsOn"?',
        "atoms[1].instruction: is missing"
      ]
    ]
  ]
  it.each(table)("%s", (_, input, expected) => {
    expect(problems(decodePlanInput(input))).toEqual(expected)
  })

  it("prints the problems under the source's name", () => {
    const result = decodePlanInput({ name: "p", atoms: [{ ...atom, dependOn: ["b"] }] }, "plan.json")
    expect(Either.getLeft(result).pipe(Option.map((error) => error.message))).toEqual(
      Option.some('plan.json is invalid:\n  - atoms[0].dependOn: unknown field, did you mean "dependsOn"?')
    )
  })

  it("accepts every field it knows", () => {
    const full = {
      name: "p",
      description: "d",
      budget: { hardUsd: 5, softUsd: 4, perAtomUsd: 1 },
      options: {
        mode: "waves",
        concurrency: 2,
        model: "scripted",
        callTimeoutMs: 1_000,
        reviewThreshold: 0.5,
        maxAtomLines: 10,
        retry: { maxRetries: 1, initialMs: 1, factor: 2, capMs: 10, jitter: 0 },
        budget: { hardUsd: 5 }
      },
      phases: [{ id: "ph", title: "t" }],
      milestones: [{ id: "m", title: "t", phaseId: "ph" }],
      tasks: [{ id: "t", title: "t", description: "d", milestoneId: "m" }],
      requirements: [{ id: "R1", priority: "must", text: "t", atoms: ["a"] }],
      atoms: [
        {
          id: "a",
          dependsOn: [],
          instruction: "i",
          language: "python",
          file: "a.py",
          taskId: "t",
          defines: ["f"],
          input: { user: { name: "Ada", tags: ["x"] }, n: 1.5, ok: true, none: null },
          simulate: { faults: ["transient"], confidence: 0.9, output: "x", latencyMs: 1 }
        }
      ]
    }
    expect(problems(decodePlanInput(full))).toEqual([])
  })
})

describe("decodeInput", () => {
  const strict = decodeInput(RunOptions, "options", { onExcessProperty: "error" })

  it.each([
    [{ concurency: 2 }, ['concurency: unknown field, did you mean "concurrency"?']],
    [{ mode: "fast" }, ['mode: expected "eager" or "waves", got "fast"']],
    [{ budget: { hardUsd: 1, hard: 2 } }, ['budget.hard: unknown field, did you mean "hardUsd"?']]
  ])("names an unknown field when asked to: %j", (input, expected) => {
    expect(problems(strict(input))).toEqual(expected)
  })

  it("decodes what it decoded, strictly: options in force decode again as overrides", () => {
    const options = Either.getOrThrow(strict({ mode: "waves", budget: { hardUsd: 5, softUsd: 1 } }))
    expect(strict(options)).toEqual(Either.right(options))
  })

  it("by default ignores what its schema does not know: a schema of a part of the input", () => {
    const planOptions = decodeInput(
      Schema.Struct({ options: Schema.optionalWith(RunOptions, { default: () => RunOptions.make({}) }) }),
      "plan.json"
    )
    expect(planOptions(plan({ options: { concurrency: 2 } }))).toEqual(
      Either.right({ options: RunOptions.make({ concurrency: 2 }) })
    )
  })
})

describe("a plan as the engine stores it", () => {
  const examples = new URL("../../../../examples/plans/", import.meta.url)
  const inputs: ReadonlyArray<[string, unknown]> = [
    [
      "a plan with options and a budget",
      plan({ budget: { hardUsd: 5 }, options: { mode: "waves", retry: { initialMs: 500 } } })
    ],
    ["a plan with neither", plan({})],
    ...readdirSync(examples)
      .filter((file) => file.endsWith(".json"))
      .map((file): [string, unknown] => [file, JSON.parse(readFileSync(new URL(file, examples), "utf8"))])
  ]

  /** As `Engine.submit` stores it: the input, its budget folded into the decoded options in force. */
  const stored = (input: unknown, overrides: Record<string, unknown>) => {
    const decoded: PlanInput = Either.getOrThrow(decodePlanInput(input))
    const options = Either.getOrThrow(
      decodeInput(
        RunOptions,
        "options"
      )({
        ...decoded.options,
        ...(decoded.budget !== undefined ? { budget: decoded.budget } : {}),
        ...overrides,
        retry: { ...decoded.options?.retry }
      })
    )
    return { plan: { ...(input as Record<string, unknown>), budget: undefined, options }, options }
  }

  it.each(inputs)("%s decodes again, in memory and through JSON, with the same options", (_, input) => {
    const { plan: record, options } = stored(input, { concurrency: 3, model: "scripted" })
    for (const again of [record, JSON.parse(JSON.stringify(record)) as unknown]) {
      const decoded = Either.getOrThrow(decodePlanInput(again))
      expect(decoded.atoms).toEqual(Either.getOrThrow(decodePlanInput(input)).atoms)
      expect(Either.getOrThrow(decodeInput(RunOptions, "options")(decoded.options))).toEqual(options)
    }
  })
})

describe("problemsOf", () => {
  it("names the kind of value a union of objects takes (an event line that is no object)", () => {
    const result = Schema.decodeUnknownEither(Event)(3)
    expect(Either.getLeft(result).pipe(Option.map(problemsOf))).toEqual(
      Option.some([{ path: "", message: "expected a JSON object, got 3" }])
    )
  })
})
