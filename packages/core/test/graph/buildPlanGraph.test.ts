import { buildPlanGraph, findCycle, transitiveDependents } from "@devmatrix/core"
import type { PlanGraph } from "@devmatrix/core"
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

type AtomDeps = { id: string; dependsOn: Array<string> }

/** A random DAG: node i may depend on nodes < i; ids and order are then shuffled. */
const dag = fc
  .integer({ min: 1, max: 60 })
  .chain((size) =>
    fc.tuple(
      fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: size, maxLength: size }),
      fc.shuffledSubarray([...Array(size).keys()], { minLength: size, maxLength: size })
    )
  )
  .map(([picks, order]): Array<AtomDeps> => {
    const atoms = picks.map((p, i) => ({ id: `n${i}`, dependsOn: i === 0 ? [] : p.map((x) => `n${x % i}`) }))
    return order.map((i) => atoms[i]!)
  })

const build = (atoms: ReadonlyArray<AtomDeps>): PlanGraph => Either.getOrThrow(buildPlanGraph(atoms))

describe("buildPlanGraph on random DAGs", () => {
  it("puts every atom one wave after its deepest dependency (minimal), and the waves partition the atoms", () =>
    fc.assert(
      fc.property(dag, (atoms) => {
        const g = build(atoms)
        g.ids.forEach((_, i) => {
          const deps = g.deps[i]!
          const expected = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => g.waveOf[d]!))
          expect(g.waveOf[i]).toBe(expected)
          for (const d of deps) expect(g.waveOf[i]!).toBeGreaterThan(g.waveOf[d]!)
        })
        expect(g.waves.flat().sort((a, b) => a - b)).toEqual(g.ids.map((_, i) => i))
        g.waves.forEach((wave, w) => wave.forEach((i) => expect(g.waveOf[i]).toBe(w)))
      })
    ))

  it("measures the remaining critical path and returns a real longest path", () =>
    fc.assert(
      fc.property(dag, (atoms) => {
        const g = build(atoms)
        g.ids.forEach((_, i) => {
          const next = g.dependents[i]!
          expect(g.remaining[i]).toBe(
            next.length === 0 ? 1 : 1 + Math.max(...next.map((d) => g.remaining[d]!))
          )
        })
        const path = g.criticalPath.map((id) => g.indexOf.get(id)!)
        expect(path.length).toBe(Math.max(...g.remaining))
        for (let k = 1; k < path.length; k++) expect(g.deps[path[k]!]).toContain(path[k - 1])
      })
    ))

  it("finds every transitive dependent, as brute-force reachability does", () =>
    fc.assert(
      fc.property(dag, fc.nat(), (atoms, pick) => {
        const g = build(atoms)
        const start = pick % g.ids.length
        const reach = new Set<number>()
        let frontier = [start]
        while (frontier.length > 0) {
          frontier = frontier.flatMap((i) => g.dependents[i]!.filter((d) => !reach.has(d)))
          frontier.forEach((d) => reach.add(d))
        }
        expect([...transitiveDependents(g, start)].sort((a, b) => a - b)).toEqual(
          [...reach].sort((a, b) => a - b)
        )
      })
    ))

  it("handles a 10,000-atom chain without recursion", () => {
    const atoms = Array.from({ length: 10_000 }, (_, i) => ({
      id: `c${i}`,
      dependsOn: i === 0 ? [] : [`c${i - 1}`]
    }))
    const g = build(atoms)
    expect(g.waves.length).toBe(10_000)
    expect(g.criticalPath.length).toBe(10_000)
  })
})

/** Kahn's algorithm as the oracle: a cycle exists exactly when some node is never freed. */
const hasCycleOracle = (size: number, edges: ReadonlyArray<[number, number]>): boolean => {
  const indegree = new Array<number>(size).fill(0)
  edges.forEach(([, to]) => indegree[to]!++)
  const free = indegree.flatMap((d, i) => (d === 0 ? [i] : []))
  let seen = 0
  while (free.length > 0) {
    const n = free.pop()!
    seen++
    edges.forEach(([from, to]) => from === n && --indegree[to]! === 0 && free.push(to))
  }
  return seen < size
}

