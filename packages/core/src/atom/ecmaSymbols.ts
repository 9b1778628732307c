import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/**
 * Symbols of TypeScript and JavaScript code: the names a declaration binds, and the names a piece
 * of code references that nothing inside it binds. Scopes are approximated by functions, blocks,
 * loops, catch clauses and generic declarations, each binding what it declares directly (its
 * parameters, type parameters, `const`/`let`/`var`, functions, classes, types); that is enough to
 * leave out locals and parameters without a type checker.
 */

/** Nodes that open a scope: what they declare is not visible outside them. */
/** Functions, methods and their signatures: each opens a scope, and its body runs only when called. */
const functionLikeTypes = [
  "function_declaration",
  "function_expression",
  "function",
  "generator_function_declaration",
  "generator_function",
  "arrow_function",
  "method_definition",
  "function_signature",
  "method_signature",
  "abstract_method_signature"
]

const scopeTypes: ReadonlySet<string> = new Set([
  ...functionLikeTypes,
  "call_signature",
  "construct_signature",
  "function_type",
  "constructor_type",
  "class_declaration",
  "abstract_class_declaration",
  "class",
  "interface_declaration",
  "type_alias_declaration",
  "statement_block",
  "class_body",
  "for_statement",
  "for_in_statement",
  "catch_clause",
  "program"
])

const functionTypes: ReadonlySet<string> = new Set([
  "function_declaration",
  "function_expression",
  "function",
  "generator_function_declaration",
  "generator_function",
  "method_definition"
])

/** Declarations that bind their `name` in the scope around them. */
const namedDeclarations: ReadonlySet<string> = new Set([
  "function_declaration",
  "generator_function_declaration",
  "function_signature",
  "class_declaration",
  "abstract_class_declaration",
  "interface_declaration",
  "type_alias_declaration",
  "enum_declaration",
  "internal_module"
])

/** Identifiers that are never references: member and property names, labels. */
const notReferences: ReadonlySet<string> = new Set([
  "property_identifier",
  "private_property_identifier",
  "statement_identifier",
  "comment",
  "string_fragment",
  "regex_pattern",
  "hash_bang_line"
])

/** The names a binding pattern binds (`a`, `{ a, b: [c] }`, `...rest`, `x = 1`, a typed parameter). */
export const patternNames = (text: string, pattern: SyntaxNode, into: Array<string>): void => {
  switch (pattern.type) {
    case "identifier":
    case "shorthand_property_identifier_pattern":
      into.push(text.slice(pattern.start, pattern.end))
      return
    case "required_parameter":
    case "optional_parameter": {
      const inner = fieldOf(pattern, "pattern")
      if (inner !== undefined) patternNames(text, inner, into)
      return
    }
    case "pair_pattern": {
      const value = fieldOf(pattern, "value")
      if (value !== undefined) patternNames(text, value, into)
      return
    }
    case "assignment_pattern":
    case "object_assignment_pattern": {
      const left = fieldOf(pattern, "left")
      if (left !== undefined) patternNames(text, left, into)
      return
    }
    case "object_pattern":
    case "array_pattern":
    case "rest_pattern":
    case "formal_parameters":
      for (const child of pattern.children) if (child.named) patternNames(text, child, into)
      return
    default:
      return
  }
}

/** The names a declaration statement binds where it stands (`const a = 1, b = 2` binds a and b). */
export const declaredNames = (text: string, node: SyntaxNode, into: Array<string>): void => {
  switch (node.type) {
    case "lexical_declaration":
    case "variable_declaration":
      for (const declarator of node.children) {
        if (declarator.type !== "variable_declarator") continue
        const name = fieldOf(declarator, "name")
        if (name !== undefined) patternNames(text, name, into)
      }
      return
    case "export_statement":
    case "ambient_declaration": {
      const inner = fieldOf(node, "declaration") ?? node.children.find((child) => child.named)
      if (inner !== undefined && inner !== node) declaredNames(text, inner, into)
      return
    }
    case "expression_statement": {
      const inner = node.children[0]
      if (inner?.type === "internal_module") declaredNames(text, inner, into)
      return
    }
    case "import_statement":
      importedNames(text, node, into)
      return
    default: {
      if (!namedDeclarations.has(node.type)) return
      const name = fieldOf(node, "name")
      if (name !== undefined) into.push(text.slice(name.start, name.end))
    }
  }
}

