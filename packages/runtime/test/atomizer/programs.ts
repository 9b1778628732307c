import fc from "fast-check"

/**
 * Random programs for the atomizer's property tests: sequences of declarations of every kind in
 * each language, with the trivia a file has between them (blank lines, comments, trailing
 * comments, CRLF), each rendered with the atoms the atomizer must find in it.
 */

/** An atom as the generator expects it; `name` ending in `@` stands for `<kind>@<line>`. */
export interface ExpectedAtom {
  readonly kind: string
  readonly name: string
  readonly defines: ReadonlyArray<string>
  readonly uses: ReadonlyArray<string>
}

export interface Program {
  readonly text: string
  readonly atoms: ReadonlyArray<ExpectedAtom>
}

/** One declaration before it is rendered: its kind and the random choices it is written with. */
interface Spec {
  readonly kind: string
  readonly flags: ReadonlyArray<boolean>
  readonly count: number
  readonly pick: number
  readonly trailing: boolean
}

interface Rendered {
  readonly code: string
  readonly atoms: ReadonlyArray<ExpectedAtom>
}

/** What has been defined so far, for later declarations to use. */
interface Names {
  readonly values: Array<string>
}

type Render = (spec: Spec, i: number, names: Names) => Rendered

const spec = (kinds: ReadonlyArray<string>): fc.Arbitrary<Spec> =>
  fc.record({
    kind: fc.constantFrom(...kinds),
    flags: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    count: fc.nat(3),
    pick: fc.nat(50),
    trailing: fc.boolean()
  })

const ecmaTrivia = [
  "\n",
  "\n\n",
  "\n// a note\n",
  "\n/** Docs. */\n",
  "\n\n/* a block\n   comment */\n",
  "\n\n\n"
]
const pythonTrivia = ["\n", "\n\n", "\n# a note\n", "\n\n\n", "\n\n# two\n# lines\n"]

const atom = (kind: string, name: string, defines: ReadonlyArray<string>, uses: ReadonlyArray<string>) => ({
  kind,
  name,
  defines,
  uses
})

/** Adjacent import blocks and export blocks are one atom. */
const merge = (atoms: ReadonlyArray<ExpectedAtom>): Array<ExpectedAtom> => {
  const merged: Array<ExpectedAtom> = []
  for (const next of atoms) {
    const last = merged[merged.length - 1]
    if (last !== undefined && last.kind === next.kind && (next.kind === "import" || next.kind === "export")) {
      merged[merged.length - 1] = {
        ...last,
        defines: [...new Set([...last.defines, ...next.defines])],
        uses: [...new Set([...last.uses, ...next.uses])]
      }
    } else merged.push(next)
  }
  return merged
}

const pick = <A>(items: ReadonlyArray<A>, at: number): A | undefined =>
  items.length === 0 ? undefined : items[at % items.length]

/**
 * A program: the specs rendered in order with trivia between them, a header, an end, and
 * (sometimes) CRLF line ends.
 */
const program = (
  kinds: ReadonlyArray<string>,
  render: Render,
  trivia: ReadonlyArray<string>,
  header: ReadonlyArray<string>,
  trailingComment: string,
  last?: Render
): fc.Arbitrary<Program> =>
  fc
    .record({
      specs: fc.array(spec(kinds), { maxLength: 12 }),
      between: fc.array(fc.constantFrom(...trivia), { minLength: 13, maxLength: 13 }),
      header: fc.constantFrom(...header),
      end: fc.constantFrom("", "\n", "\n\n", `\n${trailingComment} the end\n`),
      crlf: fc.boolean(),
      closing: fc.option(spec(["last"]), { nil: undefined })
    })
    .map(({ specs, between, header, end, crlf, closing }) => {
      const names: Names = { values: [] }
      const parts: Array<string> = []
      const atoms: Array<ExpectedAtom> = []
      const all = closing !== undefined && last !== undefined ? [...specs, closing] : specs
      all.forEach((item, i) => {
        const rendered = (item.kind === "last" && last !== undefined ? last : render)(item, i, names)
        parts.push(rendered.code + (item.trailing ? ` ${trailingComment} trailing` : ""))
        atoms.push(...rendered.atoms)
      })
      let text =
        header +
        parts.map((part, i) => (i === 0 ? part : between[i]! + part)).join("") +
        (parts.length > 0 ? end : "")
      if (crlf) text = text.replace(/\n/g, "\r\n")
      // A file of nothing but comments is one comment atom.
      return {
        text,
        atoms: atoms.length === 0 && text !== "" ? [atom("comment", "comment@", [], [])] : merge(atoms)
      }
    })