describe("findCycle", () => {
  const graphs = fc.integer({ min: 1, max: 25 }).chain((size) =>
    fc.tuple(
      fc.constant(size),
      fc.uniqueArray(fc.tuple(fc.nat(size - 1), fc.nat(size - 1)), {
        maxLength: size * 2,
        selector: ([a, b]) => `${a}-${b}`
      })
    )
  )

  it("finds a cycle exactly when one exists, and the cycle it names is real", () =>
    fc.assert(
      fc.property(graphs, ([size, rawEdges]) => {
        const edges = rawEdges.filter(([a, b]) => a !== b)
        const next = Array.from({ length: size }, (_, i) => edges.filter(([a]) => a === i).map(([, b]) => b))
        const cycle = findCycle(next)
        expect(cycle !== undefined).toBe(hasCycleOracle(size, edges))
        if (cycle !== undefined) {
          expect(cycle[0]).toBe(cycle.at(-1))
          expect(new Set(cycle.slice(1)).size).toBe(cycle.length - 1)
          for (let k = 1; k < cycle.length; k++)
            expect(edges.some(([a, b]) => a === cycle[k - 1] && b === cycle[k])).toBe(true)
        }
      })
    ))
})

describe("buildPlanGraph errors name the atoms", () => {
  const error = (atoms: ReadonlyArray<AtomDeps>) =>
    Either.getOrThrowWith(Either.flip(buildPlanGraph(atoms)), () => "no error")

  it("a cycle, read as 'depends on'", () => {
    const e = error([
      { id: "a", dependsOn: ["c"] },
      { id: "b", dependsOn: ["a"] },
      { id: "c", dependsOn: ["b"] }
    ])
    expect(e.reason).toBe("Cycle")
    expect(e.message).toBe("dependency cycle: a -> c -> b -> a (each depends on the next)")
  })

  it("an unknown dependency", () => {
    const e = error([{ id: "a", dependsOn: ["zz"] }])
    expect(e.reason).toBe("UnknownDependency")
    expect(e.message).toBe('atom "a" depends on unknown atom "zz"')
  })

  it("a duplicate id", () => {
    expect(
      error([
        { id: "a", dependsOn: [] },
        { id: "a", dependsOn: [] }
      ]).message
    ).toBe('duplicate atom id "a"')
  })

  it("a self-dependency", () => {
    expect(error([{ id: "a", dependsOn: ["a"] }]).message).toBe('atom "a" depends on itself')
  })

  it("counts a repeated dependency once", () => {
    const g = build([
      { id: "a", dependsOn: [] },
      { id: "b", dependsOn: ["a", "a"] }
    ])
    expect(g.deps[1]).toEqual([0])
  })
})

describe("buildPlanGraph with ids that are names of Object.prototype", () => {
  it("compiles them like any other id (they are never used as keys of a plain object)", () => {
    const atoms = [
      { id: "__proto__", dependsOn: [] },
      { id: "constructor", dependsOn: ["__proto__"] },
      { id: "toString", dependsOn: ["constructor", "__proto__"] },
      { id: "hasOwnProperty", dependsOn: ["toString"] }
    ]
    const g = build(atoms)
    expect(g.waveOf).toEqual([0, 1, 2, 3])
    expect(g.criticalPath).toEqual(["__proto__", "constructor", "toString", "hasOwnProperty"])
  })

  it("names them in a cycle", () => {
    const cycle = buildPlanGraph([
      { id: "__proto__", dependsOn: ["constructor"] },
      { id: "constructor", dependsOn: ["__proto__"] }
    ])
    expect(Either.isLeft(cycle) && cycle.left.atomIds).toEqual(["__proto__", "constructor", "__proto__"])
  })
})