/** The local names an import binds (`import a, { b as c, type d } from "m"`, `import * as ns`). */
export const importedNames = (text: string, node: SyntaxNode, into: Array<string>): void => {
  const visit = (child: SyntaxNode): void => {
    switch (child.type) {
      case "import_specifier": {
        const local = fieldOf(child, "alias") ?? fieldOf(child, "name")
        if (local !== undefined) into.push(text.slice(local.start, local.end))
        return
      }
      case "identifier":
        into.push(text.slice(child.start, child.end))
        return
      case "string":
        return
      default:
        for (const inner of child.children) visit(inner)
    }
  }
  for (const child of node.children) if (child.field !== "source") visit(child)
}

/** What a scope node declares directly: parameters, type parameters, and its body's declarations. */
const scopeNames = (text: string, node: SyntaxNode): Array<string> => {
  const names: Array<string> = []
  if (functionTypes.has(node.type)) names.push("arguments")
  if (node.type === "function_expression" || node.type === "class" || node.type === "function") {
    const name = fieldOf(node, "name")
    if (name !== undefined) names.push(text.slice(name.start, name.end))
  }
  for (const child of node.children) {
    switch (child.field) {
      case "parameters":
      case "parameter":
        patternNames(text, child, names)
        continue
      case "type_parameters":
        for (const parameter of child.children) {
          const name = parameter.type === "type_parameter" ? fieldOf(parameter, "name") : undefined
          if (name !== undefined) names.push(text.slice(name.start, name.end))
        }
        continue
      case "initializer":
        declaredNames(text, child, names)
        continue
      case "left":
        if (node.type === "for_in_statement" && fieldOf(node, "kind") !== undefined)
          patternNames(text, child, names)
        continue
      default:
        if (node.type === "catch_clause" && child.field === "parameter") patternNames(text, child, names)
    }
  }
  if (node.type === "statement_block" || node.type === "program") {
    for (const statement of node.children) declaredNames(text, statement, names)
  }
  return names
}

/** Lower-case JSX tag names are HTML elements, not references. */
const jsxNameParents: ReadonlySet<string> = new Set([
  "jsx_opening_element",
  "jsx_closing_element",
  "jsx_self_closing_element"
])

/**
 * The names `nodes` reference that nothing inside them binds, in order of first use, leaving out
 * `outer` (names bound around them: a class's type parameters for its methods) and `skip` (members
 * cut out of a shell, whose uses are their own).
 */
export const ecmaUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  outer: ReadonlyArray<string> = [],
  skip: ReadonlySet<SyntaxNode> = new Set()
): Array<string> => collectUses(text, nodes, outer, skip, { members: undefined, loadTimeOnly: false })

/** The uses of a piece of code in the three lists a `SourceAtom` has (see its fields). */
export interface SymbolUses {
  readonly uses: Array<string>
  readonly memberUses: Array<string>
  readonly loadTimeUses: Array<string>
}

/**
 * `ecmaUses`, and the members read off those names (`ns.x`), and which of both the code evaluates
 * when the module loads: everything but function and method bodies and parameters, instance
 * field initialisers, and types (erased).
 */
export const ecmaSymbolUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  outer: ReadonlyArray<string> = [],
  skip: ReadonlySet<SyntaxNode> = new Set()
): SymbolUses => {
  const members = new Set<string>()
  const uses = collectUses(text, nodes, outer, skip, { members, loadTimeOnly: false })
  const loadMembers = new Set<string>()
  const loadUses = collectUses(text, nodes, outer, skip, { members: loadMembers, loadTimeOnly: true })
  return { uses, memberUses: [...members], loadTimeUses: [...loadUses, ...loadMembers] }
}

