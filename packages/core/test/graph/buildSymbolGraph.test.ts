import {
  buildSymbolGraph,
  type ImportBinding,
  type SourceAtom,
  type SymbolGraph,
  symbolGraphPlanAtoms
} from "@devmatrix/core"
import { buildPlanGraph } from "@devmatrix/core"
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

/** The symbol graph on atoms built by hand (the runtime test atomizes real files). */

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)

const atom = (
  name: string,
  options: {
    readonly uses?: ReadonlyArray<string>
    readonly load?: ReadonlyArray<string>
    readonly members?: ReadonlyArray<string>
    readonly imports?: ReadonlyArray<ImportBinding>
    readonly kind?: SourceAtom["kind"]
    readonly defines?: ReadonlyArray<string>
  } = {}
): SourceAtom => ({
  kind: options.kind ?? "function",
  name,
  language: "typescript",
  defines: options.defines ?? [name],
  uses: options.uses ?? [],
  memberUses: options.members ?? [],
  loadTimeUses: options.load ?? [],
  imports: options.imports ?? [],
  startLine: 1,
  endLine: 1,
  lines: 1,
  overBudget: false,
  text: `${name}\n`,
  spans: [{ start: 0, end: name.length + 1 }]
})

const named = (from: string, imported: string, local = imported): ImportBinding => ({
  from,
  imported,
  local,
  reexport: false
})

const built = (files: ReadonlyArray<{ path: string; atoms: ReadonlyArray<SourceAtom> }>): SymbolGraph => {
  const result = buildSymbolGraph(files.map((file) => ({ ...file, language: "typescript" as const })))
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

describe("buildSymbolGraph", () => {
  it("links a use through an aliased import to the defining atom of the other file", () => {
    const graph = built([
      { path: "a.ts", atoms: [atom("f")] },
      {
        path: "b.ts",
        atoms: [
          atom("import@1", { kind: "import", defines: ["g"], imports: [named("./a.js", "f", "g")] }),
          atom("h", { uses: ["g"] })
        ]
      }
    ])
    expect(graph.edges).toEqual([{ from: "b.ts#h", to: "a.ts#f", symbols: ["g"], timing: "run" }])
    expect(graph.atoms.map((a) => [a.id, a.wave])).toEqual([
      ["a.ts#f", 0],
      ["b.ts#import@1", 0],
      ["b.ts#h", 1]
    ])
    expect(graph.graph.hasEdge("b.ts#h", "a.ts#f")).toBe(true)
  })

  it("gives repeated names unique ids", () => {
    const graph = built([{ path: "a.py", atoms: [atom("f"), atom("f")] }])
    expect(graph.atoms.map((a) => a.id)).toEqual(["a.py#f", "a.py#f~2"])
  })

  it("refuses a file given twice", () => {
    const result = buildSymbolGraph([
      { path: "a.ts", language: "typescript", atoms: [] },
      { path: "a.ts", language: "typescript", atoms: [] }
    ])
    expect(Either.isLeft(result) && result.left.reason).toBe("DuplicateFile")
  })

  it("names a load-time cycle; breaks one with a run-time edge", () => {
    const cyclic = (timing: "load" | "run") =>
      buildSymbolGraph([
        {
          path: "a.ts",
          language: "typescript",
          atoms: [
            atom("x", { uses: ["y"], load: timing === "load" ? ["y"] : [] }),
            atom("y", { uses: ["x"], load: ["x"] })
          ]
        }
      ])
    const error = cyclic("load")
    expect(Either.isLeft(error) && error.left.message).toBe(
      "load-time dependency cycle: a.ts:x -> a.ts:y -> a.ts:x (each uses the next while the module loads)"
    )
    const broken = cyclic("run")
    expect(Either.isRight(broken)).toBe(true)
    if (Either.isRight(broken)) {
      expect(broken.right.cycles.map((cycle) => cycle.dropped)).toEqual([
        { from: "a.ts#x", to: "a.ts#y", symbols: ["y"], timing: "run" }
      ])
      expect(broken.right.atoms.map((a) => a.wave)).toEqual([0, 1])
    }
  })
})

/** Random DAGs of declarations across files: declaration i uses some of those before it. */
const dag = fc
  .record({
    files: fc.integer({ min: 1, max: 5 }),
    decls: fc.array(
      fc.record({ file: fc.nat(), deps: fc.array(fc.nat(), { maxLength: 4 }), load: fc.boolean() }),
      {
        minLength: 1,
        maxLength: 30
      }
    )
  })
  .map(({ files, decls }) =>
    decls.map((decl, i) => ({
      name: `d${i}`,
      file: `f${decl.file % files}.ts`,
      deps: i === 0 ? [] : [...new Set(decl.deps.map((d) => d % i))],
      load: decl.load
    }))
  )

describe("buildSymbolGraph properties", () => {
  it("every use of a defined symbol is an edge, none other; deps' waves are lower; the plan compiles", () => {
    fc.assert(
      fc.property(dag, (decls) => {
        const paths = [...new Set(decls.map((decl) => decl.file))]
        const graph = built(
          paths.map((path) => {
            const own = decls.filter((decl) => decl.file === path)
            const imports = own
              .flatMap((decl) => decl.deps.map((d) => decls[d]!))
              .filter((dep) => dep.file !== path)
            const importAtoms =
              imports.length === 0
                ? []
                : [
                    atom("import@1", {
                      kind: "import",
                      defines: [...new Set(imports.map((dep) => dep.name))],
                      imports: imports.map((dep) => named(`./${dep.file.slice(0, -3)}`, dep.name))
                    })
                  ]
            const names = own.map((decl) => {
              const uses = decl.deps.map((d) => decls[d]!.name)
              return atom(decl.name, { uses, load: decl.load ? uses : [] })
            })
            return { path, atoms: [...importAtoms, ...names] }
          })
        )
        const idOf = (i: number) => `${decls[i]!.file}#${decls[i]!.name}`
        const expected = decls.flatMap((decl, i) => decl.deps.map((d) => `${idOf(i)} -> ${idOf(d)}`)).sort()
        expect(graph.edges.map((edge) => `${edge.from} -> ${edge.to}`).sort()).toEqual(expected)
        for (const edge of graph.edges)
          expect(graph.atoms[graph.indexOf.get(edge.to)!]!.atom.defines).toContain(edge.to.split("#")[1])
        const waveOf = new Map(graph.atoms.map((a) => [a.id, a.wave]))
        for (const a of graph.atoms) {
          for (const dep of a.deps) expect(waveOf.get(dep)!).toBeLessThan(a.wave)
          expect(a.wave).toBe(
            a.deps.length === 0 ? 0 : 1 + Math.max(...a.deps.map((dep) => waveOf.get(dep)!))
          )
        }
        expect(Either.isRight(buildPlanGraph(symbolGraphPlanAtoms(graph)))).toBe(true)
      }),
      { numRuns }
    )
  })
})
