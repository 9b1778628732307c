import { buildSymbolGraph, type SymbolGraph, type SymbolGraphFile, symbolGraphPlanAtoms } from "@devmatrix/core"
import { buildPlanGraph } from "@devmatrix/core"
import { makeAtomizer } from "@devmatrix/runtime"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

/**
 * The symbol graph of projects atomized by the real Atomizer: a real package's sources (golden
 * edges: regenerate with `UPDATE_GOLDEN=1 npx vitest run packages/runtime/test/symbolGraph.test.ts`
 * and read the diff), small projects for each import form, cycles, and generated projects.
 */

const here = dirname(fileURLToPath(import.meta.url))
const fixtures = join(here, "fixtures", "symbolgraph")
const numRuns = Number(process.env["FC_RUNS"] ?? 30)
const atomizer = makeAtomizer()

const languageOf = (path: string) => (path.endsWith(".py") ? "python" : path.endsWith(".js") ? "javascript" : "typescript")

/** Atomizes each file for real. */
const project = (sources: Record<string, string>): Array<SymbolGraphFile> =>
  Object.entries(sources).map(([path, text]) => {
    const language = languageOf(path)
    return { path, language, atoms: Effect.runSync(atomizer.atomize({ path, language, text })) }
  })

const graphOf = (sources: Record<string, string>): SymbolGraph => {
  const built = buildSymbolGraph(project(sources))
  if (Either.isLeft(built)) throw new Error(built.left.message)
  return built.right
}

const atomOf = (graph: SymbolGraph, id: string) => {
  const atom = graph.atoms.find((candidate) => candidate.id === id)
  expect(atom, `no atom ${id} among ${graph.atoms.map((a) => a.id).join(", ")}`).toBeDefined()
  return atom!
}

/** Every dependency is in a lower wave. */
const expectWavesRespectDeps = (graph: SymbolGraph) => {
  for (const atom of graph.atoms)
    for (const dep of atom.deps) expect(atomOf(graph, dep).wave, `${atom.id} -> ${dep}`).toBeLessThan(atom.wave)
}

const filesUnder = (root: string): Array<string> =>
  readdirSync(root, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(root, entry.name)) : entry.name.endsWith(".ts") ? [join(root, entry.name)] : []
  )

describe("symbol graph of a real package (multipasta)", () => {
  const root = join(fixtures, "multipasta")
  const sources = Object.fromEntries(
    filesUnder(join(root, "src"))
      .sort()
      .map((path) => [relative(root, path).split("\\").join("/"), readFileSync(path, "utf8")])
  )
  const graph = graphOf(sources)

  it("finds the cross-file edges of the golden file", () => {
    const crossFile = graph.edges
      .filter((edge) => edge.from.split("#")[0] !== edge.to.split("#")[0])
      .map((edge) => `${edge.from} -> ${edge.to} [${edge.symbols.join(", ")}] ${edge.timing}`)
    const goldenPath = join(fixtures, "multipasta.edges.golden.json")
    if (process.env["UPDATE_GOLDEN"] === "1") writeFileSync(goldenPath, `${JSON.stringify(crossFile, null, 2)}\n`)
    expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDEN=1`).toBe(true)
    expect(crossFile).toEqual(JSON.parse(readFileSync(goldenPath, "utf8")))
  })

  it("resolves namespace imports, named imports of .js specifiers and re-exports", () => {
    // node.ts: `import * as MP from "./index.js"` and `MP.make(...)`.
    const uses = graph.edges.filter((edge) => edge.from.startsWith("src/node.ts#"))
    expect(uses.some((edge) => edge.to === "src/index.ts#make" && edge.symbols.includes("MP.make"))).toBe(true)
    // index.ts: `import * as internal from "./internal/multipart.js"`, `internal.make`.
    expect(graph.edges.some((edge) => edge.from === "src/index.ts#make" && edge.to === "src/internal/multipart.ts#make")).toBe(true)
  })

  it("leaves no use unresolved but the language's globals, and packages as externals", () => {
    expect(graph.atoms.flatMap((atom) => atom.unresolved.map((name) => `${atom.id}: ${name}`))).toEqual([])
    expect(graph.atoms.some((atom) => atom.externals.some((use) => use.module === "node:stream"))).toBe(true)
  })

  it("assigns waves that respect the deps, and gives the engine an acyclic plan", () => {
    expectWavesRespectDeps(graph)
    const plan = symbolGraphPlanAtoms(graph)
    expect(plan.length).toBe(graph.atoms.length)
    const compiled = buildPlanGraph(plan)
    expect(Either.isRight(compiled)).toBe(true)
  })
})
