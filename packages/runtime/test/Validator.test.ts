import { it as effectIt } from "@effect/vitest"
import { AtomValidation, validationPassed, type AtomParent, type SourceAtom } from "@devmatrix/core"
import {
  makeAtomizer,
  makeValidator,
  Validator,
  ValidatorLive,
  type ValidateAtomRequest
} from "@devmatrix/runtime"
import { Effect, Either, Schema } from "effect"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { generatedModules, type GeneratedModule, type ValidatedLanguage } from "./validator/declarations.js"

/**
 * The validator on real tree-sitter, for each language: each level catches what it should (broken
 * syntax; a missing definition, a placeholder, an atom over its budget; an unresolved symbol, a
 * module that does not assemble) and passes valid code; and properties over generated modules.
 */

const numRuns = Number(process.env["DEVMATRIX_PROPERTY_RUNS"] ?? 100)
const validator = makeValidator()

const validate = (request: Partial<ValidateAtomRequest> & Pick<ValidateAtomRequest, "language" | "code">) =>
  Effect.runSync(validator.validateAtom({ defines: [], maxLines: 10, dependencies: [], ...request }))

const messages = (validation: AtomValidation) => validation.problems.map((problem) => problem.message)

const passed: AtomValidation = { level: "L3", problems: [] }

describe("Validator: TypeScript", () => {
  const language = "typescript"

  it("passes valid code: a function using an import, a dependency and globals", () => {
    const code = [
      "export function parseConfig(text: string): Partial<Config> {",
      "  const parsed: unknown = JSON.parse(text)",
      "  if (typeof parsed !== 'object' || parsed === null) throw new TypeError('not an object')",
      "  return { ...defaults, ...(parsed as Record<string, unknown>), at: formatDate(new Date()) }",
      "}"
    ].join("\n")
    expect(
      validate({
        language,
        code,
        defines: ["parseConfig"],
        moduleContext: 'import type { Config } from "./config.js"\nimport { formatDate } from "./dates.js"',
        dependencies: [{ code: "const defaults: Partial<Config> = { retries: 3 }" }]
      })
    ).toEqual(passed)
  })

  it("passes a method parsed inside its class, its type parameter in scope", () => {
    const code =
      "  take(count: number): ReadonlyArray<T> {\n    return this.items.slice(0, Math.max(0, count))\n  }"
    expect(
      validate({
        language,
        code,
        defines: ["take"],
        parent: { kind: "class", name: "Queue", typeParameters: ["T"] }
      })
    ).toEqual(passed)
    expect(
      validate({ language, code, defines: ["Queue.take"], parent: { kind: "class", name: "Queue" } })
    ).toEqual({
      level: "L3",
      problems: [
        {
          level: "L3",
          message: "L3 module: uses T at 1:38, which nothing defines or imports",
          line: 1,
          column: 38
        }
      ]
    })
  })

  it("L1: a missing closing brace, at its line and column", () => {
    const validation = validate({
      language,
      code: "export function total(values: number[]): number {\n  return values.reduce((a, b) => a + b, 0)\n",
      defines: ["total"]
    })
    expect(validation.level).toBe("L1")
    expect(validation.problems).toEqual([
      { level: "L1", message: 'L1 syntax: missing "}" at 2:43', line: 2, column: 43 }
    ])
  })

  it("L1: an elided body (...) is named a placeholder", () => {
    expect(
      messages(
        validate({ language, code: "function load(path: string): string {\n  ...\n}", defines: ["load"] })
      )
    ).toEqual(['L1 syntax: placeholder "..." instead of code at 2:3'])
    expect(
      messages(
        validate({ language, code: "function load(path: string): string {\n  const text = path\n  ...\n}" })
      )
    ).toEqual(['L1 syntax: placeholder "..." instead of code at 3:3'])
  })

  it("L1: a return outside a function, which the grammar accepts and the language does not", () => {
    expect(messages(validate({ language, code: "const limit = 10\nreturn limit" }))).toEqual([
      'L1 syntax: "return" outside a function at 2:1'
    ])
  })

  it("L2: over the line budget, counting non-blank lines", () => {
    const body = Array.from({ length: 12 }, (_, i) => `  const v${i} = ${i}\n`).join("\n")
    const validation = validate({
      language,
      code: `function long(): number {\n${body}  return 0\n}`,
      defines: ["long"]
    })
    expect(validation.level).toBe("L2")
    expect(messages(validation)).toEqual(["L2 contract: 15 non-blank lines, the limit is 10"])
  })

  it("L2: a missing definition names what the code defines instead", () => {
    expect(
      messages(
        validate({
          language,
          code: "export const loadConfig = (text: string) => JSON.parse(text)",
          defines: ["parseConfig"]
        })
      )
    ).toEqual(["L2 contract: does not define parseConfig (it defines loadConfig)"])
  })

  it("L2: placeholders found in the tree, not in names or strings", () => {
    const code = [
      "export function render(todoList: string[]): string {",
      "  // TODO: escape the items",
      '  const label = "TODO list"',
      "  return label + todoList.join()",
      "}",
      "export function save(): void {",
      '  throw new Error("Not implemented yet")',
      "}"
    ].join("\n")
    expect(validate({ language, code, defines: ["render", "save"] })).toEqual({
      level: "L2",
      problems: [
        { level: "L2", message: 'L2 contract: placeholder "TODO" at line 2', line: 2, column: 6 },
        {
          level: "L2",
          message: 'L2 contract: placeholder "throw new Error("Not implemented yet")" at line 7',
          line: 7,
          column: 3
        }
      ]
    })
  })

  it("L2: an empty answer", () => {
    expect(messages(validate({ language, code: "\n  \n", defines: ["x"] }))).toEqual([
      "L2 contract: the code is empty",
      "L2 contract: does not define x (it defines nothing)"
    ])
  })

  it("L3: an unresolved symbol, at its first use", () => {
    const validation = validate({
      language,
      code: "export function stamp(at: Date): string {\n  return `${formatDate(at)}: ${label}`\n}",
      defines: ["stamp"],
      moduleContext: 'import { label } from "./label.js"'
    })
    expect(validation).toEqual({
      level: "L3",
      problems: [
        {
          level: "L3",
          message: "L3 module: uses formatDate at 2:13, which nothing defines or imports",
          line: 2,
          column: 13
        }
      ]
    })
  })

  it("L3: a namespace member's use of its sibling resolves through the namespace", () => {
    expect(
      validate({
        language,
        code: "export function w(): number {\n  return v + 1\n}",
        defines: ["w"],
        parent: { kind: "namespace", name: "N" },
        dependencies: [{ code: "export const v = 1", parent: { kind: "namespace", name: "N" } }]
      })
    ).toEqual(passed)
  })

  it("L3: a dependency that does not parse, and a file that does not assemble", () => {
    expect(
      messages(
        validate({
          language,
          code: "export const twice = (n: number) => double(double(n))",
          defines: ["twice"],
          dependencies: [{ code: "const double = (n: number) => n * 2)" }]
        })
      )
    ).toEqual([
      'L3 module: dependency 1 does not parse: unexpected ")" at 1:36 of it',
      "L3 module: uses double at 1:37, which nothing defines or imports"
    ])
    // A hashbang is valid only on a file's first line: each part parses, the file does not.
    expect(
      messages(
        validate({
          language,
          code: "#!/usr/bin/env node\nconsole.log(double(2))",
          dependencies: [{ code: "const double = (n: number) => n * 2" }]
        })
      )
    ).toEqual([
      'L3 module: the assembled file does not parse: unexpected "#!/usr/bin/env node" at 3:1 of the file (in this atom)'
    ])
  })
})

