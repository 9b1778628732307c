import type { Example } from "@devmatrix/core"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import ts from "typescript"

/**
 * Real code to retrieve from: the top-level declarations of a few of effect's own modules (its
 * sources ship in the package, at the version the lockfile pins), parsed with the TypeScript
 * compiler. Each becomes an example as an accepted atom would be: its code, its kind, the names it
 * defines, the module's names it uses, and its doc comment's first sentence as the instruction.
 */
const modules = [
  "Array",
  "String",
  "Number",
  "Order",
  "Option",
  "Either",
  "Record",
  "Predicate",
  "Duration",
  "Chunk"
]

const effectSources = join(dirname(createRequire(import.meta.url).resolve("effect/package.json")), "src")

const kindOf = (statement: ts.Statement): string | undefined => {
  if (ts.isFunctionDeclaration(statement)) return "function"
  if (ts.isClassDeclaration(statement)) return "class"
  if (ts.isInterfaceDeclaration(statement)) return "interface"
  if (ts.isTypeAliasDeclaration(statement)) return "type"
  if (ts.isVariableStatement(statement)) {
    const init = statement.declarationList.declarations[0]?.initializer
    return init !== undefined && (ts.isArrowFunction(init) || ts.isCallExpression(init))
      ? "function"
      : "constant"
  }
  return undefined
}

const namesOf = (statement: ts.Statement): ReadonlyArray<string> => {
  if (ts.isVariableStatement(statement))
    return statement.declarationList.declarations.flatMap((d) =>
      ts.isIdentifier(d.name) ? [d.name.text] : []
    )
  const name = (statement as ts.DeclarationStatement).name
  return name !== undefined && ts.isIdentifier(name) ? [name.text] : []
}

/** The first sentence of a statement's JSDoc, if it has one. */
const instructionOf = (statement: ts.Statement): string | undefined => {
  const [doc] = ts.getJSDocCommentsAndTags(statement).filter(ts.isJSDoc)
  const comment = typeof doc?.comment === "string" ? doc.comment : undefined
  const sentence = comment
    ?.split(/(?<=\.)\s/)[0]
    ?.replace(/\s+/g, " ")
    .trim()
  return sentence === undefined || sentence === "" ? undefined : sentence
}

const identifiersIn = (node: ts.Node, into: Set<string>) => {
  if (ts.isIdentifier(node)) into.add(node.text)
  node.forEachChild((child) => identifiersIn(child, into))
}

/**
 * Every declaration of at most `maxLines` lines in the modules, in file order; an overload or a
 * merged declaration of a name already seen gets `#2`, `#3`... after its id.
 */
export const effectExamples = (maxLines = 20): ReadonlyArray<Example> => {
  const seen = new Map<string, number>()
  return modules.flatMap((module) => {
    const file = join(effectSources, `${module}.ts`)
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true)
    const declared = new Set(source.statements.flatMap(namesOf))
    return source.statements.flatMap((statement): Array<Example> => {
      const kind = kindOf(statement)
      const defines = namesOf(statement)
      const code = statement.getText(source)
      if (kind === undefined || defines.length === 0 || code.split("\n").length > maxLines) return []
      const used = new Set<string>()
      identifiersIn(statement, used)
      const instruction = instructionOf(statement)
      const base = `effect/${module}/${defines[0]}`
      const nth = (seen.get(base) ?? 0) + 1
      seen.set(base, nth)
      return [
        {
          id: nth === 1 ? base : `${base}#${nth}`,
          code,
          language: "typescript",
          kind,
          defines,
          uses: [...used].filter((name) => declared.has(name) && !defines.includes(name)).sort(),
          ...(instruction === undefined ? {} : { instruction })
        }
      ]
    })
  })
}

/** Small hand-written examples in each language, for the filters. */
export const smallExamples: ReadonlyArray<Example> = [
  {
    id: "ts/parseTodo",
    code: "export const parseTodo = (json: string): Todo => {\n  const value = JSON.parse(json)\n  return { id: String(value.id), title: String(value.title), done: Boolean(value.done) }\n}",
    language: "typescript",
    kind: "function",
    defines: ["parseTodo"],
    uses: ["Todo"],
    instruction: "Parse a todo item from its JSON text."
  },
  {
    id: "ts/Todo",
    code: "export interface Todo {\n  readonly id: string\n  readonly title: string\n  readonly done: boolean\n}",
    language: "typescript",
    kind: "type",
    defines: ["Todo"],
    uses: [],
    instruction: "The todo item: an id, a title and whether it is done."
  },
  {
    id: "ts/TodoStore",
    code: "export class TodoStore {\n  private readonly items = new Map<string, Todo>()\n  add(todo: Todo): void {\n    this.items.set(todo.id, todo)\n  }\n}",
    language: "typescript",
    kind: "class",
    defines: ["TodoStore"],
    uses: ["Todo"],
    instruction: "Keep todo items in memory by id."
  },
  {
    id: "js/parseTodo",
    code: "export function parseTodo(json) {\n  const value = JSON.parse(json)\n  return { id: String(value.id), title: String(value.title), done: Boolean(value.done) }\n}",
    language: "javascript",
    kind: "function",
    defines: ["parseTodo"],
    uses: [],
    instruction: "Parse a todo item from its JSON text."
  },
  {
    id: "py/parse_todo",
    code: 'def parse_todo(text: str) -> Todo:\n    value = json.loads(text)\n    return Todo(id=str(value["id"]), title=str(value["title"]), done=bool(value["done"]))',
    language: "python",
    kind: "function",
    defines: ["parse_todo"],
    uses: ["Todo"],
    instruction: "Parse a todo item from its JSON text."
  },
  {
    id: "py/Todo",
    code: "@dataclass(frozen=True)\nclass Todo:\n    id: str\n    title: str\n    done: bool = False",
    language: "python",
    kind: "class",
    defines: ["Todo"],
    uses: [],
    instruction: "The todo item: an id, a title and whether it is done."
  }
]
