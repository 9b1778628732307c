/**
 * How fast the atomizer splits a large real file of each language, against the bare tree-sitter
 * parse of the same file measured in the same run (the floor: every atomization parses first).
 * Each round times, one after the other on the same text: the bare parse; the parse plus the
 * conversion into core's tree (`syntaxNodeOf`); and the whole `Atomizer.atomize` (parse, convert,
 * syntax check, plan, tile). The median round is reported.
 *
 *   pnpm bench:atomizer      (writes bench/results/atomizer.md)
 */
import { atomizeTree } from "@devmatrix/core"
import { makeAtomizer, syntaxNodeOf } from "@devmatrix/runtime"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { loadavg } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import Parser from "tree-sitter"
import JavaScript from "tree-sitter-javascript"
import Python from "tree-sitter-python"
import TypeScript from "tree-sitter-typescript"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const require = createRequire(import.meta.url)
const rounds = Number(process.env["DEVMATRIX_BENCH_ROUNDS"] ?? 9)

/** CPython's `_pydecimal.py` where a Python is installed; else the test fixture `ipaddress.py`. */
const pythonFile = (): string => {
  try {
    return execFileSync("python3", ["-c", "import _pydecimal; print(_pydecimal.__file__)"], {
      encoding: "utf8"
    }).trim()
  } catch {
    return join(root, "packages/runtime/test/fixtures/atomizer/large/ipaddress.py")
  }
}

type Grammar = Parameters<Parser["setLanguage"]>[0]

const cases: ReadonlyArray<{ language: string; path: string; grammar: Grammar }> = [
  {
    language: "typescript",
    path: join(dirname(require.resolve("typescript/package.json")), "lib", "typescript.d.ts"),
    grammar: TypeScript.typescript
  },
  {
    language: "javascript",
    path: join(dirname(require.resolve("effect/package.json")), "dist", "cjs", "Effect.js"),
    grammar: JavaScript
  },
  { language: "python", path: pythonFile(), grammar: Python }
]

const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const time = (run: () => unknown): number => {
  const start = performance.now()
  run()
  return performance.now() - start
}

const atomizer = makeAtomizer()

interface Row {
  readonly language: string
  readonly file: string
  readonly kb: number
  readonly lines: number
  readonly atoms: number
  readonly parseMs: number
  readonly convertMs: number
  readonly atomizeMs: number
  readonly planMs: number
}

const rows: Array<Row> = cases.map(({ language, path, grammar }) => {
  const text = readFileSync(path, "utf8")
  const parser = new Parser()
  parser.setLanguage(grammar)
  const atomize = () => Effect.runSync(atomizer.atomize({ path, language, text }))
  const atoms = atomize().length
  const tree = parser.parse(text)
  const syntaxRoot = syntaxNodeOf(tree)
  const parse: Array<number> = []
  const convert: Array<number> = []
  const whole: Array<number> = []
  const plan: Array<number> = []
  for (let round = 0; round < rounds + 1; round++) {
    const p = time(() => parser.parse(text))
    const c = time(() => syntaxNodeOf(parser.parse(text)))
    const a = time(atomize)
    const t = time(() => atomizeTree({ language: language as "python", text, root: syntaxRoot }))
    if (round === 0) continue // warm-up
    parse.push(p)
    convert.push(c)
    whole.push(a)
    plan.push(t)
  }
  return {
    language,
    file: path.includes("node_modules/")
      ? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)
      : path.startsWith(root)
        ? relative(root, path)
        : path,
    kb: text.length / 1024,
    lines: text.split("\n").length,
    atoms,
    parseMs: median(parse),
    convertMs: median(convert),
    atomizeMs: median(whole),
    planMs: median(plan)
  }
})

const int = (n: number) => Math.round(n).toLocaleString("en")
const lines = [
  "# Atomizer",
  "",
  "A large real file per language, atomized whole by `Atomizer.atomize` (parse, conversion of the tree into",
  "core's plain nodes, syntax check, planning the atoms with their symbols, tiling). The baseline is the bare",
  "tree-sitter parse of the same text in the same run; `parse + convert` is the parse with the conversion; `plan`",
  "is core's `atomizeTree` alone on an already converted tree. Times are the median of",
  `${rounds} rounds after a warm-up. Measured ${new Date().toISOString()}, Node ${process.version},`,
  "tree-sitter 0.25.1 (2 cores shared with other work: small differences are noise). Load average at the end:",
  `${loadavg()
    .map((n) => n.toFixed(1))
    .join(" / ")} (1 / 5 / 15 min).`,
  "",
  "| language | file | KiB | lines | atoms | parse (ms) | parse + convert (ms) | plan (ms) | atomize (ms) | atomize / parse | atoms/s | lines/s |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (row) =>
      `| ${row.language} | \`${row.file}\` | ${int(row.kb)} | ${int(row.lines)} | ${int(row.atoms)} | ${row.parseMs.toFixed(0)} | ${row.convertMs.toFixed(0)} | ${row.planMs.toFixed(0)} | ${row.atomizeMs.toFixed(0)} | ${(row.atomizeMs / row.parseMs).toFixed(2)}× | ${int((row.atoms / row.atomizeMs) * 1000)} | ${int((row.lines / row.atomizeMs) * 1000)} |`
  ),
  "",
  "The pipeline atomizes skeletons of a few hundred lines, which take milliseconds; what these files show is",
  "the cost per line, and where it goes: reading the tree out of the binding (one call per node and property)",
  "costs about as much as the parse itself, and planning on plain objects is the smaller part.",
  ""
]
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(join(here, "results", "atomizer.md"), lines.join("\n"))
console.log(lines.join("\n"))