describe("Validator: TSX and JSX", () => {
  const component = [
    "export function Badge({ label }: { label: string }) {",
    '  return <span className="badge">{label}</span>',
    "}"
  ].join("\n")

  it("parses an atom of a .tsx file with the TSX grammar, and JSX in JavaScript", () => {
    expect(
      validate({ language: "typescript", file: "src/Badge.tsx", code: component, defines: ["Badge"] })
    ).toEqual(passed)
    expect(validate({ language: "typescript", code: component, defines: ["Badge"] }).level).toBe("L1")
    expect(
      validate({
        language: "javascript",
        file: "src/Badge.jsx",
        code: "export const Badge = ({ label }) => <Label text={label} />",
        defines: ["Badge"]
      })
    ).toEqual({
      level: "L3",
      problems: [
        {
          level: "L3",
          message: "L3 module: uses Label at 1:38, which nothing defines or imports",
          line: 1,
          column: 38
        }
      ]
    })
  })
})

describe("Validator: JavaScript", () => {
  const language = "javascript"

  it("passes valid code: a class using an import and a dependency", () => {
    const code = [
      "export class Cart {",
      "  #items = new Map()",
      "  add(sku, count = 1) {",
      "    this.#items.set(sku, (this.#items.get(sku) ?? 0) + count)",
      "    return this",
      "  }",
      "  total() {",
      "    return [...this.#items].reduce((sum, [sku, n]) => sum + priceOf(sku) * n, 0)",
      "  }",
      "}"
    ].join("\n")
    expect(
      validate({
        language,
        code,
        defines: ["Cart"],
        moduleContext: 'import { prices } from "./prices.js"',
        dependencies: [{ code: "const priceOf = (sku) => prices[sku] ?? 0" }]
      })
    ).toEqual(passed)
  })

  it("L1: a missing parenthesis", () => {
    expect(
      messages(validate({ language, code: "function log(x) {\n  console.log(x\n}", defines: ["log"] }))
    ).toEqual(['L1 syntax: unclosed "(" at 2:14'])
  })

  it("L2: a stub, a FIXME, and a missing definition", () => {
    const code =
      "// FIXME: handle retries\nexport async function fetchAll(urls) {\n  throw new Error('TODO')\n}"
    expect(messages(validate({ language, code, defines: ["fetchAll", "fetchOne"] }))).toEqual([
      "L2 contract: does not define fetchOne (it defines fetchAll)",
      'L2 contract: placeholder "FIXME" at line 1',
      "L2 contract: placeholder \"throw new Error('TODO')\" at line 3"
    ])
  })

  it("L2: over the line budget", () => {
    const code = `export const table = [\n${Array.from({ length: 10 }, (_, i) => `  ${i},`).join("\n")}\n]`
    expect(messages(validate({ language, code, defines: ["table"] }))).toEqual([
      "L2 contract: 12 non-blank lines, the limit is 10"
    ])
  })

  it("L3: an unresolved symbol; Node and ECMAScript globals resolve", () => {
    const code = "export function main() {\n  process.exitCode = run(JSON.parse(readFileSync(0, 'utf8')))\n}"
    expect(
      validate({ language, code, defines: ["main"], moduleContext: 'import { readFileSync } from "node:fs"' })
    ).toEqual({
      level: "L3",
      problems: [
        {
          level: "L3",
          message: "L3 module: uses run at 2:22, which nothing defines or imports",
          line: 2,
          column: 22
        }
      ]
    })
  })
})

