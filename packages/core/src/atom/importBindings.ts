import type { ImportBinding } from "./SourceAtom.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/**
 * The module links of import and re-export statements, as the symbol graph resolves them across
 * files: which module, which of its names, under which local (or exported) name.
 */

const stringValue = (text: string, node: SyntaxNode | undefined): string | undefined => {
  if (node?.type !== "string") return undefined
  const fragment = node.children.find((child) => child.type === "string_fragment")
  return fragment === undefined ? "" : text.slice(fragment.start, fragment.end)
}

const sliceOf = (text: string, node: SyntaxNode): string => text.slice(node.start, node.end)

/** The module a `require("m")` call (or `require("m").x`, giving `x`) loads. */
const requireOf = (
  text: string,
  node: SyntaxNode | undefined
): { readonly from: string; readonly member: string | undefined } | undefined => {
  if (node === undefined) return undefined
  if (node.type === "member_expression") {
    const inner = requireOf(text, fieldOf(node, "object"))
    const property = fieldOf(node, "property")
    if (inner === undefined || property === undefined || inner.member !== undefined) return undefined
    return { from: inner.from, member: sliceOf(text, property) }
  }
  if (node.type !== "call_expression") return undefined
  const callee = fieldOf(node, "function")
  if (callee === undefined || sliceOf(text, callee) !== "require") return undefined
  const argument = fieldOf(node, "arguments")?.children.find((child) => child.named)
  const from = stringValue(text, argument)
  return from === undefined ? undefined : { from, member: undefined }
}

/**
 * The bindings of one TypeScript or JavaScript statement: `import d, { a as b } from "m"`,
 * `import * as ns`, `import x = require("m")`, `const { a, b: c } = require("m")`,
 * `export { a as b } from "m"`, `export * from "m"`, `export * as ns from "m"`, and the local
 * exports under another name (`export { a as b }`, `export default function f`: from `""`). A bare
 * `import "m"` binds nothing and gives `{ imported: "", local: "" }`, so the module is still named.
 */
export const ecmaImportBindings = (text: string, node: SyntaxNode): Array<ImportBinding> => {
  const bindings: Array<ImportBinding> = []
  const add = (from: string, imported: string, local: string, reexport: boolean): void => {
    bindings.push({ from, imported, local, reexport })
  }
  switch (node.type) {
    case "import_statement": {
      const requireClause = node.children.find((child) => child.type === "import_require_clause")
      if (requireClause !== undefined) {
        const local = requireClause.children.find((child) => child.type === "identifier")
        const from = stringValue(text, fieldOf(requireClause, "source"))
        if (local !== undefined && from !== undefined) add(from, "*", sliceOf(text, local), false)
        return bindings
      }
      const from = stringValue(text, fieldOf(node, "source"))
      if (from === undefined) return bindings
      const clause = node.children.find((child) => child.type === "import_clause")
      if (clause === undefined) add(from, "", "", false)
      for (const child of clause?.children ?? []) {
        if (child.type === "identifier") add(from, "default", sliceOf(text, child), false)
        if (child.type === "namespace_import") {
          const local = child.children.find((inner) => inner.type === "identifier")
          if (local !== undefined) add(from, "*", sliceOf(text, local), false)
        }
        if (child.type === "named_imports")
          for (const specifier of child.children) {
            if (specifier.type !== "import_specifier") continue
            const name = fieldOf(specifier, "name")
            const local = fieldOf(specifier, "alias") ?? name
            if (name !== undefined && local !== undefined)
              add(from, sliceOf(text, name), sliceOf(text, local), false)
          }
      }
      return bindings
    }
    case "export_statement": {
      const from = stringValue(text, fieldOf(node, "source"))
      if (from === undefined) return [...localExports(text, node), ...bindings]
      let named = false
      for (const child of node.children) {
        if (child.type === "namespace_export") {
          const local = child.children.find((inner) => inner.named)
          if (local !== undefined) add(from, "*", sliceOf(text, local), true)
          named = true
        }
        if (child.type === "export_clause") {
          named = true
          for (const specifier of child.children) {
            if (specifier.type !== "export_specifier") continue
            const name = fieldOf(specifier, "name")
            const exported = fieldOf(specifier, "alias") ?? name
            if (name !== undefined && exported !== undefined)
              add(from, sliceOf(text, name), sliceOf(text, exported), true)
          }
        }
      }
      if (!named) add(from, "*", "*", true)
      return bindings
    }
    case "lexical_declaration":
    case "variable_declaration":
      for (const declarator of node.children) {
        if (declarator.type !== "variable_declarator") continue
        const loaded = requireOf(text, fieldOf(declarator, "value"))
        const target = fieldOf(declarator, "name")
        if (loaded === undefined || target === undefined) continue
        if (target.type === "identifier") {
          add(loaded.from, loaded.member ?? "*", sliceOf(text, target), false)
          continue
        }
        if (target.type !== "object_pattern" || loaded.member !== undefined) continue
        for (const property of target.children) {
          if (property.type === "shorthand_property_identifier_pattern")
            add(loaded.from, sliceOf(text, property), sliceOf(text, property), false)
          if (property.type === "pair_pattern") {
            const key = fieldOf(property, "key")
            const value = fieldOf(property, "value")
            if (key !== undefined && value?.type === "identifier")
              add(loaded.from, sliceOf(text, key), sliceOf(text, value), false)
          }
        }
      }
      return bindings
    default:
      return bindings
  }
}

