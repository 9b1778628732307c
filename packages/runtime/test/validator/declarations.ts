import fc from "fast-check"

/**
 * Random modules for the validator's property tests: an import block and declarations of every
 * kind in one language, each within the 10-line budget, each using only what the language
 * provides, what is imported, or what an earlier declaration defines (its dependencies).
 */

export type ValidatedLanguage = "typescript" | "javascript" | "python"

/** One declaration: an atom's code, what it defines, and the earlier declarations it uses. */
export interface Declaration {
  readonly code: string
  readonly defines: ReadonlyArray<string>
  /** Indices of the earlier declarations it uses, each with the name it uses. */
  readonly dependencies: ReadonlyArray<{ readonly index: number; readonly name: string }>
}

export interface GeneratedModule {
  readonly language: ValidatedLanguage
  /** The file's import block: the module context of every declaration. */
  readonly imports: string
  readonly declarations: ReadonlyArray<Declaration>
}

interface Spec {
  readonly kind: string
  readonly pick: number
  readonly flag: boolean
}

/** A callable the declarations may use: an imported helper, an earlier declaration or a builtin. */
interface Callable {
  readonly name: string
  /** The declaration defining it, absent for imports and builtins. */
  readonly index?: number
}

interface Scope {
  readonly callables: Array<Callable>
  readonly types: Array<Callable>
}

type Render = (spec: Spec, i: number, scope: Scope) => Declaration

const pickFrom = <A>(items: ReadonlyArray<A>, at: number): A | undefined =>
  items.length === 0 ? undefined : items[at % items.length]

const uses = (callable: Callable | undefined) =>
  callable?.index === undefined ? [] : [{ index: callable.index, name: callable.name }]

const renderTs =
  (javascript: boolean): Render =>
  (s, i, scope) => {
    const ref = pickFrom(scope.callables, s.pick)
    const call = ref?.name ?? "Math.abs"
    const t = (type: string) => (javascript ? "" : type)
    const declaration = (code: string, defines: ReadonlyArray<string>, using = uses(ref)): Declaration => ({
      code,
      defines,
      dependencies: using
    })
    switch (s.kind) {
      case "function":
        scope.callables.push({ name: `f${i}`, index: i })
        return declaration(
          `export function f${i}(value${t(": number")})${t(": number")} {\n  const doubled = value * 2\n  return ${call}(doubled)\n}`,
          [`f${i}`]
        )
      case "arrow":
        scope.callables.push({ name: `g${i}`, index: i })
        return declaration(
          `export const g${i} = (items${t(": ReadonlyArray<number>")})${t(": number")} =>\n  items.reduce((sum, item) => sum + ${call}(item), 0)`,
          [`g${i}`]
        )
      case "class":
        return declaration(
          [
            `export class C${i} {`,
            `  ${javascript ? "values" : "private readonly values: Array<number>"} = []`,
            `  add(value${t(": number")})${t(": this")} {`,
            `    this.values.push(${call}(value))`,
            `    return this`,
            `  }`,
            `  get total()${t(": number")} {`,
            `    return this.values.reduce((a, b) => a + b, 0)`,
            `  }`,
            `}`
          ].join("\n"),
          [`C${i}`]
        )
      case "const":
        scope.callables.push({ name: `limit${i}`, index: i })
        return declaration(
          `export const limit${i} = (value${t(": number")}) => ${call}(value - ${i})${s.flag ? ";" : ""}`,
          [`limit${i}`]
        )
      case "interface":
        if (!javascript) {
          scope.types.push({ name: `I${i}`, index: i })
          return declaration(
            `export interface I${i} {\n  readonly id: string\n  readonly score: number\n}`,
            [`I${i}`],
            []
          )
        }
        break
      case "alias": {
        const type = pickFrom(scope.types, s.pick)
        if (!javascript)
          return type === undefined
            ? declaration(`export type T${i} = Record<string, Array<number>>`, [`T${i}`], [])
            : declaration(
                `export type T${i} = Readonly<${type.name}> & {\n  readonly tags: Partial<Record<string, boolean>>\n}`,
                [`T${i}`],
                uses(type)
              )
        break
      }
      case "enum":
        if (!javascript)
          return declaration(`export enum E${i} {\n  Low = 1,\n  High = Low * 10\n}`, [`E${i}`], [])
        break
      default:
        break
    }
    return declaration(`if (${call}(1) > 0) {\n  console.log("ready", JSON.stringify({ at: ${i} }))\n}`, [])
  }

const renderPy: Render = (s, i, scope) => {
  const ref = pickFrom(scope.callables, s.pick)
  const call = ref?.name ?? "abs"
  const declaration = (code: string, defines: ReadonlyArray<string>): Declaration => ({
    code,
    defines,
    dependencies: uses(ref)
  })
  switch (s.kind) {
    case "function":
      scope.callables.push({ name: `f${i}`, index: i })
      return declaration(`def f${i}(value):\n    doubled = value * 2\n    return ${call}(doubled)`, [`f${i}`])
    case "arrow":
      scope.callables.push({ name: `g${i}`, index: i })
      return declaration(`g${i} = lambda value: ${call}(value) + 1`, [`g${i}`])
    case "class":
      return declaration(
        [
          `class C${i}:`,
          `    """Values added through ${call}."""`,
          ``,
          `    def __init__(self):`,
          `        self.values = []`,
          ``,
          `    def add(self, value):`,
          `        self.values.append(${call}(value))`,
          `        return self`
        ].join("\n"),
        [`C${i}`]
      )
    case "const":
      scope.callables.push({ name: `h${i}`, index: i })
      return declaration(
        `def h${i}(values):\n    return [${call}(v) for v in values if isinstance(v, int) and v > 0]`,
        [`h${i}`]
      )
    default:
      return declaration(`if __name__ == "__main__":\n    print(${call}(${i}), len(sorted({1: 2})))`, [])
  }
}

const moduleOf = (language: ValidatedLanguage, kinds: ReadonlyArray<string>, render: Render) =>
  fc
    .record({
      imports: fc.nat(3),
      specs: fc.array(fc.record({ kind: fc.constantFrom(...kinds), pick: fc.nat(50), flag: fc.boolean() }), {
        minLength: 1,
        maxLength: 8
      })
    })
    .map(({ imports, specs }): GeneratedModule => {
      const scope: Scope = { callables: [], types: [] }
      const lines: Array<string> = []
      for (let k = 0; k < imports; k++) {
        scope.callables.push({ name: `helper${k}` })
        lines.push(
          language === "python"
            ? `from lib${k} import helper${k}`
            : language === "javascript"
              ? `import { helper${k} } from "./lib${k}.js"`
              : `import { helper${k}, type Shape${k} } from "./lib${k}.js"`
        )
      }
      if (language === "typescript") for (let k = 0; k < imports; k++) scope.types.push({ name: `Shape${k}` })
      return {
        language,
        imports: lines.join("\n"),
        declarations: specs.map((spec, i) => render(spec, i, scope))
      }
    })

export const generatedModules: Record<ValidatedLanguage, fc.Arbitrary<GeneratedModule>> = {
  typescript: moduleOf(
    "typescript",
    ["function", "arrow", "class", "const", "interface", "alias", "enum", "statement"],
    renderTs(false)
  ),
  javascript: moduleOf("javascript", ["function", "arrow", "class", "const", "statement"], renderTs(true)),
  python: moduleOf("python", ["function", "arrow", "class", "const", "statement"], renderPy)
}
