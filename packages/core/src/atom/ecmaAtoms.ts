import { declaredNames, ecmaSymbolUses, importedNames } from "./ecmaSymbols.js"
import { ecmaImportBindings } from "./importBindings.js"
import type { PlannedAtom, PlannedMember } from "./PlannedAtom.js"
import {
  groupRuns,
  joins,
  noUses,
  qualifyUses,
  symbolsBesides,
  unique,
  unitsOf,
  type Unit,
  type UnitDescription
} from "./planUnits.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/**
 * The atoms of a TypeScript or JavaScript program: each top-level declaration or statement, an
 * import block, an export block; a class split into its shell and its methods, a namespace into
 * its braces and its members. Nested functions stay inside the atom that holds them.
 */
export const planEcmaAtoms = (
  text: string,
  root: SyntaxNode,
  lineAt: (offset: number) => number
): Array<PlannedAtom> => planStatements({ text, lineAt }, unitsOf(root.children), "", undefined)

interface Context {
  readonly text: string
  readonly lineAt: (offset: number) => number
}

interface Described extends UnitDescription {
  readonly unit: Unit
  /** The class or namespace node, when the unit is one. */
  readonly container: SyntaxNode | undefined
}

const functionTypes: ReadonlySet<string> = new Set([
  "function_declaration",
  "generator_function_declaration",
  "function_signature",
  "function_expression",
  "function",
  "generator_function",
  "arrow_function"
])
const classTypes: ReadonlySet<string> = new Set(["class_declaration", "abstract_class_declaration", "class"])

const slice = (context: Context, node: SyntaxNode): string => context.text.slice(node.start, node.end)

/** The declaration a statement wraps: `export`, `declare`, a namespace parsed as an expression. */
const declarationOf = (node: SyntaxNode): SyntaxNode | undefined => {
  switch (node.type) {
    case "export_statement": {
      const inner = fieldOf(node, "declaration") ?? fieldOf(node, "value")
      if (inner === undefined) return undefined
      if (inner.field === "value" && !functionTypes.has(inner.type) && !classTypes.has(inner.type))
        return undefined
      return declarationOf(inner)
    }
    case "ambient_declaration": {
      const inner = node.children.find((child) => child.named && child.type !== "comment")
      return inner === undefined || inner.type === "statement_block" ? node : declarationOf(inner)
    }
    case "expression_statement": {
      const inner = node.children[0]
      return inner?.type === "internal_module" ? inner : node
    }
    default:
      return node
  }
}

/** A `require("m")` call, or a member of one (`require("m").x`). */
const isRequire = (context: Context, node: SyntaxNode | undefined): boolean => {
  if (node === undefined) return false
  if (node.type === "member_expression") return isRequire(context, fieldOf(node, "object"))
  if (node.type !== "call_expression") return false
  const callee = fieldOf(node, "function")
  return callee !== undefined && slice(context, callee) === "require"
}

const nameOrDefault = (context: Context, node: SyntaxNode): string => {
  const name = fieldOf(node, "name")
  return name === undefined ? "default" : slice(context, name)
}

