import { assembleAtoms, type SourceAtom, type SyntaxNode } from "@devmatrix/core"
import type { AtomizeError } from "@devmatrix/runtime"
import { makeAtomizer, syntaxNodeOf } from "@devmatrix/runtime"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import Parser from "tree-sitter"
import JavaScript from "tree-sitter-javascript"
import Python from "tree-sitter-python"
import TypeScript from "tree-sitter-typescript"
import { describe, expect, it } from "vitest"
import { javascriptPrograms, pythonPrograms, typescriptPrograms, type Program } from "./atomizer/programs.js"

/**
 * The atomizer on real code (golden files), on generated programs (properties), on errors, and
 * on large real files. Goldens: `test/fixtures/atomizer/<language>/<name>.<ext>` with the atoms
 * expected in `<name>.golden.json` beside it; after reviewing a change, regenerate them with
 * `UPDATE_GOLDEN=1 npx vitest run packages/runtime/test/Atomizer.test.ts` and read the diff.
 */

const here = dirname(fileURLToPath(import.meta.url))
const fixtures = join(here, "fixtures", "atomizer")
const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)
const atomizer = makeAtomizer()

const languages = [
  { language: "typescript", extension: ".ts", grammar: TypeScript.typescript, programs: typescriptPrograms },
  { language: "javascript", extension: ".js", grammar: JavaScript, programs: javascriptPrograms },
  { language: "python", extension: ".py", grammar: Python, programs: pythonPrograms }
] as const

type Grammar = Parameters<Parser["setLanguage"]>[0]

const parserFor = (grammar: unknown): Parser => {
  const parser = new Parser()
  parser.setLanguage(grammar as Grammar)
  return parser
}

const atomize = (path: string, language: string, text: string, maxLines?: number) =>
  Effect.runSync(atomizer.atomize({ path, language, text }, maxLines === undefined ? {} : { maxLines }))

/** What a golden file holds of an atom: all but its text and offsets. */
const summaryOf = (atom: SourceAtom) => ({
  kind: atom.kind,
  name: atom.name,
  ...(atom.parent === undefined ? {} : { parent: atom.parent }),
  defines: atom.defines,
  uses: atom.uses,
  ...(atom.memberUses.length === 0 ? {} : { memberUses: atom.memberUses }),
  ...(atom.loadTimeUses.length === 0 ? {} : { loadTimeUses: atom.loadTimeUses }),
  ...(atom.imports.length === 0 ? {} : { imports: atom.imports }),
  startLine: atom.startLine,
  endLine: atom.endLine,
  lines: atom.lines,
  overBudget: atom.overBudget
})

/** The spans of all atoms, in order, cover the text exactly: no gap, no overlap, none empty. */
const expectTiling = (atoms: ReadonlyArray<SourceAtom>, text: string) => {
  const spans = atoms.flatMap((atom) => atom.spans).toSorted((a, b) => a.start - b.start)
  let at = 0
  for (const span of spans) {
    expect(span.start).toBe(at)
    expect(span.end).toBeGreaterThan(span.start)
    at = span.end
  }
  expect(at).toBe(text.length)
  for (const atom of atoms) {
    expect(atom.text).toBe(atom.spans.map((span) => text.slice(span.start, span.end)).join(""))
  }
  expect(assembleAtoms(atoms)).toBe(text)
}

/** tree-sitter's S-expression of a tree in core's shape (named nodes, fields, `MISSING`). */
const sexpOf = (node: SyntaxNode): string => {
  const named = node.children.filter((child) => child.named)
  const head = node.missing ? `MISSING ${node.type}` : node.type
  const inner = named.map((child) => `${child.field === undefined ? "" : `${child.field}: `}${sexpOf(child)}`)
  return `(${[head, ...inner].join(" ")})`
}

