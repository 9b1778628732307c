import type { SymbolUses } from "./ecmaSymbols.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/**
 * Symbols of Python code: the names a statement binds in its scope, and the names code references
 * that nothing inside it binds. Functions, lambdas, classes and comprehensions are the scopes, as
 * in Python; `global` and `nonlocal` names are not local.
 */

const scopeTypes: ReadonlySet<string> = new Set([
  "function_definition",
  "lambda",
  "class_definition",
  "list_comprehension",
  "set_comprehension",
  "dictionary_comprehension",
  "generator_expression"
])

/** The names an assignment target binds (`a`, `a, *b`, `(a, [b, c])`); `a.b` and `a[i]` bind none. */
export const targetNames = (text: string, target: SyntaxNode, into: Array<string>): void => {
  switch (target.type) {
    case "identifier":
      into.push(text.slice(target.start, target.end))
      return
    case "pattern_list":
    case "tuple_pattern":
    case "list_pattern":
    case "list_splat_pattern":
    case "tuple":
    case "list":
    case "parenthesized_expression":
    case "as_pattern_target":
      for (const child of target.children) if (child.named) targetNames(text, child, into)
      return
    default:
      return
  }
}

/** The names an import binds (`import a.b` binds `a`, `import a as b` and `from m import a as b` bind `b`). */
export const pythonImportedNames = (text: string, node: SyntaxNode, into: Array<string>): void => {
  if (node.type === "future_import_statement") return
  for (const child of node.children) {
    if (child.field !== "name") continue
    if (child.type === "aliased_import") {
      const alias = fieldOf(child, "alias")
      if (alias !== undefined) into.push(text.slice(alias.start, alias.end))
    } else if (child.type === "dotted_name") {
      const first = child.children.find((part) => part.type === "identifier")
      const last = child.children.findLast((part) => part.type === "identifier")
      const bound = node.type === "import_statement" ? first : last
      if (bound !== undefined) into.push(text.slice(bound.start, bound.end))
    }
  }
}

/**
 * The names bound in the scope `node` stands in: assignments, loop and `with`/`except` targets,
 * `:=`, imports, and the names of functions and classes (whose insides are scopes of their own).
 * `global`/`nonlocal` names go to `declaredElsewhere`.
 */
export const boundNames = (
  text: string,
  node: SyntaxNode,
  into: Array<string>,
  declaredElsewhere: Set<string> = new Set()
): void => {
  switch (node.type) {
    case "function_definition":
    case "class_definition": {
      const name = fieldOf(node, "name")
      if (name !== undefined) into.push(text.slice(name.start, name.end))
      return
    }
    case "lambda":
    case "list_comprehension":
    case "set_comprehension":
    case "dictionary_comprehension":
    case "generator_expression":
      return
    case "import_statement":
    case "import_from_statement":
    case "future_import_statement":
      pythonImportedNames(text, node, into)
      return
    case "global_statement":
    case "nonlocal_statement":
      for (const child of node.children)
        if (child.type === "identifier") declaredElsewhere.add(text.slice(child.start, child.end))
      return
    case "assignment":
    case "augmented_assignment":
    case "for_statement": {
      const left = fieldOf(node, "left")
      if (left !== undefined) targetNames(text, left, into)
      break
    }
    case "as_pattern": {
      const alias = fieldOf(node, "alias")
      if (alias !== undefined) targetNames(text, alias, into)
      break
    }
    case "named_expression": {
      const name = fieldOf(node, "name")
      if (name !== undefined) into.push(text.slice(name.start, name.end))
      break
    }
    case "type_alias_statement": {
      const left = fieldOf(node, "left")
      const name = left?.children.find((child) => child.type === "identifier")
      if (name !== undefined) into.push(text.slice(name.start, name.end))
      return
    }
    default:
      break
  }
  for (const child of node.children) boundNames(text, child, into, declaredElsewhere)
}

/** The parameter names of a `parameters` or `lambda_parameters` node. */
const parameterNames = (text: string, parameters: SyntaxNode, into: Array<string>): void => {
  for (const parameter of parameters.children) {
    switch (parameter.type) {
      case "identifier":
        into.push(text.slice(parameter.start, parameter.end))
        continue
      case "default_parameter":
      case "typed_default_parameter": {
        const name = fieldOf(parameter, "name")
        if (name !== undefined) into.push(text.slice(name.start, name.end))
        continue
      }
      case "typed_parameter":
      case "list_splat_pattern":
      case "dictionary_splat_pattern":
        parameterNames(text, parameter, into)
        continue
      default:
        continue
    }
  }
}

