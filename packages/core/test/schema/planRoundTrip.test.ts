import { decodeInput, decodePlanInput, PlanInput, RunOptions } from "@devmatrix/core"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

/** More runs: `DEVMATRIX_PROPERTY_RUNS=5000 npx vitest run ...`. */
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 300)

const oddChar = fc.constantFrom(
  ...["a", "Z", "0", " ", "\n", "\t", "\u0000", "\u001b", "\u007f", "\u0085", "\ud800", "\udc00"],
  ...["\ud83d\ude00", "e\u0301", "ש", "\u202e", "\ufeff", "%", "\\", '"', "'", "_", ".", "\u00a0"]
)
const oddString = fc.array(oddChar, { maxLength: 6 }).map((chars) => chars.join(""))
/** Mostly one of `valid`, sometimes any odd string: most plans are accepted, many are not. */
const mostly = (...valid: ReadonlyArray<string>) =>
  fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 30 }, { arbitrary: oddString, weight: 1 })
const anId = mostly("a", "b", "c", "😀 é", "it's 100%")
const aText = mostly("x", "write\n\tit", 'שלום \\ "q"')
/** Mostly one of `valid`, sometimes any odd number. */
const mostlyNumber = (...valid: ReadonlyArray<number>) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 60 },
    {
      // `1e309` in JSON reads as Infinity.
      arbitrary: fc.constantFrom(Infinity, -Infinity, NaN, 0.5, 1e308, Number.MAX_SAFE_INTEGER, 86_400_001),
      weight: 1
    },
    { arbitrary: fc.double(), weight: 1 }
  )
// -0 among the valid values: JSON writes it as 0.
const ms = mostlyNumber(-0, 1, 1_500.25, 86_400_000)
const share = mostlyNumber(-0, 0.25, 1)
const count = mostlyNumber(1, 3, 1_000)
const usd = mostlyNumber(1e-12, 5, 1_000_000_000)
const partial = <T extends Record<string, fc.Arbitrary<unknown>>>(fields: T) =>
  fc.record(fields, { requiredKeys: [] })

const retry = partial({
  maxRetries: count,
  initialMs: ms,
  factor: mostlyNumber(1, 1.5, 1_000),
  capMs: ms,
  jitter: share
})
const budget = partial({ hardUsd: usd, perAtomUsd: usd })
const options = partial({
  mode: fc.constantFrom("eager", "waves"),
  concurrency: count,
  model: fc.constantFrom("scripted", "other"),
  callTimeoutMs: mostlyNumber(1, 86_400_000),
  reviewThreshold: share,
  maxAtomLines: count,
  retry,
  budget
})
const atomSpec = fc.record(
  {
    id: anId,
    instruction: aText,
    dependsOn: fc.array(anId, { maxLength: 2 }),
    defines: fc.array(anId, { maxLength: 2 }),
    file: mostly("src/a.ts", "src/ü 😀.py"),
    // -0 among its numbers, odd strings among its keys and values: it is stored as JSON gives it.
    input: fc.dictionary(
      mostly("k", "__proto__", "odd key 😀"),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(-0, Infinity), oddString),
      { maxKeys: 3 }
    ),
    simulate: partial({
      latencyMs: ms,
      confidence: share,
      output: aText,
      faults: fc.array(fc.constantFrom("transient", "timeout"), { maxLength: 2 })
    })
  },
  { requiredKeys: ["id", "instruction"] }
)
const planInput = fc.record(
  {
    name: mostly("p", "plan 😀"),
    description: aText,
    budget,
    options,
    requirements: fc.array(
      fc.record({
        id: anId,
        priority: fc.constantFrom("must", "should"),
        text: aText,
        atoms: fc.array(anId, { maxLength: 1 })
      }),
      { maxLength: 2 }
    ),
    atoms: fc.array(atomSpec, { minLength: 1, maxLength: 3 })
  },
  { requiredKeys: ["name", "atoms"] }
)

const throughJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
const decodeOptions = decodeInput(RunOptions, "options", { onExcessProperty: "error" })
const decodeStoredPlan = decodeInput(PlanInput, "stored plan")

describe("what the plan schema accepts is what is stored (property)", () => {
  it("an accepted plan, encoded to JSON and decoded again, is what was accepted; so is its stored form", () => {
    let accepted = 0
    fc.assert(
      fc.property(planInput, (input) => {
        const decoded = decodePlanInput(input)
        if (Either.isLeft(decoded)) return
        const plan = decoded.right
        // Its own file read back, and its decoded form written and read back, decode alike. (Its
        // `options` are kept as given, types checked, and mean what they resolve to: compared so.)
        const { options: given, ...rest } = plan
        for (const again of [throughJson(input), throughJson(Schema.encodeSync(PlanInput)(plan))]) {
          const { options: givenAgain, ...restAgain } = Either.getOrThrow(decodePlanInput(again))
          expect(restAgain).toEqual(rest)
          expect(decodeOptions(givenAgain ?? {})).toEqual(decodeOptions(given ?? {}))
        }
        // As `Engine.submit` stores it, the options in force folded in: it decodes again, the same.
        const inForce = decodeOptions({
          ...plan.options,
          ...(plan.budget !== undefined ? { budget: plan.budget } : {})
        })
        if (Either.isLeft(inForce)) return
        accepted++
        const stored = decodeStoredPlan(throughJson({ ...input, budget: undefined, options: inForce.right }))
        expect(Either.map(stored, (again) => again.atoms)).toEqual(Either.right(plan.atoms))
        expect(Either.flatMap(stored, (again) => decodeOptions(again.options))).toEqual(inForce)
        expect(decodeOptions(throughJson(inForce.right))).toEqual(inForce)
      }),
      { numRuns }
    )
    // Not vacuous: a good share of the plans generated are accepted.
    expect(accepted).toBeGreaterThan(numRuns / 10)
  })
})

describe("a plan decoded in parts (its atoms apart) is what the whole schema decodes (property)", () => {
  const wholeStrict = Schema.decodeUnknownEither(PlanInput, { errors: "first", onExcessProperty: "error" })
  /** Plans, some with a field no schema knows, at the plan's level or an atom's, or atoms that are no list. */
  const someOdd = fc.tuple(
    planInput,
    fc.oneof(
      { arbitrary: fc.constant("none"), weight: 5 },
      { arbitrary: fc.constantFrom("plan", "atom", "atoms-object", "no-atoms", "array"), weight: 5 }
    )
  )
  const oddly = ([input, how]: readonly [
    Record<string, unknown> & { atoms: Array<object> },
    string
  ]): unknown => {
    switch (how) {
      case "plan":
        return { ...input, atomz: [] }
      case "atom":
        return { ...input, atoms: [...input.atoms, { id: "z", instruction: "x", dependOn: [] }] }
      case "atoms-object":
        return { ...input, atoms: { ...input.atoms } }
      case "no-atoms": {
        const { atoms: _, ...rest } = input
        return rest
      }
      case "array":
        return [input]
      default:
        return input
    }
  }

  it("accepts what it accepts, and decodes it alike", () => {
    let accepted = 0
    fc.assert(
      fc.property(someOdd, (pair) => {
        const input = oddly(pair)
        const decoded = decodePlanInput(input)
        const whole = wholeStrict(input)
        if (Either.isLeft(whole)) {
          expect(Either.isLeft(decoded)).toBe(true)
          return
        }
        if (Either.isLeft(decoded)) return
        accepted++
        expect(decoded.right).toEqual(whole.right)
      }),
      { numRuns }
    )
    // Not vacuous: about half the plans are left as generated, and a good share of those are accepted.
    expect(accepted).toBeGreaterThan(numRuns / 20)
  })
})
