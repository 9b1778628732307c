import type { SyntaxNode } from "@devmatrix/core"
import Parser from "tree-sitter"
import JavaScript from "tree-sitter-javascript"
import Python from "tree-sitter-python"
import TypeScript from "tree-sitter-typescript"

/**
 * The tree-sitter setup the Atomizer and the Validator share: one grammar per language, one
 * parser per grammar (made when first needed), and the conversion of tree-sitter's tree into
 * core's plain `SyntaxNode`s.
 */

export type Grammar = Parameters<Parser["setLanguage"]>[0]

/** The grammar of a language (`tsx` picks TypeScript's TSX grammar), if it has one here. */
export const grammarOf = (language: string, tsx = false): Grammar | undefined => {
  switch (language) {
    case "typescript":
      return tsx ? TypeScript.tsx : TypeScript.typescript
    case "javascript":
      return JavaScript
    case "python":
      return Python
    default:
      return undefined
  }
}

/** Parsers of their own, one per grammar: tree-sitter parsers are not shared between callers. */
export const makeParsers = (): ((grammar: Grammar, text: string) => SyntaxNode) => {
  const parsers = new Map<Grammar, Parser>()
  return (grammar, text) => {
    let parser = parsers.get(grammar)
    if (parser === undefined) {
      parser = new Parser()
      parser.setLanguage(grammar)
      parsers.set(grammar, parser)
    }
    return syntaxNodeOf(parser.parse(text))
  }
}

/**
 * Converts tree-sitter's tree into core's plain `SyntaxNode`s in one cursor pass. Each read from
 * the cursor is a call into the binding, so a node costs four (type id, field id, start, end):
 * type and field names are looked up once per id, and `missing` is read only in a tree that has
 * an error (a tree without one has no `MISSING` node). Walking `SyntaxNode.children` instead
 * costs about six times as much.
 */
export const syntaxNodeOf = (tree: Parser.Tree): SyntaxNode => {
  const cursor = tree.walk()
  const damaged = tree.rootNode.hasError
  const types: Array<{ readonly type: string; readonly named: boolean } | undefined> = []
  const fields: Array<string | undefined> = []
  interface Building {
    readonly type: string
    readonly named: boolean
    readonly field: string | undefined
    readonly start: number
    readonly end: number
    readonly missing: boolean
    readonly children: Array<Building>
  }
  const current = (): Building => {
    const typeId = cursor.nodeTypeId
    let type = types[typeId]
    if (type === undefined || type.type === "ERROR") {
      type = { type: cursor.nodeType, named: cursor.nodeIsNamed }
      types[typeId] = type
    }
    const fieldId = cursor.currentFieldId
    let field = fieldId === 0 ? undefined : fields[fieldId]
    if (fieldId !== 0 && field === undefined) {
      field = cursor.currentFieldName
      fields[fieldId] = field
    }
    return {
      type: type.type,
      named: type.named,
      field,
      start: cursor.startIndex,
      end: cursor.endIndex,
      missing: damaged && cursor.nodeIsMissing,
      children: []
    }
  }
  const root = current()
  const path: Array<Building> = [root]
  for (;;) {
    if (cursor.gotoFirstChild()) {
      const child = current()
      path[path.length - 1]!.children.push(child)
      path.push(child)
      continue
    }
    for (;;) {
      if (path.length === 1) return root
      path.pop()
      if (cursor.gotoNextSibling()) {
        const sibling = current()
        path[path.length - 1]!.children.push(sibling)
        path.push(sibling)
        break
      }
      cursor.gotoParent()
    }
  }
}