/** What a scope node binds inside itself: parameters, type parameters, and its body's bindings. */
const scopeNames = (text: string, node: SyntaxNode): Array<string> => {
  const names: Array<string> = []
  const elsewhere = new Set<string>()
  for (const child of node.children) {
    switch (child.field) {
      case "parameters":
        parameterNames(text, child, names)
        break
      case "type_parameters":
        for (const type of child.children) {
          const name = type.children.find((part) => part.type === "identifier")
          if (name !== undefined) names.push(text.slice(name.start, name.end))
        }
        break
      case "body":
        if (node.type !== "lambda")
          for (const statement of child.children) boundNames(text, statement, names, elsewhere)
        break
      default:
        if (child.type === "for_in_clause") {
          const left = fieldOf(child, "left")
          if (left !== undefined) targetNames(text, left, names)
        }
    }
  }
  return elsewhere.size === 0 ? names : names.filter((name) => !elsewhere.has(name))
}

/** `@name.setter` (and `.getter`, `.deleter`) names the property being defined, not a dependency. */
const isPropertyAccessor = (text: string, decorator: SyntaxNode): boolean => {
  const expression = decorator.children.find((child) => child.named)
  if (expression?.type !== "attribute") return false
  const attribute = fieldOf(expression, "attribute")
  const name = attribute === undefined ? "" : text.slice(attribute.start, attribute.end)
  return name === "setter" || name === "getter" || name === "deleter"
}

/**
 * The names `nodes` reference that nothing inside them binds, in order of first use, leaving out
 * `skip` (the methods cut out of a class shell, whose uses are their own).
 */
export const pythonUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  skip: ReadonlySet<SyntaxNode> = new Set()
): Array<string> => collectUses(text, nodes, skip, undefined, false)

/**
 * `pythonUses`, and the members read off those names (`os.path`, `models.User`), and which of
 * both the code evaluates when the module loads: all but the bodies of functions and lambdas
 * (decorators, default arguments, annotations and class bodies run at definition time).
 */
export const pythonSymbolUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  skip: ReadonlySet<SyntaxNode> = new Set()
): SymbolUses => {
  const members = new Set<string>()
  const uses = collectUses(text, nodes, skip, members, false)
  const loadMembers = new Set<string>()
  const loadUses = collectUses(text, nodes, skip, loadMembers, true)
  return { uses, memberUses: [...members], loadTimeUses: [...loadUses, ...loadMembers] }
}

const collectUses = (
  text: string,
  nodes: ReadonlyArray<SyntaxNode>,
  skip: ReadonlySet<SyntaxNode>,
  members: Set<string> | undefined,
  loadTimeOnly: boolean
): Array<string> => {
  const uses = new Set<string>()
  const scopes: Array<ReadonlySet<string>> = []
  const bound = (name: string): boolean => {
    for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.has(name)) return true
    return false
  }
  const visit = (node: SyntaxNode): void => {
    if (skip.has(node)) return
    switch (node.type) {
      case "identifier": {
        const name = text.slice(node.start, node.end)
        if (!bound(name)) uses.add(name)
        return
      }
      case "import_statement":
      case "import_from_statement":
      case "future_import_statement":
      case "string_content":
      case "comment":
        return
      case "attribute": {
        const object = fieldOf(node, "object")
        const attribute = fieldOf(node, "attribute")
        if (members !== undefined && object?.type === "identifier" && attribute !== undefined) {
          const name = text.slice(object.start, object.end)
          if (!bound(name)) members.add(`${name}.${text.slice(attribute.start, attribute.end)}`)
        }
        if (object !== undefined) visit(object)
        return
      }
      case "keyword_argument": {
        const value = fieldOf(node, "value")
        if (value !== undefined) visit(value)
        return
      }
      case "decorator":
        if (isPropertyAccessor(text, node)) return
        break
      default:
        break
    }
    const opens = scopeTypes.has(node.type)
    if (opens) scopes.push(new Set(scopeNames(text, node)))
    for (const child of node.children) {
      if (child.field === "name" && (node.type === "function_definition" || node.type === "class_definition"))
        continue
      if (
        loadTimeOnly &&
        child.field === "body" &&
        (node.type === "function_definition" || node.type === "lambda")
      )
        continue
      visit(child)
    }
    if (opens) scopes.pop()
  }
  for (const node of nodes) visit(node)
  return [...uses]
}