describe("Atomizer golden files", () => {
  for (const { language, extension } of languages) {
    const folder = join(fixtures, language)
    const files = readdirSync(folder).filter((file) => file.endsWith(extension))
    it(`has golden files for ${language}`, () => expect(files.length).toBeGreaterThan(0))
    for (const file of files) {
      it(`${language}/${file}`, () => {
        const text = readFileSync(join(folder, file), "utf8")
        const atoms = atomize(file, language, text)
        expectTiling(atoms, text)
        const goldenPath = join(folder, file.slice(0, -extension.length) + ".golden.json")
        const actual = atoms.map(summaryOf)
        if (process.env["UPDATE_GOLDEN"] === "1") {
          writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`)
        }
        expect(existsSync(goldenPath), `${goldenPath} is missing: run with UPDATE_GOLDEN=1`).toBe(true)
        expect(actual).toEqual(JSON.parse(readFileSync(goldenPath, "utf8")))
      })
    }
  }
})

/** The atoms' kind, name (`<kind>@<line>` as `<kind>@`), defines and uses, as a program expects them. */
const shapeOf = (atoms: ReadonlyArray<SourceAtom>) =>
  atoms.map((atom) => ({
    kind: atom.kind,
    name: atom.name.replace(/@\d+$/, "@"),
    defines: atom.defines,
    uses: atom.uses
  }))

describe("Atomizer on generated programs (properties)", () => {
  for (const { language, grammar, programs } of languages) {
    const parser = parserFor(grammar)
    it(`${language}: the atoms tile the file, reassemble it byte for byte, and it parses to the same tree`, () => {
      fc.assert(
        fc.property(programs, ({ text }: Program) => {
          const tree = parser.parse(text)
          expect(tree.rootNode.hasError).toBe(false)
          const atoms = atomize(`generated.${language}`, language, text)
          expectTiling(atoms, text)
          const assembled = assembleAtoms(atoms)
          expect(parser.parse(assembled).rootNode.toString()).toBe(tree.rootNode.toString())
        }),
        { numRuns }
      )
    })

    it(`${language}: finds each declaration's atom, symbols and uses, and no symbol twice`, () => {
      fc.assert(
        fc.property(programs, ({ text, atoms: expected }: Program) => {
          const atoms = atomize(`generated.${language}`, language, text)
          expect(shapeOf(atoms)).toEqual(expected)
          const defines = atoms.flatMap((atom) => atom.defines)
          expect(new Set(defines).size).toBe(defines.length)
        }),
        { numRuns }
      )
    })

    it(`${language}: the tree handed to core is tree-sitter's, node for node`, () => {
      fc.assert(
        fc.property(programs, ({ text }: Program) => {
          const tree = parser.parse(text)
          expect(sexpOf(syntaxNodeOf(tree))).toBe(tree.rootNode.toString())
        }),
        { numRuns: Math.ceil(numRuns / 4) }
      )
    })
  }
})

describe("Atomizer imports, members and load-time uses", () => {
  const only = (path: string, text: string) => {
    const atoms = atomize(path, languageOf(path), text)
    return (name: string) => atoms.find((atom) => atom.name === name)!
  }
  const languageOf = (path: string) =>
    path.endsWith(".py") ? "python" : path.endsWith(".js") ? "javascript" : "typescript"
  const binding = (from: string, imported: string, local: string, reexport = false) => ({
    from,
    imported,
    local,
    reexport
  })

  it("gives each ECMAScript import and re-export form its module, imported name and local name", () => {
    const atomOf = only(
      "a.ts",
      [
        'import d, { a as b, type c } from "./m"',
        'import * as ns from "n"',
        'import "side"',
        'import e = require("e")',
        'export { x as y } from "./q"',
        'export * from "./r"',
        'export * as z from "./s"',
        "export { b as bee, d }",
        "export default function f() {}",
        'const { g, h: i } = require("./g")',
        'const j = require("./j").k',
        ""
      ].join("\n")
    )
    expect(atomOf("import@1").imports).toEqual([
      binding("./m", "default", "d"),
      binding("./m", "a", "b"),
      binding("./m", "c", "c"),
      binding("n", "*", "ns"),
      binding("side", "", ""),
      binding("e", "*", "e")
    ])
    expect(atomOf("export@5").imports).toEqual([
      binding("./q", "x", "y", true),
      binding("./r", "*", "*", true),
      binding("./s", "*", "z", true),
      binding("", "b", "bee", true),
      binding("", "d", "d", true)
    ])
    expect(atomOf("f").imports).toEqual([binding("", "f", "default", true)])
    expect(atomOf("import@10").imports).toEqual([
      binding("./g", "g", "g"),
      binding("./g", "h", "i"),
      binding("./j", "k", "j")
    ])
  })

  it("gives each Python import form its module, imported name and local name", () => {
    const atomOf = only(
      "pkg/a.py",
      "from .m import a as b, c\nfrom . import d\nimport os.path\nimport x.y as z\nfrom q import *\n"
    )
    expect(atomOf("import@1").imports).toEqual([
      binding(".m", "a", "b"),
      binding(".m", "c", "c"),
      binding(".", "d", "d"),
      binding("os.path", "*", "os"),
      binding("x.y", "*", "z"),
      binding("q", "*", "*")
    ])
  })

  it("lists members read off used names, and which uses run at load time", () => {
    const ts = only(
      "b.ts",
      [
        "export class A extends Base<T> {",
        "  static s = ns.make()",
        "  t = Later",
        "  m(x = Dflt): Ret {",
        "    return run(x)",
        "  }",
        "}",
        "export const k = build(ns.part) as Shape",
        "export function f(): void {",
        "  helper()",
        "}",
        ""
      ].join("\n")
    )
    expect(ts("A").uses).toEqual(["Base", "T", "ns", "Later"])
    expect(ts("A").memberUses).toEqual(["ns.make"])
    expect(ts("A").loadTimeUses).toEqual(["Base", "ns", "ns.make"])
    expect(ts("A.m").loadTimeUses).toEqual([])
    expect(ts("k").loadTimeUses).toEqual(["build", "ns", "ns.part"])
    expect(ts("f").loadTimeUses).toEqual([])
    const py = only(
      "c.py",
      "@register\ndef f(x=DEFAULT) -> Ret:\n    return models.User(x)\n\n\nclass C(Base):\n    size = LIMIT\n"
    )
    expect(py("f").memberUses).toEqual(["models.User"])
    expect(py("f").loadTimeUses).toEqual(["register", "DEFAULT", "Ret"])
    expect(py("C").loadTimeUses).toEqual(["Base", "LIMIT"])
  })
})

describe("Atomizer errors", () => {
  const failure = (path: string, language: string, text: string): AtomizeError => {
    const result = Effect.runSync(Effect.either(atomizer.atomize({ path, language, text })))
    if (Either.isRight(result)) throw new Error(`expected ${path} to fail, got ${result.right.length} atoms`)
    return result.left
  }

  it("refuses a language it has no grammar for, naming it", () => {
    const error = failure("src/main.rs", "rust", "fn main() {}\n")
    expect(error._tag).toBe("AtomizeError")
    expect(error.reason).toBe("UnsupportedLanguage")
    expect(error.message).toBe(
      'src/main.rs: UnsupportedLanguage: no grammar for "rust" (typescript, javascript and python have one)'
    )
  })

  it("refuses TypeScript that does not parse, at the first error's line and column", () => {
    const error = failure("src/todo.ts", "typescript", "export const a = 1\n\nfunction f( {\n  return 1\n}\n")
    expect(error.reason).toBe("Syntax")
    // tree-sitter wraps the broken declaration in an ERROR node from its first token.
    expect([error.line, error.column]).toEqual([3, 1])
    expect(error.message).toBe("src/todo.ts:3:1: Syntax: unexpected text")
  })

  it("names the token the parser had to invent (MISSING), where it is missing", () => {
    const error = failure("src/g.ts", "typescript", "export const a = 1\nfunction g() {\n  return 1\n")
    expect(error.message).toBe('src/g.ts:3:11: Syntax: missing "}"')
  })

  it("refuses Python that does not parse", () => {
    const error = failure("app.py", "python", "import os\n\ndef f(x:\n    return x\n")
    expect(error.message).toBe("app.py:3:1: Syntax: unexpected text")
  })

  it("refuses JavaScript with stray text, and an empty file is no atoms", () => {
    const error = failure("a.js", "javascript", "const ok = 1\nconst = 2\n")
    expect([error.reason, error.line]).toEqual(["Syntax", 2])
    expect(atomize("empty.js", "javascript", "")).toEqual([])
  })
})

describe("Atomizer on large real files", () => {
  const require = createRequire(import.meta.url)
  const effectSource = (file: string) => join(dirname(require.resolve("effect/package.json")), "src", file)
  const large = [
    { language: "typescript", path: effectSource("BigDecimal.ts"), atLeast: 50 },
    {
      language: "typescript",
      path: join(dirname(require.resolve("typescript/package.json")), "lib", "lib.es5.d.ts"),
      atLeast: 150
    },
    { language: "javascript", path: require.resolve("msgpackr"), atLeast: 150 },
    { language: "python", path: join(fixtures, "large", "ipaddress.py"), atLeast: 150 }
  ]
  for (const { language, path, atLeast } of large) {
    it(`${language}: ${path.split("/").slice(-2).join("/")} is atomized without loss`, () => {
      const text = readFileSync(path, "utf8")
      const atoms = atomize(path, language, text)
      expect(atoms.length).toBeGreaterThanOrEqual(atLeast)
      expectTiling(atoms, text)
      // Lines are only ever marked, never cut: each atom's lines are those of its code.
      for (const atom of atoms) {
        expect(atom.overBudget).toBe(atom.lines > 10)
        expect(atom.endLine).toBeGreaterThanOrEqual(atom.startLine)
      }
    })
  }

  it("a larger budget marks fewer atoms and cuts none", () => {
    const text = readFileSync(effectSource("BigDecimal.ts"), "utf8")
    const tight = atomize("BigDecimal.ts", "typescript", text, 5)
    const loose = atomize("BigDecimal.ts", "typescript", text, 40)
    expect(shapeOf(loose)).toEqual(shapeOf(tight))
    const over = (atoms: ReadonlyArray<SourceAtom>) => atoms.filter((atom) => atom.overBudget).length
    expect(over(loose)).toBeLessThan(over(tight))
  })
})