const describe = (context: Context, unit: Unit, prefix: string): Described => {
  const { main } = unit
  const line = context.lineAt(unit.start)
  const inner = declarationOf(main)
  const named = (kind: UnitDescription["kind"], name: string, container?: SyntaxNode): Described => ({
    kind,
    name: prefix + name,
    defines: [prefix + name],
    unit,
    container
  })
  if (inner === undefined) return { ...exportDescription(context, main, line), unit, container: undefined }
  if (functionTypes.has(inner.type)) return named("function", nameOrDefault(context, inner))
  if (classTypes.has(inner.type)) return named("class", nameOrDefault(context, inner), inner)
  switch (inner.type) {
    case "interface_declaration":
    case "type_alias_declaration":
      return named("type", nameOrDefault(context, inner))
    case "enum_declaration":
      return named("enum", nameOrDefault(context, inner))
    case "internal_module":
    case "module": {
      const nameNode = fieldOf(inner, "name")
      if (nameNode?.type === "string") {
        // `declare module "m" { ... }` declares what an import of "m" gives, not a name here.
        const module = slice(context, nameNode).slice(1, -1)
        return { kind: "namespace", name: prefix + module, defines: [], unit, container: inner }
      }
      return named("namespace", nameOrDefault(context, inner), inner)
    }
    case "ambient_declaration":
      return { kind: "namespace", name: prefix + "global", defines: [], unit, container: undefined }
    case "lexical_declaration":
    case "variable_declaration": {
      const names: Array<string> = []
      declaredNames(context.text, inner, names)
      const declarators = inner.children.filter((child) => child.type === "variable_declarator")
      const values = declarators.map((declarator) => fieldOf(declarator, "value"))
      const kind =
        values.length > 0 && values.every((value) => isRequire(context, value))
          ? "import"
          : values.length === 1 && values[0] !== undefined && functionTypes.has(values[0].type)
            ? "function"
            : "variable"
      const defines = names.map((name) => prefix + name)
      const name = kind === "import" ? `import@${line}` : (defines[0] ?? `${prefix}${kind}@${line}`)
      return { kind, name, defines, unit, container: undefined }
    }
    case "import_statement":
    case "import_alias": {
      const names: Array<string> = []
      if (inner.type === "import_statement") importedNames(context.text, inner, names)
      else {
        const alias = inner.children.find((child) => child.type === "identifier")
        if (alias !== undefined) names.push(slice(context, alias))
      }
      return { kind: "import", name: `import@${line}`, defines: names, unit, container: undefined }
    }
    case "expression_statement": {
      const expression = inner.children[0]
      const target = expression?.type === "assignment_expression" ? fieldOf(expression, "left") : undefined
      const assigned = target === undefined ? "" : slice(context, target)
      if (assigned === "module.exports" || assigned.startsWith("exports."))
        return { kind: "export", name: `export@${line}`, defines: [], unit, container: undefined }
      return statement(inner, line, unit)
    }
    default:
      return statement(inner, line, unit)
  }
}

const statement = (node: SyntaxNode, line: number, unit: Unit): Described => ({
  kind: "statement",
  name: `${node.type.replace(/_statement$/, "")}@${line}`,
  defines: [],
  unit,
  container: undefined
})

/**
 * An export that declares nothing: `export { a, b as c }` uses its local names and defines none;
 * a re-export (`export { a } from "m"`, `export * as ns from "m"`) defines the names it exports;
 * `export default <expression>` defines `default`.
 */
const exportDescription = (context: Context, node: SyntaxNode, line: number): UnitDescription => {
  const names: Array<string> = []
  const source = fieldOf(node, "source")
  if (fieldOf(node, "value") !== undefined) names.push("default")
  if (source !== undefined) {
    for (const child of node.children) {
      if (child.type === "namespace_export") {
        const name = child.children.find((c) => c.named)
        if (name !== undefined) names.push(slice(context, name))
      }
      if (child.type !== "export_clause") continue
      for (const specifier of child.children) {
        if (specifier.type !== "export_specifier") continue
        const exported = fieldOf(specifier, "alias") ?? fieldOf(specifier, "name")
        if (exported !== undefined) names.push(slice(context, exported))
      }
    }
  }
  return { kind: "export", name: `export@${line}`, defines: names }
}

/** Plans a run of statements (a program, a namespace's block): each group of units one atom. */
const planStatements = (
  context: Context,
  units: ReadonlyArray<Unit>,
  prefix: string,
  parent: string | undefined
): Array<PlannedAtom> => {
  const described = units.map((unit) => describe(context, unit, prefix))
  return groupRuns(described, joins).map((run) => {
    const first = run[0]!
    const last = run[run.length - 1]!
    const defines = unique(run.flatMap((item) => item.defines))
    if (run.length === 1 && first.container !== undefined) {
      const split = classTypes.has(first.container.type)
        ? planClass(context, first, first.container)
        : planNamespace(context, first, first.container)
      if (split !== undefined) return { ...split, parent }
    }
    const nodes = run.flatMap((item) => item.unit.nodes)
    const imports = run.flatMap((item) =>
      item.unit.main.type === "export_statement" || item.kind === "import"
        ? ecmaImportBindings(
            context.text,
            item.kind === "import" ? (declarationOf(item.unit.main) ?? item.unit.main) : item.unit.main
          )
        : []
    )
    return {
      kind: first.kind,
      name: first.name,
      defines,
      // An import's only reference is `require` itself, which every CommonJS module has.
      ...(first.kind === "import" ? noUses : symbolsBesides(ecmaSymbolUses(context.text, nodes), defines)),
      imports,
      parent,
      start: first.unit.start,
      end: last.unit.end,
      body: undefined
    }
  })
}

/**
 * A body's braces. Not always its first and last child: tree-sitter hangs a comment that ends the
 * file on the deepest node that ends there, after the `}`.
 */