/**
 * What an export without a source exports under another name, as bindings from `""` (this
 * file): `export { a as b, c }`, `export default function f` (`f` as `default`); and the
 * `require`s of `export const x = require("m")`.
 */
const localExports = (text: string, node: SyntaxNode): Array<ImportBinding> => {
  const bindings: Array<ImportBinding> = []
  const declaration = fieldOf(node, "declaration")
  if (declaration !== undefined) {
    const name = fieldOf(declaration, "name")
    if (name !== undefined && node.children.some((child) => child.type === "default"))
      bindings.push({ from: "", imported: sliceOf(text, name), local: "default", reexport: true })
    bindings.push(...ecmaImportBindings(text, declaration))
  }
  for (const child of node.children) {
    if (child.type !== "export_clause") continue
    for (const specifier of child.children) {
      if (specifier.type !== "export_specifier") continue
      const name = fieldOf(specifier, "name")
      const exported = fieldOf(specifier, "alias") ?? name
      if (name !== undefined && exported !== undefined)
        bindings.push({
          from: "",
          imported: sliceOf(text, name),
          local: sliceOf(text, exported),
          reexport: true
        })
    }
  }
  return bindings
}

/**
 * The bindings of one Python import: `from m import a as b` (`imported: "a"`, `local: "b"`),
 * `from . import x`, `from m import *` (`imported` and `local` both `"*"`), `import a.b` (the
 * whole module `a.b`, bound as `a`), `import a.b as c`. Relative modules keep their dots (`.m`).
 */
export const pythonImportBindings = (text: string, node: SyntaxNode): Array<ImportBinding> => {
  const bindings: Array<ImportBinding> = []
  if (node.type === "import_statement") {
    for (const child of node.children) {
      if (child.field !== "name") continue
      const dotted = child.type === "aliased_import" ? fieldOf(child, "name") : child
      if (dotted === undefined) continue
      const alias = child.type === "aliased_import" ? fieldOf(child, "alias") : undefined
      const first = dotted.children.find((part) => part.type === "identifier")
      const local = alias ?? first
      if (local !== undefined)
        bindings.push({
          from: sliceOf(text, dotted),
          imported: "*",
          local: sliceOf(text, local),
          reexport: false
        })
    }
    return bindings
  }
  if (node.type !== "import_from_statement") return bindings
  const module = fieldOf(node, "module_name")
  if (module === undefined) return bindings
  const from = sliceOf(text, module).replace(/\s+/g, "")
  if (node.children.some((child) => child.type === "wildcard_import"))
    bindings.push({ from, imported: "*", local: "*", reexport: false })
  for (const child of node.children) {
    if (child.field !== "name") continue
    const name = child.type === "aliased_import" ? fieldOf(child, "name") : child
    const alias = child.type === "aliased_import" ? fieldOf(child, "alias") : undefined
    const local = alias ?? name
    if (name !== undefined && local !== undefined)
      bindings.push({ from, imported: sliceOf(text, name), local: sliceOf(text, local), reexport: false })
  }
  return bindings
}