// TypeScript ---------------------------------------------------------------------------------

const renderTs: Render = (s, i, names) => {
  const ref = pick(names.values, s.pick)
  const [a, b, c, d] = s.flags
  switch (s.kind) {
    case "import": {
      const code = a
        ? `import { a${i}, b${i} as c${i} } from "./m${i}"`
        : b
          ? `import * as ns${i} from "ns${i}"\nimport type { T${i} } from "./t${i}"`
          : `import d${i} from "d${i}"`
      const defines = a ? [`a${i}`, `c${i}`] : b ? [`ns${i}`, `T${i}`] : [`d${i}`]
      names.values.push(...defines)
      return { code, atoms: [atom("import", "import@", defines, [])] }
    }
    case "function": {
      const overloads = a
        ? `export function f${i}(p: string): string\nexport function f${i}(p: number): number\n`
        : ""
      const nested = b ? `  function inner(q: number) {\n    return q + p\n  }\n` : ""
      const call = ref === undefined ? "Math.abs" : ref
      const code = `${overloads}export function f${i}(p: any): any {\n${nested}  const local = p * 2\n  return ${call}(local${b ? " + inner(1)" : ""})\n}`
      const uses = ref === undefined ? ["Math"] : [ref]
      names.values.push(`f${i}`)
      return { code, atoms: [atom("function", `f${i}`, [`f${i}`], uses)] }
    }
    case "arrow": {
      const code = `export const g${i} = <T,>(x: T): T => ${c && ref !== undefined ? `${ref}(x)` : "x"}`
      names.values.push(`g${i}`)
      return { code, atoms: [atom("function", `g${i}`, [`g${i}`], c && ref !== undefined ? [ref] : [])] }
    }
    case "const": {
      const code = `${a ? "export " : ""}const K${i} = ${ref !== undefined && b ? `[${ref}]` : `${i}`}`
      names.values.push(`K${i}`)
      return { code, atoms: [atom("variable", `K${i}`, [`K${i}`], ref !== undefined && b ? [ref] : [])] }
    }
    case "class": {
      const decorator = a ? `@Injectable({ scope: "x" })\n` : ""
      const base = b && ref !== undefined ? ` extends Base${i}` : ""
      const fields = Array.from({ length: s.count }, (_, j) => `  private readonly x${j}: number = ${j}`)
      const methods = Array.from({ length: c ? s.count + 1 : 0 }, (_, j) =>
        d && j === 0
          ? `  @Memo()\n  get v${j}(): T {\n    return this.value\n  }\n  set v${j}(next: T) {\n    this.value = next\n  }`
          : `  m${j}(arg: T): T {\n    const local = arg\n    return local\n  }`
      )
      const memberName = (j: number) => (d && j === 0 ? `v${j}` : `m${j}`)
      const body = [...fields, ...methods].join("\n")
      const code = `${decorator}export class C${i}<T>${base} {\n  value!: T\n${body}${body === "" ? "" : "\n"}}`
      const shellUses = [...(a ? ["Injectable"] : []), ...(base === "" ? [] : [`Base${i}`])]
      const shellDefines = [`C${i}`, `C${i}.value`, ...fields.map((_, j) => `C${i}.x${j}`)]
      names.values.push(`C${i}`)
      return {
        code,
        atoms: [
          atom("class", `C${i}`, shellDefines, shellUses),
          ...methods.map((_, j) =>
            atom("method", `C${i}.${memberName(j)}`, [`C${i}.${memberName(j)}`], d && j === 0 ? ["Memo"] : [])
          )
        ]
      }
    }
    case "type":
      return a
        ? {
            code: `export interface I${i}<K> {\n  key: K\n  method(value: K): void\n}`,
            atoms: [atom("type", `I${i}`, [`I${i}`], [])]
          }
        : { code: `type T${i}<V> = V | string`, atoms: [atom("type", `T${i}`, [`T${i}`], [])] }
    case "enum":
      return {
        code: `export enum E${i} {\n  A,\n  B = A + 1\n}`,
        atoms: [atom("enum", `E${i}`, [`E${i}`], [])]
      }
    case "reexport":
      return a
        ? {
            code: `export { r${i}, s${i} as t${i} } from "./r${i}"`,
            atoms: [atom("export", "export@", [`r${i}`, `t${i}`], [])]
          }
        : { code: `export * from "./all${i}"`, atoms: [atom("export", "export@", [], [])] }
    case "namespace": {
      names.values.push(`N${i}`)
      return {
        code: `export namespace N${i} {\n  export const v = 1\n  export function w(): number {\n    return v\n  }\n}`,
        atoms: [
          atom("namespace", `N${i}`, [`N${i}`], []),
          atom("variable", `N${i}.v`, [`N${i}.v`], []),
          atom("function", `N${i}.w`, [`N${i}.w`], [`N${i}.v`])
        ]
      }
    }
    default: {
      const test = ref ?? "globalThis"
      return {
        code: `if (${test}) {\n  console.log("ready")\n}`,
        atoms: [atom("statement", "if@", [], [test, "console"])]
      }
    }
  }
}

