import type { PlannedAtom, PlannedMember } from "./PlannedAtom.js"
import {
  groupRuns,
  joins,
  symbolsBesides,
  unique,
  unitsOf,
  type Unit,
  type UnitDescription
} from "./planUnits.js"
import { pythonImportBindings } from "./importBindings.js"
import { boundNames, pythonImportedNames, pythonSymbolUses, targetNames } from "./pythonSymbols.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/**
 * The atoms of a Python module: each top-level function, class (a shell and its methods), import
 * block, assignment and statement (an `if __name__ == "__main__":` block is one, named `__main__`).
 * Nested functions stay inside the atom that holds them.
 */
export const planPythonAtoms = (
  text: string,
  root: SyntaxNode,
  lineAt: (offset: number) => number
): Array<PlannedAtom> => {
  const units = unitsOf(root.children)
  const described = units.map((unit, i) => describe(text, unit, lineAt(unit.start), i === 0))
  return groupRuns(described, joins).map((run) => {
    const first = run[0]!
    const last = run[run.length - 1]!
    if (run.length === 1 && first.kind === "class") {
      const split = planClass(text, first)
      if (split !== undefined) return split
    }
    const defines = unique(run.flatMap((item) => item.defines))
    const nodes = run.flatMap((item) => item.unit.nodes)
    return {
      kind: first.kind,
      name: first.name,
      defines,
      ...symbolsBesides(pythonSymbolUses(text, nodes), defines),
      imports:
        first.kind === "import" ? run.flatMap((item) => pythonImportBindings(text, item.unit.main)) : [],
      parent: undefined,
      start: first.unit.start,
      end: last.unit.end,
      body: undefined
    }
  })
}

interface Described extends UnitDescription {
  readonly unit: Unit
}

/** The definition a decorated definition decorates, or the node itself. */
const definitionOf = (node: SyntaxNode): SyntaxNode =>
  node.type === "decorated_definition" ? (fieldOf(node, "definition") ?? node) : node

const nameOf = (text: string, node: SyntaxNode): string => {
  const name = fieldOf(node, "name")
  return name === undefined ? "" : text.slice(name.start, name.end)
}

/** `if __name__ == "__main__":` (either way round, either quotes). */
const isMainGuard = (text: string, node: SyntaxNode): boolean => {
  const condition = fieldOf(node, "condition")
  if (condition?.type !== "comparison_operator") return false
  const sides = condition.children
    .filter((child) => child.named)
    .map((child) => text.slice(child.start, child.end))
  return (
    sides.length === 2 &&
    sides.includes("__name__") &&
    sides.some((side) => side === '"__main__"' || side === "'__main__'")
  )
}

const describe = (text: string, unit: Unit, line: number, first: boolean): Described => {
  const node = definitionOf(unit.main)
  const of = (kind: UnitDescription["kind"], name: string, defines: ReadonlyArray<string>): Described => ({
    kind,
    name,
    defines,
    unit
  })
  switch (node.type) {
    case "function_definition":
      return of("function", nameOf(text, node), [nameOf(text, node)])
    case "class_definition":
      return of("class", nameOf(text, node), [nameOf(text, node)])
    case "import_statement":
    case "import_from_statement":
    case "future_import_statement": {
      const names: Array<string> = []
      pythonImportedNames(text, node, names)
      return of("import", `import@${line}`, names)
    }
    case "type_alias_statement": {
      const names: Array<string> = []
      boundNames(text, node, names)
      return of("type", names[0] ?? `type@${line}`, names)
    }
    case "expression_statement": {
      const expression = node.children.find((child) => child.named)
      if (expression?.type === "assignment") {
        const names = assignedNames(text, expression)
        if (names.includes("__all__")) return of("export", "__all__", names)
        return of("variable", names[0] ?? `variable@${line}`, names)
      }
      if (expression?.type === "string" && first) return of("statement", "__doc__", [])
      return of("statement", `expression@${line}`, [])
    }
    case "if_statement":
      if (isMainGuard(text, node)) return of("statement", "__main__", moduleBindings(text, node))
      return of("statement", `if@${line}`, moduleBindings(text, node))
    default:
      return of("statement", `${node.type.replace(/_statement$/, "")}@${line}`, moduleBindings(text, node))
  }
}

/** The targets of `a = b = value` (every link of the chain). */
const assignedNames = (text: string, assignment: SyntaxNode): Array<string> => {
  const names: Array<string> = []
  for (
    let link: SyntaxNode | undefined = assignment;
    link?.type === "assignment";
    link = fieldOf(link, "right")
  ) {
    const left = fieldOf(link, "left")
    if (left !== undefined) targetNames(text, left, names)
  }
  return unique(names)
}

/** What a top-level compound statement binds at module level (`try: import x`, a loop variable). */
const moduleBindings = (text: string, node: SyntaxNode): Array<string> => {
  const names: Array<string> = []
  boundNames(text, node, names)
  return unique(names)
}

/**
 * A class as a shell and its methods: each method (with its `@x.setter`, its `@overload`s) an
 * atom `Class.method`; assignments, docstrings and nested classes stay in the shell, which
 * defines the class and its attributes. A class without a method stays whole (and still defines its
 * attributes).
 */
const planClass = (text: string, described: Described): PlannedAtom | undefined => {
  const node = definitionOf(described.unit.main)
  const body = fieldOf(node, "body")
  const colon = node.children.find((child) => child.type === ":" && child.end <= (body?.start ?? 0))
  if (body === undefined || colon === undefined) return undefined
  const className = described.name
  const members = unitsOf(body.children).map((unit) => {
    const definition = definitionOf(unit.main)
    const isMethod = definition.type === "function_definition"
    const names: Array<string> = []
    if (isMethod || definition.type === "class_definition") names.push(nameOf(text, definition))
    else boundNames(text, unit.main, names)
    const defines = unique(names).map((name) => `${className}.${name}`)
    return {
      unit,
      kind: isMethod ? ("method" as const) : ("variable" as const),
      name: defines[0] ?? "",
      defines
    }
  })
  const runs = groupRuns(members, (before, after) => before.kind === "method" && joins(before, after))
  const skip = new Set<SyntaxNode>()
  const planned: Array<PlannedMember> = runs.map((run) => {
    const start = run[0]!.unit.start
    const end = run[run.length - 1]!.unit.end
    if (run[0]!.kind !== "method") return { start, end, atom: undefined }
    const nodes = run.flatMap((member) => member.unit.nodes)
    for (const member of nodes) skip.add(member)
    const defines = unique(run.flatMap((member) => member.defines))
    return {
      start,
      end,
      atom: {
        kind: "method",
        name: run[0]!.name,
        defines,
        ...symbolsBesides(pythonSymbolUses(text, nodes), defines),
        imports: [],
        parent: className,
        start,
        end,
        body: undefined
      }
    }
  })
  const defines = unique([
    className,
    ...runs.flatMap((run) => (run[0]!.kind === "method" ? [] : run.flatMap((member) => member.defines)))
  ])
  return {
    kind: "class",
    name: className,
    defines,
    ...symbolsBesides(pythonSymbolUses(text, described.unit.nodes, skip), defines),
    imports: [],
    parent: undefined,
    start: described.unit.start,
    end: described.unit.end,
    body: runs.some((run) => run[0]!.kind === "method")
      ? { open: colon.end, close: undefined, members: planned }
      : undefined
  }
}
