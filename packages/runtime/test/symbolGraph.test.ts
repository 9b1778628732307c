import {
  buildSymbolGraph,
  type SymbolGraph,
  type SymbolGraphFile,
  symbolGraphPlanAtoms
} from "@devmatrix/core"
import { AtomSpec, buildPlanGraph, PlanInput } from "@devmatrix/core"
import { makeAtomizer } from "@devmatrix/runtime"
import { Effect, Either, Schema } from "effect"
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
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 30)
const atomizer = makeAtomizer()

const languageOf = (path: string) =>
  path.endsWith(".py") ? "python" : path.endsWith(".js") ? "javascript" : "typescript"

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
    for (const dep of atom.deps)
      expect(atomOf(graph, dep).wave, `${atom.id} -> ${dep}`).toBeLessThan(atom.wave)
}

const filesUnder = (root: string): Array<string> =>
  readdirSync(root, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(root, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(root, entry.name)]
        : []
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
    if (process.env["UPDATE_GOLDEN"] === "1")
      writeFileSync(goldenPath, `${JSON.stringify(crossFile, null, 2)}\n`)
    expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDEN=1`).toBe(true)
    expect(crossFile).toEqual(JSON.parse(readFileSync(goldenPath, "utf8")))
  })

  it("resolves namespace imports, named imports of .js specifiers and re-exports", () => {
    // node.ts: `import * as MP from "./index.js"` and `MP.make(...)`.
    const uses = graph.edges.filter((edge) => edge.from.startsWith("src/node.ts#"))
    expect(uses.some((edge) => edge.to === "src/index.ts#make" && edge.symbols.includes("MP.make"))).toBe(
      true
    )
    // index.ts: `import * as internal from "./internal/multipart.js"`, `internal.make`.
    expect(
      graph.edges.some(
        (edge) => edge.from === "src/index.ts#make" && edge.to === "src/internal/multipart.ts#make"
      )
    ).toBe(true)
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
    // The plan atoms are a valid `plan.json` for the engine, whatever the files' paths and code.
    const decoded = Schema.decodeUnknownEither(PlanInput)({
      name: "multipasta",
      atoms: Schema.encodeSync(Schema.Array(AtomSpec))(plan)
    })
    expect(Either.isRight(decoded)).toBe(true)
  })
})

const edgeIds = (graph: SymbolGraph) => graph.edges.map((edge) => `${edge.from} -> ${edge.to}`)

describe("symbol graph: each import form", () => {
  it("named with alias, default, namespace, and a re-export chain through export * and export { } from", () => {
    const graph = graphOf({
      "src/core/parse.ts":
        "export function parse(s: string): number {\n  return Number(s)\n}\nexport default function render(n: number): string {\n  return String(n)\n}\n",
      "src/core/index.ts": 'export * from "./parse.js"\nexport { default as show } from "./parse.js"\n',
      "src/api.ts": 'export { parse as read, show } from "./core/index.js"\n',
      "src/main.ts":
        'import { read as r } from "./api"\nimport draw from "./core/parse"\nimport * as core from "./core"\nimport { show } from "./api.js"\nimport { Effect } from "effect"\n\nexport const a = r("1")\nexport const b = draw(2)\nexport const c = core.parse("3")\nexport const d = show(4)\nexport const e = Effect.succeed(a)\n'
    })
    const edges = edgeIds(graph)
    expect(edges).toContain("src/main.ts#a -> src/core/parse.ts#parse")
    expect(edges).toContain("src/main.ts#b -> src/core/parse.ts#render")
    expect(edges).toContain("src/main.ts#c -> src/core/parse.ts#parse")
    expect(edges).toContain("src/main.ts#d -> src/core/parse.ts#render")
    expect(edges).toContain("src/main.ts#e -> src/main.ts#a")
    expect(atomOf(graph, "src/main.ts#e").externals).toEqual([{ module: "effect", name: "Effect" }])
    expect(graph.atoms.flatMap((atom) => atom.unresolved)).toEqual([])
    expectWavesRespectDeps(graph)
    expect(atomOf(graph, "src/main.ts#e").wave).toBe(atomOf(graph, "src/main.ts#a").wave + 1)
  })

  it("CommonJS require: whole module, destructured, and a member", () => {
    const graph = graphOf({
      "lib/util.js":
        "function twice(x) {\n  return x * 2\n}\nfunction half(x) {\n  return x / 2\n}\nmodule.exports = { twice, half }\n",
      "lib/main.js":
        'const util = require("./util")\nconst { twice } = require("./util.js")\nconst h = require("./util").half\nconst fs = require("node:fs")\n\nconst a = util.half(1) + twice(2) + h(3)\nconsole.log(a, fs.existsSync("x"))\n'
    })
    const from = graph.edges.filter((edge) => edge.from === "lib/main.js#a").map((edge) => edge.to)
    expect(from.sort()).toEqual(["lib/util.js#half", "lib/util.js#twice"])
    expect(
      graph.edges
        .find((edge) => edge.to === "lib/util.js#half" && edge.from === "lib/main.js#a")
        ?.symbols.toSorted()
    ).toEqual(["h", "util.half"])
    expect(graph.atoms.flatMap((atom) => atom.unresolved)).toEqual([])
  })

  it("Python: from m import x as y, import m + m.x, relative imports, from pkg import submodule", () => {
    const graph = graphOf({
      "app/__init__.py": "",
      "app/models.py":
        "class User:\n    def __init__(self, name):\n        self.name = name\n\n\ndef make_user(name):\n    return User(name)\n",
      "app/service.py":
        "from .models import make_user as new_user\nfrom . import models\nimport app.models\nimport os\n\n\ndef create(name):\n    return new_user(name)\n\n\ndef kind():\n    return models.User\n\n\nBASE = os.path.join('a', 'b')\n",
      "main.py":
        'from app.service import create\nimport app\n\nif __name__ == "__main__":\n    print(create("ann"), len("x"))\n'
    })
    const edges = edgeIds(graph)
    expect(edges).toContain("app/service.py#create -> app/models.py#make_user")
    expect(edges).toContain("app/service.py#kind -> app/models.py#User")
    expect(edges).toContain("app/models.py#make_user -> app/models.py#User")
    expect(edges).toContain("main.py#__main__ -> app/service.py#create")
    expect(atomOf(graph, "app/service.py#BASE").externals).toEqual([{ module: "os", name: "*" }])
    expect(graph.atoms.flatMap((atom) => atom.unresolved.map((name) => `${atom.id}: ${name}`))).toEqual([])
    expectWavesRespectDeps(graph)
  })

  it("reports uses defined nowhere, and imports of files or names that do not exist", () => {
    const graph = graphOf({
      "a.ts":
        'import { gone } from "./missing"\nimport { nope } from "./b"\nexport const x = gone + nope + undefinedThing + Math.max(1, 2)\n',
      "b.ts": "export const y = 1\n"
    })
    expect(atomOf(graph, "a.ts#x").unresolved).toEqual(["gone", "nope", "undefinedThing"])
  })
})

describe("symbol graph: cycles", () => {
  it("a load-time cycle (classes extending each other's, constants) is an error naming it", () => {
    const built = buildSymbolGraph(
      project({
        "a.ts": 'import { B } from "./b"\nexport class A extends B {}\n',
        "b.ts": 'import { A } from "./a"\nexport const B = A\n'
      })
    )
    expect(Either.isLeft(built)).toBe(true)
    if (Either.isLeft(built)) {
      expect(built.left.reason).toBe("LoadTimeCycle")
      expect([...built.left.atomIds].sort()).toEqual(["a.ts#A", "a.ts#A", "b.ts#B"].sort())
      expect(built.left.message).toContain("a.ts:A")
      expect(built.left.message).toContain("b.ts:B")
    }
  })

  it("a run-time cycle (functions calling each other) is broken at the forward use, and waves assigned", () => {
    const graph = graphOf({
      "even.ts":
        'import { odd } from "./odd"\nexport function even(n: number): boolean {\n  return n === 0 || odd(n - 1)\n}\n',
      "odd.ts":
        'import { even } from "./even"\nexport function odd(n: number): boolean {\n  return n !== 0 && even(n - 1)\n}\nexport const start = odd(3)\n'
    })
    expect(graph.cycles).toHaveLength(1)
    expect(graph.cycles[0]!.dropped).toMatchObject({ from: "even.ts#even", to: "odd.ts#odd", timing: "run" })
    expect(atomOf(graph, "even.ts#even").deps).toEqual([])
    expect(atomOf(graph, "odd.ts#odd").deps).toEqual(["even.ts#even"])
    expect(atomOf(graph, "odd.ts#start").wave).toBe(2)
    expectWavesRespectDeps(graph)
  })
})

describe("symbol graph: members, Python cycles, star loops", () => {
  it("a method depends on its class shell and on the members it reads", () => {
    const graph = graphOf({
      "shapes.ts":
        "export class Circle {\n  static unit = 1\n  area(): number {\n    return Circle.unit * Math.PI\n  }\n}\n"
    })
    expect(graph.edges).toEqual([
      {
        from: "shapes.ts#Circle.area",
        to: "shapes.ts#Circle",
        symbols: ["Circle", "Circle.unit"],
        timing: "load"
      }
    ])
  })

  it("two Python modules whose functions call each other: broken, not an error", () => {
    const graph = graphOf({
      "ping.py": "from pong import pong\n\n\ndef ping(n):\n    return n and pong(n - 1)\n",
      "pong.py": "import ping\n\n\ndef pong(n):\n    return n and ping.ping(n - 1)\n"
    })
    expect(graph.cycles.map((cycle) => cycle.dropped.from + " -> " + cycle.dropped.to)).toEqual([
      "ping.py#ping -> pong.py#pong"
    ])
    expectWavesRespectDeps(graph)
  })

  it("modules passing each other's names on with export * end, the missing name unresolved", () => {
    const graph = graphOf({
      "a.ts": 'export * from "./b"\nexport const a = 1\n',
      "b.ts": 'export * from "./a"\nexport const b = 2\n',
      "c.ts": 'import { a, b, c } from "./a"\nexport const sum = a + b + c\n'
    })
    expect(edgeIds(graph).toSorted()).toEqual(["c.ts#sum -> a.ts#a", "c.ts#sum -> b.ts#b"])
    expect(atomOf(graph, "c.ts#sum").unresolved).toEqual(["c"])
  })
})

/** Random DAGs of declarations across random files, as source text, atomized for real. */
const dagProject = fc
  .record({
    files: fc.integer({ min: 1, max: 4 }),
    decls: fc.array(
      fc.record({ file: fc.nat(), deps: fc.array(fc.nat(), { maxLength: 3 }), fn: fc.boolean() }),
      {
        minLength: 1,
        maxLength: 12
      }
    )
  })
  .map(({ files, decls }) => {
    // Declaration i may use only declarations before it: a DAG.
    const shaped = decls.map((decl, i) => ({
      name: `d${i}`,
      file: `src/f${decl.file % files}.ts`,
      deps: i === 0 ? [] : [...new Set(decl.deps.map((d) => d % i))],
      fn: decl.fn
    }))
    const sources: Record<string, string> = {}
    for (let f = 0; f < files; f++) {
      const path = `src/f${f}.ts`
      const own = shaped.filter((decl) => decl.file === path)
      const imported = [
        ...new Set(own.flatMap((decl) => decl.deps.map((d) => shaped[d]!)).filter((d) => d.file !== path))
      ]
      const byFile = new Map<string, Array<string>>()
      for (const dep of imported) byFile.set(dep.file, [...(byFile.get(dep.file) ?? []), dep.name])
      const lines = [...byFile].map(
        ([file, names]) => `import { ${names.join(", ")} } from "./${file.slice(4, -3)}.js"`
      )
      for (const decl of own) {
        const sum = [
          "1",
          ...decl.deps.map((d) => (shaped[d]!.fn ? `${shaped[d]!.name}()` : shaped[d]!.name))
        ].join(" + ")
        lines.push(
          decl.fn
            ? `export function ${decl.name}(): number {\n  return ${sum}\n}`
            : `export const ${decl.name} = ${sum}`
        )
      }
      sources[path] = lines.join("\n") + "\n"
    }
    return { shaped, sources }
  })

describe("symbol graph: properties on generated projects", () => {
  it("every use of a defined symbol is an edge to its definition, no other edge, and waves respect deps", () => {
    fc.assert(
      fc.property(dagProject, ({ shaped, sources }) => {
        const graph = graphOf(sources)
        const idOf = (i: number) => `${shaped[i]!.file}#${shaped[i]!.name}`
        const expected = shaped.flatMap((decl, i) => decl.deps.map((d) => `${idOf(i)} -> ${idOf(d)}`)).sort()
        expect(edgeIds(graph).sort()).toEqual(expected)
        for (const edge of graph.edges) {
          expect(atomOf(graph, edge.to).atom.defines).toContain(edge.to.split("#")[1])
        }
        expect(graph.atoms.flatMap((atom) => atom.unresolved)).toEqual([])
        expect(graph.cycles).toEqual([])
        expectWavesRespectDeps(graph)
      }),
      { numRuns }
    )
  })
})