/** Code that never runs while the module loads: bodies, instance fields, and types. */
const deferredTypes: ReadonlySet<string> = new Set([
  ...functionLikeTypes,
  "type_annotation",
  "type_arguments",
  "type_parameters",
  "interface_declaration",
  "type_alias_declaration",
  "implements_clause",
  "ambient_declaration",
  "type_identifier",
  "nested_type_identifier"
])

interface CollectMode {
  /** Where `name.member` reads off a free name go, if anywhere. */
  readonly members: Set<string> | undefined
  /** Skip what runs later than the module's load (`deferredTypes`, instance field values). */
  readonly loadTimeOnly: boolean
}

const collectUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  outer: ReadonlyArray<string>,
  skip: ReadonlySet<SyntaxNode>,
  mode: CollectMode
): Array<string> => {
  const uses = new Set<string>()
  const scopes: Array<Set<string>> = [new Set(outer)]
  const bound = (name: string): boolean => {
    for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.has(name)) return true
    return false
  }
  const reference = (node: SyntaxNode): void => {
    const name = text.slice(node.start, node.end)
    if (!bound(name)) uses.add(name)
  }
  const member = (object: SyntaxNode | undefined, property: SyntaxNode | undefined): void => {
    if (mode.members === undefined || object === undefined || property === undefined) return
    if (object.type !== "identifier" && object.type !== "type_identifier") return
    const name = text.slice(object.start, object.end)
    if (!bound(name)) mode.members.add(`${name}.${text.slice(property.start, property.end)}`)
  }
  const visit = (node: SyntaxNode, parent: SyntaxNode | undefined): void => {
    if (skip.has(node)) return
    if (mode.loadTimeOnly && deferredTypes.has(node.type)) return
    switch (node.type) {
      case "member_expression":
        member(fieldOf(node, "object"), fieldOf(node, "property"))
        break
      case "public_field_definition":
        if (mode.loadTimeOnly && !node.children.some((child) => child.type === "static")) {
          for (const child of node.children) if (child.field !== "value") visit(child, node)
          return
        }
        break
      case "identifier":
      case "type_identifier":
      case "shorthand_property_identifier":
        if (
          node.field === "name" &&
          parent !== undefined &&
          jsxNameParents.has(parent.type) &&
          /^[a-z]/.test(text.slice(node.start, node.end))
        )
          return
        reference(node)
        return
      case "import_statement":
      case "import_alias":
        return
      case "export_statement":
        if (fieldOf(node, "source") !== undefined) return
        break
      case "export_specifier": {
        const name = fieldOf(node, "name")
        if (name !== undefined) visit(name, node)
        return
      }
      case "infer_type":
      case "mapped_type_clause": {
        const name = node.type === "infer_type" ? node.children.find((c) => c.named) : fieldOf(node, "name")
        if (name !== undefined) scopes[scopes.length - 1]!.add(text.slice(name.start, name.end))
        for (const child of node.children) if (child !== name) visit(child, node)
        return
      }
      case "internal_module":
      case "module":
      case "index_signature":
        // A declared name: the namespace's, or the key of `[key: string]: T`.
        for (const child of node.children) if (child.field !== "name") visit(child, node)
        return
      case "enum_body": {
        // Members are in scope in each other's initializers (`B = A << 1`).
        const members = node.children.map((child) =>
          child.type === "enum_assignment" ? fieldOf(child, "name") : child
        )
        scopes.push(
          new Set(
            members.flatMap((m) => (m?.type === "property_identifier" ? [text.slice(m.start, m.end)] : []))
          )
        )
        for (const child of node.children) visit(child, node)
        scopes.pop()
        return
      }
      case "nested_type_identifier": {
        // `A.B`: only `A` is looked up; `B` is a member of it.
        const module = fieldOf(node, "module")
        member(module, fieldOf(node, "name"))
        if (module !== undefined) visit(module, node)
        return
      }
      default:
        if (notReferences.has(node.type)) return
    }
    const opens = scopeTypes.has(node.type)
    if (opens) scopes.push(new Set(scopeNames(text, node)))
    for (const child of node.children) visit(child, node)
    if (opens) scopes.pop()
  }
  for (const node of nodes) visit(node, undefined)
  return [...uses]
}