const bracesOf = (body: SyntaxNode | undefined) => ({
  open: body?.children.find((child) => child.type === "{"),
  close: body?.children.findLast((child) => child.type === "}")
})

const methodTypes: ReadonlySet<string> = new Set([
  "method_definition",
  "method_signature",
  "abstract_method_signature"
])

/** A member's name as written (`m`, `#p`, `[Symbol.iterator]`), if it has one. */
const memberName = (context: Context, node: SyntaxNode): string | undefined => {
  const name = fieldOf(node, "name") ?? fieldOf(node, "property")
  return name === undefined ? undefined : slice(context, name)
}

const typeParameterNames = (context: Context, node: SyntaxNode): Array<string> => {
  const parameters = fieldOf(node, "type_parameters")
  if (parameters === undefined) return []
  return parameters.children.flatMap((parameter) => {
    const name = parameter.type === "type_parameter" ? fieldOf(parameter, "name") : undefined
    return name === undefined ? [] : [slice(context, name)]
  })
}

/**
 * A class as a shell and its methods: each method (its overloads, a getter with its setter) an
 * atom `Class.method`; fields, signatures and static blocks stay in the shell, which defines the
 * class and its fields. A class without a method body stays whole (and still defines its fields).
 */
const planClass = (context: Context, described: Described, node: SyntaxNode): PlannedAtom | undefined => {
  const body = fieldOf(node, "body")
  const { open, close } = bracesOf(body)
  if (body === undefined || open === undefined || close === undefined) return undefined
  const className = described.name
  const members = unitsOf(body.children, new Set([open, close])).map((unit) => {
    const name = memberName(context, unit.main)
    const isMethod = methodTypes.has(unit.main.type)
    return {
      unit,
      kind: isMethod ? ("method" as const) : ("variable" as const),
      name: name === undefined ? "" : `${className}.${name}`,
      defines: name === undefined ? [] : [`${className}.${name}`]
    }
  })
  const runs = groupRuns(members, (before, after) => before.kind === "method" && joins(before, after))
  const cut = runs.map((run) => run.some((member) => member.unit.main.type === "method_definition"))
  const outer = typeParameterNames(context, node)
  const skip = new Set<SyntaxNode>()
  const planned: Array<PlannedMember> = runs.map((run, i) => {
    const start = run[0]!.unit.start
    const end = run[run.length - 1]!.unit.end
    if (!cut[i]) return { start, end, atom: undefined }
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
        ...symbolsBesides(ecmaSymbolUses(context.text, nodes, outer), defines),
        imports: [],
        parent: className,
        start,
        end,
        body: undefined
      }
    }
  })
  const defines = unique([
    ...described.defines,
    ...runs.flatMap((run, i) => (cut[i] ? [] : run.flatMap((member) => member.defines)))
  ])
  return {
    kind: "class",
    name: className,
    defines,
    ...symbolsBesides(ecmaSymbolUses(context.text, described.unit.nodes, [], skip), defines),
    imports: [],
    parent: undefined,
    start: described.unit.start,
    end: described.unit.end,
    body: cut.includes(true) ? { open: open.end, close: close.start, members: planned } : undefined
  }
}

/**
 * A namespace (`namespace N { }`, `declare module "m" { }`) as its braces and its members, each
 * planned as top-level code would be, named `N.member`; a member's use of a sibling's bare name is
 * read as the qualified one.
 */
const planNamespace = (context: Context, described: Described, node: SyntaxNode): PlannedAtom | undefined => {
  const body = fieldOf(node, "body")
  const { open, close } = bracesOf(body)
  if (body === undefined || open === undefined || close === undefined) return undefined
  const units = unitsOf(body.children, new Set([open, close]))
  if (units.length === 0) return undefined
  const prefix = `${described.name}.`
  const planned = planStatements(context, units, prefix, described.name)
  const qualified = new Map<string, string>()
  for (const atom of planned) {
    for (const name of atom.defines)
      if (name.startsWith(prefix)) qualified.set(name.slice(prefix.length), name)
  }
  const members = qualifyUses(planned, qualified)
  return {
    kind: "namespace",
    name: described.name,
    defines: described.defines,
    ...noUses,
    imports: [],
    parent: undefined,
    start: described.unit.start,
    end: described.unit.end,
    body: {
      open: open.end,
      close: close.start,
      members: members.map((atom) => ({ start: atom.start, end: atom.end, atom }))
    }
  }
}
