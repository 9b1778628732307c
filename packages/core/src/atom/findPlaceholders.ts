import type { Language } from "../schema/Atom.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/** A placeholder where code should be: what it is (`TODO`, `...`, `pass`) and where. */
export interface PlaceholderSite {
  readonly marker: string
  /** Offset in UTF-16 code units. */
  readonly offset: number
}

// Markers are upper case on purpose: `Todo` is a fine type name, `TODO` is a promise of code.
const commentMarker = /\b(TODO|FIXME|XXX)\b/
const notImplemented = /\bnot (yet )?implemented\b|\bunimplemented\b|\bTODO\b/i
// Decorators under which a body of `...` or `raise NotImplementedError` is the declaration itself.
const stubDecorators = /\b(overload|abstractmethod|abstractproperty)\b/

/**
 * The placeholders in a parsed atom (validation level 2), found in the tree rather than by
 * searching the text, so a marker inside a string or a name (`todoList`) is not one:
 * - a comment with `TODO`, `FIXME` or `XXX`;
 * - a `throw` / `raise` of a "not implemented" error (`throw new Error("not implemented")`,
 *   `raise NotImplementedError`);
 * - in Python, a function whose body (after its docstring) is only `...` or `pass`, unless it is
 *   an `@overload` or `@abstractmethod` declaration, where that body is the norm.
 *
 * A `...` in place of a TypeScript or JavaScript body does not parse; level 1 reports it.
 */
export const findPlaceholders = (
  language: Language,
  text: string,
  root: SyntaxNode
): Array<PlaceholderSite> => {
  const sites: Array<PlaceholderSite> = []
  const python = language === "python"
  const textOf = (node: SyntaxNode) => text.slice(node.start, node.end)
  const visit = (node: SyntaxNode, decorators: string): void => {
    switch (node.type) {
      case "comment": {
        const found = commentMarker.exec(textOf(node))
        if (found !== null) sites.push({ marker: found[1]!, offset: node.start + found.index })
        return
      }
      case "throw_statement":
      case "raise_statement": {
        const statement = textOf(node)
        if (notImplemented.test(statement) || (python && /\bNotImplementedError\b/.test(statement)))
          if (!python || !stubDecorators.test(decorators))
            sites.push({ marker: firstLine(statement), offset: node.start })
        return
      }
      case "decorated_definition": {
        const own = node.children
          .filter((child) => child.type === "decorator")
          .map(textOf)
          .join(" ")
        for (const child of node.children) visit(child, own)
        return
      }
      case "function_definition": {
        const stub = python && !stubDecorators.test(decorators) ? stubBody(text, node) : undefined
        if (stub !== undefined) sites.push(stub)
        break
      }
      default:
        break
    }
    // A function's decorators reach its body; an undecorated function inside it has none.
    for (const child of node.children) visit(child, child.type === "function_definition" ? "" : decorators)
  }
  visit(root, "")
  return sites.sort((a, b) => a.offset - b.offset)
}

/** A Python function's body when it is only `...` or `pass` (after a docstring and comments). */
const stubBody = (text: string, definition: SyntaxNode): PlaceholderSite | undefined => {
  const body = fieldOf(definition, "body")
  if (body === undefined) return undefined
  const statements = body.children.filter((child) => child.named && child.type !== "comment")
  const isDocstring = (node: SyntaxNode) =>
    node.type === "expression_statement" && node.children.length === 1 && node.children[0]!.type === "string"
  const rest = statements.length > 1 && isDocstring(statements[0]!) ? statements.slice(1) : statements
  if (rest.length !== 1) return undefined
  const only = rest[0]!
  if (only.type === "pass_statement") return { marker: "pass", offset: only.start }
  if (
    only.type === "expression_statement" &&
    only.children.length === 1 &&
    only.children[0]!.type === "ellipsis"
  )
    return { marker: "...", offset: only.start }
  return undefined
}

const firstLine = (statement: string): string => {
  const line = statement.split("\n")[0]!.trim()
  return line.length > 60 ? `${line.slice(0, 57)}...` : line
}