describe("Validator: Python", () => {
  const language = "python"

  it("passes valid code: a decorated function using imports, a dependency and builtins", () => {
    const code = [
      "@lru_cache(maxsize=None)",
      "def parse_config(path: str) -> dict[str, int]:",
      '    """Read a config file of name=value lines."""',
      "    with open(path, encoding='utf-8') as handle:",
      "        pairs = [line.split('=', 1) for line in handle if '=' in line]",
      "    return {name.strip(): to_int(value) for name, value in pairs}"
    ].join("\n")
    expect(
      validate({
        language,
        code,
        defines: ["parse_config"],
        moduleContext: "from functools import lru_cache",
        dependencies: [{ code: "def to_int(text):\n    return int(text.strip() or 0)" }]
      })
    ).toEqual(passed)
  })

  it("passes a method written flush left, parsed inside its class", () => {
    expect(
      validate({
        language,
        code: "def push(self, item):\n    self.items.append(item)\n    return len(self.items)",
        defines: ["push"],
        parent: { kind: "class", name: "Stack" }
      })
    ).toEqual(passed)
  })

  it("passes the stubs that are declarations: @overload, @abstractmethod, an exception class", () => {
    const code = [
      "class Store(ABC):",
      "    @abstractmethod",
      "    def get(self, key: str) -> bytes:",
      "        raise NotImplementedError",
      "    @overload",
      "    def put(self, key: str, value: str) -> None: ...",
      "class StoreError(Exception):",
      "    pass"
    ].join("\n")
    expect(
      validate({
        language,
        code,
        defines: ["Store", "StoreError"],
        moduleContext: "from abc import ABC, abstractmethod\nfrom typing import overload"
      })
    ).toEqual(passed)
  })

  it("L1: an unclosed parenthesis", () => {
    expect(
      validate({ language, code: "def area(width, height:\n    return width * height", defines: ["area"] })
        .level
    ).toBe("L1")
    expect(messages(validate({ language, code: "def area(width, height):\nreturn width * height" }))).toEqual(
      [
        "L1 syntax: the body of area is empty (is it indented?) at 1:25",
        'L1 syntax: "return" outside a function at 2:1'
      ]
    )
    expect(messages(validate({ language, code: "total = sum([1, 2, 3]", defines: ["total"] }))).toEqual([
      'L1 syntax: unclosed "(" at 1:12'
    ])
  })

  it("L2: pass, ... and raise NotImplementedError as bodies, a TODO comment", () => {
    const code = [
      "def load(path):",
      "    pass  # TODO",
      "def save(path, data):",
      '    """Write data."""',
      "    ...",
      "def close():",
      "    raise NotImplementedError('later')"
    ].join("\n")
    expect(validate({ language, code, defines: ["load", "save", "close"] })).toEqual({
      level: "L2",
      problems: [
        { level: "L2", message: 'L2 contract: placeholder "pass" at line 2', line: 2, column: 5 },
        { level: "L2", message: 'L2 contract: placeholder "TODO" at line 2', line: 2, column: 13 },
        { level: "L2", message: 'L2 contract: placeholder "..." at line 5', line: 5, column: 5 },
        {
          level: "L2",
          message: "L2 contract: placeholder \"raise NotImplementedError('later')\" at line 7",
          line: 7,
          column: 5
        }
      ]
    })
  })

  it("L2: over the line budget, and a missing definition", () => {
    const code = `def table():\n${Array.from({ length: 10 }, (_, i) => `    x${i} = ${i}`).join("\n\n")}\n    return x0`
    expect(messages(validate({ language, code, defines: ["table", "Table"] }))).toEqual([
      "L2 contract: 12 non-blank lines, the limit is 10",
      "L2 contract: does not define Table (it defines table)"
    ])
  })

  it("L3: an unresolved symbol; a method's position is in its own code", () => {
    expect(
      validate({
        language,
        code: "def render(self):\n    return format_date(self.at)",
        defines: ["render"],
        parent: { kind: "class", name: "Event" }
      })
    ).toEqual({
      level: "L3",
      problems: [
        {
          level: "L3",
          message: "L3 module: uses format_date at 2:12, which nothing defines or imports",
          line: 2,
          column: 12
        }
      ]
    })
  })
})