export const typescriptPrograms = program(
  ["import", "function", "arrow", "const", "class", "type", "enum", "reexport", "namespace", "statement"],
  renderTs,
  ecmaTrivia,
  ["", "// Copyright header\n", "/**\n * Module docs.\n */\n\n"],
  "//"
)

// JavaScript ---------------------------------------------------------------------------------

const renderJs: Render = (s, i, names) => {
  const ref = pick(names.values, s.pick)
  const [a, b, c] = s.flags
  switch (s.kind) {
    case "import": {
      const code = a ? `import { a${i} } from "./a${i}.js"` : `const { r${i}, q: q${i} } = require("r${i}")`
      const defines = a ? [`a${i}`] : [`r${i}`, `q${i}`]
      names.values.push(...defines)
      return { code, atoms: [atom("import", "import@", defines, [])] }
    }
    case "function": {
      const star = a ? "*" : ""
      const call = ref ?? "Math.max"
      const code = `${b ? "export " : ""}function${star} f${i}(p, { q = 1, ...rest } = {}) {\n  const local = p + q\n  ${a ? "yield" : "return"} ${call}(local, rest)\n}`
      names.values.push(`f${i}`)
      return { code, atoms: [atom("function", `f${i}`, [`f${i}`], [ref ?? "Math"])] }
    }
    case "class": {
      const methods = Array.from(
        { length: s.count },
        (_, j) => `  ${j === 0 && c ? "static " : ""}m${j}(x) {\n    return this.#count + x\n  }`
      )
      const getter = b
        ? [`  get size() {\n    return this.#count\n  }`, `  set size(n) {\n    this.#count = n\n  }`]
        : []
      const members = [...methods, ...getter]
      const base = a && ref !== undefined ? ` extends ${ref}` : ""
      const code = `class C${i}${base} {\n  #count = 0;\n  static label = "c${i}"\n${members.join("\n")}${members.length > 0 ? "\n" : ""}}`
      const shellDefines = [`C${i}`, `C${i}.#count`, `C${i}.label`]
      names.values.push(`C${i}`)
      return {
        code,
        atoms: [
          atom("class", `C${i}`, shellDefines, base === "" ? [] : [ref!]),
          ...methods.map((_, j) => atom("method", `C${i}.m${j}`, [`C${i}.m${j}`], [])),
          ...(b ? [atom("method", `C${i}.size`, [`C${i}.size`], [])] : [])
        ]
      }
    }
    case "arrow": {
      const code = `export const g${i} = async (x) => {\n  const y = await x\n  return ${ref ?? "y"}\n}`
      names.values.push(`g${i}`)
      return { code, atoms: [atom("function", `g${i}`, [`g${i}`], ref === undefined ? [] : [ref])] }
    }
    case "const": {
      const code = `let K${i} = ${ref !== undefined && a ? `{ ${ref} }` : `"${i}"`};`
      names.values.push(`K${i}`)
      return { code, atoms: [atom("variable", `K${i}`, [`K${i}`], ref !== undefined && a ? [ref] : [])] }
    }
    case "export":
      return ref !== undefined && a
        ? { code: `export { ${ref} as e${i} }`, atoms: [atom("export", "export@", [], [ref])] }
        : {
            code: `export * as ns${i} from "./ns${i}.js"`,
            atoms: [atom("export", "export@", [`ns${i}`], [])]
          }
    default: {
      const test = ref ?? "process"
      return {
        code: `for (const item of [${test}]) {\n  console.log(item)\n}`,
        atoms: [atom("statement", "for_in@", [], [test, "console"])]
      }
    }
  }
}

