import type { Language } from "../schema/Atom.js"
import { fieldOf, type SyntaxNode } from "./SyntaxNode.js"

/** Code tree-sitter parses without an `ERROR` node that the language itself refuses, and where. */
export interface MisplacedCode {
  readonly what: string
  /** Offset in UTF-16 code units. */
  readonly offset: number
}

const functionTypes: ReadonlySet<string> = new Set([
  "function_definition",
  "lambda",
  "function_declaration",
  "function_expression",
  "function",
  "generator_function_declaration",
  "generator_function",
  "arrow_function",
  "method_definition"
])

/**
 * What tree-sitter's grammars accept but the language does not (validation level 1), as a model's
 * broken code often has it: a `return` outside any function (TypeScript and Python; a CommonJS
 * script may return at its top level), and in Python a function whose body is empty, which is how
 * a body written without its indentation parses.
 */
export const misplacedCode = (language: Language, text: string, root: SyntaxNode): Array<MisplacedCode> => {
  const found: Array<MisplacedCode> = []
  const visit = (node: SyntaxNode, inFunction: boolean): void => {
    if (node.type === "return_statement" && !inFunction && language !== "javascript")
      found.push({ what: '"return" outside a function', offset: node.start })
    if (language === "python" && node.type === "function_definition") {
      const body = fieldOf(node, "body")
      if (body === undefined || !body.children.some((child) => child.named && child.type !== "comment")) {
        const name = fieldOf(node, "name")
        const shown = name === undefined ? "the function" : text.slice(name.start, name.end)
        found.push({
          what: `the body of ${shown} is empty (is it indented?)`,
          offset: body?.start ?? node.end
        })
      }
    }
    const inside = inFunction || functionTypes.has(node.type)
    for (const child of node.children) visit(child, inside)
  }
  visit(root, false)
  return found
}