describe("Validator service", () => {
  effectIt.effect("is provided by ValidatorLive, and refuses a language it has no grammar for", () =>
    Effect.gen(function* () {
      const validator = yield* Validator
      const ok = yield* validator.validateAtom({
        language: "python",
        code: "x = 1",
        defines: ["x"],
        maxLines: 10,
        dependencies: []
      })
      expect(validationPassed(ok)).toBe(true)
      // A verdict is data of its Schema, as a row or an event would carry it.
      const failed = yield* validator.validateAtom({
        language: "python",
        code: "x = (1",
        defines: ["x"],
        maxLines: 10,
        dependencies: []
      })
      expect(Schema.decodeUnknownSync(AtomValidation)(JSON.parse(JSON.stringify(failed)))).toEqual(failed)
      expect(validationPassed(failed)).toBe(false)
      const refused = yield* Effect.either(
        validator.validateAtom({
          language: "ruby",
          code: "x = 1",
          defines: [],
          maxLines: 10,
          dependencies: []
        })
      )
      expect(Either.isLeft(refused) && refused.left.reason).toBe("UnsupportedLanguage")
    }).pipe(Effect.provide(ValidatorLive))
  )
})

/** The type parameters a class shell declares (`class Box<T, U = string>`: T and U). */
const typeParametersOf = (shell: SourceAtom | undefined): ReadonlyArray<string> => {
  const list =
    shell === undefined ? undefined : /class\s+\w+\s*<([^{]*?)>\s*(?:extends|implements|\{)/.exec(shell.text)
  return list === undefined || list === null
    ? []
    : list[1]!.split(",").map((part) => part.trim().split(/[\s=]/)[0]!)
}

describe("Validator on real files", () => {
  const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "atomizer")
  const atomizer = makeAtomizer()
  const files = [
    ["typescript", "typescript/todo-service.ts"],
    ["typescript", "typescript/effect-Equal.ts"],
    ["typescript", "typescript/effect-Effectable.ts"],
    ["javascript", "javascript/job-queue.js"],
    ["javascript", "javascript/ws-event-target.js"],
    ["python", "python/inventory.py"],
    ["python", "python/idlelib-zzdummy.py"],
    ["python", "large/ipaddress.py"]
  ] as const

  /**
   * Every atom of the file, validated as generated code would be: its own text, the symbols the
   * atomizer found it defines, its dependencies (the atoms defining what it uses) and the file's
   * import atoms as the module context. What fails, by atom name.
   */
  const failuresOf = (language: (typeof files)[number][0], path: string) => {
    const text = readFileSync(join(fixtures, path), "utf8")
    const atoms = Effect.runSync(atomizer.atomize({ path, language, text }))
    const definedBy = new Map(atoms.flatMap((atom) => atom.defines.map((name) => [name, atom] as const)))
    const parentOf = (atom: SourceAtom): AtomParent | undefined => {
      if (atom.parent === undefined) return undefined
      const shell = atoms.find((other) => other.name === atom.parent)
      return {
        kind: shell?.kind === "namespace" ? "namespace" : "class",
        name: atom.parent,
        typeParameters: typeParametersOf(shell)
      }
    }
    const failures: Record<string, ReadonlyArray<string>> = {}
    for (const atom of atoms) {
      if (atom.kind === "import") continue
      const dependencies = new Set(
        atom.uses.flatMap((name) => {
          const by = definedBy.get(name) ?? definedBy.get(name.split(".")[0]!)
          return by === undefined || by === atom || by.kind === "import" ? [] : [by]
        })
      )
      const validation = validate({
        language,
        code: atom.text,
        defines: atom.defines,
        maxLines: Number.MAX_SAFE_INTEGER,
        parent: parentOf(atom),
        moduleContext: atoms
          .filter((other) => other.kind === "import")
          .map((other) => other.text)
          .join("\n"),
        dependencies: [...dependencies].map((dependency) => ({
          code: dependency.text,
          parent: parentOf(dependency)
        }))
      })
      if (validation.problems.length > 0) failures[atom.name] = messages(validation)
    }
    return { atoms: atoms.length, failures }
  }

  it.each(files)(
    "%s %s: every atom passes with its dependencies and the file's imports",
    (language, path) => {
      const { atoms, failures } = failuresOf(language, path)
      expect(atoms).toBeGreaterThan(5)
      // The standard library's ipaddress has two abstract properties that raise
      // NotImplementedError without @abstractmethod: as generated code, those are stubs.
      expect(failures).toEqual(
        path === "large/ipaddress.py"
          ? {
              "_IPAddressBase.version": [
                'L2 contract: placeholder "raise NotImplementedError(msg)" at line 5'
              ],
              "_BaseNetwork._address_class": [
                'L2 contract: placeholder "raise NotImplementedError(msg)" at line 8'
              ]
            }
          : {}
      )
    }
  )
})

/** Validates a generated module's declaration `index` with its dependencies (code replaced by `edit`). */
const validateDeclaration = (
  module: GeneratedModule,
  index: number,
  edit: { readonly code?: string; readonly dependency?: (code: string) => string } = {}
) => {
  const declaration = module.declarations[index]!
  return validate({
    language: module.language,
    code: edit.code ?? declaration.code,
    defines: declaration.defines,
    moduleContext: module.imports,
    dependencies: declaration.dependencies.map(({ index: at }) => ({
      code: (edit.dependency ?? ((code: string) => code))(module.declarations[at]!.code)
    }))
  })
}

const closingBrackets = /[)\]}]/g