export const javascriptPrograms = program(
  ["import", "function", "class", "arrow", "const", "export", "statement"],
  renderJs,
  ecmaTrivia,
  ["", "#!/usr/bin/env node\n"],
  "//"
)

// Python -------------------------------------------------------------------------------------

const renderPy: Render = (s, i, names) => {
  const ref = pick(names.values, s.pick)
  const [a, b, c, d] = s.flags
  switch (s.kind) {
    case "import": {
      const code = a
        ? `from pkg${i} import a${i}, b${i} as c${i}`
        : b
          ? `import pkg${i}.sub as s${i}`
          : `import mod${i}`
      const defines = a ? [`a${i}`, `c${i}`] : b ? [`s${i}`] : [`mod${i}`]
      names.values.push(...defines)
      return { code, atoms: [atom("import", "import@", defines, [])] }
    }
    case "function": {
      const decorator = a ? "@register\n" : ""
      const overloads = b
        ? `@overload\ndef f${i}(p: int) -> int: ...\n@overload\ndef f${i}(p: str) -> str: ...\n`
        : ""
      const nested = c ? `    def inner(q):\n        return q + p\n` : ""
      const call = ref ?? "len"
      const code = `${overloads}${decorator}def f${i}(p, q=1, *args, **kw):\n${nested}    local = [x * q for x in args]\n    return ${call}(local)`
      const uses = [...(b ? ["overload", "int", "str"] : []), ...(a ? ["register"] : []), call]
      names.values.push(`f${i}`)
      return { code, atoms: [atom("function", `f${i}`, [`f${i}`], uses)] }
    }
    case "class": {
      const decorator = a ? "@dataclass\n" : ""
      const base = b && ref !== undefined ? `(${ref})` : ""
      const fields = Array.from({ length: s.count }, (_, j) => `    x${j}: int = ${j}`)
      const methods = Array.from({ length: c ? s.count + 1 : 0 }, (_, j) =>
        d && j === 0
          ? `    @property\n    def p${j}(self):\n        return self._p\n\n    @p${j}.setter\n    def p${j}(self, value):\n        self._p = value`
          : `    def m${j}(self, arg):\n        # a comment\n        return self.x0 + arg`
      )
      const memberName = (j: number) => (d && j === 0 ? `p${j}` : `m${j}`)
      const body = [`    """C${i} docs."""`, ...fields, ...methods].join("\n\n")
      const code = `${decorator}class C${i}${base}:\n${body}`
      const shellUses = [
        ...(a ? ["dataclass"] : []),
        ...(base === "" ? [] : [ref!]),
        ...(fields.length > 0 ? ["int"] : [])
      ]
      names.values.push(`C${i}`)
      return {
        code,
        atoms: [
          atom("class", `C${i}`, [`C${i}`, ...fields.map((_, j) => `C${i}.x${j}`)], shellUses),
          ...methods.map((_, j) =>
            atom(
              "method",
              `C${i}.${memberName(j)}`,
              [`C${i}.${memberName(j)}`],
              d && j === 0 ? ["property"] : []
            )
          )
        ]
      }
    }
    case "assign": {
      const code = `K${i}${a ? ": int" : ""} = ${ref !== undefined && b ? `${ref}` : `${i}`}`
      names.values.push(`K${i}`)
      return {
        code,
        atoms: [
          atom(
            "variable",
            `K${i}`,
            [`K${i}`],
            [...(a ? ["int"] : []), ...(ref !== undefined && b ? [ref] : [])]
          )
        ]
      }
    }
    case "try":
      names.values.push(`speedy${i}`)
      return {
        code: `try:\n    import fast${i} as speedy${i}\nexcept ImportError:\n    speedy${i} = None`,
        atoms: [atom("statement", "try@", [`speedy${i}`], ["ImportError"])]
      }
    default:
      return {
        code: `print(${ref ?? "__file__"})`,
        atoms: [atom("statement", "expression@", [], ["print", ref ?? "__file__"])]
      }
  }
}

const mainGuard: Render = (_s, _i, names) => {
  const ref = names.values[names.values.length - 1]
  return {
    code: `if __name__ == "__main__":\n    ${ref ?? "main"}()`,
    atoms: [atom("statement", "__main__", [], ["__name__", ref ?? "main"])]
  }
}

export const pythonPrograms = program(
  ["import", "function", "class", "assign", "try", "statement"],
  renderPy,
  pythonTrivia,
  ["", "#!/usr/bin/env python3\n", "# -*- coding: utf-8 -*-\n\n"],
  "#",
  mainGuard
)