describe.each(["typescript", "javascript", "python"] as const)(
  "Validator properties: %s",
  (language: ValidatedLanguage) => {
    const modules = generatedModules[language]

    it("valid generated declarations pass L1-L3", () => {
      fc.assert(
        fc.property(modules, (module) => {
          module.declarations.forEach((_, i) => expect(validateDeclaration(module, i)).toEqual(passed))
        }),
        { numRuns }
      )
    })

    it("deleting a closing bracket makes L1 fail", () => {
      fc.assert(
        fc.property(modules, fc.nat(), fc.nat(), (module, which, where) => {
          const declaration = module.declarations[which % module.declarations.length]!
          const brackets = [...declaration.code.matchAll(closingBrackets)].map((found) => found.index)
          fc.pre(brackets.length > 0)
          const at = brackets[where % brackets.length]!
          const code = declaration.code.slice(0, at) + declaration.code.slice(at + 1)
          const validation = validateDeclaration(module, which % module.declarations.length, { code })
          expect(validation.level).toBe("L1")
          expect(validation.problems.length).toBeGreaterThan(0)
          for (const problem of validation.problems)
            expect(problem.message).toMatch(/^L1 syntax: .* at \d+:\d+$/)
        }),
        { numRuns }
      )
    })

    it("renaming a used dependency symbol makes L3 fail, naming it", () => {
      fc.assert(
        fc.property(modules, fc.nat(), (module, which) => {
          const using = module.declarations.flatMap((declaration, i) =>
            declaration.dependencies.length > 0 ? [i] : []
          )
          fc.pre(using.length > 0)
          const index = using[which % using.length]!
          const { name } = module.declarations[index]!.dependencies[0]!
          const rename = (code: string) => code.replace(new RegExp(`\\b${name}\\b`, "g"), `${name}Renamed`)
          const validation = validateDeclaration(module, index, { dependency: rename })
          expect(validation.level).toBe("L3")
          expect(messages(validation)).toContainEqual(
            expect.stringMatching(
              new RegExp(`^L3 module: uses ${name} at \\d+:\\d+, which nothing defines or imports$`)
            )
          )
        }),
        { numRuns }
      )
    })
  }
)
